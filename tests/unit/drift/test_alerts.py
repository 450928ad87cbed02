"""Drift alerts against the fake GitHub: one dispatch, one issue, updated not duplicated,
no dispatch during the cooldown, closed on recovery; issues by others never steer them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from mlops_actions.config import DriftAlertsConfig, load_config
from mlops_actions.drift.alerts import ALERT_LABEL, issue_title, last_dispatch, send_alerts
from mlops_actions.github.client import GitHubClient
from mlops_actions.stages.drift_check import drift_check
from support import EXAMPLES
from support.drift_frames import penguins_and_biscoe_birds

PENGUINS = EXAMPLES / "penguins"


@pytest.fixture
def project(tmp_path):
    return penguins_and_biscoe_birds(tmp_path)


def check(project, current, *overrides, workdir="w"):
    config = load_config(project / "mlops.yaml", list(overrides))
    return drift_check(config, workdir=project / workdir, current=str(current))


def open_issues(fake):
    return [i for i in fake.issues.values() if i["state"] == "open" and "pull_request" not in i]


def test_drift_dispatches_once_and_keeps_one_issue(project, fake_github):
    drifted = project.parent / "drifted.csv"
    first = check(project, drifted)
    assert first.dataset_drift and first.alerts["dispatched"]
    assert len(fake_github.dispatches) == 1
    sent = fake_github.dispatches[0]
    assert sent["event_type"] == "drift-detected"
    payload = sent["client_payload"]
    assert len(payload) <= 10 and payload["model"] == "penguins-species"
    assert set(payload["drifted_columns"]) == set(first.drifted_columns)
    assert payload["current_fingerprint"] == first.current["sha256"]
    (issue,) = open_issues(fake_github)
    assert (
        issue["title"] == issue_title("penguins-species")
        and last_dispatch(issue["body"]) is not None
    )

    second = check(project, drifted)  # within the 24 h cooldown: comment, no dispatch
    assert not second.alerts["dispatched"] and "cooldown" in second.alerts["dispatch_skipped"]
    assert len(fake_github.dispatches) == 1
    assert [i["number"] for i in open_issues(fake_github)] == [issue["number"]]
    assert second.alerts["issue"] == {"number": issue["number"], "action": "updated"}
    assert len(fake_github.comments_on(issue["number"])) == 1

    third = check(
        project, drifted, "drift.alerts.cooldown_hours=0"
    )  # cooldown over: dispatch again
    assert third.alerts["dispatched"] and len(fake_github.dispatches) == 2
    assert len(open_issues(fake_github)) == 1

    recovered = check(project, PENGUINS / "data/test.csv")
    assert not recovered.dataset_drift and recovered.alerts["issue"]["action"] == "closed"
    assert open_issues(fake_github) == [] and len(fake_github.dispatches) == 2
    summary = json.loads((project / "w/drift-check/result.json").read_text())
    assert summary["alerts"]["issue"]["action"] == "closed"


def test_event_type_is_configurable_and_no_alert_sends_nothing(project, fake_github):
    drifted = project.parent / "drifted.csv"
    config = load_config(project / "mlops.yaml", ["drift.alerts.event_type=retrain-penguins"])
    drift_check(config, workdir=project / "w", current=str(drifted), alert=False)
    assert fake_github.dispatches == [] and fake_github.issues == {}
    drift_check(config, workdir=project / "w", current=str(drifted))
    assert [d["event_type"] for d in fake_github.dispatches] == ["retrain-penguins"]


def test_no_token_means_no_alerts(project, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    result = check(project, project.parent / "drifted.csv")
    assert result.dataset_drift and "not set" in result.alerts["skipped"]


def test_github_failure_warns_and_keeps_the_result(project, fake_github):
    fake_github.forbid("repos/create-dispatch-event", "issues/list-for-repo")
    result = check(project, project.parent / "drifted.csv")
    assert result.dataset_drift and result.alerts["error"]
    assert (project / "w/drift-check/result.json").exists()
    fake_github.take_violations()


# -- what others write does not steer the alerts ------------------------------------------------

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TITLE = issue_title("penguins-species")


def stamp(when: datetime) -> str:
    return f"<!-- mlops-actions:drift:last-dispatch={when:%Y-%m-%dT%H:%M:%SZ} -->"


def open_issue(fake, token: str, *, body: str, labels: list[str]) -> dict:
    """An issue opened through the API with ``token``, as its user would."""
    resp = requests.post(
        f"{fake.url}/repos/{fake.repository}/issues",
        json={"title": TITLE, "body": body, "labels": labels},
        headers={"Authorization": f"token {token}", "User-Agent": "someone"},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def alert(fake, *, drift: bool = True):
    return send_alerts(
        GitHubClient.from_env(backoff=0.01),
        name="penguins-species",
        drift=drift,
        payload={"model": "penguins-species"},
        report_markdown="## Drift",
        settings=DriftAlertsConfig(),
        now=NOW,
    )


def test_outsiders_issue_dated_2099_does_not_silence_retraining(project, fake_github):
    outsider = fake_github.add_user("mallory")
    forged_body = f"{stamp(datetime(2099, 1, 1, tzinfo=UTC))}\nretraining paused by ops"
    forged = open_issue(fake_github, outsider, body=forged_body, labels=[ALERT_LABEL])
    assert forged["labels"] == []  # GitHub drops labels set without push access

    result = check(project, project.parent / "drifted.csv")

    assert result.alerts["dispatched"] and len(fake_github.dispatches) == 1
    assert result.alerts["issue"]["action"] == "opened"
    ours = fake_github.issues[result.alerts["issue"]["number"]]
    assert [label["name"] for label in ours["labels"]] == [ALERT_LABEL]
    theirs = fake_github.issues[forged["number"]]
    assert (theirs["state"], theirs["body"], theirs["comments"]) == ("open", forged_body, 0)
    assert (
        result.alerts["payload"]["dispatch_id"]
        == (fake_github.dispatches[0]["client_payload"]["dispatch_id"])
    )


@pytest.mark.parametrize(
    ("author", "labels", "when"),
    [
        # a maintainer's labelled issue with a recent marker: only the bot's own issues count
        ("maintainer", [ALERT_LABEL], NOW - timedelta(hours=1)),
        # the bot's issue without the label (say, by another workflow): labels narrow it
        ("bot", [], NOW - timedelta(hours=1)),
    ],
)
def test_only_the_bots_labelled_issue_holds_the_cooldown(fake_github, author, labels, when):
    token = (
        fake_github.token if author == "bot" else fake_github.add_user(author, collaborator=True)
    )
    other = open_issue(fake_github, token, body=f"{stamp(when)}\nreport", labels=labels)

    outcome = alert(fake_github)

    assert outcome.dispatched and outcome.issue["action"] == "opened"
    assert outcome.issue["number"] != other["number"]
    assert fake_github.issues[other["number"]]["comments"] == 0


def test_the_bots_own_marker_dated_in_the_future_is_ignored(fake_github):
    ours = open_issue(
        fake_github,
        fake_github.token,
        body=f"{stamp(NOW + timedelta(days=3))}\nreport",
        labels=[ALERT_LABEL],
    )

    outcome = alert(fake_github)

    assert outcome.dispatched and outcome.issue == {"number": ours["number"], "action": "updated"}
    assert last_dispatch(fake_github.issues[ours["number"]]["body"]) == NOW


def test_a_marker_further_down_the_body_is_not_the_bots(fake_github):
    # a report that quotes data can carry marker text; only the body's first line counts
    body = f"## Drift in column\n{stamp(NOW - timedelta(hours=1))}\n"
    ours = open_issue(fake_github, fake_github.token, body=body, labels=[ALERT_LABEL])

    outcome = alert(fake_github)

    assert outcome.dispatched and outcome.issue["number"] == ours["number"]
    assert last_dispatch(fake_github.issues[ours["number"]]["body"]) == NOW


def test_recovery_does_not_close_an_outsiders_issue(fake_github):
    outsider = fake_github.add_user("mallory")
    theirs = open_issue(fake_github, outsider, body="drift!", labels=[ALERT_LABEL])

    outcome = alert(fake_github, drift=False)

    assert outcome.issue is None
    assert fake_github.issues[theirs["number"]]["state"] == "open"
