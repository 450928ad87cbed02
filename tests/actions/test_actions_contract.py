"""The GitHub Actions output contract, read back the way the runner reads it."""

from __future__ import annotations

import io
import json
import re

import pytest

from mlops_actions.github import actions


def parse_github_output(text: str) -> dict[str, str]:
    """The runner's parser: name=value lines and name<<DELIM heredocs."""
    values, lines, i = {}, text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            i += 1
            while lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


@pytest.fixture
def runner(tmp_path, monkeypatch):
    files = {name: tmp_path / name for name in ("output", "summary")}
    for f in files.values():
        f.write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(files["output"]))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files["summary"]))
    return files


def test_outputs_single_and_multiline_and_booleans(runner):
    tricky = "line one\nname=evil\nghadelimiter_x\n"
    actions.set_outputs({"passed": True, "count": 3, "empty": None, "report": tricky})
    actions.set_outputs({"later": "x"})
    values = parse_github_output(runner["output"].read_text())
    assert values == {"passed": "true", "count": "3", "empty": "", "report": tricky, "later": "x"}


def test_heredoc_delimiter_is_random_per_value(runner):
    actions.set_outputs({"a": "1\n2", "b": "3\n4"})
    delimiters = re.findall(r"<<(\S+)", runner["output"].read_text())
    assert len(set(delimiters)) == 2


def test_summary_is_appended(runner):
    actions.append_summary("# one")
    actions.append_summary("two\n")
    assert runner["summary"].read_text() == "# one\ntwo\n"


def test_annotation_escapes_data_and_properties(runner):
    out = io.StringIO()
    actions.annotate(
        "error", "bad 50%\nvalue", file="data/a,b:c.csv", line=7, title="x", stream=out
    )
    assert out.getvalue() == "::error file=data/a%2Cb%3Ac.csv,line=7,title=x::bad 50%25%0Avalue\n"


def test_annotation_outside_actions_is_plain(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    out = io.StringIO()
    actions.annotate("warning", "careful", file="a.csv", line=3, stream=out)
    assert out.getvalue() == "warning: a.csv:3: careful\n"


def test_unknown_annotation_level():
    with pytest.raises(ValueError):
        actions.annotate("fatal", "x")


def test_mask_and_group(runner, capsys):
    actions.mask("s3cr3t")
    with actions.group("Details"):
        print("inside")
    assert capsys.readouterr().out == "::add-mask::s3cr3t\n::group::Details\ninside\n::endgroup::\n"


def test_outside_actions_nothing_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    target = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    actions.set_outputs({"a": 1})
    actions.append_summary("x")
    actions.mask("secret")
    assert not target.exists()
    assert "secret" not in capsys.readouterr().out


def test_cli_in_actions_fills_outputs_summary_and_annotations(mlops, example, tmp_path):
    project = example("diabetes")
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.write_text("")
    summary.write_text("")
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    run = mlops("train", "--workdir", str(tmp_path / "w"), cwd=project, env=env)
    assert run.returncode == 0, run.stderr
    values = parse_github_output(output.read_text())
    assert values["passed"] == "true"
    assert values["model-path"].endswith("train/model.joblib")
    assert set(json.loads(values["metrics"])) == {"rmse", "mae", "r2", "mape"}
    assert "Trained `Ridge`" in summary.read_text()
    assert run.stdout == ""  # the summary goes to the step summary, not the log


def test_cli_error_in_actions_is_also_an_annotation(mlops, tmp_path):
    run = mlops("train", cwd=tmp_path, env={"GITHUB_ACTIONS": "true"})
    assert run.returncode == 2
    assert run.stdout.startswith("::error title=mlops::") and "config file not found" in run.stdout
    assert len(run.stderr.strip().splitlines()) == 1
