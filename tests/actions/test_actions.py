"""Each action run through its action.yml by the harness, on the example projects."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
from pathlib import Path

import pytest
import yaml

import mlops_actions
from support import REPO
from support.actions import drifted_copy, github_of
from support.harness import Runner

FAST = "model.params.n_estimators=20"


def declared_outputs(action: str) -> list[str]:
    meta = yaml.safe_load((REPO / action / "action.yml").read_text(encoding="utf-8"))
    return list(meta.get("outputs") or {})


def assert_outputs_follow_the_cli(run, action: str) -> None:
    """The action declares exactly what its `mlops` step wrote to GITHUB_OUTPUT on this real run.

    Every declared output is set (one whose description documents '' may be empty), and every
    output the CLI set is declared, so a stage's new output cannot go unexported.
    """
    meta = yaml.safe_load((REPO / action / "action.yml").read_text(encoding="utf-8"))
    may_be_empty = {
        n for n, o in (meta.get("outputs") or {}).items() if "'' when" in o.get("description", "")
    }
    missing = [
        name
        for name in declared_outputs(action)
        if name not in run.outputs or not (run.outputs[name] or name in may_be_empty)
    ]
    assert not missing, f"{action} declares outputs the CLI never set: {missing}\n{run.log()}"
    undeclared = sorted(set(run.step("mlops").outputs) - set(declared_outputs(action)))
    assert not undeclared, f"{action}/action.yml does not re-export the CLI's outputs {undeclared}"


@pytest.fixture
def penguins(example) -> Path:
    return example("penguins")


def test_setup_runs_every_step_but_the_installs(penguins):
    run = Runner(penguins).run_action(
        "actions/setup", {"python-version": "3.12", "extras": "serve"}
    )
    assert run.ok, run.log()
    assert [s.status for s in run.steps] == [
        "skipped-tool",  # setup-python
        "success",  # cache key
        "skipped-tool",  # cache restore
        "skipped-tool",  # install
        "skipped-tool",  # cache save
        "success",  # versions
    ]
    lock = (REPO / "requirements" / "action-serve.txt").read_bytes()
    key = run.step("cache-key").outputs["key"]
    assert re.fullmatch(
        rf"mlops-(pip|uv)-Linux-{re.escape(platform.python_version())}-"
        + hashlib.sha256(lock).hexdigest()[:16],
        key,
    ), key
    assert Path(run.step("cache-key").outputs["dir"]).is_absolute()
    # the interpreter that stands in for the installed one reports itself
    assert run.outputs == {
        "python-version": platform.python_version(),
        "mlops-version": mlops_actions.__version__,
    }
    assert run.env_written == {}


def test_setup_without_cache_skips_the_cache_steps(penguins):
    run = Runner(penguins).run_action("actions/setup", {"cache": "false"})
    assert [s.status for s in run.steps] == [
        "skipped-tool",
        "skipped",
        "skipped",
        "skipped-tool",
        "skipped",
        "success",
    ]


def test_setup_restore_only_never_saves(penguins):
    """A job holding a write token restores the cache but never saves one (cache poisoning)."""
    run = Runner(penguins).run_action("actions/setup", {"cache": "restore-only"})
    statuses = {s.name: s.status for s in run.steps}
    assert statuses["Restore the cache"] == "skipped-tool"  # runs on a runner
    assert statuses["Save the cache"] == "skipped"


def test_setup_refuses_extras_it_has_no_lock_for(penguins):
    run = Runner(penguins).run_action("actions/setup", {"extras": "serve,nope"})
    assert not run.ok
    assert "no locked dependency set for extras 'serve,nope'" in run.log()


def test_train_outputs_describe_the_files_it_wrote(penguins):
    run = Runner(penguins).run_action(
        "actions/train", {"set": f"  {FAST}\n\nmodel.params.max_depth=3\n"}
    )
    assert run.ok, run.log()
    assert_outputs_follow_the_cli(run, "actions/train")
    out = penguins / ".mlops" / "train"
    assert run.outputs["passed"] == "true"
    assert penguins / run.outputs["result-file"] == out / "result.json"
    model = penguins / run.outputs["model-path"]
    assert run.outputs["model-fingerprint"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert json.loads(run.outputs["metrics"]) == json.loads((out / "metrics.json").read_text())
    params = json.loads((out / "params.json").read_text())["params"]
    assert (params["n_estimators"], params["max_depth"]) == (
        20,
        3,
    )  # each `set` line reached the CLI
    assert run.summary == (out / "summary.md").read_text()
    assert run.env_written == {}


def test_train_in_a_project_folder_with_its_own_workdir(example):
    repo = example("diabetes").parent  # the example is one project folder inside the repository
    run = Runner(repo).run_action(
        "OWNER/mlops-actions/actions/train@v1",
        {"working-directory": "diabetes", "workdir": "out/ml"},
    )
    assert run.ok, run.log()
    assert run.outputs["result-file"] == "out/ml/train/result.json"
    assert (repo / "diabetes" / "out" / "ml" / "train" / "model.joblib").is_file()
    assert set(json.loads(run.outputs["metrics"])) >= {"rmse", "mae", "r2"}


def test_a_config_error_fails_the_step_with_exit_2(penguins):
    run = Runner(penguins).run_action("actions/train", {"config": "no-such.yaml"})
    assert run.status == "failure"
    step = run.step("mlops")
    assert step.exit_code == 2
    assert "no-such.yaml" in step.stderr and "Traceback" not in step.stderr
    assert "::error" in step.stdout  # the CLI's annotation, since the harness sets GITHUB_ACTIONS


def test_stage_actions_need_setup_first(penguins):
    runner = Runner(penguins)
    runner.job_env["PATH"] = "/usr/bin:/bin"  # a job where actions/setup did not run
    run = runner.run_action("actions/train")
    assert run.step("mlops").exit_code == 2
    assert "add 'uses: OWNER/mlops-actions/actions/setup@v1'" in run.step("mlops").stdout


def test_top_level_action_runs_a_command_like_the_stage_action(penguins, tmp_path):
    twin = shutil.copytree(penguins, tmp_path / "twin")
    one = Runner(penguins).run_action(".", {"command": "train", "set": FAST})
    two = Runner(twin).run_action("actions/train", {"set": FAST})
    assert one.ok and two.ok, one.log() + two.log()
    assert [s.status for s in one.steps[:4]] == [
        "skipped-tool",
        "success",
        "skipped-tool",
        "skipped-tool",
    ]
    for name in declared_outputs("actions/train"):
        assert one.outputs[name] == two.outputs[name], name


def test_top_level_action_passes_args_verbatim(penguins):
    run = Runner(penguins).run_action(
        ".",
        {"command": "train", "install": "false", "args": "--set\nmodel.params.n_estimators=7 \n"},
    )
    assert run.ok, run.log()
    assert [s.status for s in run.steps[:4]] == ["skipped"] * 4
    assert (
        json.loads((penguins / ".mlops/train/params.json").read_text())["params"]["n_estimators"]
        == 7
    )


def test_top_level_action_installs_exactly_like_setup():
    """The top-level action repeats setup's steps (a composite cannot `uses: ./` its own sibling)."""

    def install_steps(path: Path) -> list[tuple]:
        steps = yaml.safe_load(path.read_text())["runs"]["steps"]
        return [
            (
                s.get("uses"),
                s.get("with"),
                s.get("id"),
                (s.get("run") or "").rsplit("/", 1)[-1],
                s.get("env"),
            )
            for s in steps
            if s.get("id") != "versions" and s.get("id") != "mlops"
        ]

    assert install_steps(REPO / "action.yml") == install_steps(REPO / "actions/setup/action.yml")


