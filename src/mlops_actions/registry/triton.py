"""Triton's model configuration for a packaged ONNX file, so Triton serves the registry folder.

The registry writes ``<model>/config.pbtxt`` beside the numbered versions: platform
``onnxruntime_onnx``, the graph's own input and output names, types and shapes, and a
version policy naming the one version Triton should serve, the one ``production`` points
at (rewritten whenever that alias moves; before the first promotion, the first complete
version). ``max_batch_size: 0`` hands each request's rows to onnxruntime as they come,
shapes exactly as the graph declares them (``[-1, 1]`` per input): no cap on rows per
request (Triton's auto-completed config caps batches at 4), and the same answer shapes as
``mlops serve``. The http deploy target sends the same configuration, as JSON, with the
file it loads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

CONFIG_FILE = "config.pbtxt"
SERVED_ALIAS = "production"
PLATFORM = "onnxruntime_onnx"
_DATA_TYPES = {  # onnx.TensorProto element type -> Triton's DataType
    1: "TYPE_FP32",
    2: "TYPE_UINT8",
    3: "TYPE_INT8",
    4: "TYPE_UINT16",
    5: "TYPE_INT16",
    6: "TYPE_INT32",
    7: "TYPE_INT64",
    8: "TYPE_STRING",
    9: "TYPE_BOOL",
    10: "TYPE_FP16",
    11: "TYPE_FP64",
    12: "TYPE_UINT32",
    13: "TYPE_UINT64",
}


def model_config(name: str, onnx_bytes: bytes, *, versions: Sequence[int]) -> dict[str, Any]:
    """The ``ModelConfig`` (as its JSON form) that serves ``versions`` of this ONNX graph."""
    import onnx

    graph = onnx.load_model_from_string(onnx_bytes).graph
    initializers = {i.name for i in graph.initializer}

    def tensors(values: Any) -> list[dict[str, Any]]:
        found = []
        for value in values:
            if value.name in initializers:
                continue
            tensor = value.type.tensor_type
            found.append(
                {
                    "name": value.name,
                    "data_type": _DATA_TYPES[tensor.elem_type],
                    "dims": [
                        d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim
                    ],
                }
            )
        return found

    return {
        "name": name,
        "platform": PLATFORM,
        "max_batch_size": 0,
        "version_policy": {"specific": {"versions": sorted(versions)}},
        "input": tensors(graph.input),
        "output": tensors(graph.output),
        "instance_group": [{"kind": "KIND_CPU"}],  # tree ensembles have no GPU kernel
    }


def to_pbtxt(config: dict[str, Any]) -> str:
    """``config`` in protobuf text format, as Triton reads ``config.pbtxt``."""
    return "".join(_fields(config, 0))


_ENUMS = {"data_type", "kind"}


def _fields(message: dict[str, Any], depth: int) -> list[str]:
    pad = "  " * depth
    lines = []
    for key, value in message.items():
        if isinstance(value, dict):
            lines += [f"{pad}{key} {{\n", *_fields(value, depth + 1), f"{pad}}}\n"]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += [f"{pad}{key} {{\n", *_fields(item, depth + 1), f"{pad}}}\n"]
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [{', '.join(str(v) for v in value)}]\n")
        elif key in _ENUMS:
            lines.append(f"{pad}{key}: {value}\n")
        elif isinstance(value, str):
            lines.append(f"{pad}{key}: {json.dumps(value)}\n")
        else:
            lines.append(f"{pad}{key}: {value}\n")
    return lines
