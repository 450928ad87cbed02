"""Package the trained pipeline as one self-describing ONNX file, proven equal to scikit-learn.

Reads what ``train`` wrote (model.joblib, features/metrics/params/lineage.json), converts
with ``model.to_onnx``, checks parity on the test rows, measures speed, embeds the
metadata that gate, deploy and drift-check read back, and writes ``model-card.md``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import model as onnx_model
from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.data import load_splits, read_config_table
from mlops_actions.data_source import pull_source
from mlops_actions.errors import ModelError, ParityFailed
from mlops_actions.features import features_from_json, model_frame
from mlops_actions.files import atomic_path, atomic_write_text
from mlops_actions.model import BATCH_ROWS, outputs_of
from mlops_actions.reports import render
from mlops_actions.stages._common import StageResult, write_result
from mlops_actions.tracking import earlier_run, lineage_tags, log_run

if TYPE_CHECKING:
    import pandas as pd

    from mlops_actions.model import OnnxModel

GATE_KEYS = ("passed", "rules", "slices", "significance", "commit", "run_url")
THROUGHPUT_ROWS = 100_000
LISTED_ROWS = 20
# Batch-1 timing stops at whichever comes first; a few hundred calls give a stable p50/p99.
LATENCY_CALLS = 300
LATENCY_SECONDS = 0.5


@dataclasses.dataclass
class PackageResult(StageResult):
    stage = layout.PACKAGE_ONNX
    failure = ParityFailed
    task: str
    classes: list[str] | None
    model_path: Path
    model_sha256: str
    model_bytes: int
    opsets: dict[str, int]
    inputs: dict[str, str]
    """Graph input name -> ONNX type, one per raw feature column."""
    graph_outputs: list[str]
    parity: dict[str, Any]
    """rows, atol, max_abs_diff, label_agreement, min_label_agreement, passed, listed rows."""
    latency: dict[str, Any] | None
    metadata_keys: list[str]
    input_encoding: dict[str, dict[str, str]]
    """Per input: how a missing value is sent and imputed, what an unseen category becomes."""
    card_path: Path
    gate: dict[str, Any] | None
    warnings: list[str]
    tracking: dict[str, Any] | None = None
    """The MLflow run the card went to (train's, when it has one), when tracking is on."""

    @property
    def passed(self) -> bool:
        return bool(self.parity["passed"])

    def failure_message(self) -> str:
        p = self.parity
        problems = []
        if p["max_abs_diff"] is not None and p["max_abs_diff"] > p["atol"]:
            problems.append(
                f"max |difference| {p['max_abs_diff']:.3g} > package.parity.atol {p['atol']:g}"
            )
        if p["label_agreement"] is not None and p["label_agreement"] < p["min_label_agreement"]:
            problems.append(
                f"labels agree on {p['label_agreement']:.2%} of rows < package.parity.min_label_agreement "
                f"{p['min_label_agreement']:.2%}"
            )
        return (
            f"{self.model_path.name}: ONNX and scikit-learn disagree on the {p['rows']} test rows: "
            f"{'; '.join(problems)}; see {self.out_dir / 'summary.md'}"
        )

    def outputs(self) -> dict[str, Any]:
        return {
            **super().outputs(),
            "model-path": self.model_path,
            "model-sha256": self.model_sha256,
            "card-path": self.card_path,
            "max-abs-diff": self.parity["max_abs_diff"],
            "label-agreement": self.parity["label_agreement"],
            "tracking-url": (self.tracking or {}).get("url"),
        }

    def summary_markdown(self) -> str:

        return render("package_onnx.md.j2", r=self)

    def annotations(self) -> list[dict[str, Any]]:
        return [{"level": "warning", "message": w} for w in self.warnings]


def package_onnx(
    config: Config,
    *,
    workdir: str | Path = ".mlops",
    model: str | Path | None = None,
) -> PackageResult:
    """Convert ``model`` (default: train's model.joblib in ``workdir``), prove parity, describe it."""
    import joblib

    settings = config.package
    out = layout.stage_dir(workdir, layout.PACKAGE_ONNX)
    model_path = Path(model) if model else layout.trained_model(workdir)
    train_outputs = _train_outputs(model_path)
    pipeline = _load_pipeline(model_path, joblib)
    features = features_from_json(train_outputs["features"])
    pull_source(config, workdir, if_missing=True)
    splits = load_splits(config)
    test_source = (config.data.test or config.data.train).name

    classes = [str(c) for c in pipeline.classes_] if config.task == "classification" else None
    schema = {
        "features": train_outputs["features"],
        "target": {"name": config.data.target, "task": config.task, "classes": classes},
    }
    graph = onnx_model.with_metadata(  # the schema first: OnnxModel reads classes from it
        onnx_model.to_onnx(
            pipeline, features, opset=settings.opset, name=config.name, source=str(model_path)
        ),
        schema,
    )
    gate = _gate_result(Path(workdir))
    encoding = _input_encoding(pipeline, features)
    warnings = []
    if gate is not None and not gate.get("passed", True):
        warnings.append(
            "evaluate-gate blocked this model; it is packaged, but deploy should not promote it"
        )
    with atomic_path(out / layout.ONNX_FILE) as tmp:
        tmp.write_bytes(graph)
        converted = onnx_model.OnnxModel(tmp)
        x_test = model_frame(splits.test, features, source=test_source)
        parity = _parity(config, pipeline, converted, splits.test, x_test, test_source)
        latency = (
            _latency(pipeline, converted, splits.test, x_test) if settings.measure_latency else None
        )
        metadata = {
            **schema,
            "lineage": train_outputs["lineage"],
            "metrics": train_outputs["metrics"],
            "params": train_outputs["params"],
            "test_sample": _test_sample(
                config, converted, splits.test, features, settings.test_sample_rows
            ),
            "drift_profile": _drift_profile(
                config, converted, splits.test, train_outputs["metrics"]
            ),
            "input_encoding": encoding,
        }
        if gate is not None:
            metadata["gate"] = gate
        final = onnx_model.with_metadata(graph, metadata, doc_string=config.description)
        tmp.write_bytes(final)
    card_path = out / layout.CARD_FILE
    result = PackageResult(
        out_dir=out,
        task=config.task,
        classes=classes,
        model_path=out / layout.ONNX_FILE,
        model_sha256=hashlib.sha256(final).hexdigest(),
        model_bytes=len(final),
        opsets=_opsets(final),
        inputs=converted.input_types,
        graph_outputs=converted.output_names,
        parity=parity,
        latency=latency,
        metadata_keys=sorted(onnx_model.METADATA_PREFIX + k for k in metadata),
        input_encoding=encoding,
        card_path=card_path,
        gate=gate,
        warnings=warnings,
    )

    atomic_write_text(
        card_path,
        render("model_card.md.j2", r=result, config=config, train=train_outputs, features=features),
    )
    result.tracking = log_run(
        config,
        stage=layout.PACKAGE_ONNX,
        metrics={
            "onnx.max_abs_diff": parity["max_abs_diff"],
            "onnx.label_agreement": parity["label_agreement"],
        },
        tags={
            **lineage_tags(train_outputs["lineage"]),
            "mlops.onnx_sha256": result.model_sha256,
            "mlops.parity": "passed" if result.passed else "failed",
        },
        files=[card_path],
        continue_run=earlier_run(model_path),
    )
    return write_result(result)


def _input_encoding(pipeline: Any, features: list[Any]) -> dict[str, dict[str, str]]:
    """Per input column, read from the fitted preprocessing (so a factory pipeline is
    described as it is): how to send a missing value, what the model makes of it, and
    what it does with a category it never saw."""
    from mlops_actions.features import NUMERIC

    described = {
        f.name: {
            "missing": "NaN (null in a JSON request)"
            if f.kind == NUMERIC
            else "'' (null in a JSON request)",
            "missing_becomes": "passed to the estimator as it is",
        }
        for f in features
    }
    for step, columns in _fitted_steps(pipeline, [f.name for f in features]):
        kind = type(step).__name__
        if kind == "SimpleImputer" and hasattr(step, "statistics_"):
            for column, value in zip(columns, step.statistics_, strict=False):
                if column in described:
                    shown = value.item() if hasattr(value, "item") else value
                    described[column]["missing_becomes"] = (
                        f"{step.strategy.replace('_', ' ')} of the training rows: {shown!r}"
                    )
        elif kind == "OneHotEncoder":
            unseen = {
                "ignore": "all its one-hot columns 0: the model sees none of the training "
                "categories and predicts from the other inputs (no error)",
                "infrequent_if_exist": "the infrequent category's column (no error)",
            }.get(step.handle_unknown, "an error: the model cannot run on it")
            for column in columns:
                if column in described:
                    described[column]["unseen_category"] = unseen
    return described


def _fitted_steps(transformer: Any, columns: list[str]) -> Any:
    """Each fitted step of a Pipeline/ColumnTransformer tree with the input columns it reads
    (by name while they are still the raw columns)."""
    if hasattr(transformer, "steps"):
        for _, step in transformer.steps:
            yield from _fitted_steps(step, columns)
    elif hasattr(transformer, "transformers_"):
        for _, step, selected in transformer.transformers_:
            if isinstance(step, str):  # "drop", "passthrough"
                continue
            yield from _fitted_steps(
                step, [c if isinstance(c, str) else columns[c] for c in selected]
            )
    else:
        yield transformer, columns


def _train_outputs(model_path: Path) -> dict[str, Any]:
    """train's JSON files beside the model: features, metrics, params, lineage."""
    if not model_path.is_file():
        raise ModelError(
            f"{model_path}: trained model not found; run `mlops train` first or pass --model"
        )
    outputs = {}
    for name in ("features", "metrics", "params", "lineage"):
        path = model_path.with_name(f"{name}.json")
        try:
            outputs[name] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(
                f"{path}: missing beside {model_path.name}; rerun `mlops train`"
            ) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path}: not readable JSON ({exc}); rerun `mlops train`") from None
    return outputs


