"""The reference profile: JSON, bounded size, exact up to its point limit, within its stated
error bound beyond it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mlops_actions.drift.dataset import ColumnChoice, detect_drift
from mlops_actions.drift.profile import MAX_POINTS, build_profile, profile_columns
from support.drift_frames import FrameSummaries


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1, rows),
            "skewed": rng.lognormal(shift, 0.7, rows),
            "ints": rng.integers(0, 500, rows),
            "few": rng.integers(0, 4, rows),
            "cat": rng.choice(["a", "b", "c", "d"], rows),
        }
    )


def test_sketched_profile_stays_within_its_error_bound():
    reference, current = frame(40_000, 1), frame(30_000, 2, shift=0.08)
    profile = json.loads(json.dumps(build_profile(reference)))
    assert len(json.dumps(profile)) < 5 * 40 * MAX_POINTS  # ~ points x columns, not rows
    exact = {
        c.column: c
        for c in detect_drift(FrameSummaries(reference), FrameSummaries(current)).columns
    }
    for test in ("wasserstein", "ks", "psi", "jensenshannon"):
        choice = {"normal": ColumnChoice(test), "skewed": ColumnChoice(test)}
        approx = detect_drift(profile_columns(profile), FrameSummaries(current), per_column=choice)
        truth = detect_drift(FrameSummaries(reference), FrameSummaries(current), per_column=choice)
        truth_by = {c.column: c for c in truth.columns}
        for result in approx.columns:
            if result.column not in choice:
                if result.approximate:  # "ints" (500 values) is sketched like any number
                    assert abs(result.score - exact[result.column].score) <= result.error_bound
                else:  # category counts stay exact
                    assert result.score == exact[result.column].score
                continue
            assert result.approximate
            if test in ("wasserstein", "jensenshannon"):
                assert abs(result.score - truth_by[result.column].score) <= result.error_bound
            elif test == "ks":  # the bound is on D
                assert (
                    abs(result.statistic - truth_by[result.column].statistic) <= 2 * 2 / MAX_POINTS
                )


def test_small_reference_profile_is_exact():
    reference, current = frame(1500, 3), frame(800, 4, shift=0.3)
    profile = json.loads(json.dumps(build_profile(reference)))
    approx = detect_drift(profile_columns(profile), FrameSummaries(current))
    exact = detect_drift(FrameSummaries(reference), FrameSummaries(current))
    assert [(c.column, c.test, c.score) for c in approx.columns] == [
        (c.column, c.test, c.score) for c in exact.columns
    ]
    assert not any(c.approximate for c in approx.columns)


def test_profile_keeps_task_predictions_and_metrics():
    reference = frame(100, 5)
    profile = build_profile(
        reference, task="regression", predictions=np.arange(100.0), metrics={"r2": 0.5}
    )
    assert profile["task"] == "regression" and profile["metrics"] == {"r2": 0.5}
    assert profile_columns(profile, "predictions")["prediction"].count == 100
