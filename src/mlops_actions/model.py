"""The shipped model: a scikit-learn Pipeline converted to one self-describing ONNX file.

``to_onnx`` converts (deterministically: the same pipeline gives the same bytes in any
process), ``OnnxModel`` loads and predicts. Gate, deploy, serve and drift all read models
through ``OnnxModel`` so that they feed inputs exactly as the parity check did: one input
per raw feature column, shape ``[n, 1]``, float64 numbers (NaN = missing) and strings
(``''`` = missing), prepared by ``features.model_frame``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import DataError, DeployFailed, ModelError
from mlops_actions.features import CATEGORICAL, NUMERIC, Feature, features_from_json, model_frame
from mlops_actions.files import _jsonable
from mlops_actions.onnx_trees import (
    ML_DOMAIN,
    binary_trees_as_one_score,
    declare_float_probabilities,
    double_tree_converters,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

METADATA_PREFIX = "mlops."
LABEL = "label"
PROBABILITIES = "probabilities"
VALUE = "value"
"""Output names of the graphs ``to_onnx`` writes (older regression files call theirs
``variable``): the roles /predict, the inference log and the deploy checks read."""
REPLAY_ATOL = 1e-4
"""Largest difference of a probability or value the replay and smoke checks accept when the
packaged sample names none (package-onnx stores its parity ``atol`` with the sample)."""
DEFAULT_OPSET = 18
# From this many rows on, predict() uses the multi-threaded session; below it the
# single-threaded one, whose lower per-call overhead wins for requests of a few rows.
BATCH_ROWS = 512
BATCH_THREADS_MAX = 4


@dataclass(frozen=True)
class Prediction:
    """What a model says about a frame: labels and probabilities, or regression values."""

    task: str
    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    """``[n, len(classes)]``, columns in ``classes`` order."""
    classes: tuple[str, ...] | None = None
    values: np.ndarray | None = None

    @property
    def output(self) -> np.ndarray:
        """The headline prediction: labels (classification) or values (regression)."""
        return self.labels if self.task == "classification" else self.values


def metadata_value(value: Any) -> str:
    """The one JSON form of a metadata value: sorted keys, compact, so bytes never vary."""

    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def to_onnx(
    pipeline: Any,
    features: list[Feature],
    *,
    opset: int = DEFAULT_OPSET,
    name: str = "mlops",
    source: str = "model",
    metadata: Mapping[str, Any] | None = None,
) -> bytes:
    """Convert a fitted Pipeline to checked, reproducible ONNX bytes.

    One graph input per raw feature column; classifiers output ``label`` and a plain
    ``probabilities`` tensor (no ZipMap), regressors ``value``. ``metadata``: as
    ``with_metadata``.

    Numbers enter as float64 and are imputed and scaled in float64, as scikit-learn does.
    Tree ensembles keep float64 thresholds (skl2onnx moves those of scikit-learn's trees so
    that ``x <= w`` exactly when ``float32(x) <= t``, the comparison those trees make), leaf
    values and sums (``onnx_trees``), except classifiers made of scikit-learn's trees,
    which read float32 as those trees do (``_float32_trees``). Test data on a decimal grid
    puts values exactly halfway between two training values, i.e. on a split threshold, so
    a float32 pipeline (skl2onnx's default) flips whole trees on the last ulp.
    """
    import onnx
    from sklearn.base import is_classifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    except ImportError as exc:  # pragma: no cover - a broken install, not bad input
        raise ModelError(f"skl2onnx is not installed ({exc}); pip install skl2onnx") from None

    initial_types = [
        (f.name, DoubleTensorType([None, 1]) if f.kind == NUMERIC else StringTensorType([None, 1]))
        for f in features
    ]
    final = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    options = {id(final): {"zipmap": False}} if is_classifier(final) else None
    float32 = _float32_trees(final) and hasattr(pipeline, "steps")
    trees = {} if float32 else double_tree_converters()
    if float32:
        from skl2onnx.sklapi import CastTransformer

        pipeline = Pipeline(
            [*pipeline.steps[:-1], ("float32", CastTransformer()), (pipeline.steps[-1][0], final)]
        )
    try:
        model = convert_sklearn(
            pipeline,
            initial_types=initial_types,
            target_opset={"": opset, ML_DOMAIN: 3},  # 3: float64 tree attributes
            options=options,
            name=name,  # without a name skl2onnx puts a random uuid in the graph
            custom_conversion_functions={SimpleImputer: _simple_imputer_in_double, **trees},
        )
    except Exception as exc:  # skl2onnx raises many unrelated classes
        raise ModelError(f"{source}: {_conversion_problem(exc)}") from None
    declare_float_probabilities(model)
    binary_trees_as_one_score(model)  # onnxruntime's faster one-target path
    if not is_classifier(final):  # skl2onnx calls it "variable"; one name across every tool
        _rename(model, model.graph.output[0].name, VALUE)
    # skl2onnx makes identifiers of input names ("od280/od315" -> "od280_od315"); a graph input
    # is named as its column, so every client (Triton's too) sends the data's own names
    for graph_input, feature in zip(model.graph.input, features, strict=True):
        if graph_input.name != feature.name:
            _rename(model, graph_input.name, feature.name)
    _sort_opset_imports(model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ModelError(
            f"{source}: the converted ONNX graph fails onnx.checker: {_first_line(exc)}"
        ) from None
    converted = model.SerializeToString(deterministic=True)
    return with_metadata(converted, metadata) if metadata else converted


def with_metadata(
    onnx_bytes: bytes, metadata: Mapping[str, Any], *, doc_string: str | None = None
) -> bytes:
    """The same graph with ``mlops.<key>`` metadata_props set (others kept), sorted by key,
    and ``doc_string`` (what the model is for, shown by Netron and ``onnx``) if given."""
    import onnx

    model = onnx.load_model_from_string(onnx_bytes)
    if doc_string is not None:
        model.doc_string = doc_string
    props = {p.key: p.value for p in model.metadata_props}
    props.update({METADATA_PREFIX + key: metadata_value(value) for key, value in metadata.items()})
    del model.metadata_props[:]
    for key, value in sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value
    return model.SerializeToString(deterministic=True)


def _simple_imputer_in_double(scope: Any, operator: Any, container: Any) -> None:
    """Numbers: ``Where(IsNaN(x), statistic, x)`` in float64 (onnxruntime's Imputer is float32 only)."""
    import numpy as np
    from skl2onnx.algebra.onnx_ops import OnnxEqual, OnnxIsNaN, OnnxWhere
    from skl2onnx.common.data_types import StringTensorType
    from skl2onnx.operator_converters.common import concatenate_variables
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer

    if isinstance(operator.inputs[0].type, StringTensorType):
        convert_sklearn_imputer(scope, operator, container)
        return
    imputer = operator.raw_operator
    inputs = operator.inputs
    source = (
        inputs[0].full_name if len(inputs) == 1 else concatenate_variables(scope, inputs, container)
    )
    opset = container.target_opset
    missing = imputer.missing_values
    if isinstance(missing, float) and missing != missing:
        is_missing = OnnxIsNaN(source, op_version=opset)
    else:
        is_missing = OnnxEqual(source, np.array([missing], dtype=np.float64), op_version=opset)
    fill = np.asarray(imputer.statistics_, dtype=np.float64).reshape(1, -1)
    OnnxWhere(
        is_missing, fill, source, op_version=opset, output_names=[operator.outputs[0].full_name]
    ).add_to(scope, container)


def _float32_trees(final: Any) -> bool:
    """A classifier made of scikit-learn's own classification trees (forests, extra trees,
    a decision tree), which compare ``float32(x) <= t``: fed
    float32, skl2onnx's float32 thresholds (rounded down) split exactly alike, sums differ
    by float32 rounding only (as the float32 probabilities would anyway), and float32
    trees run faster. Every other tree ensemble runs in float64 (``onnx_trees``)."""
    import numpy as np
    from sklearn.base import is_classifier

    trees = [
        e for e in [final, *np.ravel(getattr(final, "estimators_", []))] if hasattr(e, "tree_")
    ]
    return bool(trees) and all(is_classifier(e) for e in trees)  # not boosting's regression trees


def _rename(model: Any, old: str, new: str) -> None:
    for node in model.graph.node:
        node.output[:] = [new if name == old else name for name in node.output]
        node.input[:] = [new if name == old else name for name in node.input]
    for value in (*model.graph.input, *model.graph.output, *model.graph.value_info):
        if value.name == old:
            value.name = new


def _sort_opset_imports(model: Any) -> None:
    """skl2onnx emits opset imports in set iteration order, which varies with PYTHONHASHSEED."""
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    for domain, version in opsets:
        entry = model.opset_import.add()
        entry.domain = domain
        entry.version = version


def _conversion_problem(exc: Exception) -> str:
    text = str(exc)
    unsupported = re.search(r"<class '([\w.]+)'>", text)
    if unsupported and type(exc).__name__ in (
        "MissingShapeCalculator",
        "MissingConverter",
        "RuntimeError",
    ):
        cls = unsupported.group(1)
        return (
            f"skl2onnx cannot convert {cls.rsplit('.', 1)[-1]} ({cls}); use an estimator and "
            "transformers skl2onnx supports (skl2onnx.supported_converters()) or register a converter"
        )
    return f"converting to ONNX failed: {type(exc).__name__}: {_first_line(exc)}"


def _dims(shape: list[Any]) -> list[int]:
    return [d if isinstance(d, int) and d >= 0 else -1 for d in shape]


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class OnnxModel:
    """An ONNX file ready to predict from raw feature columns.

    Two onnxruntime sessions: single-threaded for small requests (no thread hand-off
    per call) and multi-threaded for batches; the batch one is built on first use.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(
                f"{self.path}: ONNX model file not found; run `mlops package-onnx` or fix the path"
            )
        self._bytes = self.path.read_bytes()
        self._small = self._session(threads=1)
        self._large: Any = None
        inputs, outputs = self._small.get_inputs(), self._small.get_outputs()
        self.input_names = [i.name for i in inputs]
        self.output_names = [o.name for o in outputs]
        self.input_types = {i.name: i.type for i in inputs}
        self.output_types = {o.name: o.type for o in outputs}
        self.shapes = {t.name: _dims(t.shape) for t in (*inputs, *outputs)}
        """Graph input and output dimensions, -1 where a dimension varies (the batch)."""

    def _session(self, *, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle worker threads sleep instead of spinning: the machine is shared with the caller.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(self._bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... classes
            raise ModelError(
                f"{self.path}: not a loadable ONNX model: {_first_line(exc)}"
            ) from None

    def _batch_session(self) -> Any:
        if self._large is None:
            threads = max(1, min(BATCH_THREADS_MAX, len(os.sched_getaffinity(0))))
            self._large = self._small if threads == 1 else self._session(threads=threads)
        return self._large

    @cached_property
    def metadata(self) -> dict[str, Any]:
        """``metadata_props``; our ``mlops.*`` values JSON-decoded, keys kept as stored."""
        raw = self._small.get_modelmeta().custom_metadata_map
        decoded: dict[str, Any] = {}
        for key, value in sorted(raw.items()):
            if key.startswith(METADATA_PREFIX):
                with contextlib.suppress(ValueError):  # not ours if not JSON: keep the text
                    value = json.loads(value)
            decoded[key] = value
        return decoded

    def meta(self, key: str, default: Any = None) -> Any:
        """One ``mlops.<key>`` value, e.g. ``model.meta("lineage")``."""
        return self.metadata.get(METADATA_PREFIX + key, default)

    @cached_property
    def features(self) -> list[Feature]:
        """Feature schema from metadata; for a foreign file, from the graph inputs."""
        stored = self.meta("features")
        if stored:
            return features_from_json(stored)
        return [
            Feature(
                name,
                CATEGORICAL if self.input_types[name] == "tensor(string)" else NUMERIC,
                "str" if self.input_types[name] == "tensor(string)" else "float64",
            )
            for name in self.input_names
        ]

    @property
    def task(self) -> str:
        target = self.meta("target") or {}
        if target.get("task"):
            return target["task"]
        return "classification" if PROBABILITIES in self.output_names else "regression"

    @property
    def classes(self) -> tuple[str, ...] | None:
        classes = (self.meta("target") or {}).get("classes")
        return tuple(classes) if classes is not None else None

    def feed(self, frame: pd.DataFrame, *, source: str = "data") -> dict[str, np.ndarray]:
        """Graph inputs from a raw frame: one ``[n, 1]`` array per feature column."""
        import numpy as np

        missing = [f.name for f in self.features if f.name not in frame.columns]
        if missing:
            raise DataError(
                f"{source}: missing feature column(s) {', '.join(map(repr, missing))}; "
                f"the model {self.path.name} reads {', '.join(f.name for f in self.features)}"
            )
        x = model_frame(frame, self.features, source=source)
        feed = {}
        for name in self.input_names:
            kind = self.input_types[name]
            if kind == "tensor(string)":
                feed[name] = x[name].to_numpy(dtype=object).reshape(-1, 1)
            else:
                dtype = np.float64 if kind == "tensor(double)" else np.float32
                feed[name] = x[name].to_numpy(dtype=dtype).reshape(-1, 1)
        return feed

    def run(
        self, feed: Mapping[str, np.ndarray], *, single_thread: bool = False
    ) -> list[np.ndarray]:
        """Raw session outputs for a prepared feed (the session picked by batch size).

        ``single_thread``: the one-thread session whatever the size, so float sums run in
        one order and results are bit-identical on any machine (for what gets stored).
        """
        rows = len(next(iter(feed.values()))) if feed else 0
        threaded = rows >= BATCH_ROWS and not single_thread
        return (self._batch_session() if threaded else self._small).run(None, dict(feed))

    def predict(
        self, frame: pd.DataFrame, *, source: str = "data", single_thread: bool = False
    ) -> Prediction:
        """Predict from raw feature columns (extra columns are ignored)."""
        raw = self.run(self.feed(frame, source=source), single_thread=single_thread)
        outputs = dict(zip(self.output_names, raw, strict=True))
        if self.task == "regression":
            return Prediction(
                "regression", values=next(iter(outputs.values())).reshape(-1).astype("float64")
            )
        labels = outputs.get(LABEL, next(iter(outputs.values()))).reshape(-1)
        proba = outputs.get(PROBABILITIES)
        return Prediction(
            "classification", labels=labels, probabilities=proba, classes=self.classes
        )


# -- the outputs a model gives, and the replay of its packaged test sample -------------------


def outputs_of(prediction: Prediction) -> dict[str, np.ndarray]:
    """A prediction as named output arrays: what the server sends and the checks compare."""
    if prediction.task == "regression":
        return {VALUE: prediction.values}
    outputs = {LABEL: prediction.labels.astype(str)}
    if prediction.probabilities is not None:
        outputs[PROBABILITIES] = prediction.probabilities
    return outputs


def mismatch(
    expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], *, atol: float
) -> str | None:
    """Why ``got`` differs from ``expected`` (labels exactly, numbers within ``atol``), or None."""
    import numpy as np

    for name, want in expected.items():
        have = got.get(name)
        if have is None:
            return f"output {name!r} is missing"
        have = np.asarray(have).reshape(np.shape(want))
        if want.dtype.kind in "OUS":
            differ = np.asarray(want, dtype=str) != np.asarray(have, dtype=str)
        else:
            differ = ~np.isclose(
                np.asarray(want, dtype="float64"),
                np.asarray(have, dtype="float64"),
                atol=atol,
                rtol=0,
            )
        if differ.any():
            at = np.argwhere(differ)[0]
            row = int(at[0])
            return (
                f"output {name!r} differs on {int(differ.reshape(len(differ), -1).any(axis=1).sum())} of "
                f"{len(differ)} row(s); first at row {row}: expected {want[tuple(at)]!r}, got {have[tuple(at)]!r}"
            )
    return None


def packaged_sample(
    onnx: OnnxModel, source: Path | str
) -> tuple[pd.DataFrame, dict[str, np.ndarray], float]:
    """The packaged test rows, the outputs the model gave for them when packaged, and the tolerance;
    no rows when it was packaged with ``package.test_sample_rows: 0``."""
    import numpy as np
    import pandas as pd

    sample = onnx.meta("test_sample")
    if (
        not isinstance(sample, dict)
        or not isinstance(sample.get("rows"), list)
        or not isinstance(sample.get("expected"), dict)
    ):
        raise ModelError(
            f"{source}: the model carries no test sample (metadata mlops.test_sample) to replay; "
            "package it with `mlops package-onnx`"
        )
    expected = {
        name: np.asarray(values, dtype=object).astype(str)
        if name == LABEL
        else np.asarray(values, dtype="float64")
        for name, values in sample["expected"].items()
        if name in (LABEL, PROBABILITIES, VALUE)  # the names outputs_of gives
    }
    return (
        pd.DataFrame.from_records(sample["rows"]),
        expected,
        float(sample.get("atol") or REPLAY_ATOL),
    )


def replay(onnx: OnnxModel, source: Path | str) -> dict[str, Any]:
    """Replay the packaged sample in ``onnx``'s session; a mismatch stops the deploy."""
    frame, expected, atol = packaged_sample(onnx, source)
    if frame.empty:
        return {"rows": 0, "matched": None, "atol": atol}
    problem = mismatch(expected, outputs_of(onnx.predict(frame, source=str(source))), atol=atol)
    if problem:
        raise DeployFailed(
            f"{source}: replaying the packaged test sample in a fresh onnxruntime session: {problem}; "
            "re-package the model with this onnxruntime version"
        )
    return {"rows": len(frame), "matched": True, "atol": atol}
