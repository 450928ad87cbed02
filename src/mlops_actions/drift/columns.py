"""What drift tests need to know about one column, from a frame, a profile, or chunks.

A ``ColumnSummary`` holds the sorted finite values (exact, or a weighted quantile sketch with
a known CDF error), category counts, and the counts Evidently's type inference uses. It is the
one input of every test, so a reference profile, an in-memory frame and a stream of Parquet
row groups all go through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlops_actions.drift.select import CATEGORICAL, NUMERICAL, UNTESTED, infer_kind
from mlops_actions.drift.stattests import SortedSample

CATEGORY_CAP = 1000  # distinct values kept as a count table (larger tables: text-like columns)
NUMERIC_CATEGORY_CAP = 20  # numeric columns keep counts only when Evidently may bin by value


@dataclass
class ColumnSummary:
    name: str
    dtype: str
    kind: str  # Evidently's inferred type on this data: numerical / categorical / text / untested
    count: int  # finite, non-missing values (what Evidently tests)
    missing: int  # missing or infinite values
    nunique: int | None  # distinct finite values; None when over the cap
    categories: dict[object, float] | None = None  # value -> count
    sample: SortedSample | None = None  # numeric columns
    minimum: float | None = None
    maximum: float | None = None
    std: float | None = None
    cdf_error: float = 0.0  # max |F_sketch - F_true| of ``sample`` (0 when exact)
    extra: dict = field(default_factory=dict)

    @property
    def is_numeric(self) -> bool:
        return self.sample is not None

    def value_counts(self) -> dict[object, float]:
        """Counts per distinct value; derived from an exact sample when no table was kept."""
        if self.categories is not None:
            return self.categories
        if self.sample is None:
            raise ValueError(f"column {self.name!r} has no value counts")
        values, counts = _runs(self.sample.values, self.sample.weights)
        return dict(zip(_plain(values, self.dtype), counts.tolist(), strict=True))


def _runs(sorted_values: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and their (weighted) counts, in one linear pass."""
    if sorted_values.size == 0:
        return sorted_values, np.zeros(0)
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    if weights is None:
        counts = np.diff(np.append(starts, sorted_values.size)).astype(np.float64)
    else:
        counts = np.add.reduceat(weights, starts)
    return sorted_values[starts], counts


