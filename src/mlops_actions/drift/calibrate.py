"""Per-column thresholds from the reference alone: fewer false alarms on big data.

Fixed thresholds flag tiny, harmless differences once samples are large. Splitting the
reference at random into two halves many times gives the statistic's distribution when
nothing drifted; the threshold is its ``quantile`` (distances) or ``1 - quantile``
(p-values). Halves hold n/2 rows each while a check compares n with m rows, so distance
thresholds are rescaled by sqrt((1/n + 1/m) / (4/n)), the ratio of their null spreads.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mlops_actions.drift.columns import ColumnSummary, summarize
from mlops_actions.drift.compare import compare_column
from mlops_actions.drift.select import TESTS, TEXT, UNTESTED, default_test


def calibrate_thresholds(
    reference: pd.DataFrame,
    *,
    quantile: float = 0.99,
    repeats: int = 50,
    seed: int = 0,
    tests: dict[str, str] | None = None,
) -> dict[str, dict]:
    """``{column: {test, threshold, quantile, repeats, half_rows}}`` for every testable column."""
    tests = tests or {}
    rng = np.random.default_rng(seed)
    n = len(reference)
    half = n // 2
    splits = [rng.permutation(n) for _ in range(repeats)]
    result = {}
    for column in reference.columns:
        whole = summarize(reference[column])
        if whole.kind in (UNTESTED, TEXT) or whole.count < 4:
            continue
        test = tests.get(column) or default_test(
            whole.kind, reference_rows=whole.count, distinct_values=whole.nunique or 0
        )
        values = reference[column]
        scores = np.array(
            [
                _score(
                    summarize(values.iloc[order[:half]]), summarize(values.iloc[order[half:]]), test
                )
                for order in splits
            ]
        )
        scores = scores[np.isfinite(scores)]
        if not scores.size:
            continue
        spec = TESTS[test]
        level = 1 - quantile if spec.is_pvalue else quantile
        result[str(column)] = {
            "test": test,
            "threshold": float(np.quantile(scores, level)),
            "quantile": quantile,
            "repeats": repeats,
            "half_rows": half,
        }
    return result


def _score(a: ColumnSummary, b: ColumnSummary, test: str) -> float:
    if a.count == 0 or b.count == 0:
        return math.nan
    return compare_column(a, b, test=test, strict=False).score


def scaled_threshold(entry: dict, reference_rows: int, current_rows: int) -> float:
    """The calibrated threshold for a check of ``reference_rows`` against ``current_rows``."""
    if TESTS[entry["test"]].is_pvalue:
        return entry["threshold"]
    half = entry["half_rows"]
    scale = math.sqrt((1 / reference_rows + 1 / current_rows) / (2 / half))
    return entry["threshold"] * scale