@pytest.mark.parametrize("stage", ["evaluate-gate", "package-onnx"])
def test_stage_action_after_train_sets_every_declared_output(penguins, stage):
    runner = Runner(penguins)
    assert runner.run_action("actions/train", {"set": FAST}).ok
    run = runner.run_action(f"actions/{stage}", {"set": FAST})
    assert run.ok, run.log()
    assert_outputs_follow_the_cli(run, f"actions/{stage}")
    assert run.summary.strip()
    assert run.env_written == {}


def test_drift_check_without_drift_sets_every_output(penguins):
    run = Runner(penguins).run_action(
        "actions/drift-check", {"current": "data/live.csv", "alert": "false"}
    )
    assert run.ok, run.log()
    assert_outputs_follow_the_cli(run, "actions/drift-check")
    assert (run.outputs["drift"], run.outputs["drifted-columns"]) == ("false", "[]")
    assert (
        (penguins / run.outputs["report-path"])
        .read_text()
        .lstrip()
        .lower()
        .startswith("<!doctype html")
    )


def test_drift_check_on_drifted_data_alerts_through_github(penguins, fake_github):
    drifted_copy(penguins / "data/live.csv", penguins / "data/drifted.csv")
    runner = Runner(penguins, **github_of(fake_github))
    run = runner.run_action("actions/drift-check", {"current": "data/drifted.csv"})
    assert run.ok, run.log()  # drift is a finding, not a failure
    assert run.outputs["drift"] == "true"
    assert {"body_mass_g", "flipper_length_mm"} <= set(json.loads(run.outputs["drifted-columns"]))
    assert [d["event_type"] for d in fake_github.dispatches] == ["drift-detected"]
    assert len(fake_github.issues) == 1
    failing = runner.run_action(
        "actions/drift-check", {"current": "data/drifted.csv", "fail-on-drift": "true"}
    )
    assert failing.status == "failure" and failing.step("mlops").exit_code == 1