def _load_pipeline(model_path: Path, joblib: Any) -> Any:
    try:
        return joblib.load(model_path)
    except Exception as exc:  # unpickling raises anything
        raise ModelError(
            f"{model_path}: cannot load the trained model ({type(exc).__name__}: {exc}); rerun `mlops train`"
        ) from None


def _gate_result(workdir: Path) -> dict[str, Any] | None:
    path = layout.result_file(workdir, layout.EVALUATE_GATE)
    if not path.is_file():
        return None
    try:
        gate = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(
            f"{path}: not readable JSON ({exc}); rerun `mlops evaluate-gate`"
        ) from None
    return {key: gate[key] for key in GATE_KEYS if key in gate}


def _parity(
    config: Config,
    pipeline: Any,
    model: OnnxModel,
    test: pd.DataFrame,
    x_test: pd.DataFrame,
    source: str,
) -> dict[str, Any]:
    """Compare ONNX Runtime with scikit-learn on every test row; list the rows that differ."""
    import numpy as np

    settings = config.package.parity
    ours = model.predict(test, source=source)
    if config.task == "classification":
        sk_labels = np.asarray(pipeline.predict(x_test)).astype(str)
        onnx_labels = np.asarray(ours.labels).astype(str)
        agree = sk_labels == onnx_labels
        if hasattr(pipeline, "predict_proba") and ours.probabilities is not None:
            diffs = np.abs(
                np.asarray(ours.probabilities, dtype=float) - pipeline.predict_proba(x_test)
            ).max(axis=1)
        else:
            diffs = None
        label_agreement = float(agree.mean()) if len(agree) else 1.0
    else:
        sk_values = np.asarray(pipeline.predict(x_test), dtype=float).reshape(-1)
        diffs = np.abs(ours.values - sk_values)
        agree, label_agreement = None, None
    max_diff = float(diffs.max()) if diffs is not None and len(diffs) else None
    bad = np.zeros(len(test), dtype=bool)
    if diffs is not None:
        bad |= diffs > settings.atol
    if agree is not None:
        bad |= ~agree
    listed = []
    for row in np.flatnonzero(bad)[:LISTED_ROWS]:
        entry: dict[str, Any] = {
            "row": int(row),
            "max_abs_diff": None if diffs is None else float(diffs[row]),
        }
        if agree is not None:
            entry.update(sklearn=sk_labels[row], onnx=onnx_labels[row])
        else:
            entry.update(sklearn=float(sk_values[row]), onnx=float(ours.values[row]))
        listed.append(entry)
    passed = (max_diff is None or max_diff <= settings.atol) and (
        label_agreement is None or label_agreement >= settings.min_label_agreement
    )
    return {
        "rows": len(test),
        "atol": settings.atol,
        "max_abs_diff": max_diff,
        "compared": "probabilities" if config.task == "classification" else "predictions",
        "label_agreement": label_agreement,
        "min_label_agreement": settings.min_label_agreement
        if config.task == "classification"
        else None,
        "rows_differing": int(bad.sum()),
        "listed_rows": listed,
        "passed": bool(passed),
    }


