"""Many models in one repository (issue 17, part 2), as a team lives it: the penguins and
diabetes examples side by side in one repository, with workflows/multi-model/ verbatim, run by
the simulated GitHub. A discovery job lists the models a change can affect (``mlops models``);
a matrix calls the reusable workflows once per model; one sticky comment holds a section per
model, each model gets its status and ``mlops/gate`` covers them all; the registry on the
repository keys every version by model; a model nothing touched does not run.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from e2e.test_stories import (
    NIGHTLY,
    action_outputs,
    drop_rows,
    older_heavier_patients,
    only,
    succeeded,
)
from support import REPO
from support.harness import Clock, Simulation, UserRepository

NAMES = {"diabetes": "diabetes-progression", "penguins": "penguins-species"}
DIABETES_DATA = "diabetes/data/diabetes.csv"


@pytest.fixture
def monorepo(tmp_path, fake_github) -> Simulation:
    source = tmp_path / "source"
    for example in NAMES:
        shutil.copytree(
            REPO / "examples" / example,
            source / example,
            ignore=shutil.ignore_patterns(".github", ".mlops"),
        )
    shutil.copytree(REPO / "workflows" / "multi-model", source / ".github" / "workflows")
    clock = Clock(datetime(2031, 6, 2, 6, 17, tzinfo=UTC))
    repo = UserRepository.from_folder(
        tmp_path / "repo", source, full_name=fake_github.repository, now=clock.now
    )
    return Simulation(tmp_path / "github", repo, fake_github, clock=clock)


def legs(run, caller: str) -> dict[str, str]:
    """Each model the matrix ran, by the leg's folder: the calling job's leg ids."""
    models = run.job("models").outputs["matrix"]
    return {m["folder"]: f"{caller}/{i}/" for i, m in enumerate(json.loads(models)["include"])}


def gate_statuses(fake_github, sha: str) -> dict[str, str]:
    return {s["context"]: s["state"] for s in fake_github.statuses if s["sha"] == sha}


def release_every_model(sim: Simulation) -> None:
    """By hand, the first release: every model, each through staging and one approval."""
    run = sim.dispatch_workflow("ml-release.yml")
    assert run.waiting_for == ["production"], run.log()
    sim.approve(run, "production")
    succeeded(run)
    release = legs(run, "release")
    assert set(release) == set(NAMES)
    for folder, leg in release.items():
        production = action_outputs(run, leg + "production", "deploy")
        assert production["version"] == "1", (folder, production)
        assert NAMES[folder] in production["location"]  # the registry keys versions by model
    assert sorted(run.artifacts) == [
        "mlops-outputs-diabetes-progression",
        "mlops-outputs-penguins-species",
    ]


@pytest.mark.slow
def test_each_change_runs_exactly_the_models_it_affects(monorepo, fake_github):
    sim = monorepo
    release_every_model(sim)

    # a pull request touching only diabetes' data: only diabetes is validated, trained, gated
    sim.repo.branch("fewer-patients")
    drop_rows(sim, DIABETES_DATA, 9)
    sim.repo.commit("drop doubtful patients")
    number, runs = sim.open_pull_request("fewer-patients", title="drop doubtful patients")
    pr_run = only(runs, "ml-pull-request.yml")
    succeeded(pr_run)
    assert list(legs(pr_run, "checks")) == ["diabetes"]
    assert not [j for j in pr_run.jobs if "penguins" in j]
    (report,) = sim.runs_of("ml-pr-report.yml")
    succeeded(report)
    (comment,) = fake_github.comments_on(number)
    body = comment["body"]
    assert "## ✅ 1 of 1 models passed" in body, body
    assert "<code>diabetes\\-progression</code>" in body and "penguins" not in body
    assert "**Baseline:** registry" in body  # gated against diabetes' own production model
    head = sim.repo.sha("refs/heads/fewer-patients")
    assert gate_statuses(fake_github, head) == {
        "mlops/gate: diabetes-progression": "success",
        "mlops/gate": "success",
    }

    # a second push touches penguins too: both run, the one comment is updated in place
    drop_rows(sim, "penguins/data/train.csv", 11)
    sim.repo.commit("and doubtful penguins")
    succeeded(only(sim.push("fewer-patients"), "ml-pull-request.yml"))
    (updated,) = fake_github.comments_on(number)
    assert updated["id"] == comment["id"]
    assert "2 of 2 models passed" in updated["body"] and "penguins\\-species" in updated["body"]
    head = sim.repo.sha("refs/heads/fewer-patients")
    assert set(gate_statuses(fake_github, head)) == {
        "mlops/gate: diabetes-progression",
        "mlops/gate: penguins-species",
        "mlops/gate",
    }

    # a pull request touching no model: nothing trains, mlops/gate says why it passes
    sim.repo.git("checkout", "-q", "-B", "docs", "main")
    sim.repo.write("README.md", "# Our models\n")
    sim.repo.commit("docs")
    docs, runs = sim.open_pull_request("docs")
    succeeded(only(runs, "ml-pull-request.yml"))
    assert only(runs, "ml-pull-request.yml").job("checks").state == "skipped"
    assert fake_github.comments_on(docs) == []
    (status,) = [s for s in fake_github.statuses if s["sha"] == sim.repo.sha("refs/heads/docs")]
    assert (status["context"], status["state"]) == ("mlops/gate", "success")
    assert status["description"] == "no model is affected by this pull request"

    # the merge of the first pull request releases both models it changed; the docs one nothing
    run = only(sim.merge_pull_request(number), "ml-release.yml")
    sim.approve(run, "production")
    succeeded(run)
    assert {
        action_outputs(run, leg + "production", "deploy")["version"]
        for leg in legs(run, "release").values()
    } == {"2"}
    run = only(sim.merge_pull_request(docs), "ml-release.yml")
    succeeded(run)
    assert run.job("release").state == "skipped" and run.job("models").outputs["count"] == "0"


@pytest.mark.slow
def test_the_nightly_checks_every_model_and_retrains_only_the_one_that_drifted(
    monorepo, fake_github
):
    sim = monorepo
    release_every_model(sim)

    # days later diabetes' live data comes from older, heavier patients; penguins' is as before.
    # No model trains on the live file, so the push releases nothing.
    sim.clock.advance(days=3)
    live = sim.repo.work / "diabetes" / "data" / "live.csv"
    older_heavier_patients(live, live)
    sim.repo.commit("live data: June")
    pushed = only(sim.push("main"), "ml-release.yml")
    succeeded(pushed)
    assert pushed.job("models").outputs["count"] == "0"

    nightly = only(sim.schedule(NIGHTLY), "ml-drift-check.yml")
    succeeded(nightly)
    checks = legs(nightly, "drift")
    assert set(checks) == set(NAMES)
    for folder, leg in checks.items():
        found = action_outputs(nightly, leg + "drift-check", "drift-check")["drift"]
        assert found == ("true" if folder == "diabetes" else "false"), folder
    assert [(d["event_type"], d["client_payload"]["model"]) for d in fake_github.dispatches] == [
        ("drift-detected", NAMES["diabetes"])
    ]
    (issue,) = [i for i in fake_github.issues.values() if "pull_request" not in i]
    assert NAMES["diabetes"] in issue["title"]

    # the dispatch names its model: the retrain run trains that one, not the others
    retrain = only(sim.runs, "ml-retrain.yml")
    assert retrain.event_name == "repository_dispatch"
    assert list(legs(retrain, "retrain")) == ["diabetes"]
    sim.approve(retrain, "production")
    succeeded(retrain)
    promoted = action_outputs(
        retrain, legs(retrain, "retrain")["diabetes"] + "production", "deploy"
    )
    assert (promoted["version"], promoted["previous-version"]) == ("2", "1")

    # by hand, for that one model (one leg): its production goes back to version 1
    run = sim.dispatch_workflow("ml-rollback.yml", inputs={"model": NAMES["diabetes"]})
    assert run.waiting_for == ["production"], run.log()
    sim.approve(run, "production")
    succeeded(run)
    (leg,) = legs(run, "rollback").values()
    back = action_outputs(run, leg + "rollback", REPO.name)
    assert (back["version"], back["previous-version"]) == ("1", "2")
