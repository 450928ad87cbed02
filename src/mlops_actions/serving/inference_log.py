"""What the model server saw and said, as JSONL files ``drift-check --current`` reads.

One JSON object per line: the feature columns as the model received them, ``prediction``
(the label or value), ``model_version`` and ``timestamp`` (UTC, ISO 8601). A file is
written under a hidden ``.inference-…jsonl.open`` name and renamed to
``inference-<utc>-<pid>.jsonl`` when it is rotated (by rows or age) or the server stops,
so a reader of ``*.jsonl`` never meets a half-written line.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlops_actions import clock

if TYPE_CHECKING:
    import numpy as np

PREDICTION = "prediction"
MODEL_VERSION = "model_version"
TIMESTAMP = "timestamp"
LOG_COLUMNS = (PREDICTION, MODEL_VERSION, TIMESTAMP)  # what the log adds beside the features
OPEN_SUFFIX = ".jsonl.open"


class InferenceLog:
    """Append-only, rotated, safe to call from many request threads."""

    def __init__(
        self, folder: str | os.PathLike[str], *, max_rows: int = 100_000, max_age_s: float = 3600.0
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None
        self._path: Path | None = None
        self._rows = 0
        self._opened = 0.0
        _finish_abandoned(self.folder)

    def write(
        self, columns: Mapping[str, np.ndarray], predictions: np.ndarray, version: str
    ) -> None:
        """Log one request: its feature columns (as the model took them) and the predictions."""
        now = clock.iso()
        names = [*columns, PREDICTION]
        values = [_plain(a) for a in (*columns.values(), predictions)]
        stamp = {MODEL_VERSION: version, TIMESTAMP: now}
        text = "".join(
            json.dumps({**dict(zip(names, row, strict=True)), **stamp}, ensure_ascii=False) + "\n"
            for row in zip(*values, strict=True)
        )
        with self._lock:
            if (
                self._fh is None
                or self._rows >= self.max_rows
                or time.monotonic() - self._opened > self.max_age_s
            ):
                self._rotate()
            self._fh.write(text)
            self._fh.flush()
            self._rows += len(predictions)

    def close(self) -> None:
        with self._lock:
            self._finish()

    def _rotate(self) -> None:
        self._finish()
        stamp = clock.stamp()
        self._path = self.folder / f".inference-{stamp}-{os.getpid()}{OPEN_SUFFIX}"
        self._fh = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - held open across writes
        self._rows = 0
        self._opened = time.monotonic()

    def _finish(self) -> None:
        if self._fh is None or self._path is None:
            return
        self._fh.close()
        _publish(self._path)
        self._fh = self._path = None


def _plain(array: np.ndarray) -> list[Any]:
    """JSON values of a column: NaN as null (JSON has no NaN)."""
    if array.dtype.kind == "f":
        return [None if v != v else v for v in array.tolist()]
    return array.tolist()


def _publish(path: Path) -> None:
    """Rename an open file to its public name; an empty one is dropped."""
    if path.stat().st_size == 0:
        path.unlink()
        return
    os.replace(
        path, path.with_name(path.name.removeprefix(".").removesuffix(OPEN_SUFFIX) + ".jsonl")
    )


def _finish_abandoned(folder: Path) -> None:
    """Publish files left open by a server that died, cut back to their last whole line."""
    for path in folder.glob(f".inference-*{OPEN_SUFFIX}"):
        pid = int(path.name.removesuffix(OPEN_SUFFIX).rsplit("-", 1)[-1])
        if pid != os.getpid() and _alive(pid):
            continue
        data = path.read_bytes()
        if not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])
        _publish(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
