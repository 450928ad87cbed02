"""Parity with Evidently 0.7's DataDriftPreset on fixed datasets.

``tests/fixtures/drift/evidently.json`` was recorded by running Evidently itself
(``bench/record_evidently.py`` in its own venv), so these numbers are independent of our code.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from mlops_actions.drift.columns import summarize
from mlops_actions.drift.compare import compare_column
from mlops_actions.drift.dataset import detect_drift
from mlops_actions.drift.profile import build_profile, profile_columns
from support import FIXTURES

DRIFT_FIXTURES = FIXTURES / "drift"
RECORD = json.loads((DRIFT_FIXTURES / "evidently.json").read_text())


def _close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=1e-6, abs_tol=1e-300)


def _frames(case: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.read_csv(DRIFT_FIXTURES / f"{case}_reference.csv"),
        pd.read_csv(DRIFT_FIXTURES / f"{case}_current.csv"),
    )


def _summaries(df: pd.DataFrame) -> dict:
    return {c: summarize(df[c]) for c in df.columns}


@pytest.mark.parametrize("case", sorted(RECORD["cases"]))
def test_default_preset_matches_evidently(case):
    reference, current = _frames(case)
    expected = RECORD["cases"][case]["default"]
    drift = detect_drift(_summaries(reference), _summaries(current))
    ours = {c.column: c for c in drift.columns}
    assert sorted(ours) == sorted(expected["columns"])
    for name, theirs in expected["columns"].items():
        assert ours[name].test == theirs["test"], name
        assert ours[name].threshold == theirs["threshold"], name
        assert _close(ours[name].score, theirs["score"]), (name, ours[name].score, theirs["score"])
        assert ours[name].drifted == theirs["drifted"], name
    assert math.isclose(drift.drift_share, expected["drift_share"])
    assert drift.dataset_drift == expected["dataset_drift"]


@pytest.mark.parametrize(
    "case,key",
    [(case, key) for case in sorted(RECORD["cases"]) for key in RECORD["cases"][case]["extra"]],
)
def test_each_test_matches_evidently(case, key):
    column, test = key.split(":")
    reference, current = _frames(case)
    theirs = RECORD["cases"][case]["extra"][key]
    ours = compare_column(summarize(reference[column]), summarize(current[column]), test=test)
    assert _close(ours.score, theirs["score"]), (ours.score, theirs["score"])
    assert ours.drifted == theirs["drifted"]


@pytest.mark.parametrize("case", ["small", "boundary_1000"])
def test_exact_profile_gives_evidently_results(case):
    """Up to the profile's point limit the profile stores every value: results are exact."""
    reference, current = _frames(case)
    profile = json.loads(json.dumps(build_profile(reference)))
    drift = detect_drift(profile_columns(profile), _summaries(current))
    for result in drift.columns:
        theirs = RECORD["cases"][case]["default"]["columns"][result.column]
        assert _close(result.score, theirs["score"]), result.column
        assert not result.approximate
