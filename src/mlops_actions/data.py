"""Reading CSV and Parquet data with clear errors, fingerprints, and the train/test split.

Whole-file reads happen here; every stage that needs the training or test frames goes
through ``load_splits`` so they all see the same rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import ConfigError, DataError, did_you_mean
from mlops_actions.files import sha256_file

if TYPE_CHECKING:
    import pandas as pd

    from mlops_actions.config import Config

PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
# Share of non-missing values that must parse as numbers before a text column is taken
# for a numeric column with stray text in it (rather than a genuine string column).
NUMERIC_SHARE = 0.9
HEADER_LINES = 1


def is_remote(path: str | Path) -> bool:
    """An fsspec URL (``s3://bucket/key``, ``gs://``, ...), read through fsspec."""
    return isinstance(path, str) and "://" in path


def is_parquet(path: str | Path) -> bool:
    if is_remote(path):
        return Path(path.split("?", 1)[0]).suffix.lower() in PARQUET_SUFFIXES
    path = Path(path)
    if path.is_dir() or path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def parquet_row_groups(path: str | Path) -> list[int]:
    """Rows of each row group, from the file's footer alone."""
    import pyarrow.parquet as pq

    try:
        with _open_binary(path) as fh:
            meta = pq.ParquetFile(fh).metadata
            return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    except Exception as exc:  # pyarrow raises many unrelated classes for a bad file
        raise DataError(f"{path}: not a readable Parquet file: {_first_line(exc)}") from None


@contextlib.contextmanager
def _open_binary(path: str | Path) -> Iterator[Any]:
    if is_remote(path):
        import fsspec

        with fsspec.open(path, "rb") as fh:
            yield fh
    else:
        with open(path, "rb") as fh:
            yield fh


def csv_line(row_position: int) -> int:
    """1-based line in a CSV file of the row at ``row_position`` (header on line 1).

    Exact when every record is one line; ``record_lines`` is exact for any file.
    """
    return row_position + HEADER_LINES + 1


def record_lines(
    path: str | Path,
    positions: Iterable[int],
    *,
    rows: int,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> dict[int, int]:
    """1-based line on which each data row (0-based position, as pandas reads it) starts.

    ``rows`` is how many data rows pandas read. When the file has exactly one line per
    record (counted bytewise, fast) the answer is ``csv_line``; otherwise (blank lines,
    quoted fields spanning lines) the file is re-read once with the ``csv`` module, skipping
    blank and whitespace-only lines as pandas does.
    """
    import csv

    path = Path(path)
    wanted = sorted(set(positions))
    if not wanted:
        return {}
    newlines, last = 0, b"\n"
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            newlines += block.count(b"\n")
            last = block[-1:]
    if newlines + (last != b"\n") == rows + HEADER_LINES:
        return {p: csv_line(p) for p in wanted}
    found: dict[int, int] = {}
    pending = iter(wanted)
    target = next(pending)
    position = -HEADER_LINES
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        ended = 0  # the line on which the previous record ended
        for record in reader:
            start, ended = ended + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if position == target:
                found[target] = start
                target = next(pending, None)
                if target is None:
                    break
            position += 1
    return found


def read_table(
    path: str | Path,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    string_columns: Iterable[str] = (),
    reject_numeric_text: bool = True,
) -> pd.DataFrame:
    """Read a CSV or Parquet file; anything unreadable raises a one-line ``DataError``.

    ``string_columns`` (the schema's text columns) are read as strings, so codes such as
    ``"007"`` keep their zeros. ``reject_numeric_text`` turns a number column with a few
    words in it into a ``DataError``; validation turns it off and reports those rows instead.
    """
    path = _existing(path)
    string_columns = set(string_columns)
    if is_parquet(path):
        frame = _read_parquet(path)
    else:
        with _csv_errors(path, encoding):
            frame = _csv_reader(path, delimiter, encoding, string_columns)
    _check_frame(frame, path)
    if not is_parquet(path):
        _check_delimiter(frame, path, delimiter)
        if reject_numeric_text:
            _check_numeric_text(frame, path, string_columns)
    return frame


def read_chunks(
    path: str | Path,
    *,
    chunksize: int,
    delimiter: str = ",",
    encoding: str = "utf-8",
    string_columns: Iterable[str] = (),
    columns: list[str] | None = None,
    empty_ok: bool = False,
    row_groups: tuple[int, ...] | None = None,
    first: int = 0,
) -> Iterator[pd.DataFrame]:
    """``read_table`` ``chunksize`` rows at a time, for files larger than memory.

    Each chunk keeps its position in the file as its index (0, 1, ... across chunks).
    Columns are typed per chunk, so a number column may arrive as integers in one
    chunk and floats in another; callers that compare dtypes must allow for that.
    ``empty_ok``: a file without rows (or without even a header) yields nothing instead
    of raising, for one file among many whose total the caller checks.
    ``row_groups`` reads only those of a Parquet file, ``first`` being the position of
    their first row (a partition of a large file). ``path`` may be an fsspec URL.
    """
    path = _existing(path)
    if is_parquet(path):
        yield from _parquet_chunks(path, chunksize, columns, empty_ok, row_groups, first)
        return
    string_columns = set(string_columns)
    first = True
    with _csv_errors(path, encoding, empty_ok=empty_ok):
        reader = _csv_reader(
            path, delimiter, encoding, string_columns, chunksize=chunksize, columns=columns
        )
        with reader:
            for chunk in reader:
                if first:
                    if empty_ok and chunk.empty:
                        return
                    _check_frame(chunk, path)
                    _check_delimiter(chunk, path, delimiter)
                    first = False
                yield chunk
    if first and not empty_ok:
        raise DataError(f"{path}: no data rows (header only)")


def read_header(path: str | Path, *, delimiter: str = ",", encoding: str = "utf-8") -> list[str]:
    """Column names without reading the rows."""
    path = _existing(path)
    if is_parquet(path):
        import pyarrow.dataset as ds

        try:
            return list(ds.dataset(path).schema.names)
        except Exception as exc:  # pyarrow raises many unrelated classes for a bad file
            raise DataError(f"{path}: not a readable Parquet file: {_first_line(exc)}") from None
    with _csv_errors(path, encoding):
        return [str(c) for c in _csv_reader(path, delimiter, encoding, set(), nrows=0).columns]


def _existing(path: str | Path) -> Path | str:
    if is_remote(path):
        return path
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    return path


def _check_frame(frame: pd.DataFrame, path: Path) -> None:
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(
            f"{path}: no data rows (header only)" if frame.shape[1] else f"{path}: no columns"
        )
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DataError(f"{path}: column {dup!r} appears twice in the header")


def _csv_reader(
    path: Path, delimiter: str, encoding: str, string_columns: set[str], **options: Any
) -> Any:
    import pandas as pd

    return pd.read_csv(
        path,
        sep=delimiter,
        encoding=encoding,
        low_memory=False,
        dtype=dict.fromkeys(string_columns, str) or None,
        usecols=options.pop("columns", None),
        **options,
    )


@contextlib.contextmanager
def _csv_errors(path: Path, encoding: str, *, empty_ok: bool = False) -> Iterator[None]:
    """Turn what pandas raises for a bad CSV into one-line ``DataError``s."""
    import pandas as pd

    try:
        yield
    except pd.errors.EmptyDataError:
        if empty_ok:
            return
        raise DataError(f"{path}: file is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise DataError(f"{path}: cannot parse as CSV ({detail}); check data.delimiter") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not valid {encoding} text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}); re-save it as UTF-8 or set data.encoding"
        ) from None
    except LookupError:
        raise ConfigError(f"data.encoding: unknown encoding {encoding!r}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from None


def _check_delimiter(frame: pd.DataFrame, path: Path, delimiter: str) -> None:
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep != delimiter and sep in header:
                raise DataError(
                    f"{path}: read one column named {header[:40]!r}; the file looks {name}-separated: "
                    f"set data.delimiter to {sep!r}"
                )


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        # self_destruct frees each Arrow column once converted: peak memory ~1.5x the frame, not 2.5x
        return pq.read_table(path).to_pandas(self_destruct=True, split_blocks=True)
    except Exception as exc:  # pyarrow raises many unrelated classes for a bad file
        raise DataError(f"{path}: not a readable Parquet file: {_first_line(exc)}") from None


def _parquet_chunks(
    path: Path | str,
    chunksize: int,
    columns: list[str] | None,
    empty_ok: bool,
    row_groups: tuple[int, ...] | None = None,
    first: int = 0,
) -> Iterator[pd.DataFrame]:
    import pandas as pd

    offset = first
    try:
        for batch in _parquet_batches(path, chunksize, columns, row_groups):
            if batch.num_rows == 0:
                continue
            chunk = batch.to_pandas()
            chunk.index = pd.RangeIndex(offset, offset + len(chunk))
            if offset == first:
                _check_frame(chunk, path)
            offset += len(chunk)
            yield chunk
    except Exception as exc:  # pyarrow raises many unrelated classes for a bad file
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: not a readable Parquet file: {_first_line(exc)}") from None
    if offset == first and not empty_ok:
        raise DataError(f"{path}: no data rows")


def _parquet_batches(
    path: Path | str, chunksize: int, columns: list[str] | None, row_groups: tuple[int, ...] | None
) -> Iterator[Any]:
    """Record batches of a Parquet file or folder (local or through fsspec)."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if row_groups is not None:
        with _open_binary(path) as fh:
            yield from pq.ParquetFile(fh).iter_batches(
                batch_size=chunksize, row_groups=list(row_groups), columns=columns
            )
        return
    filesystem = None
    if is_remote(path):
        import fsspec

        filesystem, path = fsspec.core.url_to_fs(path)
    yield from ds.dataset(path, filesystem=filesystem).to_batches(
        columns=columns, batch_size=chunksize
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _check_numeric_text(frame: pd.DataFrame, path: Path, string_columns: set[str]) -> None:
    """A column of numbers with a few stray words is a data error, not a text column."""
    import pandas as pd

    for column in frame.columns:
        series = frame[column]
        if column in string_columns or not _is_text(series):
            continue
        present = series.dropna()
        probe = pd.to_numeric(present.iloc[:1000], errors="coerce")
        if probe.notna().mean() < NUMERIC_SHARE:
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        bad = numbers.isna()
        if not bad.any() or 1 - bad.mean() < NUMERIC_SHARE:
            continue
        first = present.index[bad.to_numpy()][0]
        line = csv_line(frame.index.get_loc(first))
        raise DataError(
            f"{path}: column {column!r} holds numbers but line {line} has {present[first]!r} "
            f"({int(bad.sum())} such value(s)); fix the data, or declare the column a string in the schema"
        )


def _is_text(series: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)


def fingerprint(path: str | Path, frame: pd.DataFrame) -> dict[str, Any]:
    """Content hash of the file plus the shape and schema of what was read from it."""
    path = Path(path)
    schema = [[str(c), str(t)] for c, t in frame.dtypes.items()]
    return {
        "path": path.name,
        "sha256": sha256_file(path),
        "rows": int(len(frame)),
        "columns": int(frame.shape[1]),
        "schema_hash": hashlib.sha256(json.dumps(schema).encode()).hexdigest()[:16],
    }


def schema_string_columns(schema_path: Path | None) -> set[str]:
    """Columns a pandera YAML schema declares as strings (read without importing pandera)."""
    if schema_path is None or not schema_path.exists():
        return set()
    import yaml

    try:
        doc = yaml.safe_load(schema_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{schema_path.name}: not a readable YAML schema: {str(exc).splitlines()[0]}"
        ) from None
    columns = doc.get("columns") if isinstance(doc, dict) else None
    if not isinstance(columns, dict):
        return set()
    return {
        name
        for name, spec in columns.items()
        if isinstance(spec, dict) and is_text_dtype_name(str(spec.get("dtype", "")))
    }


def is_text_dtype_name(dtype: str) -> bool:
    """``str``, ``object``, ``string`` and pandera's ``string[pyarrow]``/``string[python]``."""
    dtype = dtype.lower()
    return dtype in {"str", "object"} or dtype.startswith("string")


@dataclass(frozen=True)
class Splits:
    """The rows a model is trained and tested on, and where they came from."""

    train: pd.DataFrame
    test: pd.DataFrame
    fingerprints: dict[str, dict[str, Any]]
    test_source: str  # "file" or "split"
    dropped_unlabelled: int = 0


def read_config_table(config: Config, path: Path) -> pd.DataFrame:
    return read_table(
        path,
        delimiter=config.data.delimiter,
        encoding=config.data.encoding,
        string_columns=schema_string_columns(config.data.schema),
    )


def load_splits(config: Config) -> Splits:
    """Train and test frames as every stage sees them: a test file, or a seeded split."""
    data = config.data
    train = read_config_table(config, data.train)
    fingerprints = {"train": fingerprint(data.train, train)}
    train, dropped = _labelled(train, data.target, data.train)
    if data.test is not None:
        test = read_config_table(config, data.test)
        fingerprints["test"] = fingerprint(data.test, test)
        test, dropped_test = _labelled(test, data.target, data.test)
        return Splits(train, test, fingerprints, "file", dropped + dropped_test)
    train, test = _split(config, train)
    return Splits(train, test, fingerprints, "split", dropped)


def _labelled(frame: pd.DataFrame, target: str, path: Path) -> tuple[pd.DataFrame, int]:
    """The rows with a value in the target, and how many had none; no such row is an error."""
    require_columns(frame, [target], path)
    labelled = frame[frame[target].notna()]
    if labelled.empty:
        raise DataError(
            f"{path.name}: no row has a value in target {target!r}; label the rows or set "
            "data.target to the label column"
        )
    return labelled.reset_index(drop=True), len(frame) - len(labelled)


def _split(config: Config, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    split = config.data.split
    if split.by == "content":
        return _split_by_content(config, frame)
    stratify = (
        frame[config.data.target] if split.stratify and config.task == "classification" else None
    )
    try:
        train, test = train_test_split(
            frame, test_size=split.test_size, random_state=split.seed, stratify=stratify
        )
    except ValueError as exc:
        raise DataError(
            f"{config.data.train}: cannot split into train and test: {exc}; "
            "add rows, provide data.test, or set data.split.stratify: false"
        ) from None
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _split_by_content(config: Config, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each row's side from a hash of its values and the seed: adding or removing rows moves
    no other row between train and test, so a model trained on an earlier version of the data
    is scored on rows it never saw."""
    import pandas as pd

    split = config.data.split
    key = f"mlops{split.seed:011d}"[-16:]  # hash_pandas_object takes a 16-character key
    hashes = pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy()
    in_test = (hashes % 1_000_000) < round(split.test_size * 1_000_000)
    train, test = frame[~in_test], frame[in_test]
    if train.empty or test.empty:
        raise DataError(
            f"{config.data.train}: split by content left the {'test' if test.empty else 'training'} "
            f"rows empty ({len(frame)} rows); add rows, or provide data.test"
        )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], path: Path | str) -> None:
    present = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            hint = did_you_mean(column, present) or f"; columns are: {', '.join(present[:20])}"
            raise DataError(f"{Path(path).name}: column {column!r} not found{hint}")
