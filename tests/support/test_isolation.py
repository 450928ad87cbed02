"""A test never reaches the real GitHub, even when the developer's shell exports a token.

The outer test plays the developer: it exports GITHUB_TOKEN, GITHUB_REPOSITORY and friends
pointing at a stand-in for the real GitHub, runs the suite's probe in a fresh pytest, and
checks the stand-in heard nothing. Run by the suite itself, the probe checks the shell the
suite was started from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_actions.errors import GitHubError
from mlops_actions.github.client import GitHubClient
from mlops_actions.github.comment import post_sticky_comment
from support import REPO, SRC, UNREACHABLE_API
from support.fakegithub.server import FakeGitHub


def test_probe_no_github_variable_reaches_a_test(example, mlops, monkeypatch, tmp_path):
    leaked = sorted(k for k in os.environ if k.startswith(("GITHUB_", "ACTIONS_", "RUNNER_")))
    assert leaked == ["GITHUB_API_URL"] and os.environ["GITHUB_API_URL"] == UNREACHABLE_API
    with pytest.raises(GitHubError, match="GITHUB_TOKEN is not set"):
        post_sticky_comment("report", name="iris", pr=1)

    # a test that sets a token of its own but not the fake's address reaches nothing either
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_test")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/models")
    with pytest.raises(GitHubError, match="no answer from http://127.0.0.1:9/"):
        GitHubClient.from_env(retries=0).get_issue(1)
    (tmp_path / "r.md").write_text("report")
    run = mlops(
        "comment",
        "--body-file",
        str(tmp_path / "r.md"),
        "--pr",
        "1",
        cwd=example("penguins"),
        env={"GITHUB_TOKEN": "ghs_test", "GITHUB_REPOSITORY": "octo-org/models"},
    )
    assert run.returncode == 2 and "no answer from http://127.0.0.1:9/" in run.stderr


def test_shell_exports_never_reach_a_test(tmp_path: Path):
    real = FakeGitHub(token="ghs_developers_own_token").start()  # stands in for github.com
    summary = tmp_path / "summary.md"
    shell = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "GITHUB_TOKEN": real.token,
        "GH_TOKEN": real.token,
        "GITHUB_REPOSITORY": real.repository,
        "GITHUB_API_URL": real.url,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "ACTIONS_RUNTIME_TOKEN": "sentinel",
    }
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"{Path(__file__).relative_to(REPO)}::test_probe_no_github_variable_reaches_a_test",
            ],
            cwd=REPO,
            env=shell,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        real.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert real.exchanges == [] and not summary.exists()
