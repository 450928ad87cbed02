"""Compare current data with the training reference, column by column, Evidently's way.

The reference is the training file, a saved profile (``.json``) or the profile a packaged
model carries (``.onnx``, metadata key ``mlops.drift_profile``; ``registry:production``: the
model in production), so a scheduled job needs only the deployed model and the new data. Current data streams through in chunks (bounded
memory, one pass); results say which statistics are approximate and by how much at most.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import engine
from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.data import fingerprint, read_config_table, schema_string_columns
from mlops_actions.drift import verdict
from mlops_actions.drift.alerts import alert_on
from mlops_actions.drift.verdict import DRIFT, NOT_ENOUGH_DATA
from mlops_actions.errors import (
    ConfigError,
    DataError,
    DriftDetected,
    ModelError,
    UsageError,
)
from mlops_actions.files import atomic_write_json, atomic_write_text, sha256_file, sha256_files
from mlops_actions.github.actions import annotate
from mlops_actions.metrics import METRICS, compute_metrics
from mlops_actions.model import OnnxModel, Prediction
from mlops_actions.progress import Progress
from mlops_actions.registry.targets import registry_alias
from mlops_actions.reports import render
from mlops_actions.serving.inference_log import LOG_COLUMNS, PREDICTION
from mlops_actions.stages._common import StageResult, write_result

if TYPE_CHECKING:
    from mlops_actions.drift.columns import ColumnSummary

PROFILE_METADATA_KEY = "mlops.drift_profile"
PROFILE_FILE = "profile.json"
REPORT_FILE = "report.html"
HISTOGRAM_BINS = 30
TOP_CATEGORIES = 12


@dataclasses.dataclass
class DriftResult(StageResult):
    """``status`` and ``drift`` are the verdict from every signal in ``signals``;
    ``dataset_drift``, ``drift_share`` and ``columns`` are the feature columns' (Evidently's
    dataset drift), ``target`` the target column's test."""

    stage = layout.DRIFT_CHECK
    failure = DriftDetected
    name: str
    status: str  # drift | no_drift | not_enough_data
    drift: bool
    signals: list[dict[str, Any]]
    min_rows: int
    reference: dict[str, Any]
    current: dict[str, Any]
    dataset_drift: bool
    drift_share: float
    drift_share_threshold: float
    drifted_columns: list[str]
    columns: list[dict[str, Any]]
    schema: dict[str, Any]
    untested: list[dict[str, Any]]
    calibrated: bool
    fail_on_drift: bool
    report_path: Path
    target: dict[str, Any] | None = None
    predictions: dict[str, Any] | None = None
    performance: dict[str, Any] | None = None
    alerts: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not (self.fail_on_drift and self.drift)

    @property
    def fired(self) -> list[dict[str, Any]]:
        """The signals that made the verdict drift."""
        return [s for s in self.signals if s["decides"] and s["fired"]]

    def failure_message(self) -> str:
        reasons = "; ".join(f"{s['label']}: {s['detail']}" for s in self.fired)
        return f"drift ({reasons}); see {self.report_path}"

    @property
    def approximate(self) -> list[dict[str, Any]]:
        return [c for c in self.columns if c["approximate"]]

    def outputs(self) -> dict[str, Any]:
        return {
            **super().outputs(),
            "drift": self.drift,
            "status": self.status,
            "drift-share": round(self.drift_share, 6),
            "drifted-columns": json.dumps(self.drifted_columns),
            "report-path": self.report_path,
        }

    def summary_markdown(self) -> str:

        return render("drift.md.j2", r=self)

    def annotations(self) -> list[dict[str, Any]]:
        notes = []
        if self.drift:
            notes.append({"level": "warning", "message": self.failure_message()})
        if self.status == NOT_ENOUGH_DATA:
            notes.append({"level": "notice", "message": self.not_enough_data()})
        if (
            self.schema["missing_columns"]
            or self.schema["new_columns"]
            or self.schema["dtype_changes"]
        ):
            notes.append(
                {
                    "level": "warning",
                    "message": f"schema skew in current data: {_skew_text(self.schema)}",
                }
            )
        return notes

    def not_enough_data(self) -> str:
        return (
            f"not enough data for a drift verdict: {self.current['rows']:,} current rows, "
            f"fewer than drift.min_rows ({self.min_rows})"
        )


