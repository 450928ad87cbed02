"""Record Evidently 0.7's DataDriftPreset results on small fixed datasets into a test fixture.

Run in the Evidently venv (``make evidently-venv``), not the project's:

    .venv-evidently/bin/python bench/record_evidently.py

It writes the datasets as CSV (``tests/fixtures/drift/<case>_{reference,current}.csv``) and
Evidently's per-column test, score and verdict to ``tests/fixtures/drift/evidently.json``, so
``make test`` checks parity without Evidently installed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "drift"

# Evidently's display names -> its registry names (what our config calls the tests)
TEST_NAMES = {
    "K-S p_value": "ks",
    "Wasserstein distance (normed)": "wasserstein",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
    "Hellinger distance": "hellinger",
    "Anderson-Darling": "anderson",
    "Cramer-von Mises": "cramer_von_mises",
}


def _frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    """Columns that exercise each default rule; ``shift`` moves some of them."""
    frame = pd.DataFrame(
        {
            "num_shift": rng.normal(shift, 1.0, n).round(4),
            "num_same": rng.gamma(2.0, 1.5, n).round(3),
            "num_rounded": rng.normal(50, 10, n).round(0),
            "int_many": rng.integers(0, 40, n),
            "int_few": rng.choice(
                [1, 2, 3, 4], n, p=[0.4, 0.3, 0.2, 0.1] if shift == 0 else [0.2, 0.2, 0.3, 0.3]
            ),
            "int_binary": rng.integers(0, 2, n),
            "float_few": rng.choice([0.5, 1.5, 2.5], n),
            "cat3": rng.choice(
                ["red", "green", "blue"], n, p=[0.5, 0.3, 0.2] if shift == 0 else [0.3, 0.3, 0.4]
            ),
            "cat2": rng.choice(["yes", "no"], n),
            "flag": rng.random(n) < 0.3,
        }
    )
    missing = rng.random(n) < 0.05
    frame.loc[missing, "num_same"] = np.nan
    return frame


CASES = {
    # name: (reference rows, current rows, current shift)
    "small": (800, 600, 0.4),
    "small_nodrift": (700, 500, 0.0),
    "boundary_1000": (1000, 900, 0.15),
    "boundary_1001": (1001, 900, 0.15),
    "large": (3000, 2500, 0.3),
}

# extra tests run per column on the "large" and "small" cases (Evidently's per_column_method)
EXTRA_TESTS = {
    "num_shift": [
        "psi",
        "kl_div",
        "hellinger",
        "jensenshannon",
        "anderson",
        "cramer_von_mises",
        "ks",
    ],
    "num_same": [
        "psi",
        "kl_div",
        "hellinger",
        "jensenshannon",
        "anderson",
        "cramer_von_mises",
        "wasserstein",
    ],
    "num_rounded": ["jensenshannon", "psi", "hellinger"],
    "cat3": ["psi", "kl_div", "hellinger", "jensenshannon", "chisquare", "z"],
    "int_few": ["psi", "jensenshannon", "chisquare"],
}


def _write_cases() -> None:
    rng = np.random.default_rng(20261128)
    for name, (n_ref, n_cur, shift) in CASES.items():
        _frame(rng, n_ref, 0.0).to_csv(FIXTURES / f"{name}_reference.csv", index=False)
        _frame(rng, n_cur, shift).to_csv(FIXTURES / f"{name}_current.csv", index=False)


def _run(reference: pd.DataFrame, current: pd.DataFrame, **preset_args) -> dict:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = (
        Report([DataDriftPreset(**preset_args)], include_tests=True).run(current, reference).dict()
    )
    columns, share = {}, None
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
        elif config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {
                "test": TEST_NAMES.get(config["method"], config["method"]),
                "threshold": config["threshold"],
                "score": metric["value"],
            }
    for test in snapshot["tests"]:
        column = test["name"].removeprefix("Value Drift for column ")
        if column in columns:
            columns[column]["drifted"] = test["status"] == "FAIL"
    return {"columns": columns, "drift_share": share, "dataset_drift": share >= 0.5}


def main() -> int:
    import evidently

    FIXTURES.mkdir(parents=True, exist_ok=True)
    if "--keep-data" not in sys.argv:
        _write_cases()
    record: dict = {"evidently": evidently.__version__, "cases": {}}
    for name in CASES:
        reference = pd.read_csv(FIXTURES / f"{name}_reference.csv")
        current = pd.read_csv(FIXTURES / f"{name}_current.csv")
        case = {"default": _run(reference, current), "extra": {}}
        if name in ("small", "large"):
            for column, tests in EXTRA_TESTS.items():
                for test in tests:
                    result = _run(
                        reference[[column]], current[[column]], per_column_method={column: test}
                    )
                    case["extra"][f"{column}:{test}"] = result["columns"][column]
        record["cases"][name] = case
    (FIXTURES / "evidently.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(f"wrote {FIXTURES / 'evidently.json'} (evidently {evidently.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