def test_drift_check_template_job_runs_on_the_example(penguins, fake_github):
    """workflows/ml-drift-check.yml's job, step by step: checkout and artifact steps skipped, ours run."""
    runner = Runner(penguins, event_name="schedule", **github_of(fake_github))
    run = runner.run_job("workflows/ml-drift-check.yml", "drift-check")
    assert run.ok, run.log()
    assert [s.status for s in run.steps] == ["skipped-tool", "success", "success", "skipped-tool"]
    assert run.step("drift").outputs["drift"] == "false"
    assert (penguins / ".mlops/drift-check/report.html").is_file()  # what the artifact step uploads


def test_comment_action_keeps_one_sticky_comment(penguins, fake_github):
    number = fake_github.add_pull_request()
    event = {"number": number, "pull_request": {"number": number, "base": {"ref": "main"}}}
    runner = Runner(penguins, event_name="pull_request", event=event, **github_of(fake_github))
    (penguins / "a.md").write_text("first report\n")
    (penguins / "b.md").write_text("second report\n")
    for text in ("run one", "run two"):
        (penguins / "a.md").write_text(f"{text}\n")
        run = runner.run_action("actions/comment", {"body-files": "a.md\nb.md\n"})
        assert run.ok, run.log()
        assert_outputs_follow_the_cli(run, "actions/comment")
    comments = fake_github.comments_on(number)
    assert len(comments) == 1
    assert "run two" in comments[0]["body"] and "second report" in comments[0]["body"]
    assert "run one" not in comments[0]["body"]
    assert run.outputs["comment-url"] == comments[0]["html_url"]


def test_validate_data_comment_sets_comment_url(penguins, fake_github):
    """comment: 'true' makes the CLI set comment-url too; the action passes it on."""
    number = fake_github.add_pull_request()
    event = {"number": number, "pull_request": {"number": number, "base": {"ref": "main"}}}
    runner = Runner(penguins, event_name="pull_request", event=event, **github_of(fake_github))
    run = runner.run_action("actions/validate-data", {"comment": "true"})
    assert run.ok, run.log()
    assert_outputs_follow_the_cli(run, "actions/validate-data")
    assert run.outputs["comment-url"] == fake_github.comments_on(number)[0]["html_url"]


def test_evaluate_gate_status_marks_the_pull_requests_head_commit(penguins, fake_github):
    """status: 'true' becomes --status: the verdict lands on the PR head, linked to the run."""
    head = "c" * 40
    number = fake_github.add_pull_request(head_sha=head)
    event = {"number": number, "pull_request": {"number": number, "head": {"sha": head}}}
    runner = Runner(penguins, event_name="pull_request", event=event, **github_of(fake_github))
    assert runner.run_action("actions/train", {"set": FAST}).ok
    run = runner.run_action("actions/evaluate-gate", {"set": FAST, "status": "true"})
    assert run.ok, run.log()
    (status,) = fake_github.statuses
    assert (status["sha"], status["context"]) == (head, "mlops/gate: penguins-species")
    assert status["state"] == "success"  # run.ok: a blocked candidate would have failed the step
    assert (
        status["target_url"]
        == f"https://github.com/{fake_github.repository}/actions/runs/{runner.run_id}"
    )