def _skew_text(schema: dict[str, Any]) -> str:
    parts = []
    if schema["missing_columns"]:
        parts.append(f"missing {', '.join(schema['missing_columns'])}")
    if schema["new_columns"]:
        parts.append(f"new {', '.join(schema['new_columns'])}")
    for change in schema["dtype_changes"]:
        parts.append(f"{change['column']} {change['reference']} -> {change['current']}")
    return "; ".join(parts)


def drift_check(
    config: Config,
    *,
    workdir: str | Path = ".mlops",
    current: str | None = None,
    reference: str | Path | None = None,
    fail_on_drift: bool = False,
    calibrate: bool = False,
    alert: bool = True,
    scheduler: str | None = None,
) -> DriftResult:
    """Test every shared column of current data against the reference; write the reports.

    ``scheduler``: a Dask scheduler address (else ``MLOPS_SCHEDULER``, else
    ``compute.scheduler``) on whose workers the current data is summarised."""
    from mlops_actions.drift.dataset import ColumnChoice, detect_drift

    settings = config.drift
    out = layout.stage_dir(workdir, layout.DRIFT_CHECK)
    source = current or settings.current
    if not source:
        raise UsageError(
            "drift-check: no current data; pass --current PATH|GLOB|URL or set drift.current"
        )
    chosen = reference if reference is not None else settings.reference or config.data.train
    ref_path, ref_label = _reference_path(config, chosen, out)
    profile, ref_info, ref_exact = _load_reference(config, ref_path, out)
    ref_info["source"] = ref_label
    if calibrate:
        if ref_exact is None:
            raise UsageError(
                f"--calibrate needs the training data as reference, got the profile in {ref_path.name}; "
                "pass --reference TRAIN.csv"
            )
        from mlops_actions.drift.calibrate import calibrate_thresholds

        tests = {name: c.stattest for name, c in settings.columns.items() if c.stattest}

        profile["thresholds"] = calibrate_thresholds(
            read_config_table(config, ref_path),
            quantile=settings.calibrate.quantile,
            repeats=settings.calibrate.repeats,
            seed=settings.calibrate.seed,
            tests=tests,
        )
    if ref_exact is not None:
        atomic_write_json(out / PROFILE_FILE, profile)  # reusable as --reference later

    from mlops_actions.drift.profile import profile_columns

    ref_columns = ref_exact if ref_exact is not None else profile_columns(profile)
    watch = _model_watch(config, ref_path, profile)
    cur_columns, cur_info, watch = _read_current(
        config, source, watch, engine.scheduler_address(scheduler, config)
    )
    _set_aside_bookkeeping(cur_columns, cur_info, ref_columns)
    choices = _column_choices(config, profile, ref_columns, cur_info["rows"])
    target = config.data.target
    # columns the config drops are not model inputs: their drift is no reason to retrain
    ref_columns = {k: v for k, v in ref_columns.items() if k not in config.data.drop}
    cur_columns = {k: v for k, v in cur_columns.items() if k not in config.data.drop}
    try:
        drift = detect_drift(
            ref_columns,
            cur_columns,
            default=ColumnChoice(settings.stattest, settings.threshold),
            per_column=choices,
            drift_share=settings.drift_share,
        )
    except ValueError as exc:
        raise ConfigError(
            f"{config.label}: drift: {exc}; pick a test for that kind of column"
        ) from None
    drift.missing_columns = [c for c in drift.missing_columns if c != target]
    # the target is a signal of its own, not one of the features whose share decides
    target_result = next((c.to_dict() for c in drift.columns if c.column == target), None)
    drift.columns = [c for c in drift.columns if c.column != target]
    predictions = _prediction_drift(config, profile, watch)
    performance = _performance(config, profile, watch)
    signals = verdict.signals(
        settings,
        features=[c.to_dict() for c in drift.columns],
        target=target,
        target_result=target_result,
        target_untested=next((u["reason"] for u in drift.untested if u["column"] == target), None),
        labelled_rows=cur_columns[target].count if target in cur_columns else 0,
        predictions=predictions,
        performance=performance,
    )
    status = verdict.decide(signals, rows=cur_info["rows"], min_rows=settings.min_rows)
    result = DriftResult(
        out_dir=out,
        name=config.name,
        status=status,
        drift=status == DRIFT,
        signals=[s.to_dict() for s in signals],
        min_rows=settings.min_rows,
        reference=ref_info,
        current=cur_info,
        dataset_drift=drift.dataset_drift,
        drift_share=drift.drift_share,
        drift_share_threshold=drift.drift_share_threshold,
        drifted_columns=[c.column for c in drift.ordered() if c.drifted],  # largest effect first
        columns=[c.to_dict() for c in drift.ordered()],
        schema={
            "missing_columns": drift.missing_columns,
            "new_columns": drift.new_columns,
            "dtype_changes": drift.dtype_changes,
        },
        untested=drift.untested,
        calibrated="thresholds" in profile,
        fail_on_drift=fail_on_drift,
        report_path=out / REPORT_FILE,
        target=target_result,
        predictions=predictions,
        performance=performance,
    )
    _write_html(result, ref_columns, cur_columns)
    if alert:
        result.alerts = alert_on(config, result.to_dict(), result.summary_markdown()).to_dict()
    return write_result(result)


