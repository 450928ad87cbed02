"""The evaluate-gate report: a golden file of the markdown, and the GitHub comment limit."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from mlops_actions.gate.rules import Rule
from mlops_actions.reports import GITHUB_COMMENT_LIMIT, md
from mlops_actions.stages.evaluate_gate import GateResult, evaluate_gate
from support import GOLDEN
from support.gate import make_rows, trained

GOLDEN_REPORT = GOLDEN / "evaluate_gate.md"


def test_report_matches_the_golden_file(tmp_path, monkeypatch):
    """Deterministic data and model, a recorded baseline with params and lineage beside it.

    Regenerate after a deliberate template change with ``UPDATE_GOLDEN=1`` and review the diff.
    """
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/models")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.delenv("GITHUB_SERVER_URL", raising=False)
    make_rows(400, 1, flip_b=0.2).to_csv(tmp_path / "train.csv", index=False)
    make_rows(200, 2, flip_b=0.2).to_csv(tmp_path / "test.csv", index=False)
    gate = {
        "metrics": {
            "accuracy": {"min": 0.7, "max_drop": 0.02},
            "log_loss": {"max_relative_drop": 0.1},
        },
        "slices": [{"column": "group", "metric": "accuracy", "max_gap": 0.1, "min_rows": 20}],
    }
    config, workdir = trained(tmp_path, "w", gate=gate)
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    (baseline / "metrics.json").write_text(
        json.dumps({"accuracy": 0.9, "f1_macro": 0.88, "log_loss": 0.3})
    )
    params = json.loads((workdir / "train" / "params.json").read_text())
    params["params"]["C"] = 0.5
    (baseline / "params.json").write_text(json.dumps(params))
    lineage = json.loads((workdir / "train" / "lineage.json").read_text())
    lineage["data"]["train"]["rows"] = 350
    lineage["data"]["train"]["sha256"] = "f" * 64
    (baseline / "lineage.json").write_text(json.dumps(lineage))

    result = evaluate_gate(config, workdir=workdir, baseline=str(baseline / "metrics.json"))
    report = (workdir / "evaluate-gate" / "comment.md").read_text(encoding="utf-8")
    assert (
        report
        == result.summary_markdown()
        == (workdir / "evaluate-gate" / "summary.md").read_text()
    )
    normalised = report.replace(md(str(tmp_path)), "<tmp>")  # paths are shown escaped
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN_REPORT.write_text(normalised, encoding="utf-8")
    assert normalised == GOLDEN_REPORT.read_text(encoding="utf-8")


def big_result(tmp_path: Path, metrics: int, slices: int) -> GateResult:
    """A result with ``metrics`` gated metrics and ``slices`` slice tables of 50 values each."""
    names = [f"metric_{i:03d}_with_a_long_descriptive_name" for i in range(metrics)]
    rules = [
        Rule(
            "metric",
            n,
            "max_drop",
            threshold=0.01,
            observed=0.5,
            baseline=0.52,
            change=0.02,
            interval={"low": -0.03, "high": -0.01},
            status="fail",
        )
        for n in names
    ]
    tables = [
        {
            "column": f"column_{s}",
            "metric": "accuracy",
            "max_gap": 0.1,
            "min_rows": 30,
            "gap": 0.3,
            "rows": [
                {
                    "value": f"value number {v}",
                    "rows": 100 + v,
                    "gated": True,
                    "metrics": {"accuracy": 0.5 + v / 200},
                    "baseline": 0.6,
                }
                for v in range(50)
            ],
        }
        for s in range(slices)
    ]
    return GateResult(
        out_dir=tmp_path,
        task="classification",
        model="big",
        candidate={
            "path": tmp_path / "model.joblib",
            "metrics": dict.fromkeys(names, 0.5),
            "params": {"a": 1},
            "data": {"test": {"sha256": "a" * 64, "rows": 10, "columns": 3, "schema_hash": "x"}},
            "rows": 10,
        },
        baseline={
            "kind": "onnx",
            "source": "prod.onnx",
            "metrics": dict.fromkeys(names, 0.52),
            "params": {"a": 2},
            "data": None,
            "note": "scored on the same rows",
            "same_rows": True,
            "history": [],
        },
        rules=rules,
        significance={
            "confidence": 0.95,
            "resamples": 1000,
            "rows": 10,
            "intervals": {n: {"low": -0.03, "high": -0.01, "resamples": 1000} for n in names},
        },
        slices=tables,
        confusion={
            "labels": [f"class {i}" for i in range(30)],
            "matrix": [[i * j for j in range(30)] for i in range(30)],
        },
        budgets={},
        data_diff=None,
        commit="0" * 40,
        run_url="https://github.com/octo/models/actions/runs/42",
        notes=[],
    )


@pytest.mark.parametrize(("metrics", "slices"), [(200, 50), (200, 1), (5, 50)])
def test_report_fits_a_github_comment_and_is_cut_cleanly(tmp_path, metrics, slices):
    result = big_result(tmp_path, metrics, slices)
    full = result.full_report
    comment = result.summary_markdown()
    assert len(comment) <= GITHUB_COMMENT_LIMIT
    if len(full) > GITHUB_COMMENT_LIMIT:
        assert "Cut to fit a GitHub comment" in comment and "report.md" in comment
        assert "actions/runs/42" in comment.splitlines()[-1]
    assert comment.count("<details>") == comment.count("</details>")
    assert len(re.findall(r"^```", comment, flags=re.M)) % 2 == 0
    assert comment.startswith("## ❌ Gate failed: `big`")
    assert "| metric_000_with_a_long_descriptive_name |" in comment  # the metric table comes first


def test_report_that_fits_is_not_cut(tmp_path):
    result = big_result(tmp_path, 10, 2)
    assert result.summary_markdown() == result.full_report