def test_validate_data_action_with_a_baseline_and_a_bad_row(penguins):
    runner = Runner(penguins)
    first = runner.run_action("actions/validate-data")
    assert first.ok, first.log()
    assert (first.outputs["failures"], first.outputs["diff-file"]) == ("0", "")
    baseline = penguins / "baseline.json"
    shutil.copy(penguins / first.outputs["result-file"], baseline)

    lines = (penguins / "data/train.csv").read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    bad = lines[5].rstrip("\n").split(",")
    bad[header.index("island")] = "Atlantis"  # not one of the schema's islands
    lines[5] = ",".join(bad) + "\n"
    (penguins / "data/train.csv").write_text("".join(lines))

    blocked = runner.run_action("actions/validate-data", {"baseline": "baseline.json"})
    assert blocked.status == "failure" and blocked.step("mlops").exit_code == 1
    assert (
        "::error file=" in blocked.step("mlops").stdout and "line=6" in blocked.step("mlops").stdout
    )
    report = runner.run_action(
        "actions/validate-data", {"baseline": "baseline.json", "fail-on-error": "false"}
    )
    assert report.ok, report.log()
    assert_outputs_follow_the_cli(report, "actions/validate-data")
    assert report.outputs["passed"] == "false" and int(report.outputs["failing-rows"]) == 1
    assert (penguins / report.outputs["diff-file"]).read_text().strip()


def add_registry(project: Path) -> Path:
    config = yaml.safe_load((project / "mlops.yaml").read_text())
    registry = project.parent / "registry"
    config.setdefault("deploy", {})["targets"] = {
        "registry": {"type": "registry", "url": str(registry)}
    }
    config["package"] = {
        "measure_latency": False
    }  # speed figures are package-onnx's own tests' business
    (project / "mlops.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return registry


def test_deploy_action_versions_promotes_and_rolls_back(penguins, fake_github):
    add_registry(penguins)
    runner = Runner(penguins, **github_of(fake_github))
    versions = []
    # the config gates against registry:production, which this test never sets: a registry
    # with versions but without that alias is an error (issue 14, part 1), so: no baseline
    inputs = {"actions/evaluate-gate": {"baseline": "none"}}
    for trees in (20, 21):  # two different models
        for action in ("actions/train", "actions/evaluate-gate", "actions/package-onnx"):
            given = {"set": f"model.params.n_estimators={trees}", **inputs.get(action, {})}
            run = runner.run_action(action, given)
            assert run.ok, run.log()
        assert_outputs_follow_the_cli(run, "actions/package-onnx")
        staging = runner.run_action("actions/deploy", {"target": "registry"})
        assert staging.ok, staging.log()
        versions.append(staging.outputs["version"])
    assert_outputs_follow_the_cli(
        staging, "actions/deploy"
    )  # the second deploy has a previous version
    assert (
        staging.outputs["alias"],
        staging.outputs["previous-version"],
        staging.outputs["rolled-back"],
    ) == ("staging", versions[0], "false")
    assert versions[1] != versions[0]
    assert [d["environment"] for d in fake_github.deployments.values()] == ["staging", "staging"]
    back = runner.run_action(
        ".",
        {"command": "rollback", "install": "false", "args": "--target\nregistry\n--alias\nstaging"},
    )
    assert back.ok, back.log()
    assert back.outputs["version"] == versions[0]
    assert set(back.step("mlops").outputs) <= set(declared_outputs(".")), (
        "action.yml lacks a rollback output"
    )


def test_select_champion_action_picks_from_a_folder_of_trials(example):
    """Two of the example's four trials finished (as their artifacts land after download);
    the action lists the other two as failed and sets every declared output."""
    penguins = example("penguins")
    runner = Runner(penguins)
    for trial, sets in (("trial-01", "model.params.n_estimators=50"), ("trial-04", "")):
        run = runner.run_action("actions/train", {"set": sets, "workdir": f".runs/{trial}"})
        assert run.ok, run.log()
        shutil.move(penguins / ".runs" / trial / "train", penguins / ".mlops-candidates" / trial)
    run = runner.run_action("actions/select-champion", {"candidates": ".mlops-candidates/"})
    assert run.ok, run.log()
    assert_outputs_follow_the_cli(run, "actions/select-champion")
    assert run.outputs["champion"] in ("trial-01", "trial-04")
    assert (penguins / run.outputs["model-path"]).is_file()
    saved = json.loads((penguins / run.outputs["result-file"]).read_text())
    assert [t["name"] for t in saved["trials"] if t["status"] == "failed"] == [
        "trial-02",
        "trial-03",
    ]
    assert "trial\\-02" in run.summary


def test_select_champion_action_with_no_candidate_fails_with_the_report(example):
    penguins = example("penguins")
    (penguins / ".mlops-candidates").mkdir()
    run = Runner(penguins).run_action(
        "actions/select-champion", {"candidates": ".mlops-candidates"}
    )
    assert run.status == "failure" and run.step("mlops").exit_code == 1
    assert run.outputs["champion"] == "" and "No champion" in run.summary