def _reference_path(config: Config, chosen: str | Path, out: Path) -> tuple[Path, str]:
    """The reference file and how to name it: a path as given, or ``registry:[TARGET:]ALIAS``,
    the model at that alias (its packaged profile: what production was trained on), or the
    training data while nothing is there yet."""
    text = str(chosen)
    if not text.startswith("registry:"):
        return Path(chosen), str(Path(chosen))
    registry, alias = registry_alias(config, text, "--reference")
    found = registry.alias(config.name, alias)
    if found is None:  # as the gate's first model: a new repository's nightly still runs
        annotate(
            "warning",
            f"--reference {text}: nothing at {registry.url} {config.name}:{alias} yet; "
            f"compared with the training data {config.data.train.name}",
        )
        return config.data.train, f"{config.data.train} (nothing at {text} yet)"
    version = registry.version(config.name, found.version)
    path = registry.local_copy(version, out / "registry")
    return path, f"{text} (version {version.version} of {registry.url})"


def _load_reference(
    config: Config, path: Path, out: Path
) -> tuple[dict, dict[str, Any], dict[str, ColumnSummary] | None]:
    """(profile, description, exact column summaries or None) from a table, profile or model.

    Summaries of the training file are exact; a profile's may be sketches. The training
    file's are built once: kept in ``out`` as ``reference-<hash>.npz`` (every sorted value,
    raw), so the next check with the same file neither parses nor sorts it again.
    """
    from mlops_actions.drift.profile import FORMAT, READABLE_FORMATS, profile_from_summaries

    if not path.exists():
        raise DataError(
            f"{path}: reference not found; pass --reference TRAIN.csv|PROFILE.json|MODEL.onnx"
        )
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        profile = _profile_from_model(path)
        kind = "model"
    elif suffix == ".json":
        try:
            profile = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a JSON drift profile: {exc}") from None
        kind = "profile"
    else:
        summaries, info = _reference_summaries(config, path, out)
        profile = profile_from_summaries(summaries, rows=info["rows"], task=config.task)
        return profile, info, summaries
    if not isinstance(profile, dict) or profile.get("format") not in READABLE_FORMATS:
        raise DataError(
            f"{path}: not a drift profile (expected format {FORMAT}); rebuild it with drift-check"
        )
    return profile, {"source": str(path), "kind": kind, "rows": profile["rows"]}, None


def _reference_summaries(
    config: Config, path: Path, out: Path
) -> tuple[dict[str, ColumnSummary], dict[str, Any]]:
    """Exact summaries of the training file: from the cache when the file and the way it is
    read are unchanged, else read, sorted and cached."""
    import hashlib

    from mlops_actions.drift.columns import summarize
    from mlops_actions.drift.profile import (
        FORMAT,
        load_binary,
        profile_columns,
        profile_from_summaries,
        save_binary,
    )

    settings = [
        FORMAT,
        sha256_files([path]) if path.is_file() else sha256_file(path),
        config.data.delimiter,
        config.data.encoding,
        sorted(schema_string_columns(config.data.schema)),
    ]
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]
    cache = out / f"reference-{key}.npz"
    if cache.exists():
        doc = load_binary(cache)
        return profile_columns(doc), doc["info"]
    frame = read_config_table(config, path)
    summaries = {str(c): summarize(frame[c]) for c in frame.columns}
    info = {
        "source": str(path),
        "kind": "training data",
        "rows": len(frame),
        **_fp(fingerprint(path, frame)),
    }
    for stale in out.glob("reference-*.npz"):
        stale.unlink()
    whole = profile_from_summaries(summaries, rows=len(frame), max_points=None)
    save_binary(cache, {**whole, "info": info})
    return summaries, info


