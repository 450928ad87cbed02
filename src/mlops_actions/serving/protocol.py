"""Requests and answers of the Open Inference Protocol (KServe V2 REST) and of ``/predict``.

One module for both ends: ``mlops serve`` decodes requests and encodes answers, the
``http`` deploy target encodes its smoke request and decodes the answer, so the two can
never disagree on shapes or names. Inputs are one tensor per raw feature column, shape
``[n]`` or ``[n, 1]``; outputs are ``label`` and ``probabilities`` (classification) or
``value`` (regression).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlops_actions.model import LABEL, PROBABILITIES, VALUE

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_actions.features import Feature

NUMERIC_TYPES = {
    "FP16",
    "FP32",
    "FP64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
}


class RequestError(Exception):
    """A request the server refuses: ``status`` is the HTTP status (4xx), the message says why."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def columns_from_v2(
    body: Any, features: Sequence[Feature], *, max_rows: int
) -> dict[str, np.ndarray]:
    """The feature columns of a V2 ``infer`` request body (see ``_columns``)."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise RequestError(
            "body must be a JSON object with a non-empty 'inputs' list (Open Inference Protocol)"
        )
    by_name = {f.name: f for f in features}
    columns: dict[str, list[Any]] = {}
    for i, tensor in enumerate(body["inputs"]):
        if not isinstance(tensor, dict):
            raise RequestError(f"inputs[{i}] must be an object with name, shape, datatype and data")
        name = tensor.get("name")
        if name not in by_name:
            raise RequestError(
                f"inputs[{i}]: unknown input {name!r}; the model reads {_names(features)}"
            )
        data, shape, datatype = tensor.get("data"), tensor.get("shape"), tensor.get("datatype")
        if not isinstance(data, list):
            raise RequestError(f"input {name!r}: 'data' must be a list")
        if data and isinstance(data[0], list):  # row-major nested form of an [n, 1] tensor
            data = [v for row in data for v in (row if isinstance(row, list) else [row])]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise RequestError(
                f"input {name!r}: 'shape' must be a list of sizes such as [{len(data)}, 1]"
            )
        if (
            len(shape) not in (1, 2)
            or (len(shape) == 2 and shape[1] != 1)
            or math.prod(shape) != len(data)
        ):
            raise RequestError(
                f"input {name!r}: shape {shape} does not fit {len(data)} value(s); send [{len(data)}] or [{len(data)}, 1]"
            )
        want = "BYTES" if by_name[name].kind != "numeric" else "FP32 or FP64"
        if (datatype == "BYTES") != (want == "BYTES") or (
            datatype != "BYTES" and datatype not in NUMERIC_TYPES
        ):
            raise RequestError(
                f"input {name!r}: datatype {datatype!r} does not fit the model, which wants {want}"
            )
        columns[name] = data
    return _columns(columns, features, max_rows=max_rows)


def columns_from_records(
    body: Any, features: Sequence[Feature], *, max_rows: int
) -> dict[str, np.ndarray]:
    """The feature columns of a ``/predict`` body: a list of records or ``{"records": [...]}``."""
    records = body.get("records") if isinstance(body, dict) else body
    if not isinstance(records, list) or not records:
        raise RequestError('body must be a non-empty list of records, or {"records": [...]}')
    if len(records) > max_rows:
        raise RequestError(
            f"{len(records)} records is more than the {max_rows} this server takes at once",
            status=413,
        )
    if not all(isinstance(r, dict) for r in records):
        raise RequestError("every record must be a JSON object of feature: value")
    wanted = [f.name for f in features]
    columns = {name: [r.get(name) for r in records] for name in wanted}
    for name in wanted:
        if not any(name in r for r in records):
            raise RequestError(f"records lack feature {name!r}; the model reads {_names(features)}")
    return _columns(columns, features, max_rows=max_rows)


def _columns(
    columns: Mapping[str, list[Any]], features: Sequence[Feature], *, max_rows: int
) -> dict[str, np.ndarray]:
    """Checked columns as the model takes them, built with numpy alone (no pandas per request):
    numbers float64 with NaN for null, strings as ``str`` with ``''`` for null, as
    ``features.model_frame`` prepares them."""
    import numpy as np

    missing = [f.name for f in features if f.name not in columns]
    if missing:
        raise RequestError(
            f"missing input(s) {', '.join(map(repr, missing))}; the model reads {_names(features)}"
        )
    sizes = {len(v) for v in columns.values()}
    if len(sizes) != 1:
        raise RequestError(
            f"inputs differ in length ({', '.join(str(s) for s in sorted(sizes))}); send one value per row in each"
        )
    rows = sizes.pop()
    if rows > max_rows:
        raise RequestError(
            f"{rows} rows is more than the {max_rows} this server takes at once", status=413
        )
    if rows == 0:
        raise RequestError("no rows to predict")
    checked = {}
    for feature in features:
        values = columns[feature.name]
        numeric = feature.kind == "numeric"
        allowed = _NUMBER_TYPES if numeric else _TEXT_TYPES
        if not set(map(type, values)) <= allowed:
            row = next(i for i, v in enumerate(values) if type(v) not in allowed)
            kind = "a number" if numeric else "a string"
            raise RequestError(f"input {feature.name!r} row {row}: {values[row]!r} is not {kind}")
        if numeric:
            checked[feature.name] = np.array(values, dtype="float64")  # None becomes NaN
        else:
            checked[feature.name] = np.array(
                ["" if v is None else v if type(v) is str else str(v) for v in values], dtype=object
            )
    return checked


_NUMBER_TYPES = {int, float, type(None)}
_TEXT_TYPES = {str, int, float, type(None)}


def _names(features: Sequence[Feature]) -> str:
    return ", ".join(f.name for f in features)


def named_outputs(raw: Mapping[str, np.ndarray], task: str) -> dict[str, np.ndarray]:
    """Raw session outputs under the protocol's names, as ``OnnxModel.predict`` reads them."""
    first = next(iter(raw.values()))
    if task == "regression":
        return {VALUE: first.reshape(-1).astype("float64")}
    outputs = {LABEL: raw.get(LABEL, first).reshape(-1).astype(str)}
    if PROBABILITIES in raw:
        outputs[PROBABILITIES] = raw[PROBABILITIES]
    return outputs


