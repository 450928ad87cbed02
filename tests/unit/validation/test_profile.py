"""Medians in the data diff are estimates from a histogram, shown with the exact interval the
true median lies in (issue 14, part 7: a column of mostly zeros showed a median of 0.47)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_actions.reports import render
from mlops_actions.validation.profile import (
    NUMERIC,
    ColumnAccumulator,
    ColumnView,
    diff_profiles,
    quantile_within,
)


def column(values, edges, chunks: int = 3) -> dict:
    acc = ColumnAccumulator("x", NUMERIC, "float64", edges)
    for part in np.array_split(np.asarray(values, dtype=float), chunks):
        acc.add(ColumnView(pd.Series(part)))
    return acc.to_dict()


def mostly_zeros(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(rows) < 0.6, 0.0, rng.uniform(1, 47, rows)).round(2)


@pytest.mark.parametrize(
    "values",
    [
        mostly_zeros(1001, 1),
        mostly_zeros(1000, 2),  # even: the median averages two values
        np.random.default_rng(3).normal(5, 3, 4000),  # tails below and above the edges
        np.random.default_rng(4).exponential(2, 501) + 20,  # all above the edges
        np.full(7, 3.25),
        [1.0, 2.0],
    ],
)
@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_the_true_quantile_lies_in_the_interval_given(values, q):
    col = column(values, (0.0, 10.0))
    estimate, low, high = quantile_within(col, q)
    truth = float(np.quantile(np.asarray(values, dtype=float), q))
    assert low <= truth <= high
    assert low <= estimate <= high


def test_a_constant_column_has_an_exact_median():
    assert quantile_within(column(np.full(7, 3.25), (0.0, 10.0)), 0.5) == (3.25, 3.25, 3.25)


def test_the_diff_marks_the_median_as_an_estimate_with_its_bound():
    """The case from the issue: the histogram read 0.47 for a median that was 0."""
    before = mostly_zeros(1001, 1)
    after = np.concatenate([before, [50.0] * 10])
    edges = (0.0, float(before.max()))
    profiles = [
        {"rows": len(v), "sha256": str(i), "columns": {"x": column(v, edges)}}
        for i, v in enumerate((before, after))
    ]
    change = diff_profiles(*profiles)["columns"][0]
    assert np.median(before) == 0.0
    assert change["p50_before_within"][0] == 0.0 and change["p50_before_within"][1] < 0.5
    diff = {
        "baseline": "git:main",
        "files": [
            {
                "path": "d.csv",
                "status": "changed",
                **{
                    "rows_before": 1001,
                    "rows_after": 1011,
                    "rows_added": 10,
                    "rows_removed": 0,
                    "columns_added": [],
                    "columns_removed": [],
                    "columns": [change],
                },
            }
        ],
    }
    text = render("data_diff.md.j2", diff=diff)
    low, high = change["p50_before_within"]
    assert f"≈{change['p50_before']:.4g} ({low:.4g} to {high:.4g}) →" in text
    assert "the true median lies in the interval shown" in text
