"""The sticky PR comment against the fake GitHub."""

from __future__ import annotations

import json

import pytest

from mlops_actions.errors import GitHubError
from mlops_actions.github.comment import (
    fit_body,
    marker,
    post_sticky_comment,
    pull_request_number,
)
from mlops_actions.reports import GITHUB_COMMENT_LIMIT


@pytest.fixture
def pr(fake_github) -> int:
    return fake_github.add_pull_request()


def test_three_runs_leave_one_comment_with_the_latest_body(fake_github, pr):
    actions = [
        post_sticky_comment(f"## Gate\naccuracy 0.9{run}", name="iris", pr=pr).action
        for run in range(3)
    ]

    assert actions == ["created", "updated", "updated"]
    (comment,) = fake_github.comments_on(pr)
    assert comment["body"] == f"{marker('iris')}\n## Gate\naccuracy 0.92"


def test_each_model_keeps_its_own_comment_beside_other_peoples(fake_github, pr):
    fake_github.add_comment(pr, "LGTM")
    post_sticky_comment("iris report", name="iris", pr=pr)
    post_sticky_comment("wine report", name="wine", pr=pr)
    post_sticky_comment("iris report v2", name="iris", pr=pr)

    bodies = [c["body"] for c in fake_github.comments_on(pr)]
    assert bodies == ["LGTM", f"{marker('iris')}\niris report v2", f"{marker('wine')}\nwine report"]


def test_marker_on_the_second_page_is_found(fake_github, pr):
    for i in range(105):
        fake_github.add_comment(pr, f"review {i}")
    ours = fake_github.add_comment(pr, f"{marker('iris')}\nold report")
    for i in range(20):
        fake_github.add_comment(pr, f"later {i}")

    result = post_sticky_comment("new report", name="iris", pr=pr)

    assert (result.action, result.comment_id) == ("updated", ours["id"])
    assert len(fake_github.comments_on(pr)) == 126
    assert fake_github.comments[ours["id"]]["body"] == f"{marker('iris')}\nnew report"


def test_pr_number_comes_from_the_event_payload(fake_github, pr, tmp_path, monkeypatch):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": pr}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))

    result = post_sticky_comment("report", name="iris")

    assert (result.action, result.pr) == ("created", pr)
    assert len(fake_github.comments_on(pr)) == 1


def test_no_pull_request_means_no_call_and_a_notice(fake_github, tmp_path, monkeypatch, capsys):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "commits": []}))  # a push event
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))

    result = post_sticky_comment("report", name="iris")

    assert result.action == "skipped"
    assert "no pull request" in capsys.readouterr().err
    assert fake_github.exchanges == []


def test_pull_request_number_reads_only_pull_request_events(tmp_path):
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"pull_request": {"number": 17}}))
    assert pull_request_number(str(path)) == 17
    path.write_text(json.dumps({"issue": {"number": 17}}))
    assert pull_request_number(str(path)) is None
    path.write_text("not json")
    assert pull_request_number(str(path)) is None
    assert pull_request_number(str(tmp_path / "missing.json")) is None


def test_oversized_report_is_cut_keeping_marker_and_run_link(fake_github, pr, monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    rows = "\n".join(f"| feature_{i:05d} | 0.{i:05d} |" for i in range(4000))  # ~100k characters
    body = f"## Drift\n```\n{rows}\n```\n"

    first = post_sticky_comment(body, name="iris", pr=pr)
    second = post_sticky_comment(body, name="iris", pr=pr)  # the cut comment is still found

    (comment,) = fake_github.comments_on(pr)
    text = comment["body"]
    assert first.truncated and second.action == "updated"
    assert len(text) <= GITHUB_COMMENT_LIMIT  # the fake refuses more, as GitHub does
    assert text.startswith(marker("iris") + "\n## Drift\n")
    assert f"(https://github.example/{fake_github.repository}/actions/runs/4242)" in text
    kept = text.split("\n---\n")[0]
    assert kept.count("```") == 2  # the open code block was closed before the note
    assert all(
        line.startswith(("<!--", "##", "```", "| feature_"))
        and line.endswith(("->", "Drift", "```", "|"))
        for line in kept.splitlines()
        if line
    )  # cut between rows, not inside one


def test_body_that_fits_is_left_alone():
    body = "x" * (GITHUB_COMMENT_LIMIT - len(marker("m")) - 1)
    assert fit_body(body, marker("m")) == (f"{marker('m')}\n{body}", False)
    assert fit_body(body + "y", marker("m"))[1] is True


def test_fork_pr_without_write_access_warns_and_returns(fake_github, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    pr = fake_github.add_pull_request(fork=True)
    fake_github.forbid("issues/create-comment", "issues/update-comment")

    result = post_sticky_comment("report", name="iris", pr=pr)

    assert result.action == "skipped"
    assert "pull-requests: write" in result.reason
    warning = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("::warning::")
    ]
    assert len(warning) == 1
    assert "Resource not accessible by integration" in warning[0]
    assert "step summary" in warning[0]
    assert fake_github.comments_on(pr) == []


def test_other_failures_still_raise(fake_github):
    with pytest.raises(GitHubError, match="404"):
        post_sticky_comment("report", name="iris", pr=999)


def test_sections_of_one_model_share_a_comment_without_erasing_each_other(fake_github, pr):
    post_sticky_comment("data ok", name="iris", section="validate-data", pr=pr)
    post_sticky_comment("gate failed", name="iris", section="evaluate-gate", pr=pr)
    post_sticky_comment("data ok again", name="iris", section="validate-data", pr=pr)

    (comment,) = fake_github.comments_on(pr)
    body = comment["body"]
    assert body.startswith(marker("iris") + "\n")
    assert "data ok again" in body and "gate failed" in body and "data ok\n" not in body
    assert body.index("data ok again") < body.index(
        "gate failed"
    )  # first-posted section stays first


def test_section_update_drops_an_old_cut_note(fake_github, pr, monkeypatch):
    post_sticky_comment("x\n" * 40_000, name="iris", section="drift", pr=pr)
    assert "Cut to fit" in fake_github.comments_on(pr)[0]["body"]

    post_sticky_comment("small now", name="iris", section="drift", pr=pr)

    (comment,) = fake_github.comments_on(pr)
    assert "Cut to fit" not in comment["body"]
    assert comment["body"].count("small now") == 1
    assert comment["body"].count("<!-- mlops-actions:section:drift -->") == 1