def v2_response(
    outputs: Mapping[str, np.ndarray], *, model: str, version: str, request_id: str | None
) -> dict[str, Any]:
    tensors = []
    for name, array in outputs.items():
        text = array.dtype.kind in "OUS"
        tensors.append(
            {
                "name": name,
                "datatype": "BYTES" if text else ("FP64" if array.dtype.itemsize == 8 else "FP32"),
                "shape": list(array.shape),
                "data": array.reshape(-1).tolist(),
            }
        )
    answer: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": tensors}
    if request_id is not None:
        answer["id"] = request_id
    return answer


def v2_request(frame: pd.DataFrame, features: Sequence[Feature]) -> dict[str, Any]:
    """A V2 ``infer`` body for ``frame``'s feature columns (NaN and missing as null)."""
    inputs = []
    for feature in features:
        series = frame[feature.name]
        numeric = feature.kind == "numeric"
        values = series.astype("float64") if numeric else series.astype(object)
        data = [None if _missing(v) else v for v in values.tolist()]
        inputs.append(
            {
                "name": feature.name,
                "datatype": "FP64" if numeric else "BYTES",
                "shape": [len(data), 1],
                "data": data,
            }
        )
    return {"inputs": inputs}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def outputs_from_v2(body: Any) -> dict[str, np.ndarray]:
    """Named output arrays of a V2 answer; raises ``ValueError`` on a malformed one."""
    import numpy as np

    if not isinstance(body, dict) or not isinstance(body.get("outputs"), list):
        raise ValueError("the answer has no 'outputs' list")
    found = {}
    for tensor in body["outputs"]:
        dtype = object if tensor.get("datatype") == "BYTES" else "float64"
        found[tensor["name"]] = np.asarray(tensor["data"], dtype=dtype).reshape(tensor["shape"])
    return found
