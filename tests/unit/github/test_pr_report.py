"""The fork report without a runner: ``post_pr_report`` against the fake GitHub, with a pull
request run, its artifact and tokens holding exactly ml-pr-report.yml's permissions.

The artifact is written by code the pull request controls, so each test plays an outsider's
artifact: another pull request's number, HTML and hidden markers, @mentions, a huge body.
"""

from __future__ import annotations

import io
import json
import random
import zipfile

import pytest

from mlops_actions.cli import main
from mlops_actions.errors import ReportRefused, UsageError
from mlops_actions.github.client import GitHubClient
from mlops_actions.github.comment import marker
from mlops_actions.github.pr_report import (
    MAX_ARTIFACT_BYTES,
    post_pr_report,
    untrusted_markdown,
)

HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
OTHER = "c" * 40
RUN = 7001
NAME = "penguins-species"
FOLLOW_UP = {"actions": "read", "pull-requests": "write", "statuses": "write", "metadata": "read"}
GATE = "### Gate\n\n| metric | value |\n|---|---|\n| accuracy | 0.97 |\n"


def zipped(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def verdict(pr: int, **changes) -> str:
    data = {
        "pr": pr,
        "head_sha": HEAD,
        "checks": {"validate-data": "passed", "evaluate-gate": "passed"},
        "gate_status": "3 of 3 rules met; accuracy 0.97",
    }
    return json.dumps({**data, **changes})


@pytest.fixture
def fork_pr(fake_github):
    """A fork's pull request at HEAD and its finished ml-pull-request run (no artifact yet)."""
    number = fake_github.add_pull_request(fork=True, head_sha=HEAD)
    fake_github.add_workflow_run(
        RUN,
        name="ml-pull-request",
        event="pull_request",
        status="completed",
        conclusion="success",
        head_sha=HEAD,
        head_branch="fewer-rows",
        path=".github/workflows/ml-pull-request.yml",
    )
    fake_github.workflow_runs[RUN]["head_repository"]["full_name"] = "fork-owner/models"
    return number


def post(fake_github, files: dict[str, str | bytes]):
    fake_github.add_artifact(RUN, 11, "mlops-pr-report", zipped(files))
    token = fake_github.issue_token(FOLLOW_UP)
    client = GitHubClient(token, fake_github.repository, api_url=fake_github.url)
    return post_pr_report(RUN, name=NAME, client=client)


def gate_statuses(fake_github):
    return [(s["sha"], s["state"]) for s in fake_github.statuses]


def test_posts_one_comment_and_the_status_on_the_head(fake_github, fork_pr):
    files = {
        "verdict.json": verdict(fork_pr),
        "validate-data.md": "### Data\n\nrows: 300\n",
        "evaluate-gate.md": GATE,
    }
    result = post(fake_github, files)
    assert (result.action, result.pr, result.status) == ("posted", fork_pr, "success")
    (comment,) = fake_github.comments_on(fork_pr)
    assert comment["body"].startswith(marker(NAME))
    assert "## ✅ data validation and gate passed" in comment["body"]
    assert "rows: 300" in comment["body"] and "| accuracy | 0.97 |" in comment["body"]
    assert gate_statuses(fake_github) == [(HEAD, "success")]
    assert fake_github.statuses[0]["context"] == f"mlops/gate: {NAME}"
    assert fake_github.statuses[0]["target_url"].endswith(f"/actions/runs/{RUN}")

    # the follow-up of a rerun edits the same comment
    post_pr_report(
        RUN,
        name=NAME,
        client=GitHubClient(
            fake_github.issue_token(FOLLOW_UP), fake_github.repository, api_url=fake_github.url
        ),
    )
    assert [c["id"] for c in fake_github.comments_on(fork_pr)] == [comment["id"]]


def test_a_failed_gate_is_a_failure_status_and_a_red_headline(fake_github, fork_pr):
    checks = {"validate-data": "passed", "evaluate-gate": "failed"}
    post(
        fake_github,
        {"verdict.json": verdict(fork_pr, checks=checks), "evaluate-gate.md": GATE},
    )
    (comment,) = fake_github.comments_on(fork_pr)
    assert "## ❌ gate failed" in comment["body"]
    assert gate_statuses(fake_github) == [(HEAD, "failure")]


def test_another_pull_requests_number_is_refused(fake_github, fork_pr):
    victim = fake_github.add_pull_request(head_sha=OTHER, title="someone else's")
    with pytest.raises(ReportRefused, match=f"#{victim}, whose head is not commit"):
        post(fake_github, {"verdict.json": verdict(victim), "evaluate-gate.md": GATE})
    assert fake_github.comments_on(victim) == [] and fake_github.statuses == []


def test_a_claim_about_another_commit_is_refused(fake_github, fork_pr):
    with pytest.raises(ReportRefused, match="about commit cccccccccccc"):
        post(fake_github, {"verdict.json": verdict(fork_pr, head_sha=OTHER)})
    assert fake_github.comments_on(fork_pr) == [] and fake_github.statuses == []


def test_a_pull_request_from_another_repository_is_refused(fake_github, fork_pr):
    fake_github.pulls[fork_pr]["head"]["repo"]["full_name"] = "someone/else"
    with pytest.raises(ReportRefused, match="comes from someone/else"):
        post(fake_github, {"verdict.json": verdict(fork_pr)})


def test_html_markers_and_mentions_are_neutralised(fake_github, fork_pr):
    evil = (
        "<!-- mlops-actions:verdict:evaluate-gate:passed -->\n"
        '<img src="https://evil.example/x.png" onerror="alert(1)">\n'
        "<details open><summary>ok</summary>hi</details>\n"
        "cc @maintainer @org/team, fixes #1\n"
    )
    checks = {"validate-data": None, "evaluate-gate": "failed"}
    post(fake_github, {"verdict.json": verdict(fork_pr, checks=checks), "evaluate-gate.md": evil})
    (comment,) = fake_github.comments_on(fork_pr)
    body = comment["body"]
    assert "<img" not in body and "&lt;img" in body
    assert "&lt;!-- mlops-actions:verdict:evaluate-gate:passed" in body
    assert "## ❌ gate failed" in body  # the forged "passed" marker did not count
    assert "<details open>" not in body and "<summary>ok</summary>" in body
    assert "@maintainer" not in body and "@\u200bmaintainer" in body
    assert "#1" not in body.replace("#\u200b1", "")


def test_a_huge_body_is_cut_and_a_bigger_one_refused(fake_github, fork_pr):
    long = "| row | value |\n|---|---|\n" + "| x | 1 |\n" * 20_000  # 200,000 characters
    post(fake_github, {"verdict.json": verdict(fork_pr), "evaluate-gate.md": long})
    (comment,) = fake_github.comments_on(fork_pr)
    assert len(comment["body"]) <= 65_536 and "Cut to fit a GitHub comment" in comment["body"]
    assert (
        f"[the run's summary](https://github.com/{fake_github.repository}/actions/runs/{RUN})"
        in comment["body"]
    )

    fake_github.artifacts.clear()
    with pytest.raises(UsageError, match="over 262,144 characters"):
        post(fake_github, {"verdict.json": verdict(fork_pr), "evaluate-gate.md": long * 2})


def test_an_artifact_over_the_cap_is_not_downloaded(fake_github, fork_pr):
    noise = random.Random(0).randbytes(MAX_ARTIFACT_BYTES + 1)  # deflate cannot shrink it
    with pytest.raises(UsageError, match="over the 1,048,576 accepted"):
        post(fake_github, {"verdict.json": verdict(fork_pr), "junk.bin": noise})
    assert not any("/zip" in e.path for e in fake_github.exchanges)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "verdict.json is missing"),
        ("{", "is not JSON"),
        ('{"pr": 1}', "exactly pr, head_sha, checks, gate_status"),
        (verdict(True), "pr must be a pull request number"),
        (verdict(1, checks={"evaluate-gate": "passed"}), "checks must map"),
        (verdict(1, checks={"validate-data": "ok", "evaluate-gate": None}), "checks must map"),
    ],
)
def test_a_malformed_verdict_is_refused(fake_github, fork_pr, text, message):
    files = {} if text is None else {"verdict.json": text}
    with pytest.raises(UsageError, match=message):
        post(fake_github, {**files, "evaluate-gate.md": GATE})


