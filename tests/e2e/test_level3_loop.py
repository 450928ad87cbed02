"""The level-3 loop, end to end: the workflow templates' jobs, run step by step through the action
harness in the order GitHub runs them, against the fake GitHub and a local model registry.

pull request (one sticky comment with diffs) → push to main (package, deploy staging → production)
→ scheduled drift-check on drifted data (one dispatch, one alert issue) → retrain on the new data →
gate → deploy v2 → drift-check on matching data (no drift, issue closed) → rollback.

A phase whose stage has not landed on main stops the test there with pytest.skip (pending),
after every earlier phase has been checked; nothing is faked.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from support.actions import REPO, drifted_copy, github_of, require_stage
from support.harness import Runner

PR = "workflows/ml-pull-request.yml"
RELEASE = "workflows/ml-release.yml"
DRIFT = "workflows/ml-drift-check.yml"
RETRAIN = "workflows/ml-retrain.yml"


def git(workspace: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=ml", "-c", "user.email=ml@example.com", *args],
        cwd=workspace,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def run_jobs(runner: Runner, workflow: str, *jobs: str) -> dict:
    """Run jobs in order (each `needs` the ones before, as the templates chain them)."""
    done: dict = {}
    for job in jobs:
        run = runner.run_job(
            workflow,
            job,
            needs={k: {"outputs": v.outputs, "result": v.status} for k, v in done.items()},
        )
        assert run.ok, f"{workflow} job {job} failed:\n{run.log()}"
        done[job] = run
    return done


def deploy_outputs(run) -> dict:
    steps = [s for s in run.steps if s.nested and s.nested.path.name == "deploy"]
    assert len(steps) == 1
    return steps[0].outputs


@pytest.fixture
def project(example) -> Path:
    """The penguins project as a git repository whose main branch is also `origin/main`."""
    workspace = example("penguins")
    config = yaml.safe_load((workspace / "mlops.yaml").read_text())
    config["model"]["params"]["n_estimators"] = 30  # the loop trains six times: keep each fit small
    config["package"] = {
        "measure_latency": False
    }  # latency figures are package-onnx's own tests' business
    config.setdefault("deploy", {})["targets"] = {
        "registry": {"type": "registry", "url": str(workspace.parent / "registry")}
    }
    (workspace / "mlops.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (workspace / ".gitignore").write_text(".mlops/\n")
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "penguins model")
    git(workspace, "update-ref", "refs/remotes/origin/main", "HEAD")
    return workspace


@pytest.mark.slow
def test_level3_loop(project: Path, fake_github):
    github = github_of(fake_github)
    for stage in ("validate-data", "evaluate-gate", "comment"):
        require_stage(stage)
    if not (project / "schema.yaml").exists():
        pytest.skip(
            "pending: examples/penguins has no schema.yaml yet (validate-data, issue 3, infers it in make demo)"
        )

    # 1. pull request: drop every 8th training row; one sticky comment with both diffs, updated in place
    git(project, "checkout", "-qb", "fewer-rows")
    header, *rows = (project / "data/train.csv").read_text().splitlines(keepends=True)
    kept = [row for i, row in enumerate(rows) if i % 8 != 7]
    (project / "data/train.csv").write_text(header + "".join(kept))
    git(project, "commit", "-qam", "drop doubtful rows")
    number = fake_github.add_pull_request(title="drop doubtful rows")
    base = {"ref": "main", "sha": git(project, "rev-parse", "main")}
    event = {
        "number": number,
        "pull_request": {"number": number, "base": base, "head": {"ref": "fewer-rows"}},
    }
    for _ in range(2):  # a second push to the branch updates the comment, never adds one
        runner = Runner(project, event_name="pull_request", event=event, **github)
        run_jobs(runner, PR, "checks")
    comments = fake_github.comments_on(number)
    assert len(comments) == 1
    body = comments[0]["body"]
    assert "accuracy" in body  # the metric diff from evaluate-gate
    assert "as on the base branch" in body  # judged by main's rules (issue 14, part 1)
    assert (
        f"| {len(rows)} | {len(kept)} |" in body
    )  # the data diff from validate-data: rows before, after
    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "--ff-only", "fewer-rows")
    git(project, "update-ref", "refs/remotes/origin/main", "HEAD")

    # 2. push to main: build (validate, train, gate, package) → staging → production
    for stage in ("package-onnx", "deploy"):
        require_stage(stage)
    release = run_jobs(
        Runner(project, event_name="push", **github), RELEASE, "build", "staging", "production"
    )
    first = deploy_outputs(release["production"])
    assert (first["alias"], first["version"]) == (
        "production",
        deploy_outputs(release["staging"])["version"],
    )

    # 3. scheduled drift check on drifted data: one dispatch, one alert issue
    require_stage("drift-check")
    drifted_copy(project / "data/live.csv", project / "data/live.csv")
    run_jobs(Runner(project, event_name="schedule", **github), DRIFT, "drift-check")
    if not fake_github.dispatches:
        pytest.skip(
            "pending: drift-check sent no repository_dispatch on drift (its alerts, issue 6, are not on main yet)"
        )
    assert len(fake_github.dispatches) == 1
    dispatch = fake_github.dispatches[0]
    listened = yaml.safe_load((REPO / RETRAIN).read_text())[True]["repository_dispatch"]["types"]
    assert dispatch["event_type"] in listened
    alerts = [i for i in fake_github.issues.values() if "pull_request" not in i]
    assert len(alerts) == 1 and alerts[0]["state"] == "open"

    # 4. retrain on the new data: the data pipeline commits the shifted rows and, since the old
    #    schema's ranges reject them (validate-data is right to), the schema re-inferred from them
    for name in ("train.csv", "test.csv"):
        drifted_copy(project / "data" / name, project / "data" / name)
    infer = Runner(project).run_action(
        ".", {"command": "validate-data", "install": "false", "args": "--infer-schema\n--force"}
    )
    assert infer.ok, infer.log()
    git(project, "commit", "-qam", "fresh data from the pipeline, schema re-inferred")
    event = {"action": dispatch["event_type"], "client_payload": dispatch.get("client_payload", {})}
    retrain = run_jobs(
        Runner(project, event_name="repository_dispatch", event=event, **github),
        RETRAIN,
        "build",
        "staging",
        "production",
    )
    second = deploy_outputs(retrain["production"])
    assert int(second["version"]) > int(first["version"])
    assert second["previous-version"] == first["version"]

    # 5. drift check on data that matches the new model: no drift, the alert issue closed
    run = run_jobs(Runner(project, event_name="schedule", **github), DRIFT, "drift-check")[
        "drift-check"
    ]
    drift_step = next(s for s in run.steps if s.nested and s.nested.path.name == "drift-check")
    assert drift_step.outputs["drift"] == "false"
    assert len(fake_github.dispatches) == 1
    assert fake_github.issues[alerts[0]["number"]]["state"] == "closed"

    # 6. rollback: production returns to the first version
    require_stage("rollback")
    rollback = Runner(project, **github).run_action(
        ".",
        {
            "command": "rollback",
            "install": "false",
            "args": "--target\nregistry\n--stage\nproduction",
        },
    )
    assert rollback.ok, rollback.log()
    assert (rollback.outputs["version"], rollback.outputs["previous-version"]) == (
        first["version"],
        second["version"],
    )
    from mlops_actions.registry.store import Registry

    registry = Registry(project.parent / "registry")
    assert registry.alias("penguins-species", "production").version == int(first["version"])
    assert [v.version for v in registry.versions("penguins-species")] == [
        int(first["version"]),
        int(second["version"]),
    ]
