"""validate-data reports each failure once and annotates every failing check (issue 14, part 7):
the annotation cap is shared by the failed checks instead of going to the first one, whole-row
copies are the duplicate check's failures and not uniqueness's as well, and text in a number
column is a dtype failure, not a missing value too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from mlops_actions.config import load_config
from mlops_actions.stages.validate_data import validate_data
from support import SRC

SCHEMA = """\
columns:
  id: {dtype: int64, unique: true}
  size: {dtype: float64, nullable: true, in_range: {min_value: 0, max_value: 10}}
  color: {dtype: str, isin: [red, green, blue]}
  label: {dtype: str, isin: [a, b]}
"""
COLORS = ["red", "green", "blue"]


def project(tmp_path: Path, lines: list[str], **validation) -> Path:
    (tmp_path / "data.csv").write_text("id,size,color,label\n" + "\n".join(lines) + "\n")
    (tmp_path / "schema.yaml").write_text(SCHEMA)
    doc = {
        "name": "t",
        "task": "classification",
        "data": {"train": "data.csv", "target": "label", "schema": "schema.yaml"},
        "validation": {"min_rows": 1, "max_missing_share": 1, **validation},
    }
    (tmp_path / "mlops.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path / "mlops.yaml"


def line_of(path: Path, text: str) -> int:
    (number,) = [i for i, line in enumerate(path.read_text().splitlines(), 1) if line == text]
    return number


def test_every_failing_check_gets_annotations_when_one_has_many_rows(tmp_path):
    """The issue's file: 60 rows share ids (other columns differ, so no whole-row copies) and four
    single-row failures; all 50 annotations used to go to the uniqueness check."""
    lines = [f"{i % 30},{i % 7 + 0.25},{COLORS[i % 3]},{'ab'[i % 2]}" for i in range(60)]
    singles = {
        "size: dtype": "100,abc,red,a",
        "color: isin": "101,1.5,purple,a",
        "label: isin": "102,1.5,red,c",
        "size: in_range": "103,99,red,a",
    }
    config = project(tmp_path, lines + list(singles.values()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(tmp_path),
        PYTHONPATH=str(SRC),
        GITHUB_OUTPUT=str(tmp_path / "out"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary"),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_actions",
            "validate-data",
            "--config",
            str(config),
            "--workdir",
            str(tmp_path / ".mlops"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error file=")]
    assert len(errors) == 50
    for what, row in singles.items():
        expected = f"line={line_of(tmp_path / 'data.csv', row)}::"
        assert any(expected in e and what in e for e in errors), (what, errors)
    assert sum("field_uniqueness" in e for e in errors) == 46
    assert "64 failing row(s) in all, 50 annotated" in done.stdout


def test_whole_row_copies_are_reported_once_under_the_duplicate_check(tmp_path):
    lines = [f"{i},{i % 10 + 0.5},{COLORS[i % 3]},{'ab'[i % 2]}" for i in range(40)]
    lines += lines[:10]  # ten whole-row copies: their ids repeat because the rows do
    lines += ["3,7.5,red,b"]  # a real id conflict: id 3 with other values
    config = project(tmp_path, lines, max_duplicate_share=0.05)
    result = validate_data(load_config(config), workdir=tmp_path / ".mlops")
    (unique,) = [f for f in result.failures if f["check"] == "field_uniqueness"]
    assert unique["count"] == 2 and [s["value"] for s in unique["samples"]] == [3, 3]
    duplicates = next(c for c in result.checks if c["check"] == "max_duplicate_share")
    assert not duplicates["passed"] and duplicates["count"] == 10
    summary = result.summary_markdown()
    assert "its 10 whole\\-row copies are counted once" in summary
    assert result.failing_rows == 2


def test_tolerated_copies_still_break_uniqueness(tmp_path):
    """Within max_duplicate_share nobody else reports the copies, so uniqueness does."""
    lines = [f"{i},{i % 10 + 0.5},{COLORS[i % 3]},{'ab'[i % 2]}" for i in range(40)]
    config = project(tmp_path, lines + lines[:2], max_duplicate_share=0.5)
    result = validate_data(load_config(config), workdir=tmp_path / ".mlops")
    (unique,) = [f for f in result.failures if f["check"] == "field_uniqueness"]
    assert unique["count"] == 4  # both copies and their first rows, as pandera lists them
    assert next(c for c in result.checks if c["check"] == "max_duplicate_share")["passed"]


def test_text_in_a_number_column_is_not_also_a_missing_value(tmp_path):
    lines = [f"{i},{'unknown' if i % 5 else 2.5},{COLORS[i % 3]},{'ab'[i % 2]}" for i in range(50)]
    lines[0] = "0,,red,a"  # one value really missing
    config = project(tmp_path, lines, max_missing_share=0.1)
    for chunksize in (None, 7):
        result = validate_data(
            load_config(config), workdir=tmp_path / ".mlops", chunksize=chunksize
        )
        (dtype,) = [f for f in result.failures if f["column"] == "size"]
        assert dtype["check"] == "dtype('float64')" and dtype["count"] == 40
        missing = next(
            c for c in result.checks if c["check"] == "max_missing_share" and c["column"] == "size"
        )
        assert missing["passed"] and missing["value"] == 1 / 50
        size = result.profiles["train"]["columns"]["size"]
        assert size["unreadable"] == 40 and size["mean"] == 2.5  # over the 9 numbers only
