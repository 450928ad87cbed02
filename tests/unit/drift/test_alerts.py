"""Drift alerts against the fake GitHub: one dispatch, one issue, updated not duplicated,
no dispatch during the cooldown, closed on recovery."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from mlops_actions.config import load_config
from mlops_actions.drift.alerts import issue_title, last_dispatch
from mlops_actions.stages.drift_check import drift_check
from support import EXAMPLES

PENGUINS = EXAMPLES / "penguins"


@pytest.fixture
def project(tmp_path):
    shutil.copytree(PENGUINS, tmp_path / "penguins")
    train = pd.read_csv(tmp_path / "penguins/data/train.csv")
    train.query("island == 'Biscoe'").to_csv(tmp_path / "drifted.csv", index=False)
    return tmp_path / "penguins"


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