def _test_sample(
    config: Config, model: OnnxModel, test: pd.DataFrame, features: list[Any], rows: int
) -> dict[str, Any]:
    """Raw test rows and what this file predicts for them: deploy replays them before promotion.
    ``rows`` may be 0 when the rows must not travel with the file (deploy then skips the replay)."""

    if not rows:
        return {"rows": [], "expected": {}, "atol": config.package.parity.atol}
    sample = test[[f.name for f in features]].head(rows)
    expected = {
        name: array.tolist()
        for name, array in outputs_of(model.predict(sample, single_thread=True)).items()
    }
    records = sample.astype(object).where(sample.notna(), None).to_dict(orient="records")
    return {"rows": records, "expected": expected, "atol": config.package.parity.atol}


def _drift_profile(
    config: Config, model: OnnxModel, test: pd.DataFrame, metrics: dict[str, Any]
) -> dict:
    """drift-check's reference, so that ``--reference registry:ALIAS`` needs nothing else.

    Columns: the training file as drift-check reads it, every sorted value kept (packed), so
    the statistics equal those against the training file. Predictions: this model's outputs
    on the held-out test rows (``data.test``, else the seeded split's test part), the rows
    ``metrics`` were measured on: on its own training rows a model is overconfident, and live
    data like the training data would look like prediction drift against them. Not
    out-of-fold predictions: those come from other models than the one packaged."""
    from mlops_actions.drift.profile import build_profile, prediction_frame

    prediction = model.predict(test, single_thread=True)  # bit-identical on every machine
    known = {k: v for k, v in metrics.items() if v is not None}
    return build_profile(
        read_config_table(config, config.data.train),
        task=config.task,
        predictions=prediction_frame(prediction),
        metrics=known,
        packed=True,
    )


