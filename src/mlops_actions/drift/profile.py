"""The reference profile: what drift checks need from the training data, without the file.

``build_profile(df)`` returns plain JSON data (package-onnx embeds it in the model's metadata
under ``mlops.drift_profile``). Per column it keeps the dtype, Evidently's inferred kind,
counts, distinct values, a category table, and for numbers min / max / std plus the sorted
values: all of them up to ``max_points`` rows (every statistic exact), else ``max_points``
equal-weight quantile points (a sketch).

A packaged model's profile (``packed=True``) keeps every sorted value instead, as distinct
values and run lengths in base64 (zlib-compressed float64 / int64), up to ``PACKED_POINTS``
distinct values per column: drift-check against ``registry:ALIAS`` then gives the very
statistics it gives against the training file, without reading or sorting it. Its size is
about 9 bytes per distinct value (runs cost one count more): 3 kB for penguins, ~0.9 MB per
100,000 distinct values of a column, at most ~2.5 MB per column.

With a sketch the statistics of numbers are approximate; ``error_bound`` on each result says
by how much at most. With CDF error e (2/K for the reference, K = points kept, plus the
current side's when it was sketched too): KS D within e, normed Wasserstein within
e * range / std, Jensen-Shannon distance within sqrt(ln 2 * (bins + 1) * e), Hellinger within
sqrt((bins + 1) * e); PSI and KL have no finite bound (they take logs of bin shares), and
Anderson-Darling, Cramér-von Mises and MMD run on the sketch's points. Category tests, and
every test when the reference has at most K rows, stay exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_actions.drift.columns import ColumnSummary, summarize
from mlops_actions.drift.stattests import SortedSample
from mlops_actions.serving.inference_log import PREDICTION

FORMAT = "mlops.drift_profile/2"
READABLE_FORMATS = ("mlops.drift_profile/1", FORMAT)  # /1 has no packed values
MAX_POINTS = 2048
PACKED_POINTS = 262_144  # distinct values a packed column keeps exactly (~3 MB of base64)


def build_profile(
    df: pd.DataFrame,
    *,
    task: str | None = None,
    predictions: Any = None,
    metrics: dict[str, float] | None = None,
    max_points: int = MAX_POINTS,
    packed: bool = False,
) -> dict:
    """A JSON-serialisable profile of ``df`` (and of the model's ``predictions``, which may
    come from other rows: package-onnx profiles them on held-out rows)."""
    summaries = {str(c): summarize(df[c]) for c in df.columns}
    return profile_from_summaries(
        summaries,
        rows=len(df),
        task=task,
        predictions=predictions,
        metrics=metrics,
        max_points=max_points,
        packed=packed,
    )


def profile_from_summaries(
    summaries: dict[str, ColumnSummary],
    *,
    rows: int,
    task: str | None = None,
    predictions: Any = None,
    metrics: dict[str, float] | None = None,
    max_points: int | None = MAX_POINTS,
    packed: bool = False,
) -> dict:
    """The profile from column summaries already made (drift-check reuses its reference's);
    ``max_points=None`` keeps every exact sample whole, as arrays (``save_binary``);
    ``packed`` keeps up to ``PACKED_POINTS`` distinct values per column exactly, in base64."""
    points = PACKED_POINTS if packed else max_points
    profile: dict[str, Any] = {
        "format": FORMAT,
        "rows": int(rows),
        "columns": {name: column_to_dict(s, points, packed) for name, s in summaries.items()},
    }
    if task is not None:
        profile["task"] = task
    if predictions is not None:
        frame = _prediction_frame(predictions)
        profile["predictions_rows"] = len(frame)
        profile["predictions"] = {
            str(c): column_to_dict(summarize(frame[c]), points or MAX_POINTS, packed)
            for c in frame.columns
        }
    if metrics:
        profile["metrics"] = {k: float(v) for k, v in metrics.items()}
    return profile


def _prediction_frame(predictions: Any) -> pd.DataFrame:
    """Model outputs as named columns: ``prediction`` and, for classifiers, ``proba_<class>``."""
    if isinstance(predictions, pd.DataFrame):
        return predictions
    if hasattr(predictions, "task"):  # a model.Prediction
        return prediction_frame(predictions)
    if isinstance(predictions, pd.Series):
        return predictions.rename(PREDICTION).to_frame()
    array = np.asarray(predictions)
    if array.ndim == 1:
        return pd.DataFrame({PREDICTION: array})
    return pd.DataFrame(array, columns=[f"proba_{i}" for i in range(array.shape[1])])


def prediction_frame(prediction: Any) -> pd.DataFrame:
    """An ``OnnxModel.predict`` result as the columns the profile stores and drift compares."""
    if prediction.task != "classification":
        return pd.DataFrame({PREDICTION: np.asarray(prediction.values, dtype=np.float64)})
    frame = pd.DataFrame({PREDICTION: np.asarray(prediction.labels).astype(str)})
    if prediction.probabilities is not None and prediction.classes:
        for i, cls in enumerate(prediction.classes):
            frame[f"proba_{cls}"] = np.asarray(prediction.probabilities[:, i], dtype=np.float64)
    return frame


def save_binary(path: Path, profile: dict) -> None:
    """The profile with every exact sorted sample as raw float64 (``.npz``): reloading it
    costs a read of the arrays, not a JSON parse nor a sort (drift-check's reference cache)."""
    import io

    from mlops_actions.files import atomic_write_bytes, to_json

    arrays: dict[str, np.ndarray] = {}
    doc = {**profile, "columns": {}}
    for name, column in profile["columns"].items():
        numeric = column.get("numeric")
        if numeric is not None and isinstance(numeric["values"], np.ndarray):
            key = f"v{len(arrays)}"
            arrays[key] = numeric["values"]
            column = {**column, "numeric": {**numeric, "values": {"npz": key}}}
        doc["columns"][name] = column
    arrays["profile"] = np.frombuffer(to_json(doc).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_binary(path: Path) -> dict:
    """A profile written by ``save_binary``."""
    import json

    with np.load(path, allow_pickle=False) as archive:
        doc = json.loads(archive["profile"].tobytes())
        for column in doc["columns"].values():
            numeric = column.get("numeric")
            if numeric is not None and isinstance(numeric["values"], dict):
                numeric["values"] = archive[numeric["values"]["npz"]]
    return doc


def column_to_dict(
    summary: ColumnSummary, max_points: int | None = MAX_POINTS, packed: bool = False
) -> dict:
    data: dict[str, Any] = {
        "dtype": summary.dtype,
        "kind": summary.kind,
        "count": summary.count,
        "missing": summary.missing,
        "nunique": summary.nunique,
        "categories": None
        if summary.categories is None
        else [[k, v] for k, v in summary.categories.items()],
    }
    if summary.sample is not None:
        values, weight, cdf_error = _points(summary.sample, max_points, packed)
        if packed:
            stored: Any = _pack(values)
        elif max_points is None and weight is None:
            stored = values
        else:
            stored = values.tolist()
        data["numeric"] = {
            "min": summary.minimum,
            "max": summary.maximum,
            "std": summary.std,
            "values": stored,
            "weight": weight,  # null: each value is one row; else the rows each point stands for
            "cdf_error": max(cdf_error, summary.cdf_error),
        }
    return data


def _points(
    sample: SortedSample, max_points: int | None, packed: bool = False
) -> tuple[np.ndarray, float | None, float]:
    """All sorted values, or ``max_points`` values at mid-quantiles with equal weights
    (``None``: all of them, as an array, for ``save_binary``). Packed, the limit is on
    distinct values (runs cost one value and one count)."""
    kept = _distinct(sample.values) if packed else sample.values.size
    if sample.is_exact and (max_points is None or kept <= max_points):
        return sample.values, None, 0.0
    max_points = max_points or MAX_POINTS  # a sketch stays one
    cum = sample.cumulative()
    total = cum[-1]
    targets = (np.arange(max_points) + 0.5) * (total / max_points)
    idx = np.minimum(np.searchsorted(cum, targets), sample.values.size - 1)
    return sample.values[idx], float(sample.count / max_points), 2.0 / max_points


def _distinct(sorted_values: np.ndarray) -> int:
    return (
        int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1])) + 1
        if sorted_values.size
        else 0
    )


