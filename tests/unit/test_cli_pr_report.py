"""``mlops pr-report`` in a real process: the flags reach the library, and its exit codes are
the project's (0 posted or nothing to post, 1 refused, 2 usage or malformed input, one line)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from support.gate import write_config

HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
RUN = 7001
REPORTER = {"actions": "read", "pull-requests": "write", "statuses": "write"}


@pytest.fixture
def posting(fake_github, tmp_path):
    """``posting(verdict)``: a fork PR's finished run whose artifact holds ``verdict``, and
    ``mlops pr-report post`` run on it as ml-pr-report.yml runs it."""

    def post(verdict: dict | str, mlops):
        number = fake_github.add_pull_request(fork=True, head_sha=HEAD)
        fake_github.add_workflow_run(RUN, event="pull_request", head_sha=HEAD, status="completed")
        fake_github.workflow_runs[RUN]["head_repository"]["full_name"] = "fork-owner/models"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(
                "verdict.json", verdict if isinstance(verdict, str) else json.dumps(verdict)
            )
            archive.writestr("evaluate-gate.md", "### Gate\n")
        fake_github.add_artifact(RUN, 11, "mlops-pr-report", buffer.getvalue())
        write_config(tmp_path)  # the default branch's: it names the model
        env = {
            "GITHUB_API_URL": fake_github.url,
            "GITHUB_TOKEN": fake_github.issue_token(REPORTER),
            "GITHUB_REPOSITORY": fake_github.repository,
        }
        return number, mlops("pr-report", "post", "--run-id", str(RUN), cwd=tmp_path, env=env)

    return post


def verdict(pr: int) -> dict:
    checks = {"validate-data": None, "evaluate-gate": "passed"}
    return {"pr": pr, "head_sha": HEAD, "checks": checks, "gate_status": "1 of 1 rules met"}


def one_line(run, code: int, fragment: str) -> None:
    assert run.returncode == code, (run.stdout, run.stderr)
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert fragment in run.stderr


def test_post_posts_and_says_where(posting, fake_github, mlops):
    number, run = posting(verdict(1), mlops)
    assert run.returncode == 0, run.stderr
    assert f"PR #{number}: comment https://github.com/" in run.stdout
    assert "gate status success" in run.stdout
    assert [s["context"] for s in fake_github.statuses] == ["mlops/gate: toy"]


def test_another_number_is_exit_1(posting, fake_github, mlops):
    other = fake_github.add_pull_request(head_sha="e" * 40)
    _, run = posting(verdict(other), mlops)
    one_line(run, 1, f"names pull request #{other}")
    assert fake_github.statuses == []


def test_a_malformed_verdict_is_exit_2(posting, mlops):
    _, run = posting("[1, 2]", mlops)
    one_line(run, 2, "verdict.json must have exactly pr, head_sha, checks, gate_status")


def test_usage_errors(mlops, tmp_path):
    one_line(mlops("pr-report", "post", cwd=tmp_path), 2, "needs --run-id")
    one_line(mlops("pr-report", "pack", cwd=tmp_path), 2, "needs --out")
    one_line(
        mlops("pr-report", "pack", "--out", "x", cwd=tmp_path), 2, "holds no pull_request event"
    )