def _plain(values: np.ndarray, dtype: str) -> list:
    """Category keys as JSON-friendly Python values (ints stay ints)."""
    if dtype.startswith("int"):
        return [int(v) for v in values]
    return values.tolist()


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def summarize(series: pd.Series) -> ColumnSummary:
    """Exact summary of an in-memory column (sorted values, counts, Evidently's inferred kind)."""
    dtype = str(series.dtype)
    non_null = int(series.count())
    if _is_numeric(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite_mask = np.isfinite(values)
        finite = np.sort(values if finite_mask.all() else values[finite_mask])
        nunique = int(np.count_nonzero(finite[1:] != finite[:-1])) + 1 if finite.size else 0
        categories = None
        if nunique <= NUMERIC_CATEGORY_CAP:
            distinct, counts = _runs(finite, None)
            categories = dict(zip(_plain(distinct, dtype), counts.tolist(), strict=True))
        return ColumnSummary(
            name=str(series.name),
            dtype=dtype,
            kind=infer_kind(dtype, nunique=nunique, count=non_null),
            count=int(finite.size),
            missing=int(values.size - finite.size),
            nunique=nunique,
            categories=categories,
            sample=SortedSample(finite, None, int(finite.size)),
            minimum=float(finite[0]) if finite.size else None,
            maximum=float(finite[-1]) if finite.size else None,
            std=float(np.std(finite)) if finite.size else None,
        )
    present = np.flatnonzero(series.notna().to_numpy())
    first_is_str = (
        present.size > 0
        and isinstance(series.iloc[present[0]], str)
        and isinstance(series.iloc[present[-1]], str)
    )
    try:
        counts = series.value_counts(dropna=True, sort=True)
        table = dict(
            zip(_keys(counts.index), counts.to_numpy(dtype=np.float64).tolist(), strict=True)
        )
    except TypeError:  # lists or dicts (e.g. nested JSON): Evidently does not test them
        return ColumnSummary(
            str(series.name), dtype, UNTESTED, non_null, int(series.size - non_null), None
        )
    kind = infer_kind(dtype, nunique=len(table), count=non_null, first_is_str=first_is_str)
    if dtype.startswith("datetime"):
        kind = UNTESTED
    return ColumnSummary(
        name=str(series.name),
        dtype=dtype,
        kind=kind,
        count=non_null,
        missing=int(series.size - non_null),
        nunique=len(table),
        categories=table if len(table) <= CATEGORY_CAP or kind == CATEGORICAL else None,
    )


def _keys(index: pd.Index) -> list:
    return [k.item() if hasattr(k, "item") else k for k in index]


class ColumnAccumulator:
    """Builds a ``ColumnSummary`` from chunks in bounded memory, one pass.

    Numeric values are kept exactly until ``max_values``; past that the sorted buffer is
    compressed to ``max_values // 2`` equal-weight quantile points, each compression adding at
    most 2/K (K = points kept) of the rows seen so far to the CDF error, which is tracked and
    reported. Category tables are exact up to ``CATEGORY_CAP`` distinct values.
    """

    def __init__(self, name: str, *, max_values: int = 1 << 20) -> None:
        self.name = name
        self.max_values = max_values
        self.dtype: str | None = None
        self.numeric: bool | None = None
        self.values = np.empty(0)
        self.pending: list[np.ndarray] = []  # sorted chunks not yet merged into ``values``
        self.pending_size = 0
        self.weights: np.ndarray | None = None
        self.count = 0
        self.missing = 0
        self.non_null = 0
        self.abs_rank_error = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.minimum = np.inf
        self.maximum = -np.inf
        self.categories: dict[object, float] | None = {}
        self.first_is_str: bool | None = None
        self.last_is_str = True
        self.unhashable = False

    def add(self, series: pd.Series) -> None:
        dtype, numeric = str(series.dtype), _is_numeric(series)
        if self.dtype is None:
            self.dtype, self.numeric = dtype, numeric
        elif numeric != self.numeric and series.count():
            raise ValueError(
                f"column {self.name!r} is {self.dtype} in one chunk and {dtype} in another"
            )
        elif numeric and dtype != self.dtype and dtype.startswith("float"):
            self.dtype = dtype  # an int column with missing values in a later chunk reads as float
        self.non_null += int(series.count())
        if self.numeric:
            self._add_numbers(series.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            self._add_categories(series)

    def _add_numbers(self, values: np.ndarray) -> None:
        finite = np.sort(values[np.isfinite(values)])
        self.missing += int(values.size - finite.size)
        if not finite.size:
            return
        n_old, n_new = self.count, finite.size
        mean_new = float(finite.mean())
        m2_new = float(((finite - mean_new) ** 2).sum())
        delta = mean_new - self.mean
        total = n_old + n_new
        self.mean += delta * n_new / total
        self.m2 += m2_new + delta**2 * n_old * n_new / total
        self.count = total
        self.minimum = min(self.minimum, float(finite[0]))
        self.maximum = max(self.maximum, float(finite[-1]))
        self.pending.append(finite)
        self.pending_size += n_new
        if self.values.size + self.pending_size > self.max_values:
            self._consolidate()
            self._compress()

    def _consolidate(self) -> None:
        """Merge the sorted chunks into the buffer: one timsort over already-sorted runs."""
        if not self.pending:
            return
        runs = [self.values, *self.pending]
        merged = np.concatenate(runs)
        if self.weights is None:
            self.values = np.sort(merged, kind="stable")
        else:
            weights = np.concatenate([self.weights, np.ones(self.pending_size)])
            order = np.argsort(merged, kind="stable")
            self.values, self.weights = merged[order], weights[order]
        self.pending, self.pending_size = [], 0

    def _compress(self) -> None:
        keep = self.max_values // 2
        cum = (
            np.cumsum(self.weights)
            if self.weights is not None
            else np.arange(1, self.values.size + 1.0)
        )
        total = cum[-1]
        targets = (np.arange(keep) + 0.5) * (total / keep)
        self.values = self.values[np.minimum(np.searchsorted(cum, targets), self.values.size - 1)]
        self.weights = np.full(keep, total / keep)
        self.abs_rank_error += 2.0 * total / keep

    def _add_categories(self, series: pd.Series) -> None:
        non_null = series.dropna()
        self.missing += int(series.size - non_null.size)
        if non_null.size:
            if self.first_is_str is None:
                self.first_is_str = isinstance(non_null.iloc[0], str)
            self.last_is_str = isinstance(non_null.iloc[-1], str)
        self.count += int(non_null.size)
        if self.categories is None:
            return
        try:
            counts = non_null.value_counts()
            for key, n in zip(_keys(counts.index), counts.to_numpy(), strict=True):
                self.categories[key] = self.categories.get(key, 0.0) + float(n)
        except TypeError:  # lists or dicts (e.g. nested JSON): Evidently does not test them
            self.categories, self.unhashable = None, True
            return
        if len(self.categories) > CATEGORY_CAP * 100:
            self.categories = None  # an ID-like column: counting it would not be bounded

    def merge(self, later: ColumnAccumulator) -> ColumnAccumulator:
        """Fold in the accumulator of the rows that follow this one's (a later partition).

        The result is what ``add`` would have built from both partitions' chunks in order:
        the same counts, category table (first-seen order kept) and sorted values; a sketch
        on either side, or a merged buffer past ``max_values``, adds its rank error.
        """
        if later.dtype is None:
            return self
        if self.dtype is None:
            self.dtype, self.numeric = later.dtype, later.numeric
        elif later.numeric != self.numeric and later.non_null:
            raise ValueError(
                f"column {self.name!r} is {self.dtype} in one chunk and {later.dtype} in another"
            )
        elif later.numeric and later.dtype != self.dtype and later.dtype.startswith("float"):
            self.dtype = later.dtype
        self.non_null += later.non_null
        self.missing += later.missing
        self.unhashable |= later.unhashable
        if later.first_is_str is not None:  # the later partition saw values
            if self.first_is_str is None:
                self.first_is_str = later.first_is_str
            self.last_is_str = later.last_is_str
        if self.numeric:
            self._merge_numbers(later)
        else:
            self.count += later.count
            self._merge_categories(later)
        return self

    def _merge_numbers(self, later: ColumnAccumulator) -> None:
        if not later.count:
            return
        n_old, n_new = self.count, later.count
        delta = later.mean - self.mean
        total = n_old + n_new
        self.mean += delta * n_new / total
        self.m2 += later.m2 + delta**2 * n_old * n_new / total
        self.count = total
        self.minimum = min(self.minimum, later.minimum)
        self.maximum = max(self.maximum, later.maximum)
        self.abs_rank_error += later.abs_rank_error
        if self.weights is None and later.weights is None:
            runs = [r for r in (later.values, *later.pending) if r.size]
            self.pending.extend(runs)
            self.pending_size += sum(r.size for r in runs)
        else:
            later._consolidate()
            self._consolidate()
            ones = np.ones  # an exact side's values each stand for one row
            merged = np.concatenate([self.values, later.values])
            weights = np.concatenate(
                [
                    self.weights if self.weights is not None else ones(self.values.size),
                    later.weights if later.weights is not None else ones(later.values.size),
                ]
            )
            order = np.argsort(merged, kind="stable")
            self.values, self.weights = merged[order], weights[order]
        if self.values.size + self.pending_size > self.max_values:
            self._consolidate()
            self._compress()

    def _merge_categories(self, later: ColumnAccumulator) -> None:
        if self.categories is None or later.categories is None:
            self.categories = None
            return
        for key, n in later.categories.items():
            self.categories[key] = self.categories.get(key, 0.0) + n
        if len(self.categories) > CATEGORY_CAP * 100:
            self.categories = None

    def summary(self) -> ColumnSummary:
        dtype = self.dtype or "object"
        if self.numeric:
            self._consolidate()
            sample = SortedSample(self.values, self.weights, self.count)
            exact = self.weights is None
            distinct, counts = _runs(self.values, None) if exact else (None, None)
            nunique = int(distinct.size) if exact else None
            categories = (
                dict(zip(_plain(distinct, dtype), counts.tolist(), strict=True))
                if exact and distinct.size <= NUMERIC_CATEGORY_CAP
                else None
            )
            return ColumnSummary(
                name=self.name,
                dtype=dtype,
                kind=infer_kind(
                    dtype, nunique=nunique if nunique is not None else 1 << 62, count=self.non_null
                ),
                count=self.count,
                missing=self.missing,
                nunique=nunique,
                categories=categories,
                sample=sample,
                minimum=self.minimum if self.count else None,
                maximum=self.maximum if self.count else None,
                std=float(np.sqrt(self.m2 / self.count)) if self.count else None,
                cdf_error=self.abs_rank_error / self.count if self.count else 0.0,
            )
        cats = self.categories
        if cats is not None:
            cats = dict(sorted(cats.items(), key=lambda kv: -kv[1]))
        nunique = len(cats) if cats is not None else None
        kind = infer_kind(
            dtype,
            nunique=nunique if nunique is not None else 1 << 62,
            count=self.non_null,
            first_is_str=bool(self.first_is_str) and self.last_is_str,
        )
        if dtype.startswith("datetime") or self.unhashable:
            kind = UNTESTED
        return ColumnSummary(
            name=self.name,
            dtype=dtype,
            kind=kind,
            count=self.count,
            missing=self.missing,
            nunique=nunique,
            categories=cats
            if cats is not None and (len(cats) <= CATEGORY_CAP or kind == CATEGORICAL)
            else None,
        )


__all__ = ["CATEGORICAL", "NUMERICAL", "ColumnAccumulator", "ColumnSummary", "summarize"]