def _latency(
    pipeline: Any, model: OnnxModel, test: pd.DataFrame, x_test: pd.DataFrame
) -> dict[str, Any]:
    """Batch-1 p50/p99 and 100,000-row throughput, ONNX Runtime vs scikit-learn, on prepared inputs."""
    import numpy as np

    sk_call = pipeline.predict_proba if hasattr(pipeline, "predict_proba") else pipeline.predict
    one_feed = model.feed(test.iloc[[0]])
    one_x = x_test.iloc[[0]]
    onnx_times = _call_times(lambda: model.run(one_feed))
    sk_times = _call_times(lambda: sk_call(one_x))
    rows = np.resize(np.arange(len(test)), THROUGHPUT_ROWS)
    big_test, big_x = test.iloc[rows], x_test.iloc[rows]
    big_feed = model.feed(big_test)
    model.run(
        {k: v[:BATCH_ROWS] for k, v in big_feed.items()}
    )  # builds and warms the threaded session
    onnx_seconds = _seconds(lambda: model.run(big_feed))
    sk_seconds = _seconds(lambda: sk_call(big_x))
    batch1 = {
        "onnx": _percentiles(onnx_times),
        "sklearn": _percentiles(sk_times),
    }
    batch1["p50_speedup"] = batch1["sklearn"]["p50_us"] / batch1["onnx"]["p50_us"]
    return {
        "batch1": batch1,
        "throughput": {
            "rows": THROUGHPUT_ROWS,
            "onnx_rows_per_s": THROUGHPUT_ROWS / onnx_seconds,
            "sklearn_rows_per_s": THROUGHPUT_ROWS / sk_seconds,
            "ratio": sk_seconds / onnx_seconds,
        },
        "what": "session.run on prepared inputs vs scikit-learn "
        f"{sk_call.__name__} on the model frame; input preparation (model_frame) excluded on both sides",
    }


def _call_times(call: Any) -> list[float]:
    for _ in range(5):
        call()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < LATENCY_CALLS and (
        time.perf_counter() - start < LATENCY_SECONDS or len(times) < 20
    ):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


def _seconds(call: Any) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _percentiles(times: list[float]) -> dict[str, Any]:
    import numpy as np

    micro = np.asarray(times) * 1e6
    return {
        "p50_us": float(np.percentile(micro, 50)),
        "p99_us": float(np.percentile(micro, 99)),
        "calls": len(times),
    }


def _opsets(onnx_bytes: bytes) -> dict[str, int]:
    import onnx

    return {
        o.domain or "ai.onnx": o.version
        for o in onnx.load_model_from_string(onnx_bytes).opset_import
    }