def test_a_run_that_was_no_pull_request_or_left_nothing_is_skipped(fake_github, fork_pr):
    client = GitHubClient(
        fake_github.issue_token(FOLLOW_UP), fake_github.repository, api_url=fake_github.url
    )
    assert post_pr_report(RUN, name=NAME, client=client).action == "skipped"  # no artifact
    fake_github.add_workflow_run(RUN, event="push")
    assert post_pr_report(RUN, name=NAME, client=client).reason.endswith("not a pull request")


def test_untrusted_markdown_keeps_the_reports_own_markdown():
    report = "## Gate\n\n<details><summary>Rules</summary>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n</details>\n"
    assert untrusted_markdown(report) == report
    assert untrusted_markdown("a\x1b[31m<script>") == "a[31m&lt;script>"


def test_pack_writes_what_post_reads(tmp_path, monkeypatch):
    workdir = tmp_path / ".mlops"
    (workdir / "evaluate-gate").mkdir(parents=True)
    (workdir / "evaluate-gate" / "summary.md").write_text(GATE)
    (workdir / "evaluate-gate" / "result.json").write_text(
        json.dumps({"passed": False, "status_line": "1 of 2 rules met"})
    )
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 4, "head": {"sha": HEAD}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    out = tmp_path / "out"
    assert main(["pr-report", "pack", "--workdir", str(workdir), "--out", str(out)]) == 0
    assert json.loads((out / "verdict.json").read_text()) == {
        "pr": 4,
        "head_sha": HEAD,
        "checks": {"validate-data": None, "evaluate-gate": "failed"},
        "gate_status": "1 of 2 rules met",
    }
    assert (out / "evaluate-gate.md").read_text() == GATE
    assert not (out / "validate-data.md").exists()
