"""``mlops comment`` end to end: a real process against the fake GitHub."""

from __future__ import annotations

import json

import pytest

from mlops_actions.errors import GateFailed
from mlops_actions.github.comment import marker


def github_env(fake_github, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_TOKEN": fake_github.token,
        "GITHUB_REPOSITORY": fake_github.repository,
        **extra,
    }


def test_comment_command_posts_then_updates_the_models_comment(
    fake_github, example, mlops, tmp_path
):
    project = example("penguins")
    pr = fake_github.add_pull_request()
    report = tmp_path / "report.md"
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr}}))

    for text in ("first report", "second report"):
        report.write_text(text)
        run = mlops(
            "comment",
            "--body-file",
            str(report),
            cwd=project,
            env=github_env(fake_github, GITHUB_EVENT_PATH=str(event)),
        )
        assert run.returncode == 0, run.stderr

    (comment,) = fake_github.comments_on(pr)
    assert comment["body"].startswith(marker("penguins-species") + "\n")
    assert "second report" in comment["body"] and "first report" not in comment["body"]
    assert "PR comment updated: https://github.com/" in run.stdout


def test_fork_pr_warns_and_exits_0(fake_github, example, mlops, tmp_path):
    pr = fake_github.add_pull_request(fork=True)
    fake_github.forbid("issues/create-comment")
    (tmp_path / "r.md").write_text("report")

    run = mlops(
        "comment",
        "--body-file",
        str(tmp_path / "r.md"),
        "--pr",
        str(pr),
        cwd=example("penguins"),
        env=github_env(fake_github, GITHUB_ACTIONS="true"),
    )

    assert run.returncode == 0, run.stderr
    assert "::warning::PR comment skipped" in run.stdout
    assert fake_github.comments_on(pr) == []


def test_token_comes_from_the_configured_variable(fake_github, example, mlops, tmp_path):
    pr = fake_github.add_pull_request()
    (tmp_path / "r.md").write_text("report")
    env = github_env(fake_github, MLOPS_BOT_TOKEN=fake_github.token)
    del env["GITHUB_TOKEN"]

    run = mlops(
        "comment",
        "--body-file",
        str(tmp_path / "r.md"),
        "--pr",
        str(pr),
        "--set",
        "github.token_env=MLOPS_BOT_TOKEN",
        cwd=example("penguins"),
        env=env,
    )

    assert run.returncode == 0, run.stderr
    assert len(fake_github.comments_on(pr)) == 1


def test_failures_are_one_line_without_the_token(fake_github, example, mlops, tmp_path):
    (tmp_path / "r.md").write_text("report")
    project = example("penguins")

    no_token = mlops(
        "comment",
        "--body-file",
        str(tmp_path / "r.md"),
        "--pr",
        "1",
        cwd=project,
        env={k: v for k, v in github_env(fake_github).items() if k != "GITHUB_TOKEN"},
    )
    missing_pr = mlops(
        "comment",
        "--body-file",
        str(tmp_path / "r.md"),
        "--pr",
        "999",
        cwd=project,
        env=github_env(fake_github),
    )

    assert (no_token.returncode, no_token.stderr) == (
        2,
        "mlops: error: GITHUB_TOKEN is not set: add `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step\n",
    )
    assert missing_pr.returncode == 2
    assert missing_pr.stderr.count("\n") == 1 and "(404)" in missing_pr.stderr
    assert fake_github.token not in missing_pr.stdout + missing_pr.stderr


class _GateResult:
    """A failing stage result as ``cli._report`` sees it, to test the --comment flag alone."""

    passed = False

    def summary_markdown(self) -> str:
        return "## Gate: blocked\naccuracy fell by 0.04"

    def annotations(self) -> list:
        return []

    def outputs(self) -> dict:
        return {}

    def failure(self, message: str) -> Exception:
        return GateFailed(message)

    def failure_message(self) -> str:
        return "the candidate did not pass the gate"


def test_comment_flag_posts_the_summary_before_the_verdict_fails(
    fake_github, example, tmp_path, monkeypatch
):
    from mlops_actions import cli

    pr = fake_github.add_pull_request()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    args = cli.build_parser().parse_args(
        ["evaluate-gate", "--comment", "--config", str(example("penguins") / "mlops.yaml")]
    )

    with pytest.raises(GateFailed):
        cli._report(_GateResult(), args)

    (comment,) = fake_github.comments_on(pr)
    assert "<!-- mlops-actions:section:evaluate-gate -->\n" in comment["body"]
    assert "\n## Gate: blocked" in comment["body"]
    assert "## ❌ gate failed: " in comment["body"]  # the verdict reached the headline
