"""Requests and answers of the Open Inference Protocol (KServe V2 REST, with Triton's binary
tensor extension) and of ``/predict``.

One module for both ends: ``mlops serve`` decodes requests and encodes answers, the
``http`` deploy target encodes its smoke request and decodes the answer, so the two can
never disagree on shapes or names. Inputs are one tensor per raw feature column, shape
``[n]`` or ``[n, 1]``; outputs are the graph's own, named and typed as the ONNX file
declares them. ``LABEL``, ``PROBABILITIES`` and ``VALUE`` name the roles of those outputs
(what ``/predict``, the inference log and the deploy checks read); ``named_outputs`` finds
them among the graph's outputs.

Checking follows the protocol: every element must fit the datatype the client declared
(``INT64`` takes integers in range, ``BYTES`` strings), the data must fill the shape, and a
numeric feature takes any numeric datatype, a string feature ``BYTES``. JSON ``null`` is a
missing value (NaN for numbers, ``''`` for strings, as ``features.model_frame`` prepares
them); in binary data a missing number is NaN and a missing string is empty.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_actions.model import LABEL, PROBABILITIES, VALUE

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_actions.features import Feature

HEADER_LENGTH = "inference-header-content-length"
"""Triton's binary tensor extension: the length of the JSON header before the raw tensors."""

