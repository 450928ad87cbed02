"""One pass over one data file: pandera on each chunk, failures kept as counts plus the
first rows, the column profile, and an 8-byte hash per row for duplicates and leakage.

Uniqueness needs the whole column: the schema's ``unique`` flags are taken off the schema
pandera sees and each unique column keeps a hash per row instead (whole or chunked, the same
way); duplicates are found after the last chunk, and the values shown for them are re-read
from the file's first rows. Everything else is exact per chunk.

One failure is reported under one check: when the file has more whole-row copies than
``max_duplicate_share`` allows, those copies are the duplicate check's failures and
uniqueness is checked among the distinct rows; text in a number column is a dtype failure,
not a missing value as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops_actions.data import is_parquet, read_chunks, read_table
from mlops_actions.validation import profile as prof
from mlops_actions.validation import schema as sch

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

MISSING_COLUMN_CHECK = "column_in_dataframe"
UNIQUE_CHECK = "field_uniqueness"


@dataclass
class Source:
    """A data file read whole (``chunksize=None``, kept in memory once read) or in chunks."""

    role: str
    path: Path
    delimiter: str = ","
    encoding: str = "utf-8"
    string_columns: frozenset[str] = frozenset()
    chunksize: int | None = None
    _frame: pd.DataFrame | None = None

    @property
    def format(self) -> str:
        return "parquet" if is_parquet(self.path) else "csv"

    def chunks(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        if self.chunksize is None:
            if self._frame is None:
                self._frame = read_table(
                    self.path,
                    delimiter=self.delimiter,
                    encoding=self.encoding,
                    string_columns=self.string_columns,
                    reject_numeric_text=False,
                )
            yield self._frame if columns is None else self._frame[columns]
            return
        yield from read_chunks(
            self.path,
            chunksize=self.chunksize,
            delimiter=self.delimiter,
            encoding=self.encoding,
            string_columns=self.string_columns,
            columns=columns,
        )

    def release(self) -> None:
        self._frame = None


@dataclass
class Failure:
    """One failed check in one file: how many rows, and the first ones (position, value)."""

    column: str | None
    check: str
    count: int = 0
    positions: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    seen_cases: set[str] = field(default_factory=set)  # for failures that name no row

    def add_rows(self, positions: np.ndarray, values: list[Any], keep: int) -> None:
        self.count += len(positions)
        room = keep - len(self.positions)
        if room > 0:
            self.positions.extend(int(p) for p in positions[:room])
            self.values.extend(values[:room])

    def add_case(self, value: Any) -> None:
        """A failure of the whole column (a dtype, a missing column): counted once per value."""
        text = str(value)
        if text not in self.seen_cases:
            self.seen_cases.add(text)
            self.count += 1
            self.values.append(value)


@dataclass
class FileScan:
    source: Source
    rows: int
    columns: list[str]
    failures: list[Failure]
    failing_rows: int  # rows failing at least one schema check
    row_hashes: np.ndarray | None
    profile: dict[str, Any]
    matches: dict[str, tuple[int, list[int]]] | None = None
    """Row comparisons made elsewhere (on a cluster, by hash bucket): "duplicates" and, per
    reference role, the rows also in it, as (count, first positions)."""
    copies_set_aside: bool = False
    """Uniqueness was checked among distinct rows, the copies being the duplicate check's."""

    def duplicate_rows(self, keep: int) -> tuple[int, list[int]]:
        """Rows repeating an earlier row: how many, and the first ``keep`` positions."""
        if self.matches is not None:
            return self.matches["duplicates"]
        repeated = duplicate_positions(self.row_hashes, "exclude_first")
        return len(repeated), repeated[:keep].tolist()

    def rows_in(self, reference: FileScan, keep: int) -> tuple[int, list[int]]:
        """Rows that are also rows of ``reference``: how many, and the first ``keep``."""
        if self.matches is not None:
            return self.matches[reference.source.role]
        inside = np.isin(self.row_hashes, reference.row_hashes)
        return int(inside.sum()), np.flatnonzero(inside)[:keep].tolist()


def scan(
    source: Source,
    *,
    schema: pa.DataFrameSchema | None,
    kinds: dict[str, str],
    edges: dict[str, tuple[float, float]],
    hash_columns: list[str],
    keep: int,
    max_duplicate_share: float | None = None,
) -> FileScan:
    """Validate (when ``schema`` is given) and profile one file in one pass."""
    state = ScanState(schema, kinds=kinds, edges=edges, hash_columns=hash_columns, keep=keep)
    for chunk in source.chunks():
        state.add(chunk)
    marked = np.concatenate(state.failing) if state.failing else np.zeros(0, dtype=bool)
    row_hashes = np.concatenate(state.row_hashes) if state.row_hashes else _NO_HASHES
    copies = (
        duplicate_positions(row_hashes, "exclude_first")
        if state.unique and max_duplicate_share is not None
        else _NO_POSITIONS
    )
    # the duplicate check's own condition: past it, the copies are that check's failures
    set_aside = copies.size > 0 and copies.size / state.rows > max_duplicate_share
    for name, how in state.unique.items():
        positions = duplicate_positions(
            np.concatenate(state.unique_hashes[name] or [_NO_HASHES]),
            how,
            without=copies if set_aside else None,
        )
        if len(positions):
            values = _values_at(source, name, positions[:keep])
            _failure(state.failures, name, UNIQUE_CHECK).add_rows(positions, values, keep)
        marked[positions] = True
    return FileScan(
        source,
        state.rows,
        state.columns,
        state.ordered_failures(),
        int(marked.sum()),
        row_hashes,
        state.profile(),
        copies_set_aside=set_aside,
    )


