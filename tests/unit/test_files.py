"""Atomic writes and the JSON every stage writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlops_actions.files import atomic_path, atomic_write_json, atomic_write_text, to_json


def test_numpy_values_paths_and_nan_become_plain_json():
    data = {
        "arr": np.arange(3),
        "matrix": np.array([[1.5, np.nan]]),
        "f": np.float32(0.5),
        "i": np.int64(7),
        "p": Path("a/b"),
        "t": (1, 2),
        "inf": float("inf"),
    }
    assert json.loads(to_json(data)) == {
        "arr": [0, 1, 2],
        "matrix": [[1.5, None]],
        "f": 0.5,
        "i": 7,
        "p": "a/b",
        "t": [1, 2],
        "inf": None,
    }


def test_unknown_objects_are_refused():
    with pytest.raises(TypeError, match="object"):
        to_json({"x": object()})


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_a_failed_write_leaves_neither_the_file_nor_a_temp(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_version(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"v1")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"v2 partial")
        raise RuntimeError
    assert target.read_bytes() == b"v1"


def test_written_files_get_the_usual_mode_not_mkstemps_0600(tmp_path):
    import os

    from mlops_actions.files import _umask

    atomic_write_text(tmp_path / "report.html", "x")
    assert (
        (tmp_path / "report.html").stat().st_mode & 0o777
        == 0o666 & ~_umask()
        == 0o666 & ~os.umask(_umask())
    )
