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
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from mlops_actions.data import PARQUET_SUFFIXES, read_chunks
from mlops_actions.errors import ConfigError, DataError

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
# inference-log records nest the model's inputs under one of these keys
LOG_INPUT_KEYS = ("inputs", "features", "input", "request")


def is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


@contextmanager
def local_files(source: str, *, token_env: str | None = None) -> Iterator[list[Path]]:
    """The files ``source`` names (URL downloaded to a temporary file, removed afterwards)."""
    if is_url(source):
        with tempfile.TemporaryDirectory(prefix="mlops-drift-") as tmp:
            yield [_download(source, Path(tmp), token_env)]
        return
    yield _expand(source)


def _expand(source: str) -> list[Path]:
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


def iter_chunks(
    files: list[Path],
    *,
    chunk_rows: int,
    delimiter: str = ",",
    encoding: str = "utf-8",
    string_columns: Iterable[str] = (),
) -> Iterator[pd.DataFrame]:
    """Every file's rows, ``chunk_rows`` at a time; CSV and Parquet as ``data.read_chunks``
    reads them (the training data's delimiter, encoding and text columns), empty files skipped."""
    for path in files:
        if path.stat().st_size == 0:
            continue
        if path.suffix.lower() in JSONL_SUFFIXES:
            yield from _jsonl_chunks(path, chunk_rows)
        else:
            yield from read_chunks(
                path,
                chunksize=chunk_rows,
                delimiter=delimiter,
                encoding=encoding,
                string_columns=string_columns,
                empty_ok=True,
            )


def _jsonl_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
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