_NO_HASHES = np.zeros(0, dtype=np.uint64)
_NO_POSITIONS = np.zeros(0, dtype=np.int64)


class ScanState:
    """What one pass keeps per chunk: failures, column profiles, row and value hashes.

    Uniqueness needs every row: the schema's ``unique`` flags come off the chunk schema and
    each unique column keeps a hash per row instead, for the caller to compare across chunks,
    files or partitions (and, when whole-row copies are the duplicate check's, among the
    distinct rows only).
    """

    def __init__(
        self,
        schema: pa.DataFrameSchema | None,
        *,
        kinds: dict[str, str],
        edges: dict[str, tuple[float, float]],
        hash_columns: list[str],
        keep: int,
    ) -> None:
        self.schema = schema
        self.chunk_schema = sch.without_uniqueness(schema) if schema is not None else None
        self.unique = sch.unique_columns(schema) if schema is not None else {}
        self.kinds, self.edges, self.hash_columns, self.keep = kinds, edges, hash_columns, keep
        self.failures: dict[tuple[str | None, str], Failure] = {}
        self.accumulators: dict[str, prof.ColumnAccumulator] = {}
        self.unique_hashes: dict[str, list[np.ndarray]] = {name: [] for name in self.unique}
        self.row_hashes: list[np.ndarray] = []
        self.failing: list[np.ndarray] = []  # one flag per row: 1 byte a row, to count rows once
        self.rows = 0
        self.columns: list[str] = []

    def add(self, chunk: pd.DataFrame) -> None:
        if not self.columns:
            self.columns = [str(c) for c in chunk.columns]
        self.rows += len(chunk)
        marks = np.zeros(len(chunk), dtype=bool)
        unreadable: dict[str, int] = {}
        if self.schema is not None:
            chunk, unreadable = _conform(chunk, self.schema, self.failures, self.keep, marks)
            _validate(chunk, self.chunk_schema, self.failures, self.keep, marks)
        self.failing.append(marks)
        views = {name: prof.ColumnView(chunk[name]) for name in chunk.columns}
        for name in self.unique:
            if name in views:
                self.unique_hashes[name].append(hash_values(views[name]))
        for name in self.columns:
            acc = self.accumulators.get(name)
            if acc is None:
                kind = self.kinds.get(name) or _kind_of(chunk[name])
                acc = self.accumulators[name] = prof.ColumnAccumulator(
                    name, kind, str(chunk[name].dtype), self.edges.get(name)
                )
            acc.add(views[name], unreadable=unreadable.get(name, 0))
        columns = [c for c in self.hash_columns if c in views]
        self.row_hashes.append(hash_rows(views, columns, len(chunk)))

    def profile(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "columns": {name: acc.to_dict() for name, acc in self.accumulators.items()},
        }

    def ordered_failures(self) -> list[Failure]:
        return sorted(
            self.failures.values(), key=lambda f: (f.column is None, f.column or "", f.check)
        )


def duplicate_positions(
    hashes: np.ndarray, how: str, *, without: np.ndarray | None = None
) -> np.ndarray:
    """Positions whose value repeats, as pandera's ``report_duplicates`` would list them;
    rows at the positions ``without`` take no part (neither repeat nor are repeated)."""
    import pandas as pd

    keep_arg = {"all": False, "exclude_first": "first", "exclude_last": "last"}.get(how, False)
    if without is None or not without.size:
        return np.flatnonzero(pd.Series(hashes).duplicated(keep=keep_arg).to_numpy())
    among = np.ones(hashes.size, dtype=bool)
    among[without] = False
    rows = np.flatnonzero(among)
    return rows[pd.Series(hashes[rows]).duplicated(keep=keep_arg).to_numpy()]


def _kind_of(series: pd.Series) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series.dtype):
        return prof.CATEGORICAL
    if pd.api.types.is_numeric_dtype(series.dtype):
        return prof.NUMERIC
    if pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype):
        return prof.CATEGORICAL
    return prof.OTHER


def kinds_from_schema(schema: pa.DataFrameSchema, categorical: set[str]) -> dict[str, str]:
    kinds = {}
    for name, spec in schema.columns.items():
        if name in categorical:
            kinds[name] = prof.CATEGORICAL
        elif spec.unique:
            kinds[name] = prof.ID
        elif sch.is_numeric(schema, name):
            kinds[name] = prof.NUMERIC
        elif sch.is_text(schema, name) or str(spec.dtype) == "bool":
            kinds[name] = prof.CATEGORICAL
        else:
            kinds[name] = prof.OTHER
    return kinds


