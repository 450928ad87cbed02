"""``mlops evaluate-gate --status``: the gate verdict as a commit status, against the fake GitHub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.reports import fmt
from mlops_actions.stages.train import train
from support.gate import make_rows, write_config

HEAD_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
MERGE_SHA = "b" * 40  # what GITHUB_SHA is on a pull_request event: the test merge commit


@pytest.fixture
def project(tmp_path: Path, monkeypatch, fake_github) -> Path:
    """A trained toy project, run as in Actions: after fake_github, which clears the runner variables."""
    make_rows(400, 1).to_csv(tmp_path / "train.csv", index=False)
    make_rows(200, 2).to_csv(tmp_path / "test.csv", index=False)
    train(write_config(tmp_path), workdir=tmp_path / ".mlops")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_SHA", MERGE_SHA)
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    return tmp_path


def trained_accuracy(project: Path) -> float:
    """From train's metrics.json, measured before the gate ran."""
    return json.loads((project / ".mlops/train/metrics.json").read_text())["accuracy"]


def test_passing_gate_on_a_pull_request_marks_the_head_commit_success(
    project, fake_github, tmp_path, monkeypatch
):
    accuracy = trained_accuracy(project)
    (project / "baseline.json").write_text(json.dumps({"accuracy": accuracy - 0.01}))
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 1, "head": {"sha": HEAD_SHA}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))

    assert main(["evaluate-gate", "--status", "--baseline", "baseline.json"]) == 0

    (status,) = fake_github.statuses
    assert (status["sha"], status["state"], status["context"]) == (
        HEAD_SHA,
        "success",
        "mlops/gate: toy",
    )
    assert status["description"] == f"2 of 2 rules met; accuracy {fmt(accuracy)} (+0.01)"
    assert status["target_url"] == f"https://github.com/{fake_github.repository}/actions/runs/42"


def test_failing_gate_marks_github_sha_failure_before_it_exits_1(project, fake_github):
    write_config(project, {"metrics": {"accuracy": {"min": 0.999}}})

    assert main(["evaluate-gate", "--status"]) == 1

    (status,) = fake_github.statuses
    assert (status["sha"], status["state"]) == (MERGE_SHA, "failure")
    assert status["description"] == f"0 of 1 rules met; accuracy {fmt(trained_accuracy(project))}"


def test_no_fail_still_reports_the_failure_in_the_status(project, fake_github):
    write_config(project, {"metrics": {"accuracy": {"min": 0.999}}})

    assert main(["evaluate-gate", "--status", "--no-fail"]) == 0

    assert [s["state"] for s in fake_github.statuses] == ["failure"]


def test_token_without_statuses_write_warns_and_keeps_the_gates_exit_code(
    project, fake_github, monkeypatch, capsys
):
    fake_github.forbid("repos/create-commit-status")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    write_config(project, {"metrics": {"accuracy": {"min": 0.999}}})

    assert main(["evaluate-gate", "--status"]) == 1

    out = capsys.readouterr().out
    assert "::warning::commit status skipped" in out and "statuses: write" in out
    assert fake_github.statuses == []