def _fp(fingerprint: dict[str, Any]) -> dict[str, Any]:
    return {"sha256": fingerprint["sha256"]}


def _profile_from_model(path: Path) -> dict:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for a bad file
        raise ModelError(f"{path}: not a readable ONNX model: {type(exc).__name__}") from None
    metadata = {p.key: p.value for p in model.metadata_props}
    if PROFILE_METADATA_KEY not in metadata:
        raise ModelError(
            f"{path}: model carries no {PROFILE_METADATA_KEY} metadata; repackage it with package-onnx "
            "or pass the training data as --reference"
        )
    try:
        return json.loads(metadata[PROFILE_METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: {PROFILE_METADATA_KEY} metadata is not JSON: {exc}") from None


def _read_current(
    config: Config,
    source: str,
    watch: _ModelWatch | _LoggedPredictions | None,
    scheduler: str | None = None,
) -> tuple[dict[str, ColumnSummary], dict[str, Any], _ModelWatch | _LoggedPredictions | None]:
    """One pass over the current data: column summaries and a description (and, with a
    model, its predictions on every chunk; with a profile's predictions, the logged ones).

    With a ``scheduler`` each file is a partition summarised on a Dask worker and the
    partitions' accumulators merge in order; the result is the same."""
    from mlops_actions.drift.sources import (
        ReadOptions,
        TableAccumulator,
        is_url,
        local_files,
        partition_chunks,
        summarize_partition,
    )

    settings = config.drift
    options = ReadOptions(
        settings.chunk_rows,
        config.data.delimiter,
        config.data.encoding,
        frozenset(schema_string_columns(config.data.schema)),
    )
    with local_files(source, token_env=settings.token_env) as files:
        parts = engine.partitions(files)
        progress = Progress("drift-check", total=engine.known_rows(parts))
        if scheduler is None:
            table = TableAccumulator(settings.max_values, watch, source)
            for i, part in enumerate(parts):
                for chunk in partition_chunks(part, options):
                    table.add(chunk)
                    progress.add(len(chunk), share=i / len(parts))
        else:
            with engine.connect(scheduler) as client:
                job = engine.Distributed.map(
                    client,
                    summarize_partition,
                    parts,
                    options,
                    settings.max_values,
                    watch,
                    source,
                    label="drift",
                )
                job.rows(parts, progress)
                table = job.reduce(TableAccumulator.merge)
        progress.close()
        digest = _fingerprint(files)
        names = [Path(str(f)).name for f in files]
    if table.rows == 0:
        raise DataError(f"{source}: current data has no rows; nothing to compare")
    info = {
        "source": source if not is_url(source) else source.split("?", 1)[0],
        "files": names if len(names) <= 20 else [*names[:20], f"... {len(names) - 20} more"],
        "rows": table.rows,
        "sha256": digest,
    }
    return {name: acc.summary() for name, acc in table.columns.items()}, info, table.watch


def _fingerprint(files: list[Path | str]) -> str:
    """sha256 of the local files' bytes; for fsspec URLs, of each file's name, size and
    ETag (reading a bucket twice to hash it would double the cost of the check)."""
    import hashlib

    from mlops_actions.data import is_remote

    if not any(is_remote(f) for f in files):
        return sha256_files(files)
    import fsspec

    digest = hashlib.sha256()
    for url in files:
        fs, inner = fsspec.core.url_to_fs(url)
        info = fs.info(inner)
        tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("mtime")
        digest.update(f"{url}\0{info.get('size')}\0{tag}\n".encode())
    return digest.hexdigest()


def _set_aside_bookkeeping(cur_columns: dict, cur_info: dict[str, Any], ref_columns: dict) -> None:
    """The columns the model server's log adds (prediction, version, time) are no data
    columns: out of the tests and the schema skew, listed under ``bookkeeping``.

    A reference column of the same name stays a data column."""

    cur_info["bookkeeping"] = [c for c in LOG_COLUMNS if c in cur_columns and c not in ref_columns]
    for column in cur_info["bookkeeping"]:
        del cur_columns[column]


def _column_choices(config: Config, profile: dict, ref_columns: dict, current_rows: int) -> dict:
    """Calibrated thresholds from the profile, overridden by the config's per-column choices."""
    from mlops_actions.drift.calibrate import scaled_threshold
    from mlops_actions.drift.dataset import ColumnChoice

    choices = {}
    for name, entry in (profile.get("thresholds") or {}).items():
        if name in ref_columns:
            rows = ref_columns[name].count
            choices[name] = ColumnChoice(
                entry["test"], scaled_threshold(entry, rows, max(current_rows, 1))
            )
    for name, spec in config.drift.columns.items():
        base = choices.get(name, ColumnChoice())
        choices[name] = ColumnChoice(
            spec.stattest or base.stattest,
            spec.threshold
            if spec.threshold is not None
            else (None if spec.stattest else base.threshold),
        )
    return choices


class _ModelWatch:
    """The packaged model run on each current chunk: its outputs, and labels where known."""

    def __init__(self, model: Any, target: str, max_values: int) -> None:
        self.model = model
        self.target = target
        self.max_values = max_values
        self.outputs: dict[str, Any] = {}  # prediction column -> ColumnAccumulator
        self.y_true: list[Any] = []
        self.y_pred: list[Any] = []
        self.proba: list[Any] = []
        self.skipped: str | None = None

    def add(self, chunk: Any, *, source: str) -> None:
        from mlops_actions.drift.columns import ColumnAccumulator
        from mlops_actions.drift.profile import prediction_frame

        if self.skipped is not None:
            return
        try:
            prediction = self.model.predict(chunk, source=source)
        except DataError as exc:  # the current data lacks feature columns: say so, go on
            self.skipped = str(exc)
            return
        frame = prediction_frame(prediction)
        for column in frame.columns:
            if column not in self.outputs:
                self.outputs[column] = ColumnAccumulator(column, max_values=self.max_values)
            self.outputs[column].add(frame[column])
        if self.target in chunk.columns:
            labelled = chunk[self.target].notna().to_numpy()
            truth = chunk[self.target].to_numpy()[labelled]
            self.y_true.append(truth.astype(str) if prediction.task == "classification" else truth)
            self.y_pred.append(prediction.output[labelled])
            if prediction.probabilities is not None:
                self.proba.append(prediction.probabilities[labelled])

    def merge(self, later: _ModelWatch) -> _ModelWatch:
        """Fold in a later partition's outputs; after a skip nothing more counts, as in a
        single pass that stops watching at the first chunk the model cannot read."""
        if self.skipped is not None:
            return self
        for column, acc in later.outputs.items():
            self.outputs[column] = (
                self.outputs[column].merge(acc) if column in self.outputs else acc
            )
        self.y_true += later.y_true
        self.y_pred += later.y_pred
        self.proba += later.proba
        self.skipped = later.skipped
        return self

    def __getstate__(self) -> dict[str, Any]:
        """The model travels to Dask workers as its file's bytes (a session cannot be pickled)."""
        return {**self.__dict__, "model": self.model.path.read_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
            path = Path(tmp) / "model.onnx"
            path.write_bytes(state["model"])
            state["model"] = OnnxModel(path)
        self.__dict__.update(state)


class _LoggedPredictions:
    """The model server's logged ``prediction`` column, for a profile with predictions but
    no model to run: typed as ``prediction_frame`` types the model's outputs."""

    skipped = None

    def __init__(self, task: str, max_values: int) -> None:
        self.task = task
        self.max_values = max_values
        self.outputs: dict[str, Any] = {}  # "prediction" -> ColumnAccumulator, once logged

    def add(self, chunk: Any, *, source: str) -> None:
        from mlops_actions.drift.columns import ColumnAccumulator
        from mlops_actions.drift.profile import prediction_frame

        if PREDICTION not in chunk.columns:
            return
        logged = chunk[PREDICTION].to_numpy()
        prediction = (
            Prediction(self.task, labels=logged)
            if self.task == "classification"
            else Prediction(self.task, values=logged)
        )
        if PREDICTION not in self.outputs:
            self.outputs[PREDICTION] = ColumnAccumulator(PREDICTION, max_values=self.max_values)
        self.outputs[PREDICTION].add(prediction_frame(prediction)[PREDICTION])

    def merge(self, later: _LoggedPredictions) -> _LoggedPredictions:
        if PREDICTION in later.outputs:
            mine = self.outputs.get(PREDICTION)
            merged = mine.merge(later.outputs[PREDICTION]) if mine else later.outputs[PREDICTION]
            self.outputs[PREDICTION] = merged
        return self


def _model_watch(
    config: Config, ref_path: Path, profile: dict
) -> _ModelWatch | _LoggedPredictions | None:
    """Watch the model when the reference is one (its profile holds what to compare with);
    else, when the profile holds predictions, the predictions an inference log recorded."""
    if ref_path.suffix.lower() != ".onnx":
        if not profile.get("predictions"):
            return None
        return _LoggedPredictions(profile.get("task") or config.task, config.drift.max_values)
    if not (profile.get("predictions") or profile.get("metrics")):
        return None

    return _ModelWatch(OnnxModel(ref_path), config.data.target, config.drift.max_values)


def _prediction_drift(
    config: Config, profile: dict, watch: _ModelWatch | _LoggedPredictions | None
) -> dict[str, Any] | None:
    """The model's outputs on current data against its outputs on the training data."""
    from mlops_actions.drift.dataset import detect_drift
    from mlops_actions.drift.profile import profile_columns

    if watch is None or not profile.get("predictions"):
        return None
    if watch.skipped is not None:
        return {"drift": False, "drift_share": 0.0, "columns": [], "skipped": watch.skipped}
    if not watch.outputs:  # current data without a logged prediction
        return None
    drift = detect_drift(
        profile_columns(profile, "predictions"),
        {name: acc.summary() for name, acc in watch.outputs.items()},
        drift_share=config.drift.drift_share,
    )
    return {
        "drift": drift.dataset_drift,
        "drift_share": drift.drift_share,
        "columns": [c.to_dict() for c in drift.ordered()],
        "skipped": None,
    }


def _performance(
    config: Config, profile: dict, watch: _ModelWatch | _LoggedPredictions | None
) -> dict[str, Any] | None:
    """Metrics on the labelled current rows against the reference metrics in the profile.

    Labels and predictions of labelled rows are kept in memory (one value or one
    probability row each), unlike the column statistics.
    """
    import numpy as np

    if not isinstance(watch, _ModelWatch) or not watch.y_true or not profile.get("metrics"):
        return None
    y_true = np.concatenate(watch.y_true)
    if y_true.size == 0:
        return None
    proba = np.concatenate(watch.proba) if watch.proba else None
    current = compute_metrics(
        watch.model.task, y_true, np.concatenate(watch.y_pred), proba, watch.model.classes
    )
    rows = []
    for name, reference in profile["metrics"].items():
        value = current.get(name)
        if value is None or name not in METRICS:
            continue
        drop = reference - value if METRICS[name].higher_is_better else value - reference
        max_drop = config.drift.performance.get(name)
        rows.append(
            {
                "name": name,
                "reference": reference,
                "current": value,
                "change": value - reference,
                "max_drop": max_drop,
                "degraded": max_drop is not None and drop > max_drop,
            }
        )
    return {"rows": int(y_true.size), "metrics": rows, "degraded": any(r["degraded"] for r in rows)}


def _write_html(result: DriftResult, ref_columns: dict, cur_columns: dict) -> None:

    tested = [*result.columns, *([result.target] if result.target else [])]
    charts = {
        c["column"]: _histogram(ref_columns[c["column"]], cur_columns[c["column"]]) for c in tested
    }
    atomic_write_text(result.report_path, render("drift.html.j2", r=result, charts=charts))


def _histogram(ref: ColumnSummary, cur: ColumnSummary) -> dict[str, Any]:
    """Bin labels and the share of rows per bin in reference and current, for an SVG chart."""
    import numpy as np

    if ref.is_numeric and cur.is_numeric and (cur.kind == "numerical"):
        low, high = min(ref.minimum, cur.minimum), max(ref.maximum, cur.maximum)
        edges = (
            np.linspace(low, high, HISTOGRAM_BINS + 1)
            if high > low
            else np.array([low - 0.5, low + 0.5])
        )
        r = ref.sample.histogram(edges) / max(ref.count, 1)
        c = cur.sample.histogram(edges) / max(cur.count, 1)
        labels = [f"{a:.4g}" for a in edges[:-1]]
    else:
        rc, cc = ref.value_counts(), cur.value_counts()
        keys = sorted(
            set(rc) | set(cc), key=lambda k: -(rc.get(k, 0) / ref.count + cc.get(k, 0) / cur.count)
        )
        shown = keys[:TOP_CATEGORIES]
        r = np.array([rc.get(k, 0) / ref.count for k in shown])
        c = np.array([cc.get(k, 0) / cur.count for k in shown])
        labels = [str(k) for k in shown]
        if len(keys) > TOP_CATEGORIES:
            r, c = np.append(r, 1 - r.sum()), np.append(c, 1 - c.sum())
            labels.append("other")
    return {"labels": labels, "reference": r.tolist(), "current": c.tolist()}
