"""Current data as a stream of frames: CSV, Parquet, JSONL inference logs, globs, folders, URLs.

This module resolves sources to files; CSV and Parquet files are read by ``data.read_chunks``
(the one reader, with its errors), JSONL here. Each file is read in chunks (Parquet batches,
CSV / JSONL ``chunksize``) so any amount of data passes through in bounded memory; a URL is
streamed to a temporary file first.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from mlops_actions.data import PARQUET_SUFFIXES, is_remote, read_chunks
from mlops_actions.drift.columns import ColumnAccumulator
from mlops_actions.engine import Partition
from mlops_actions.errors import ConfigError, DataError

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
# inference-log records nest the model's inputs under one of these keys
LOG_INPUT_KEYS = ("inputs", "features", "input", "request")


def is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


@contextmanager
def local_files(source: str, *, token_env: str | None = None) -> Iterator[list[Path | str]]:
    """The files ``source`` names (URL downloaded to a temporary file, removed afterwards;
    ``s3://`` and other fsspec URLs listed, to be read in place)."""
    if is_url(source):
        with tempfile.TemporaryDirectory(prefix="mlops-drift-") as tmp:
            yield [_download(source, Path(tmp), token_env)]
        return
    yield expand(source)


def expand(source: str) -> list[Path | str]:
    """A file, a folder's data files or a glob's matches, sorted; local or through fsspec."""
    if is_remote(source):
        return _expand_remote(source)
    path = Path(source)
    if glob.has_magic(source):
        files = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(f"{source}: no files match this pattern")
        return files
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _readable(p))
        if not files:
            raise DataError(f"{path}: folder holds no .parquet, .csv or .jsonl files")
        return files
    if not path.exists():
        raise DataError(f"{path}: current data not found; pass --current PATH, a glob or a URL")
    return [path]


def _readable(path: Path) -> bool:
    return path.suffix.lower() in {*PARQUET_SUFFIXES, ".csv", *JSONL_SUFFIXES}


def _expand_remote(source: str) -> list[str]:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(source)
        if glob.has_magic(path):
            found = [p for p in fs.glob(path) if fs.isfile(p)]
        elif fs.isdir(path):
            found = [p for p in fs.find(path) if _readable(Path(p))]
        elif fs.isfile(path):
            found = [path]
        else:
            raise DataError(f"{source}: current data not found")
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"{source}: cannot list: {type(exc).__name__}: {exc}") from None
    if not found:
        raise DataError(f"{source}: no .parquet, .csv or .jsonl files there")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return [f"{protocol}://{p}" for p in sorted(found)]


def size(path: Path | str) -> int:
    if is_remote(path):
        import fsspec

        fs, inner = fsspec.core.url_to_fs(path)
        return int(fs.size(inner))
    return Path(path).stat().st_size


def _download(url: str, folder: Path, token_env: str | None) -> Path:
    import requests

    headers = {}
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ConfigError(
                f"drift.token_env: environment variable {token_env} is not set; export the token"
            )
        headers["Authorization"] = f"Bearer {token}"
    name = Path(urlparse(url).path).name or "current"
    target = folder / name
    try:
        with requests.get(url, headers=headers, stream=True, timeout=60) as response:
            if response.status_code != 200:
                hint = "; check drift.token_env" if response.status_code in (401, 403) else ""
                raise DataError(f"{_public(url)}: HTTP {response.status_code}{hint}")
            with open(target, "wb") as fh:
                for block in response.iter_content(1 << 20):
                    fh.write(block)
    except requests.RequestException as exc:
        raise DataError(f"{_public(url)}: cannot download: {type(exc).__name__}") from None
    return target


def _public(url: str) -> str:
    """The URL without query string or credentials, fit for a message."""
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


@dataclass(frozen=True)
class ReadOptions:
    """How current data is read: the training data's CSV settings, and the chunk size."""

    chunk_rows: int
    delimiter: str = ","
    encoding: str = "utf-8"
    string_columns: frozenset[str] = frozenset()