def _pack(sorted_values: np.ndarray) -> dict[str, str]:
    """Sorted values as distinct values and run lengths, each zlib-compressed little-endian
    bytes in base64 (``counts`` left out when every value is distinct)."""
    import base64
    import zlib

    def encode(array: np.ndarray) -> str:
        return base64.b64encode(zlib.compress(array.tobytes(), 6)).decode("ascii")

    values = np.asarray(sorted_values, dtype="<f8")
    starts = (
        np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
        if values.size
        else np.zeros(0, dtype=np.int64)
    )
    packed = {"f8": encode(values[starts])}
    if starts.size != values.size:
        packed["runs"] = encode(np.diff(np.append(starts, values.size)).astype("<i8"))
    return packed


def _unpack(packed: dict[str, str]) -> np.ndarray:
    """The sorted values ``_pack`` stored: a decode and a repeat, never a sort."""
    import base64
    import zlib

    def decode(text: str, dtype: str) -> np.ndarray:
        return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=dtype)

    distinct = decode(packed["f8"], "<f8").astype(np.float64)
    if "runs" not in packed:
        return distinct
    return np.repeat(distinct, decode(packed["runs"], "<i8"))


def column_from_dict(name: str, data: dict) -> ColumnSummary:
    sample = minimum = maximum = std = None
    cdf_error = 0.0
    numeric = data.get("numeric")
    if numeric is not None:
        stored = numeric["values"]
        values = (
            _unpack(stored) if isinstance(stored, dict) else np.asarray(stored, dtype=np.float64)
        )
        weights = (
            None if numeric["weight"] is None else np.full(values.size, float(numeric["weight"]))
        )
        sample = SortedSample(values, weights, int(data["count"]))
        minimum, maximum, std = numeric["min"], numeric["max"], numeric["std"]
        cdf_error = float(numeric["cdf_error"])
    categories = data.get("categories")
    return ColumnSummary(
        name=name,
        dtype=data["dtype"],
        kind=data["kind"],
        count=int(data["count"]),
        missing=int(data["missing"]),
        nunique=data["nunique"],
        categories=None if categories is None else {k: float(v) for k, v in categories},
        sample=sample,
        minimum=minimum,
        maximum=maximum,
        std=std,
        cdf_error=cdf_error,
    )


def profile_columns(profile: dict, section: str = "columns") -> dict[str, ColumnSummary]:
    """The profile's column (or ``predictions``) summaries, ready for the tests."""
    return {name: column_from_dict(name, data) for name, data in profile.get(section, {}).items()}
