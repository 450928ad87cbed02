"""Reading CSV and Parquet data with clear errors, fingerprints, and the train/test split.

Whole-file reads happen here; every stage that needs the training or test frames goes
through ``load_splits`` so they all see the same rows.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_actions.config import Config

PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
# Share of non-missing values that must parse as numbers before a text column is taken
# for a numeric column with stray text in it (rather than a genuine string column).
NUMERIC_SHARE = 0.9
HEADER_LINES = 1


def is_parquet(path: Path) -> bool:
    if path.is_dir() or path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def csv_line(row_position: int) -> int:
    """1-based line in a CSV file of the row at ``row_position`` (header on line 1)."""
    return row_position + HEADER_LINES + 1


def read_table(
    path: str | Path,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    string_columns: Iterable[str] = (),
) -> pd.DataFrame:
    """Read a CSV or Parquet file; anything unreadable raises a one-line ``DataError``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    frame = _read_parquet(path) if is_parquet(path) else _read_csv(path, delimiter, encoding)
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"{path}: no data rows (header only)" if frame.shape[1] else f"{path}: no columns")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DataError(f"{path}: column {dup!r} appears twice in the header")
    if not is_parquet(path):
        _check_numeric_text(frame, path, set(string_columns))
    return frame


def _read_csv(path: Path, delimiter: str, encoding: str) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, low_memory=False)
    except pd.errors.EmptyDataError:
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
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep != delimiter and sep in header:
                raise DataError(
                    f"{path}: read one column named {header[:40]!r}; the file looks {name}-separated: "
                    f"set data.delimiter to {sep!r}"
                )
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many unrelated classes for a bad file
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable Parquet file: {detail}") from None


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


def files_sha256(paths: Iterable[Path]) -> str:
    """One content hash over the files, in the order given (folders' files sorted by caller)."""
    digest = hashlib.sha256()
    for part in paths:
        if part.is_file():
            with open(part, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def fingerprint(path: str | Path, frame: pd.DataFrame) -> dict[str, Any]:
    """Content hash of the file plus the shape and schema of what was read from it."""
    path = Path(path)
    schema = [[str(c), str(t)] for c, t in frame.dtypes.items()]
    return {
        "path": path.name,
        "sha256": files_sha256(sorted(path.rglob("*")) if path.is_dir() else [path]),
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
        raise ConfigError(f"{schema_path.name}: not a readable YAML schema: {str(exc).splitlines()[0]}") from None
    columns = doc.get("columns") if isinstance(doc, dict) else None
    if not isinstance(columns, dict):
        return set()
    text_types = {"str", "string", "object"}
    return {
        name
        for name, spec in columns.items()
        if isinstance(spec, dict) and str(spec.get("dtype", "")).lower() in text_types
    }


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
    require_columns(train, [data.target], data.train)
    dropped = int(train[data.target].isna().sum())
    train = train[train[data.target].notna()]
    if data.test is not None:
        test = read_config_table(config, data.test)
        fingerprints["test"] = fingerprint(data.test, test)
        require_columns(test, [data.target], data.test)
        dropped += int(test[data.target].isna().sum())
        test = test[test[data.target].notna()]
        return Splits(train.reset_index(drop=True), test.reset_index(drop=True), fingerprints, "file", dropped)
    train, test = _split(config, train)
    return Splits(train, test, fingerprints, "split", dropped)


def _split(config: Config, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    split = config.data.split
    stratify = frame[config.data.target] if split.stratify and config.task == "classification" else None
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


def require_columns(frame: pd.DataFrame, columns: Iterable[str], path: Path | str) -> None:
    present = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            close = difflib.get_close_matches(column, present, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; columns are: {', '.join(present[:20])}"
            raise DataError(f"{Path(path).name}: column {column!r} not found{hint}")
