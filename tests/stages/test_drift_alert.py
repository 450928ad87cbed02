"""drift-alert: the alerts of a check that ran with --no-alert, sent from its result alone
(issue 14 part 8: the job parsing outside data holds no write token), with the same outcome as
alerting in the check itself; and a result it cannot trust is exit 2."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.drift.alerts import issue_title
from mlops_actions.stages.drift_alert import drift_alert
from mlops_actions.stages.drift_check import drift_check
from support.drift_frames import penguins_and_biscoe_birds


@pytest.fixture
def project(tmp_path):
    return penguins_and_biscoe_birds(tmp_path)


def checked(project, current, workdir="check"):
    """A read-only check, as the template's first job runs it; its output folder."""
    config = load_config(project / "mlops.yaml")
    drift_check(config, workdir=project / workdir, current=str(current), alert=False)
    return project / workdir / "drift-check"


def test_the_alert_job_dispatches_opens_the_issue_and_later_closes_it(project, fake_github):
    config = load_config(project / "mlops.yaml")
    drifted = checked(project, project.parent / "drifted.csv")
    assert fake_github.dispatches == [] and fake_github.issues == {}  # the check sent nothing

    # the alert job: a fresh workdir with only the check's artifact downloaded into it
    artifact = project / "alert-job" / "downloaded"
    shutil.copytree(drifted, artifact)
    result = drift_alert(config, workdir=project / "alert-job", check=artifact)
    assert result.drift and result.alerts["dispatched"]
    (sent,) = fake_github.dispatches
    verdict = json.loads((drifted / "result.json").read_text())
    assert sent["client_payload"]["current_fingerprint"] == verdict["current"]["sha256"]
    assert set(sent["client_payload"]["signals"]) == {
        s["name"] for s in verdict["signals"] if s["decides"] and s["fired"]
    }
    (issue,) = fake_github.issues.values()
    assert issue["title"] == issue_title("penguins-species") and issue["state"] == "open"
    assert "Drift" in issue["body"]  # the check's own summary is the issue's report
    assert result.outputs()["issue"] == issue["number"]
    saved = json.loads((project / "alert-job/drift-alert/result.json").read_text())
    assert saved["alerts"]["issue"] == {"number": issue["number"], "action": "opened"}

    calm = checked(project, project / "data/test.csv", workdir="calm")
    closed = drift_alert(config, workdir=project / "calm", check=calm)
    assert not closed.drift and closed.alerts["issue"]["action"] == "closed"
    assert fake_github.issues[issue["number"]]["state"] == "closed"
    assert len(fake_github.dispatches) == 1


def test_not_enough_data_neither_raises_nor_clears(project, fake_github):
    few = project.parent / "few.csv"
    pd.read_csv(project.parent / "drifted.csv").head(5).to_csv(few, index=False)
    folder = checked(project, few)
    result = drift_alert(load_config(project / "mlops.yaml"), workdir=project / "check")
    assert result.status == "not_enough_data" and "not enough data" in result.alerts["skipped"]
    assert fake_github.dispatches == [] and fake_github.issues == {}
    assert (folder.parent / "drift-alert" / "summary.md").read_text().count("too little data") == 1


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "result.json").unlink(), "no drift-check result; run `mlops drift-check"),
        (lambda f: (f / "result.json").write_text("[1, 2]"), "not a drift-check result"),
        (lambda f: (f / "result.json").write_text("{not json"), "not a readable drift-check"),
        (lambda f: _edit(f, name="other-model"), "a drift check of model 'other-model'"),
        (lambda f: _edit(f, status="maybe"), "unknown drift status 'maybe'"),
        (lambda f: _edit(f, signals=None), "incomplete drift-check result, no 'signals'"),
        (lambda f: (f / "summary.md").unlink(), "summary.md: cannot read the drift check"),
    ],
)
def test_a_result_it_cannot_trust_is_exit_2_in_one_line(
    project, fake_github, capsys, damage, message
):
    folder = checked(project, project.parent / "drifted.csv")
    capsys.readouterr()  # the check's own warnings
    damage(folder)
    code = main(
        [
            "drift-alert",
            "--config",
            str(project / "mlops.yaml"),
            "--check",
            str(folder),
            "--workdir",
            str(project / "alert"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert fake_github.dispatches == [] and fake_github.issues == {}


def _edit(folder, **changes):
    path = folder / "result.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path.write_text(json.dumps(data))