def iter_chunks(
    files: list[Path | str],
    *,
    chunk_rows: int,
    delimiter: str = ",",
    encoding: str = "utf-8",
    string_columns: Iterable[str] = (),
) -> Iterator[pd.DataFrame]:
    """Every file's rows, ``chunk_rows`` at a time; CSV and Parquet as ``data.read_chunks``
    reads them (the training data's delimiter, encoding and text columns), empty files skipped."""
    options = ReadOptions(chunk_rows, delimiter, encoding, frozenset(string_columns))
    for path in files:
        yield from partition_chunks(Partition(path), options)


def partition_chunks(part: Partition, options: ReadOptions) -> Iterator[pd.DataFrame]:
    """One partition's rows (a file, or some row groups of one), ``chunk_rows`` at a time."""
    path = part.path
    if size(path) == 0:
        return
    if Path(str(path)).suffix.lower() in JSONL_SUFFIXES:
        yield from _jsonl_chunks(path, options.chunk_rows)
    else:
        yield from read_chunks(
            path,
            chunksize=options.chunk_rows,
            delimiter=options.delimiter,
            encoding=options.encoding,
            string_columns=options.string_columns,
            empty_ok=True,
            row_groups=part.row_groups,
            first=part.first,
        )


class TableAccumulator:
    """Column accumulators over a stream of chunks, plus an optional ``watch`` (the model's
    outputs); ``merge`` folds in a later partition's, in data order."""

    def __init__(self, max_values: int, watch: Any = None, source: str = "") -> None:
        self.max_values = max_values
        self.columns: dict[str, ColumnAccumulator] = {}
        self.rows = 0
        self.watch = watch
        self.source = source

    def add(self, chunk: pd.DataFrame) -> None:
        self.rows += len(chunk)
        if self.watch is not None:
            self.watch.add(chunk, source=self.source)
        for column in chunk.columns:
            acc = self.columns.get(str(column))
            if acc is None:
                acc = self.columns[str(column)] = ColumnAccumulator(
                    str(column), max_values=self.max_values
                )
            try:
                acc.add(chunk[column])
            except ValueError as exc:
                raise self._mixed(exc) from None

    def merge(self, later: TableAccumulator) -> TableAccumulator:
        self.rows += later.rows
        if self.watch is not None:
            self.watch.merge(later.watch)
        for name, acc in later.columns.items():
            try:
                self.columns[name] = self.columns[name].merge(acc) if name in self.columns else acc
            except ValueError as exc:
                raise self._mixed(exc) from None
        return self

    def _mixed(self, exc: ValueError) -> DataError:
        return DataError(f"{self.source}: {exc}; make every file use one type per column")


def summarize_partition(
    part: Partition, options: ReadOptions, max_values: int, watch: Any, source: str
) -> TableAccumulator:
    """What one worker builds for one partition (``watch`` arrives empty)."""
    table = TableAccumulator(max_values, watch, source)
    for chunk in partition_chunks(part, options):
        table.add(chunk)
    return table


def _jsonl_chunks(path: Path | str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Flat JSON lines, or inference logs whose records keep inputs under ``inputs`` & co."""
    try:
        for chunk in pd.read_json(path, lines=True, chunksize=chunk_rows):
            yield _flatten_log(chunk)
    except ValueError as exc:
        raise DataError(f"{path}: not JSON lines: {str(exc).splitlines()[0]}") from None


def _flatten_log(chunk: pd.DataFrame) -> pd.DataFrame:
    for key in LOG_INPUT_KEYS:
        if key in chunk.columns and chunk[key].map(lambda v: isinstance(v, dict)).all():
            inputs = pd.json_normalize(chunk[key].tolist())
            inputs.index = chunk.index
            return pd.concat([inputs, chunk.drop(columns=[key])], axis=1)
    return chunk