BINARY_DTYPES = {  # numpy form of each fixed-size datatype's binary data (little-endian)
    "BOOL": "|b1",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
ONNX_DATATYPES = {  # ONNX tensor element type -> protocol datatype
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}
_FLOAT_MAX = {"FP16": 65504.0, "FP32": 3.4028234663852886e38, "FP64": math.inf}
_INT_RANGES = {
    f"{'U' if unsigned else ''}INT{bits}": (0, 2**bits - 1)
    if unsigned
    else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    for bits in (8, 16, 32, 64)
    for unsigned in (False, True)
}
NUMERIC_DATATYPES = frozenset(_FLOAT_MAX) | frozenset(_INT_RANGES)
_UNSUPPORTED_PARAMETERS = {  # Triton request parameters asking for what this server does not do
    "sequence_id": "sequence batching",
    "sequence_start": "sequence batching",
    "sequence_end": "sequence batching",
}
_UNSUPPORTED_TENSOR_PARAMETERS = {
    "shared_memory_region": "shared memory",
    "classification": "the classification extension",
}


class RequestError(Exception):
    """A request the server refuses: ``status`` is the HTTP status (4xx), the message says why."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InferRequest:
    """A checked V2 ``infer`` request: the feature columns and how to answer."""

    id: str | None
    columns: dict[str, np.ndarray]
    outputs: dict[str, bool | None] | None
    """Requested output name -> its ``binary_data`` (None: not said); None: every output."""
    binary: bool
    """``binary_data_output``: outputs whose ``binary_data`` is not said go as binary data."""

    def binary_outputs(self, names: Sequence[str]) -> dict[str, bool]:
        """Which of the answered outputs ``names`` go as binary data."""
        said = self.outputs or {}
        return {n: self.binary if said.get(n) is None else bool(said[n]) for n in names}


def loads(raw: bytes | str, what: str = "body") -> Any:
    """Strict UTF-8 JSON: no ``NaN``/``Infinity`` tokens nor numbers beyond float64 (``1e999``),
    nesting that cannot blow the stack."""
    try:
        return _DECODER.decode(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except RecursionError:
        raise RequestError(f"{what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise RequestError(f"{what} is not JSON: {exc}") from None


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number; send null for a missing value")


def _finite(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise ValueError(f"{token[:40]} is beyond the float64 range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel = 3


def shown(value: Any) -> str:
    """A client's value in a message: short, whatever its size or nesting (``repr`` of a value
    nested 900 deep raises, and of a 60 MB list makes a 60 MB message)."""
    return _REPR.repr(value)


def parse_records(
    raw: bytes, features: Sequence[Feature], *, max_rows: int
) -> dict[str, np.ndarray]:
    """The checked feature columns of a ``/predict`` body."""
    return columns_from_records(loads(raw), features, max_rows=max_rows)


def parse_infer(
    raw: bytes,
    header_length: int | None,
    features: Sequence[Feature],
    *,
    max_rows: int,
) -> InferRequest:
    """The V2 ``infer`` request in ``raw``: JSON alone, or (``header_length``) a JSON header
    followed by the binary data of the inputs that carry ``binary_data_size``."""
    if header_length is None:
        head, tail = raw, b""
    elif header_length == 0:
        raise RequestError(
            "raw binary requests (Inference-Header-Content-Length: 0) are not supported; "
            "send the JSON inference header before the tensor data"
        )
    elif header_length > len(raw):
        raise RequestError(
            f"Inference-Header-Content-Length {header_length} is longer than the {len(raw)} byte body"
        )
    else:
        head, tail = raw[:header_length], memoryview(raw)[header_length:]
    body = loads(head, "the inference request")
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise RequestError(
            "the inference request must be a JSON object with a non-empty 'inputs' list "
            "(Open Inference Protocol)"
        )
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(f"'id' must be a string, got {shown(request_id)}")
    parameters = _parameters(body.get("parameters"), "parameters")
    for key, what in _UNSUPPORTED_PARAMETERS.items():
        if parameters.get(key) not in (None, 0, "", False):
            raise RequestError(f"parameter {key!r}: {what} is not supported by this server")
    binary = parameters.get("binary_data_output", False)
    if not isinstance(binary, bool):
        raise RequestError(
            f"parameter 'binary_data_output' must be true or false, got {shown(binary)}"
        )
    by_name = {f.name: f for f in features}
    columns: dict[str, np.ndarray] = {}
    offset = 0
    for i, tensor in enumerate(body["inputs"]):
        if not isinstance(tensor, dict):
            raise RequestError(f"inputs[{i}] must be an object with name, shape, datatype and data")
        name = tensor.get("name")
        if not isinstance(name, str) or name not in by_name:
            raise RequestError(
                f"inputs[{i}]: unknown input {shown(name)}; the model reads {_names(features)}"
            )
        if name in columns:
            raise RequestError(f"input {name!r} is given twice")
        values, offset = _input_values(tensor, by_name[name], tail, offset)
        columns[name] = values
    if offset != len(tail):
        raise RequestError(
            f"{len(tail) - offset} byte(s) of binary data after the last input's binary_data_size"
        )
    return InferRequest(
        id=request_id,
        columns=_checked_rows(columns, features, max_rows=max_rows),
        outputs=_requested_outputs(body.get("outputs")),
        binary=binary,
    )


def _parameters(value: Any, where: str) -> dict[str, Any]:
    """A ``$parameters`` object: string keys, string/number/boolean values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError(f"'{where}' must be an object of name: value")
    for key, item in value.items():
        if not isinstance(item, (str, int, float, bool)):
            raise RequestError(
                f"{where} {shown(key)} must be a string, number or boolean, got {type(item).__name__}"
            )
    return value


def _requested_outputs(outputs: Any) -> dict[str, bool | None] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        raise RequestError("'outputs' must be a list of {\"name\": ...} objects")
    requested: dict[str, bool | None] = {}
    for i, output in enumerate(outputs):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise RequestError(f"outputs[{i}] must be an object with a string 'name'")
        name = output["name"]
        if name in requested:
            raise RequestError(f"output {shown(name)} is requested twice")
        parameters = _parameters(output.get("parameters"), f"outputs[{i}].parameters")
        _refuse_unsupported(parameters, f"output {shown(name)}")
        binary = parameters.get("binary_data")
        if binary is not None and not isinstance(binary, bool):
            raise RequestError(f"output {shown(name)}: 'binary_data' must be true or false")
        requested[name] = binary
    return requested


