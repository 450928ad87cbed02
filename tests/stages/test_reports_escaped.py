"""Values from data (class labels, slice values, failing values, column names) are inert
markdown in the gate's and validate-data's reports: no HTML, link, image, @mention or table
break (issue 14, part 7; the md filter of mlops_actions.reports)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mlops_actions.config import load_config
from mlops_actions.stages.evaluate_gate import evaluate_gate
from mlops_actions.stages.validate_data import validate_data
from support.gate import make_rows, trained

HOSTILE = {
    "A": "<img src=x onerror=alert(1)>",
    "B": "[click](http://evil.example)",
    "yes": "@octocat",
    "no": "![pixel](http://evil.example/p.png) | x",
}


def assert_inert(report: str) -> None:
    assert "<img" not in report and "<!--x" not in report
    assert "](http://evil" not in report
    assert "@octocat" not in report  # an invisible space follows every @
    assert not re.search(r"(?<!\\)\| x", report)  # a pipe in a value does not split the table


def hostile_rows(rows: int, seed: int):
    frame = make_rows(rows, seed)
    return frame.replace({"group": HOSTILE, "label": HOSTILE})


def test_gate_report_escapes_labels_and_slice_values(tmp_path: Path):
    hostile_rows(300, 1).to_csv(tmp_path / "train.csv", index=False)
    hostile_rows(120, 2).to_csv(tmp_path / "test.csv", index=False)
    gate = {
        "metrics": {"accuracy": {"min": 0.99}},
        "slices": [{"column": "group", "metric": "accuracy", "max_gap": 0.0, "min_rows": 1}],
    }
    config, workdir = trained(tmp_path, "w", gate=gate)
    result = evaluate_gate(config, workdir=workdir)
    report = result.full_report
    assert_inert(report)
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in report  # the slice value, shown escaped
    assert "@\u200boctocat" in report  # the class label in the confusion matrix


def test_validate_data_summary_escapes_failing_values_and_columns(tmp_path: Path):
    schema = {
        "columns": {
            "color": {"dtype": "str", "isin": ["red", "green"]},
            "x|y": {"dtype": "float64", "nullable": True},
        }
    }
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))
    rows = ["color,x|y"] + [f"{c},1.5" for c in ["red", "green"] * 10]
    rows += [
        '"<img src=x onerror=alert(1)>",2.5',
        '"@octocat",3.5',
        '"[click](http://evil.example)",1',
    ]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    doc = {
        "name": "t",
        "task": "regression",
        "data": {"train": "data.csv", "target": "x|y", "schema": "schema.yaml"},
        "validation": {"min_rows": 1},
    }
    (tmp_path / "mlops.yaml").write_text(yaml.safe_dump(doc))
    result = validate_data(load_config(tmp_path / "mlops.yaml"), workdir=tmp_path / ".mlops")
    summary = result.summary_markdown()
    assert not result.passed
    assert_inert(summary)
    assert "&lt;img src=x onerror" in summary  # cut to the cell width
