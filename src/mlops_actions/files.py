"""Writing files so that a crash never leaves a partial file under the final name."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the mode open() would give
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@functools.cache
def _umask() -> int:
    """Read once: os.umask can only be read by setting it, which is not thread-safe."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_json(data: Any) -> str:
    """Stable, readable JSON: sorted keys, NaN written as null."""
    return json.dumps(_jsonable(data), indent=2, sort_keys=True, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    return atomic_write_text(path, to_json(data))


def _jsonable(value: Any) -> Any:
    """Turn numpy scalars, paths, NaN and tuples into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # numpy array or scalar (a scalar's tolist() is its Python value)
        return _jsonable(value.tolist())
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Content hash of a file, or of every file under a folder (a Parquet dataset)."""
    path = Path(path)
    return sha256_files(sorted(path.rglob("*")) if path.is_dir() else [path])


def sha256_files(paths: Iterable[Path]) -> str:
    """One content hash over the files, in the order given (folders' files sorted by caller)."""
    digest = hashlib.sha256()
    for part in paths:
        if part.is_file():
            with open(part, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()