def _refuse_unsupported(parameters: Mapping[str, Any], what: str) -> None:
    for key, feature in _UNSUPPORTED_TENSOR_PARAMETERS.items():
        if parameters.get(key) not in (None, 0, False):
            raise RequestError(f"{what}: {feature} is not supported by this server")


def _input_values(
    tensor: dict[str, Any], feature: Feature, tail: memoryview | bytes, offset: int
) -> tuple[np.ndarray, int]:
    """One input's values as the model takes them, and where the next binary input starts."""
    name = feature.name
    shape, datatype = tensor.get("shape"), tensor.get("datatype")
    count = shape[0] if type(shape) is list and 1 <= len(shape) <= 2 else None
    if (
        type(count) is not int
        or count < 0
        or (len(shape) == 2 and (type(shape[1]) is not int or shape[1] != 1))
    ):
        raise RequestError(
            f"input {name!r}: 'shape' must be [rows] or [rows, 1], got {shown(shape)}"
        )
    numeric = feature.kind == "numeric"
    if not isinstance(datatype, str) or datatype not in (
        NUMERIC_DATATYPES if numeric else {"BYTES"}
    ):
        want = "a numeric datatype (FP64, FP32, INT64, ...)" if numeric else "BYTES"
        raise RequestError(
            f"input {name!r}: datatype {shown(datatype)} does not fit the model, which wants {want}"
        )
    parameters = tensor.get("parameters")
    if parameters is not None:
        _refuse_unsupported(
            _parameters(parameters, f"input {name!r} parameters"), f"input {name!r}"
        )
    size = parameters.get("binary_data_size") if parameters else None
    if size is None:
        if "data" not in tensor:
            raise RequestError(f"input {name!r} has neither 'data' nor a binary_data_size")
        return _json_values(name, datatype, tensor["data"], shape, count), offset
    if "data" in tensor:
        raise RequestError(f"input {name!r} has both 'data' and a binary_data_size")
    if type(size) is not int or size < 0 or offset + size > len(tail):
        raise RequestError(
            f"input {name!r}: binary_data_size {shown(size)} does not fit the {len(tail) - offset} "
            "byte(s) of binary data left after the JSON header"
        )
    segment = tail[offset : offset + size]
    return _binary_values(name, datatype, segment, count), offset + size


def _flatten(data: Any, depth: int) -> list[Any]:
    """Row-major elements of nested lists, at most ``depth`` deep."""
    if not isinstance(data, list):
        raise RequestError("'data' must be a list")
    if not data or not isinstance(data[0], list):
        return data
    if depth <= 1:
        raise RequestError("'data' is nested deeper than its shape")
    flat: list[Any] = []
    for row in data:
        flat.extend(_flatten(row, depth - 1) if isinstance(row, list) else [row])
    return flat


def _json_values(name: str, datatype: str, data: Any, shape: list[int], count: int) -> np.ndarray:
    import numpy as np

    try:
        values = _flatten(data, len(shape))
    except RequestError as exc:
        raise RequestError(f"input {name!r}: {exc}") from None
    if len(values) != count:
        raise RequestError(
            f"input {name!r}: shape {shape} needs {count} value(s), 'data' has {len(values)}"
        )
    if datatype == "BYTES":
        _first_wrong(name, values, _STRING, "a string (datatype BYTES)")
        return np.array(["" if v is None else v for v in values], dtype=object)
    if datatype in _INT_RANGES:
        _first_wrong(name, values, _INTEGER, f"an integer (datatype {datatype})")
        low, high = _INT_RANGES[datatype]
        for row, value in enumerate(values):
            if value is not None and not low <= value <= high:
                raise RequestError(
                    f"input {name!r} element {row}: {shown(value)} is out of range for {datatype}"
                )
    else:
        _first_wrong(name, values, _NUMBER, f"a number (datatype {datatype})")
    try:
        array = np.array(values, dtype="float64")  # None becomes NaN
    except OverflowError:  # an integer beyond float64
        raise RequestError(f"input {name!r}: a value is out of range for {datatype}") from None
    limit = _FLOAT_MAX.get(datatype, math.inf)
    if limit < math.inf and (np.abs(array) > limit).any():
        row = int(np.flatnonzero(np.abs(array) > limit)[0])
        raise RequestError(
            f"input {name!r} element {row}: {shown(values[row])} is out of range for {datatype}"
        )
    return array