def _conform(
    chunk: pd.DataFrame, schema: pa.DataFrameSchema, failures: dict, keep: int, marks: np.ndarray
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Make a chunk's dtypes what the whole file's would be, before pandera sees it.

    Integers in a float column become floats (a chunk with no missing value reads as
    integers). Text in a number column is reported row by row as a dtype failure with its
    lines, then read as missing so the column's other checks still run; how many such
    values each column had comes back, so the profile does not count them as missing too.
    """
    import pandas as pd

    unreadable = {}
    for name in chunk.columns:
        if name not in schema.columns or not sch.is_numeric(schema, name):
            continue
        series = chunk[name]
        declared = sch.dtype_name(schema, name) or "float64"
        if pd.api.types.is_integer_dtype(series.dtype) and declared.startswith("float"):
            chunk[name] = series.astype("float64")
        elif not pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        ):
            numbers = pd.to_numeric(series, errors="coerce")
            bad = numbers.isna() & series.notna()
            if bad.any():
                marks |= bad.to_numpy()
                failure = _failure(failures, name, f"dtype('{declared}')")
                failure.add_rows(chunk.index[bad.to_numpy()].to_numpy(), series[bad].tolist(), keep)
                unreadable[name] = int(bad.sum())
            if pd.api.types.is_integer_dtype(numbers.dtype) and declared.startswith("float"):
                numbers = numbers.astype("float64")
            chunk[name] = numbers
    return chunk, unreadable


def _validate(
    chunk: pd.DataFrame, schema: pa.DataFrameSchema, failures: dict, keep: int, marks: np.ndarray
) -> None:
    import pandas as pd
    import pandera.errors

    try:
        schema.validate(chunk, lazy=True, inplace=True)
        return
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    rowless = cases["index"].isna()
    for _, case in cases[rowless].iterrows():
        column = case["column"]
        if case["check"] == MISSING_COLUMN_CHECK:
            column = case["failure_case"]
        _failure(failures, column, str(case["check"])).add_case(case["failure_case"])
    with_rows = cases[~rowless].copy()
    if with_rows.empty:
        return
    with_rows["index"] = pd.to_numeric(with_rows["index"]).astype("int64")
    marks[with_rows["index"].to_numpy() - int(chunk.index[0])] = True
    for (column, check), group in with_rows.groupby(["column", "check"], sort=False, dropna=False):
        group = group.sort_values("index", kind="stable")
        head = group.head(keep)
        _failure(failures, column, str(check)).add_rows(
            group["index"].to_numpy(), head["failure_case"].tolist(), keep
        )


def _failure(failures: dict, column: Any, check: str) -> Failure:
    column = (
        None if column is None or (isinstance(column, float) and column != column) else str(column)
    )
    key = (column, check)
    if key not in failures:
        failures[key] = Failure(column, check)
    return failures[key]


def _values_at(source: Source, column: str, positions: np.ndarray) -> list[Any]:
    """Values at a few positions, reading only up to the last of them."""
    wanted = {int(p) for p in positions}
    found: dict[int, Any] = {}
    last = int(positions.max())
    for chunk in source.chunks(columns=[column]):
        inside = chunk.index[chunk.index.isin(list(wanted))]
        for position in inside:
            found[int(position)] = chunk.at[position, column]
        if chunk.index[-1] >= last:
            break
    return [found.get(int(p)) for p in positions]


# 64-bit mixing constants (splitmix64's finaliser); numpy's uint64 arithmetic wraps like C.
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_ROW_SEED, _ROW_PRIME = np.uint64(0x9E3779B97F4A7C15), np.uint64(0x100000001B3)


def _mix(x: np.ndarray) -> np.ndarray:
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x


def hash_values(view: prof.ColumnView) -> np.ndarray:
    """A 64-bit hash per value, equal for equal values in any file or chunk.

    Numbers hash by their float64 value (5 in an integer chunk equals 5.0 in a float chunk;
    -0.0 equals 0.0; every NaN alike); anything else by pandas' stable hash of each distinct
    value, computed once per distinct value.
    """
    import pandas as pd

    series = view.series
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        numbers = view.numbers() + 0.0  # a copy, and -0.0 becomes 0.0
        numbers[np.isnan(numbers)] = np.nan
        return _mix(numbers.view(np.uint64))
    codes, uniques = view.factorized()
    distinct = pd.util.hash_array(uniques) if len(uniques) else np.zeros(0, dtype=np.uint64)
    hashes = np.append(distinct, np.uint64(0))[codes]  # code -1 (missing) takes the last slot: 0
    return hashes


def hash_rows(views: dict[str, prof.ColumnView], columns: list[str], rows: int) -> np.ndarray:
    """An 8-byte hash per row over ``columns`` (sorted by the caller), equal for equal rows in any file."""
    combined = np.full(rows, _ROW_SEED, dtype=np.uint64)
    for name in columns:
        combined ^= hash_values(views[name])
        combined *= _ROW_PRIME
    return _mix(combined)
