"""validate-data on small real files: schema failures with their lines, dataset checks,
chunked == whole, inference, bad input, the data diff, and the CLI's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
import yaml

from mlops_actions.config import load_config
from mlops_actions.errors import ConfigError, DataError, UsageError
from mlops_actions.stages.validate_data import validate_data
from support import REPO, SRC
from support.validation import SCHEMA

ROOT = REPO

LOOSE = {
    "min_rows": 1,
    "max_duplicate_share": 1,
    "max_missing_share": 1,
    "labels": {"max_share_change": 1, "allow_vanishing": True},
    "skew": {"categorical_max_linf": 1, "numeric_max_js": 1},
}


def rows_csv(rows: list[tuple], header: str = "id,size,color,label") -> str:
    return (
        header
        + "\n"
        + "".join(",".join("" if v is None else str(v) for v in r) + "\n" for r in rows)
    )


def good_rows(n: int, start: int = 0) -> list[tuple]:
    colors = ["red", "green", "blue"]
    return [(start + i, (i % 10) + 0.5, colors[i % 3], "ab"[i % 2]) for i in range(n)]


def project(
    tmp_path: Path,
    train: str | bytes,
    test: str | bytes | None = None,
    *,
    schema: dict | None = SCHEMA,
    validation: dict | None = None,
    task: str = "classification",
    train_name: str = "train.csv",
) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    for name, content in ((train_name, train), ("test.csv", test)):
        if content is None:
            continue
        target = tmp_path / "data" / name
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    doc = {
        "name": "t",
        "task": task,
        "data": {"train": f"data/{train_name}", "target": "label", "schema": "schema.yaml"},
    }
    if test is not None:
        doc["data"]["test"] = "data/test.csv"
    doc["validation"] = LOOSE if validation is None else validation
    (tmp_path / "mlops.yaml").write_text(yaml.safe_dump(doc))
    if schema is not None:
        (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))
    return tmp_path / "mlops.yaml"


def run(config_path: Path, **kwargs):
    return validate_data(load_config(config_path), workdir=config_path.parent / ".mlops", **kwargs)


def line_of(path: Path, marker: str, *, whole: bool = False) -> int:
    """1-based line holding ``marker``, found by reading the text (independent of the code)."""
    lines = path.read_text().splitlines()
    hits = [i for i, line in enumerate(lines, 1) if (line == marker if whole else marker in line)]
    assert len(hits) == 1, hits
    return hits[0]


def failure(result, column, check_prefix, role="train"):
    found = [
        f
        for f in result.failures
        if f["role"] == role and f["column"] == column and f["check"].startswith(check_prefix)
    ]
    assert len(found) == 1, [(f["column"], f["check"]) for f in result.failures]
    return found[0]


def check(result, name, role="train", column=None):
    found = [
        c
        for c in result.checks
        if c["check"] == name and c["role"] == role and c["column"] == column
    ]
    assert len(found) == 1, name
    return found[0]


# ---- schema checks, line numbers


def test_valid_data_passes_and_writes_result(tmp_path):
    result = run(project(tmp_path, rows_csv(good_rows(30))))
    assert result.passed, result.failures
    saved = json.loads((tmp_path / ".mlops/validate-data/result.json").read_text())
    assert saved["passed"] is True
    assert saved["profiles"]["train"]["rows"] == 30
    assert "✅" in (tmp_path / ".mlops/validate-data/summary.md").read_text()


def test_every_failing_row_is_reported_with_its_line(tmp_path):
    rows = good_rows(30)
    rows[4] = (4, 99.5, "red", "a")  # out of range
    rows[9] = (9, 1.5, "purple", "b")  # not an allowed category
    rows[12] = (12, 1.5, "green", "c")  # unknown label
    rows[20] = (20, 2.5, "blue", "a")
    rows[21] = (20, 3.5, "blue", "a")  # id repeated
    config = project(tmp_path, rows_csv(rows))
    result = run(config)
    path = tmp_path / "data/train.csv"
    assert not result.passed
    size = failure(result, "size", "in_range")
    assert size["count"] == 1
    assert size["samples"] == [{"value": 99.5, "row": 5, "line": line_of(path, ",99.5,")}]
    assert failure(result, "color", "isin")["lines"] == [line_of(path, "purple")]
    assert failure(result, "label", "isin")["lines"] == [line_of(path, "12,1.5,green,c")]
    unique = failure(result, "id", "field_uniqueness")
    assert unique["count"] == 2 and unique["lines"] == [
        line_of(path, "20,2.5"),
        line_of(path, "20,3.5"),
    ]
    assert result.files[0]["failing_rows"] == 5 == result.outputs()["failing-rows"]


def test_lines_are_exact_with_blank_lines_and_quoted_multiline_fields(tmp_path):
    text = (
        "id,size,color,label\n"
        "\n"
        '0,1.5,red,"a"\n'
        "   \n"
        '1,2.5,"bl\nue",a\n'  # a field spanning two lines (and not an allowed color)
        "2,3.5,green,b\n"
        "\n"
        "3,77.5,blue,b\n"
    )
    config = project(tmp_path, text)
    result = run(config)
    path = tmp_path / "data/train.csv"
    assert failure(result, "size", "in_range")["lines"] == [line_of(path, "77.5")] == [9]
    assert failure(result, "color", "isin")["lines"] == [line_of(path, '"bl')] == [5]


def test_missing_schema_column_is_a_validation_failure(tmp_path):
    text = rows_csv([(i, 1.5, "red") for i in range(20)], header="id,size,color")
    result = run(project(tmp_path, text))
    missing = failure(result, "label", "column_in_dataframe")
    assert missing["count"] == 1 and not result.passed


def test_text_in_a_number_column_is_reported_per_row(tmp_path):
    rows = good_rows(30)
    rows[7] = (7, "oops", "red", "a")
    result = run(project(tmp_path, rows_csv(rows)))
    bad = failure(result, "size", "dtype")
    assert bad["count"] == 1 and bad["lines"] == [line_of(tmp_path / "data/train.csv", "oops")]
    assert bad["samples"][0]["value"] == "oops"


def test_parquet_failures_name_rows(tmp_path):
    frame = pd.DataFrame(good_rows(25), columns=["id", "size", "color", "label"])
    frame.loc[3, "size"] = 50.0
    (tmp_path / "data").mkdir()
    frame.to_parquet(tmp_path / "data/train.parquet")
    config = project(
        tmp_path, (tmp_path / "data/train.parquet").read_bytes(), train_name="train.parquet"
    )
    for chunksize in (None, 4):
        result = run(config, chunksize=chunksize)
        size = failure(result, "size", "in_range")
        assert size["rows"] == [4] and size["lines"] == [] and size["samples"][0]["row"] == 4


# ---- chunked == whole


def messy_frame(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "size": rng.uniform(0, 10, n).round(2),
            "color": rng.choice(["red", "green", "blue"], n),
            "label": rng.choice(["a", "b"], n),
        }
    )
    frame.loc[[5, 150, 390], "size"] = [11.0, -1.0, 12.5]
    frame.loc[[17, 301], "color"] = "pink"
    frame.loc[[40, 41, 230], "size"] = np.nan  # missing only in some chunks
    frame.loc[[50, 333], "id"] = [7, 7]  # a value repeated across chunks
    for column in frame.columns:  # rows 60 and 61 repeat rows 10 and 11 (ids included)
        frame.loc[[60, 61], column] = frame.loc[[10, 11], column].to_numpy()
    return frame


def test_chunked_results_equal_whole_file_results(tmp_path):
    frame = messy_frame()
    text = frame.to_csv(index=False)
    text = text.replace("\n", "\n\n", 3)  # blank lines: line numbers must still agree
    config = project(
        tmp_path,
        text,
        messy_frame(seed=4).to_csv(index=False),
        validation={**LOOSE, "max_duplicate_share": 0.0},
    )
    whole = run(config)
    for chunksize in (7, 64):
        chunked = run(config, chunksize=chunksize)
        assert chunked.failures == whole.failures
        assert chunked.checks == whole.checks
        assert chunked.profiles == whole.profiles
    unique = failure(whole, "id", "field_uniqueness")
    # id 7 three times; ids 10 and 11 repeat only as whole-row copies (rows 60 and 61), which
    # the failing duplicate check reports, so uniqueness does not report them a second time
    assert unique["count"] == 3
    assert failure(whole, "size", "in_range")["count"] == 3
    # train: sizes 5, 150, 390; colors 17, 301; ids 7, 50, 333 -> 8 distinct rows
    assert whole.files[0]["failing_rows"] == 8
    assert not check(whole, "max_duplicate_share")["passed"]
    assert check(whole, "max_duplicate_share")["lines"] == [62 + 3, 63 + 3]  # 3 blank lines


# ---- dataset checks


def test_min_rows(tmp_path):
    config = project(tmp_path, rows_csv(good_rows(5)), validation={**LOOSE, "min_rows": 6})
    assert not check(run(config), "min_rows")["passed"]
    config = project(tmp_path, rows_csv(good_rows(6)), validation={**LOOSE, "min_rows": 6})
    assert check(run(config), "min_rows")["passed"]


def test_missing_share_with_a_per_column_limit(tmp_path):
    rows = [(i, None if i < 3 else 1.5, "red", "a") for i in range(10)]  # 30% missing
    rules = {**LOOSE, "max_missing_share": 0.2, "column_max_missing_share": {"size": 0.5}}
    assert check(
        run(project(tmp_path, rows_csv(rows), validation=rules)), "max_missing_share", column="size"
    )["passed"]
    rules = {**LOOSE, "max_missing_share": 0.5, "column_max_missing_share": {"size": 0.25}}
    result = run(project(tmp_path, rows_csv(rows), validation=rules))
    assert check(result, "max_missing_share", column="size")["value"] == pytest.approx(0.3)
    assert not check(result, "max_missing_share", column="size")["passed"]


def test_duplicate_rows(tmp_path):
    schema = {"columns": {k: v for k, v in SCHEMA["columns"].items() if k != "id"}}
    rows = [(1.5, "red", "a")] * 3 + [(2.5, "blue", "b")] * 7
    header = "size,color,label"
    config = project(
        tmp_path,
        rows_csv(rows, header),
        schema=schema,
        validation={**LOOSE, "max_duplicate_share": 0.7},
    )
    dup = check(run(config), "max_duplicate_share")
    assert dup["value"] == pytest.approx(0.8) and not dup["passed"]
    assert dup["lines"][:2] == [3, 4]  # rows 2 and 3 repeat row 1 (header on line 1)
    config = project(
        tmp_path,
        rows_csv(rows, header),
        schema=schema,
        validation={**LOOSE, "max_duplicate_share": 0.8},
    )
    assert check(run(config), "max_duplicate_share")["passed"]


def test_train_test_leakage(tmp_path):
    train = good_rows(20)
    test = good_rows(10, start=100) + [train[3]]
    config = project(
        tmp_path, rows_csv(train), rows_csv(test), validation={**LOOSE, "max_leakage_share": 0}
    )
    leak = check(run(config), "max_leakage_share", role="test")
    assert not leak["passed"] and leak["lines"] == [
        line_of(tmp_path / "data/test.csv", "3,3.5,red,b", whole=True)
    ]
    config = project(
        tmp_path,
        rows_csv(train),
        rows_csv(good_rows(10, start=100)),
        validation={**LOOSE, "max_leakage_share": 0},
    )
    assert check(run(config), "max_leakage_share", role="test")["passed"]


def test_label_distribution(tmp_path):
    train = good_rows(20)
    only_a = [(100 + i, 1.5, "red", "a") for i in range(10)]
    rules = {**LOOSE, "labels": {"max_share_change": 0.2, "allow_vanishing": False}}
    result = run(project(tmp_path, rows_csv(train), rows_csv(only_a), validation=rules))
    assert not check(result, "label_vanished", role="test", column="label")["passed"]
    change = check(result, "label_share_change", role="test", column="label")
    assert change["value"] == pytest.approx(0.5) and not change["passed"]
    result = run(
        project(tmp_path, rows_csv(train), rows_csv(good_rows(10, start=100)), validation=rules)
    )
    assert check(result, "label_vanished", role="test", column="label")["passed"]
    assert check(result, "label_share_change", role="test", column="label")["passed"]


def test_skew_categorical_linf_and_numeric_js(tmp_path):
    train = [(i, 1.0 + (i % 9), ["red", "green", "blue"][i % 3], "ab"[i % 2]) for i in range(90)]
    shifted = [(100 + i, 9.5, "red", "ab"[i % 2]) for i in range(30)]
    rules = {**LOOSE, "skew": {"categorical_max_linf": 0.3, "numeric_max_js": 0.3}}
    result = run(project(tmp_path, rows_csv(train), rows_csv(shifted), validation=rules))
    color = check(result, "skew", role="test", column="color")
    assert color["value"] == pytest.approx(2 / 3) and not color["passed"]  # red: 1/3 -> 1
    size = check(result, "skew", role="test", column="size")
    assert size["value"] > 0.8 and not size["passed"]
    same = [(100 + i, *r[1:]) for i, r in enumerate(train[:45])]
    result = run(project(tmp_path, rows_csv(train), rows_csv(same), validation=rules))
    assert check(result, "skew", role="test", column="color")["passed"]
    assert check(result, "skew", role="test", column="size")["value"] < 0.1


def test_new_columns(tmp_path):
    text = rows_csv([(*r, "x") for r in good_rows(10)], header="id,size,color,label,extra")
    new = check(run(project(tmp_path, text)), "new_columns")
    assert not new["passed"] and "extra" in new["detail"]
    assert check(
        run(project(tmp_path, text, validation={**LOOSE, "allow_new_columns": True})), "new_columns"
    )["passed"]


# ---- inference


def test_infer_writes_pandera_yaml_that_pandera_loads(tmp_path):
    rows = [
        (i, None if i == 3 else 1.0 + i % 7, ["red", "green"][i % 2], "ab"[i % 2])
        for i in range(40)
    ]
    config = project(tmp_path, rows_csv(rows), schema=None)
    result = run(config, infer_schema=True)
    assert result.schema_written and result.passed
    schema = pa.DataFrameSchema.from_yaml(tmp_path / "schema.yaml")  # pandera alone, no mlops code
    frame = pd.read_csv(tmp_path / "data/train.csv")
    schema.validate(frame, lazy=True)
    columns = schema.columns
    assert columns["id"].unique and not columns["size"].unique
    assert columns["size"].nullable and not columns["color"].nullable
    size_range = columns["size"].checks[0].statistics
    assert size_range["min_value"] <= 1.0 and size_range["max_value"] >= 7.0
    assert columns["color"].checks[0].statistics["allowed_values"] == ["green", "red"]
    assert columns["label"].checks[0].statistics["allowed_values"] == ["a", "b"]
    with pytest.raises(pa.errors.SchemaErrors):
        schema.validate(frame.assign(color="purple"), lazy=True)


def test_infer_refuses_to_overwrite_without_force(tmp_path):
    config = project(tmp_path, rows_csv(good_rows(30)))
    before = (tmp_path / "schema.yaml").read_text()
    with pytest.raises(UsageError, match="--force"):
        run(config, infer_schema=True)
    assert (tmp_path / "schema.yaml").read_text() == before
    run(config, infer_schema=True, force=True)
    assert (tmp_path / "schema.yaml").read_text() != before
    assert "inferred" in (tmp_path / "schema.yaml").read_text().splitlines()[0]


# ---- bad input: exit 2 errors


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"", DataError, "empty"),
        (b"id,size,color,label\n", DataError, "no data rows"),
        (b"id;size;color;label\n1;1.5;red;a\n", DataError, "semicolon"),
        ("id,size,color,label\n1,1.5,r\xe9d,a\n".encode("latin-1"), DataError, "not valid utf-8"),
    ],
)
def test_unreadable_data(tmp_path, content, error, words):
    with pytest.raises(error, match=words):
        run(project(tmp_path, content))


def test_missing_data_file(tmp_path):
    config = project(tmp_path, rows_csv(good_rows(3)))
    (tmp_path / "data/train.csv").unlink()
    with pytest.raises(DataError, match="not found"):
        run(config)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, "schema file not found"),
        ("columns: [unclosed\n", "not a readable YAML"),
        ("- just\n- a list\n", "not a pandera schema"),
        ("columns:\n  id:\n    dtype: no_such_type\n", "invalid pandera schema"),
    ],
)
def test_bad_schema(tmp_path, text, words):
    config = project(tmp_path, rows_csv(good_rows(3)), schema=None)
    if text is not None:
        (tmp_path / "schema.yaml").write_text(text)
    with pytest.raises(ConfigError, match=words):
        run(config)


# ---- data diff


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )


def test_diff_against_git_ref_counts_rows_and_columns(tmp_path):
    config = project(tmp_path, rows_csv(good_rows(20)))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    rows = good_rows(20)[2:] + good_rows(5, start=50)  # 2 removed, 5 added
    (tmp_path / "data/train.csv").write_text(
        rows_csv([(*r, "x") for r in rows], header="id,size,color,label,note")
    )
    result = run(config, baseline="git:HEAD")
    train = result.diff["files"][0]
    assert (
        train["rows_before"],
        train["rows_after"],
        train["rows_added"],
        train["rows_removed"],
    ) == (20, 23, 5, 2)
    assert train["columns_added"] == ["note"] and train["status"] == "changed"
    assert (
        "Data diff against <code>git\\:HEAD</code>"
        in (tmp_path / ".mlops/validate-data/diff.md").read_text()
    )
    assert "Data diff" in result.summary_markdown()


def test_diff_against_an_unknown_ref_or_outside_git_is_a_usage_error(tmp_path):
    config = project(tmp_path, rows_csv(good_rows(20)))
    with pytest.raises(UsageError, match="not inside a git repository"):
        run(config, baseline="git:HEAD")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    with pytest.raises(UsageError, match="'nope' is not a commit, branch or tag here"):
        run(config, baseline="git:nope")


def test_diff_against_a_previous_result_json(tmp_path):
    config = project(tmp_path, rows_csv(good_rows(20)))
    run(config)
    previous = tmp_path / "previous.json"
    previous.write_text((tmp_path / ".mlops/validate-data/result.json").read_text())
    rows = [(i, 9.5, "red", "a") for i in range(20)]
    (tmp_path / "data/train.csv").write_text(rows_csv(rows))
    result = run(config, baseline=str(previous))
    train = result.diff["files"][0]
    assert train["rows_before"] == train["rows_after"] == 20 and train["rows_added"] is None
    size = next(c for c in train["columns"] if c["column"] == "size")
    assert size["mean_before"] == pytest.approx(np.mean([(i % 10) + 0.5 for i in range(20)]))
    assert size["mean_after"] == pytest.approx(9.5) and size["changed"]
    color = next(c for c in train["columns"] if c["column"] == "color")
    assert color["category"] == "red" and color["share_after"] == 1.0
    with pytest.raises(UsageError, match="not found"):
        run(config, baseline=str(tmp_path / "nope.json"))


# ---- CLI


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    environment.pop("GITHUB_ACTIONS", None) if not env else None
    return subprocess.run(
        [sys.executable, "-m", "mlops_actions", "validate-data", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
    )


def test_cli_exit_codes(tmp_path):
    project(tmp_path, rows_csv(good_rows(20)))
    assert cli(cwd=tmp_path).returncode == 0
    rows = good_rows(20)
    rows[3] = (3, 55.5, "red", "b")
    (tmp_path / "data/train.csv").write_text(rows_csv(rows))
    failed = cli(cwd=tmp_path)
    assert failed.returncode == 1 and "schema check(s)" in failed.stderr
    (tmp_path / "data/train.csv").write_text("")
    bad = cli(cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.endswith("data/train.csv: file is empty\n")


def test_cli_flags_reach_the_stage(tmp_path, monkeypatch, capsys):
    from mlops_actions.cli import main

    rows = good_rows(20)
    rows[3] = (3, 55.5, "red", "b")
    project(tmp_path, rows_csv(rows))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert main(["validate-data", "--no-fail", "--max-samples", "1", "--chunksize", "5"]) == 0
    saved = json.loads((tmp_path / ".mlops/validate-data/result.json").read_text())
    assert saved["chunksize"] == 5 and len(saved["failures"][0]["samples"]) == 1
    capsys.readouterr()
    assert main(["validate-data", "--chunksize", "0"]) == 2
    assert capsys.readouterr().err == (
        "mlops: error: --chunksize must be a positive number of rows, got 0\n"
    )
    assert main(["validate-data", "--infer-schema"]) == 2  # schema exists, no --force
    assert "--force" in capsys.readouterr().err


def test_cli_annotations_in_actions_are_capped_with_the_total(tmp_path):
    rows = [(i, 50.5, "red", "a") for i in range(30)]
    project(tmp_path, rows_csv(rows), validation={**LOOSE, "max_annotations": 4})
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    done = cli(
        "--data",
        "data/train.csv",
        cwd=tmp_path,
        env={
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(tmp_path),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(outputs),
        },
    )
    assert done.returncode == 1
    errors = [
        line
        for line in done.stdout.splitlines()
        if line.startswith("::error file=data/train.csv,line=")
    ]
    assert [e.split("line=")[1].split("::")[0] for e in errors] == ["2", "3", "4", "5"]
    assert "30 failing row(s) in all, 4 annotated" in done.stdout
    assert "failing-rows=30" in outputs.read_text()
    assert "Data validation" in summary.read_text()


@pytest.mark.parametrize("example", ["penguins", "diabetes"])
def test_examples_validate_against_their_committed_schemas(example, tmp_path):
    result = validate_data(
        load_config(ROOT / "examples" / example / "mlops.yaml"), workdir=tmp_path
    )
    assert result.passed, result.summary_markdown()


def test_profile_histogram_matches_numpy():
    from mlops_actions.validation.profile import NUMERIC, ColumnAccumulator, ColumnView

    values = np.concatenate(
        [np.random.default_rng(1).normal(5, 3, 5000), [0.0, 10.0, np.nan, np.inf, -np.inf]]
    )
    acc = ColumnAccumulator("x", NUMERIC, "float64", (0.0, 10.0))
    for part in np.array_split(values, 7):
        acc.add(ColumnView(pd.Series(part)))
    finite = values[np.isfinite(values)]
    expected, _ = np.histogram(finite, bins=100, range=(0.0, 10.0))
    assert acc.hist.tolist() == expected.tolist()
    assert (acc.below, acc.above, acc.missing) == ((finite < 0).sum(), (finite > 10).sum(), 3)
    assert acc.to_dict()["mean"] == pytest.approx(finite.mean())