_STRING = frozenset({str, type(None)})
_INTEGER = frozenset({int, type(None)})
_NUMBER = frozenset({int, float, type(None)})


def _first_wrong(name: str, values: list[Any], allowed: frozenset[type], kind: str) -> None:
    if not set(map(type, values)) <= allowed:
        row = next(i for i, v in enumerate(values) if type(v) not in allowed)
        raise RequestError(f"input {name!r} element {row}: {shown(values[row])} is not {kind}")


def _binary_values(name: str, datatype: str, segment: Any, count: int) -> np.ndarray:
    import numpy as np

    if datatype == "BYTES":
        return np.array(_unpack_bytes(name, bytes(segment), count), dtype=object)
    dtype = np.dtype(BINARY_DTYPES[datatype])
    if len(segment) != count * dtype.itemsize:
        raise RequestError(
            f"input {name!r}: {len(segment)} byte(s) of {datatype} binary data do not hold "
            f"{count} element(s) of {dtype.itemsize} byte(s)"
        )
    return np.frombuffer(segment, dtype=dtype).astype("float64")


def _unpack_bytes(name: str, data: bytes, count: int) -> list[str]:
    """BYTES binary data: each element a 4-byte little-endian length, then that many bytes."""
    values: list[str] = []
    at = 0
    while at < len(data):
        if at + 4 > len(data):
            raise RequestError(f"input {name!r}: BYTES binary data ends inside a length prefix")
        length = int.from_bytes(data[at : at + 4], "little")
        end = at + 4 + length
        if end > len(data):
            raise RequestError(f"input {name!r}: BYTES element {len(values)} runs past the data")
        try:
            values.append(data[at + 4 : end].decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError(
                f"input {name!r}: BYTES element {len(values)} is not UTF-8 text"
            ) from None
        at = end
    if len(values) != count:
        raise RequestError(
            f"input {name!r}: the shape needs {count} element(s), the binary data has {len(values)}"
        )
    return values


def columns_from_records(
    body: Any, features: Sequence[Feature], *, max_rows: int
) -> dict[str, np.ndarray]:
    """The feature columns of a ``/predict`` body: a list of records or ``{"records": [...]}``."""
    import numpy as np

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
    columns = {}
    for feature in features:
        name = feature.name
        if not any(name in r for r in records):
            raise RequestError(f"records lack feature {name!r}; the model reads {_names(features)}")
        values = [r.get(name) for r in records]
        if feature.kind == "numeric":
            allowed = {int, float, type(None)}
            if not set(map(type, values)) <= allowed:
                row = next(i for i, v in enumerate(values) if type(v) not in allowed)
                raise RequestError(
                    f"input {name!r} row {row}: {shown(values[row])} is not a number"
                )
            try:
                columns[name] = np.array(values, dtype="float64")  # None becomes NaN
            except OverflowError:
                raise RequestError(f"input {name!r}: a value is out of range for FP64") from None
        else:
            allowed = {str, int, float, type(None)}
            if not set(map(type, values)) <= allowed:
                row = next(i for i, v in enumerate(values) if type(v) not in allowed)
                raise RequestError(
                    f"input {name!r} row {row}: {shown(values[row])} is not a string"
                )
            columns[name] = np.array(
                ["" if v is None else v if type(v) is str else str(v) for v in values],
                dtype=object,
            )
    return _checked_rows(columns, features, max_rows=max_rows)


def _checked_rows(
    columns: dict[str, np.ndarray], features: Sequence[Feature], *, max_rows: int
) -> dict[str, np.ndarray]:
    """Every feature present, all of one length within the server's limit."""
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
    return {f.name: columns[f.name] for f in features}


def _names(features: Sequence[Feature]) -> str:
    return ", ".join(f.name for f in features)


def datatype_of(array: np.ndarray) -> str:
    """The protocol datatype of an output array."""
    kind = array.dtype.kind
    return "BYTES" if kind in "OUS" else _NUMPY_DATATYPES[kind, array.dtype.itemsize]


_NUMPY_DATATYPES = {  # (numpy kind, item size) -> datatype; dtype.name is slow per request
    ("b", 1): "BOOL",
    **{("i", bits // 8): f"INT{bits}" for bits in (8, 16, 32, 64)},
    **{("u", bits // 8): f"UINT{bits}" for bits in (8, 16, 32, 64)},
    ("f", 2): "FP16",
    ("f", 4): "FP32",
    ("f", 8): "FP64",
}


def encode_infer(
    outputs: Mapping[str, np.ndarray],
    *,
    model: str,
    version: str,
    request_id: str | None,
    binary: Mapping[str, bool],
) -> tuple[bytes, int | None]:
    """The ``infer`` answer: JSON, or JSON then the binary data of the outputs marked binary.

    Returns the body and the length of its JSON header when binary data follows (the
    ``Inference-Header-Content-Length`` to send), else None.
    """
    import numpy as np

    tensors, blobs = [], []
    for name, array in outputs.items():
        datatype = datatype_of(array)
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary.get(name):
            blob = _binary_data(array, datatype)
            tensor["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            tensor["data"] = array.reshape(-1).tolist()
        tensors.append(tensor)
    answer: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": tensors}
    if request_id is not None:
        answer["id"] = request_id
    try:
        head = _ENCODER.encode(answer).encode()
    except ValueError:  # NaN or infinity in an output sent as JSON
        for name, array in outputs.items():
            if binary.get(name) or array.dtype.kind != "f" or np.isfinite(array).all():
                continue
            rows = array.reshape(len(array), -1)
            row = int(np.flatnonzero(~np.isfinite(rows).all(axis=1))[0])
            raise RequestError(
                f"output {name!r} row {row} is {rows[row].tolist()}, which JSON cannot carry: "
                "the inputs are far outside what the model was trained on, or ask for the "
                "output as binary data"
            ) from None
        raise
    if not blobs:
        return head, None
    return head + b"".join(blobs), len(head)


def _binary_data(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for value in array.reshape(-1).tolist():
            data = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts += [len(data).to_bytes(4, "little"), data]
        return b"".join(parts)
    return array.astype(BINARY_DTYPES[datatype], copy=False).tobytes()


def named_outputs(raw: Mapping[str, np.ndarray], task: str) -> dict[str, np.ndarray]:
    """Graph outputs under their role names, as ``OnnxModel.predict`` reads them: the value
    is a regression graph's first output (``value``, ``variable`` in older files), the label
    is ``label`` or else the first output."""
    first = next(iter(raw.values()))
    if task == "regression":
        return {VALUE: first.reshape(-1).astype("float64")}
    outputs = {LABEL: raw.get(LABEL, first).reshape(-1).astype(str)}
    if PROBABILITIES in raw:
        outputs[PROBABILITIES] = raw[PROBABILITIES]
    return outputs


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
    """Named output arrays of a JSON V2 answer; raises ``ValueError`` on a malformed one."""
    import numpy as np

    if not isinstance(body, dict) or not isinstance(body.get("outputs"), list):
        raise ValueError("the answer has no 'outputs' list")
    found = {}
    for tensor in body["outputs"]:
        dtype = object if tensor.get("datatype") == "BYTES" else "float64"
        found[tensor["name"]] = np.asarray(tensor["data"], dtype=dtype).reshape(tensor["shape"])
    return found
