"""Merging per-partition column accumulators equals one pass over the concatenation.

This is what lets drift-check summarise each file on a different Dask worker: for random
data, random partitionings, random chunk sizes and either merge order (a left fold or a
tree), the merged summary is the concatenation's: exactly while no side is sketched, and
within the reported CDF error once one is.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_actions.drift.columns import ColumnAccumulator, summarize
from mlops_actions.engine import FAN_IN, merge_all

NUMBERS = st.one_of(
    st.integers(-5, 5).map(float),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.5, -0.0]),
)
WORDS = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "dé", "e e"]))


def _cuts(data, size: int) -> list[int]:
    cuts = data.draw(st.lists(st.integers(0, size), max_size=6))
    return [0, *sorted(cuts), size]


def _accumulate(series: pd.Series, data, max_values: int) -> list[ColumnAccumulator]:
    """One accumulator per random partition, each fed random chunks of it."""
    cuts = _cuts(data, len(series))
    partials = []
    for start, stop in zip(cuts, cuts[1:], strict=False):
        acc = ColumnAccumulator("x", max_values=max_values)
        chunk = data.draw(st.integers(1, 50))
        for at in range(start, stop, chunk):
            acc.add(series.iloc[at : min(at + chunk, stop)])
        partials.append(acc)
    return partials


def _merge(partials: list[ColumnAccumulator], tree: bool) -> ColumnAccumulator:
    if not tree:
        return functools.reduce(ColumnAccumulator.merge, partials)
    level = partials
    while len(level) > 1:
        level = [
            merge_all(ColumnAccumulator.merge, *level[i : i + FAN_IN])
            for i in range(0, len(level), FAN_IN)
        ]
    return level[0]


def _first_rows(series: pd.Series) -> ColumnAccumulator:
    """The single-machine pass, as drift-check's loop makes it (at least one chunk)."""
    acc = ColumnAccumulator("x", max_values=1 << 20)
    acc.add(series)
    return acc


@settings(max_examples=150, deadline=None)
@given(data=st.data(), values=st.lists(NUMBERS, min_size=1, max_size=300), tree=st.booleans())
def test_merged_numbers_equal_the_concatenation(data, values, tree):
    series = pd.Series(values, dtype="float64", name="x")
    merged = _merge(_accumulate(series, data, 1 << 20), tree).summary()
    whole = summarize(series)
    assert (merged.count, merged.missing, merged.nunique) == (
        whole.count,
        whole.missing,
        whole.nunique,
    )
    assert merged.kind == whole.kind and merged.categories == whole.categories
    np.testing.assert_array_equal(merged.sample.values, whole.sample.values)
    assert merged.sample.is_exact and merged.cdf_error == 0.0
    assert (merged.minimum, merged.maximum) == (whole.minimum, whole.maximum)
    if whole.count:
        assert np.isclose(merged.std, whole.std, rtol=1e-9, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), words=st.lists(WORDS, min_size=1, max_size=300), tree=st.booleans())
def test_merged_categories_equal_the_concatenation(data, words, tree):
    series = pd.Series(words, dtype=object, name="x")
    merged = _merge(_accumulate(series, data, 1 << 20), tree).summary()
    whole = _first_rows(series).summary()
    assert merged == whole  # counts, kind, missing
    # exact counts per category; the order of categories with equal counts may differ (each
    # chunk ranks its own ties), and no statistic depends on it
    assert (merged.categories or {}) == (whole.categories or {})


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    values=st.lists(st.floats(-100, 100, allow_nan=False), min_size=50, max_size=400),
    tree=st.booleans(),
)
def test_merged_sketch_stays_within_its_cdf_error(data, values, tree):
    """Past ``max_values`` the merged sample is a sketch; its CDF is off by at most the
    error it reports, at every point, whatever the partitioning."""
    series = pd.Series(values, dtype="float64", name="x")
    partials = _accumulate(series, data, 32)
    errors = sum(p.abs_rank_error for p in partials)  # a partition's own sketch error stays
    merged = _merge(partials, tree).summary()
    truth = np.sort(series.to_numpy())
    assert merged.count == truth.size
    assert merged.cdf_error * merged.count >= errors * (
        1 - 1e-12
    )  # cdf_error is errors / count, rounded
    grid = np.unique(truth)
    sketch = merged.sample.counts_below(grid, side="right") / merged.count
    exact = np.searchsorted(truth, grid, side="right") / truth.size
    assert np.max(np.abs(sketch - exact)) <= merged.cdf_error + 1e-12
