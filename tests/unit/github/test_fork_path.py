"""The fork / read-only token path end to end: ``mlops evaluate-gate --comment --status`` in a
real process against the fake GitHub, as a pull request from a fork runs it.

A token that may not write warns and keeps the gate's exit code, with the report in the step
summary; a 403 that is a rate limit is not taken for a missing permission.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.errors import GitHubError
from mlops_actions.github.client import GitHubClient
from mlops_actions.github.comment import post_sticky_comment
from mlops_actions.github.status import post_gate_status
from mlops_actions.stages.train import train
from support.gate import make_rows, write_config

HEAD_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
WRITES = ("issues/create-comment", "issues/update-comment", "repos/create-commit-status")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A trained toy project with a baseline it beats."""
    root = tmp_path / "project"
    root.mkdir()
    make_rows(400, 1).to_csv(root / "train.csv", index=False)
    make_rows(200, 2).to_csv(root / "test.csv", index=False)
    train(write_config(root), workdir=root / ".mlops")
    metrics = json.loads((root / ".mlops/train/metrics.json").read_text())
    (root / "baseline.json").write_text(json.dumps({"accuracy": metrics["accuracy"] - 0.01}))
    return root


def run_gate(mlops, fake_github, project: Path, tmp_path: Path):
    """``mlops evaluate-gate --comment --status`` on a fork's pull request, as a runner runs it."""
    pr = fake_github.add_pull_request(fork=True, head_sha=HEAD_SHA)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr, "head": {"sha": HEAD_SHA}}}))
    summary = tmp_path / "summary.md"
    run = mlops(
        "evaluate-gate",
        "--comment",
        "--status",
        "--baseline",
        "baseline.json",
        cwd=project,
        env={
            "GITHUB_ACTIONS": "true",
            "GITHUB_API_URL": fake_github.url,
            "GITHUB_TOKEN": fake_github.token,
            "GITHUB_REPOSITORY": fake_github.repository,
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_SHA": "b" * 40,
            "GITHUB_RUN_ID": "42",
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(tmp_path / "output"),
        },
    )
    return run, pr, summary.read_text() if summary.exists() else ""


@pytest.mark.parametrize(("gate", "code"), [(None, 0), ({"metrics": {"accuracy": {"min": 1}}}, 1)])
def test_read_only_token_warns_and_keeps_the_gates_exit_code(
    fake_github, mlops, project, tmp_path, gate, code
):
    if gate:
        write_config(project, gate)
    fake_github.forbid(*WRITES)  # what a fork's pull request gets: a read-only token

    run, pr, summary = run_gate(mlops, fake_github, project, tmp_path)

    assert run.returncode == code, run.stderr
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning::")]
    assert len(warnings) == 2
    assert "PR comment skipped, the report is in the step summary" in warnings[0]
    assert "commit status skipped" in warnings[1]
    assert "403" not in run.stderr  # the refusal is no error: only a failed gate is
    # the report reached the summary (file names md-escaped there)
    assert "accuracy" in summary and "baseline\\.json" in summary
    assert fake_github.comments_on(pr) == [] and fake_github.statuses == []


@pytest.mark.parametrize("limit", ["primary", "secondary"])
def test_rate_limit_403_is_an_error_not_a_missing_permission(
    fake_github, mlops, project, tmp_path, limit
):
    if limit == "primary":
        fake_github.exhaust_rate_limit(3600)  # 403 with x-ratelimit-remaining: 0
    else:
        fake_github.secondary_limit(10, retry_after=3600)  # 403 with a message and retry-after

    run, pr, summary = run_gate(mlops, fake_github, project, tmp_path)

    assert run.returncode == 2
    assert run.stderr.count("\n") == 1
    assert f"{limit} rate limit is exhausted" in run.stderr and "rerun later" in run.stderr
    assert "skipped" not in run.stdout and "lacks" not in run.stderr
    assert "accuracy" in summary  # the report is there all the same
    assert fake_github.comments_on(pr) == [] and fake_github.statuses == []


@pytest.mark.parametrize("status", [403, 429])
@pytest.mark.parametrize("post", ["comment", "status"])
def test_secondary_limit_by_message_alone_is_not_a_missing_permission(
    fake_github, monkeypatch, status, post
):
    """No retry-after, no x-ratelimit-remaining: only the message says it (GitHub: wait a minute)."""
    monkeypatch.setenv("GITHUB_SHA", HEAD_SHA)
    client = GitHubClient.from_env(backoff=0.01, max_wait=5.0)
    pr = fake_github.add_pull_request()
    fake_github.secondary_limit(10, status=status)

    with pytest.raises(GitHubError, match="secondary rate limit") as caught:
        if post == "comment":
            post_sticky_comment("report", name="iris", pr=pr, client=client)
        else:
            post_gate_status(True, "ok", name="iris", client=client)

    assert caught.value.rate_limited and not caught.value.forbidden
