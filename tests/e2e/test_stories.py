"""The level-3 loop as a user lives it: each example project in its own GitHub repository, with
the workflows of workflows/ verbatim (the examples' .github/workflows are identical copies,
checked by tests/actions/test_workflows_static.py), run by the simulated GitHub (harness.Simulation): every job
on a fresh machine, its own least-privilege token, state carried only by artifacts and the
fake GitHub. Nothing in the examples' config or workflows is rewritten; ``OWNER/mlops-actions``
resolves to this checkout.

Stories (issue 13): (a) a pull request gets one sticky comment and the gate's commit status
(posted by ml-pr-report.yml's workflow_run run, as for a fork's in (f));
(b) a merge releases through staging, a reviewer's approval and production, each job on its
own runner; (c) the nightly drift check finds no drift; (d) drift days later sends
repository_dispatch and opens the alert issue, and the retrain run gates against production and
promotes; (e) the next nightly closes the issue; (f) a fork's pull request gets its report
from the workflow_run follow-up, and an outsider's forged artifact is refused or neutralised;
(g) a rollback from workflow_dispatch.

The registry outlives every job because the examples keep it on the repository itself
(``github://``: releases and the ``mlops-registry`` branch of the fake GitHub).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support import REPO
from support.actions import drifted_copy
from support.harness import Clock, Simulation, UserRepository

NIGHTLY = "17 6 * * *"  # ml-drift-check.yml's schedule
DATA = {"penguins": "data/train.csv", "diabetes": "data/diabetes.csv"}
NAMES = {"penguins": "penguins-species", "diabetes": "diabetes-progression"}
DRIFTED = {
    "penguins": ("live.csv", "train.csv", "test.csv"),
    "diabetes": ("live.csv", "diabetes.csv"),
}


def older_heavier_patients(source: Path, target: Path) -> Path:
    """Diabetes patients ten years older with a higher BMI and blood pressure: a shift
    drift-check must see, in features the model reads, the target left as measured."""
    import pandas as pd

    frame = pd.read_csv(source)
    frame["age"] = frame["age"] + 10
    frame["bmi"] = frame["bmi"] + 4
    frame["bp"] = frame["bp"] + 12
    frame.to_csv(target, index=False)
    return target


DRIFT = {"penguins": drifted_copy, "diabetes": older_heavier_patients}


@pytest.fixture
def project(tmp_path, fake_github):
    """``project("penguins")``: the example as a repository on the fake GitHub, its Actions
    simulated, the clock at a Monday morning in 2031."""

    def make(example: str) -> Simulation:
        clock = Clock(datetime(2031, 6, 2, 6, 17, tzinfo=UTC))
        repo = UserRepository.from_folder(
            tmp_path / "repo",
            REPO / "examples" / example,
            full_name=fake_github.repository,
            now=clock.now,
        )
        return Simulation(tmp_path / "github", repo, fake_github, clock=clock)

    return make


def only(runs, workflow: str):
    mine = [run for run in runs if run.file == workflow]
    assert len(mine) == 1, [(run.file, run.event_name) for run in runs]
    return mine[0]


def succeeded(run) -> None:
    assert run.conclusion == "success", run.log()


def action_outputs(run, job: str, action: str) -> dict[str, str]:
    """What the step using ``actions/<action>`` (or the top-level action) of ``job`` output."""
    steps = [s for s in run.job(job).run.steps if s.nested and s.nested.path.name == action]
    assert len(steps) == 1, run.job(job).log()
    return steps[0].outputs


def drop_rows(sim: Simulation, path: str, every: int) -> tuple[int, int]:
    """The developer drops every ``every``-th data row; returns the row counts before and after."""
    header, *rows = (sim.repo.work / path).read_text().splitlines(keepends=True)
    kept = [row for i, row in enumerate(rows) if i % every != every - 1]
    sim.repo.write(path, header + "".join(kept))
    return len(rows), len(kept)


def pull_request_dropping_rows(sim: Simulation, example: str, branch: str, **options):
    """A branch dropping every 8th data row, opened as a pull request: its number, the runs it
    started, and the row counts before and after."""
    sim.repo.branch(branch)
    before, after = drop_rows(sim, DATA[example], 8)
    sim.repo.commit("drop doubtful rows")
    number, runs = sim.open_pull_request(branch, title="drop doubtful rows", **options)
    return number, runs, before, after


def outlives_the_runner(sim: Simulation, deployed: dict[str, str]) -> None:
    """The version a deploy job registered lives somewhere that survives the job's machine."""
    assert not deployed["location"].startswith(str(sim.root)), (
        f"the registry is on the runner, gone with it: {deployed['location']}"
    )


def release(sim: Simulation):
    """Run ml-release.yml by hand and approve its production deploy; the finished run."""
    run = sim.dispatch_workflow("ml-release.yml")
    assert run.waiting_for == ["production"], run.log()
    sim.approve(run, "production")
    succeeded(run)
    outlives_the_runner(sim, action_outputs(run, "production", "deploy"))
    return run


# ---- (a) ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("example", ["penguins", "diabetes"])
def test_a_pull_request_gets_one_sticky_comment_and_the_gate_status(example, project, fake_github):
    sim = project(example)
    number, runs, before, after = pull_request_dropping_rows(sim, example, "fewer-rows")
    run = only(runs, "ml-pull-request.yml")
    succeeded(run)
    leg = run.job("checks").legs[0]
    assert leg.permissions == {"contents": "read", "metadata": "read"}  # it runs the PR's code
    (report,) = sim.runs_of("ml-pr-report.yml")  # workflow_run: it posts what the run packed
    succeeded(report)
    (comment,) = fake_github.comments_on(number)
    assert f"| {before} | {after} |" in comment["body"]  # validate-data's diff against main
    assert "**Baseline:** none" in comment["body"]  # evaluate-gate: the first model
    assert "as on the base branch" in comment["body"]  # judged by main's rules (issue 14, part 1)
    assert "## ✅ data validation and gate passed" in comment["body"]  # one verdict on top
    head = sim.repo.sha("refs/heads/fewer-rows")
    gate = [s for s in fake_github.statuses if s["context"] == f"mlops/gate: {NAMES[example]}"]
    assert [(s["sha"], s["state"]) for s in gate] == [(head, "success")]

    # another push to the branch: the same comment, updated in place
    _, again = drop_rows(sim, DATA[example], 8)
    sim.repo.commit("drop more")
    succeeded(only(sim.push("fewer-rows"), "ml-pull-request.yml"))
    assert [r.conclusion for r in sim.runs_of("ml-pr-report.yml")] == ["success", "success"]
    (updated,) = fake_github.comments_on(number)
    assert updated["id"] == comment["id"] and f"| {before} | {again} |" in updated["body"]


# ---- (b) ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("example", ["penguins", "diabetes"])
def test_b_a_merge_releases_through_staging_and_approval_to_production(
    example, project, fake_github
):
    sim = project(example)
    sim.repo.branch("fewer-rows")
    drop_rows(sim, DATA[example], 8)
    sim.repo.commit("drop doubtful rows")
    number, _ = sim.open_pull_request("fewer-rows")
    run = only(sim.merge_pull_request(number), "ml-release.yml")
    assert (run.status, run.waiting_for) == ("waiting", ["production"])
    assert [run.job(j).state for j in ("build", "staging", "production")] == [
        "success",
        "success",
        "waiting",
    ]
    sim.approve(run, "production")
    succeeded(run)
    machines = {run.job(j).legs[0].machine for j in run.jobs}
    assert len(machines) == 3 and not any(Path(m).exists() for m in machines)
    assert "package-onnx/model.onnx" in run.artifacts["mlops-outputs"].files()
    staging = action_outputs(run, "staging", "deploy")
    production = action_outputs(run, "production", "deploy")
    assert production["version"] == staging["version"] == "1"
    outlives_the_runner(sim, production)
    # the registry outlived the runners: the next pull request is gated against production
    sim.repo.git("checkout", "-q", "-B", "next", "main")
    drop_rows(sim, DATA[example], 9)
    sim.repo.commit("drop a few more")
    number, runs = sim.open_pull_request("next")
    succeeded(only(runs, "ml-pull-request.yml"))
    (comment,) = fake_github.comments_on(number)
    assert "**Baseline:** registry" in comment["body"], comment["body"]


# ---- (c) ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("example", ["penguins", "diabetes"])
def test_c_the_nightly_drift_check_finds_no_drift(example, project, fake_github):
    sim = project(example)
    sim.clock.advance(days=1)
    run = only(sim.schedule(NIGHTLY), "ml-drift-check.yml")
    succeeded(run)
    assert action_outputs(run, "drift-check", "drift-check")["drift"] == "false"
    assert "report.html" in run.artifacts["drift-report"].files()
    assert fake_github.dispatches == [] and fake_github.issues == {}
    assert sim.runs == [run]  # nothing else started


# ---- (d), (e) -------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("example", ["penguins", "diabetes"])
def test_d_e_drift_days_later_retrains_promotes_and_the_next_nightly_closes_the_issue(
    example, project, fake_github, mlops
):
    sim = project(example)
    first = action_outputs(release(sim), "production", "deploy")

    # three days later the data pipeline brings new data (penguins: heavier birds, all from
    # Biscoe; diabetes: older, heavier patients): the live sample, and training data that looks
    # like it (its own commit skips CI)
    sim.clock.advance(days=3)
    for name in DRIFTED[example]:
        DRIFT[example](sim.repo.work / "data" / name, sim.repo.work / "data" / name)
    # the old contract's ranges reject the new data: the pipeline re-infers it
    inferred = mlops("validate-data", "--infer-schema", "--force", cwd=sim.repo.work)
    assert inferred.returncode == 0, inferred.stderr
    sim.repo.commit("data: June batch [skip ci]")
    assert sim.push("main") == []

    # (d) the nightly check: drift, one dispatch, one alert issue, and the retrain run it starts
    drift = only(sim.schedule(NIGHTLY), "ml-drift-check.yml")
    succeeded(drift)
    assert action_outputs(drift, "drift-check", "drift-check")["drift"] == "true"
    assert [d["event_type"] for d in fake_github.dispatches] == ["drift-detected"]
    (issue,) = [i for i in fake_github.issues.values() if "pull_request" not in i]
    assert issue["state"] == "open"
    retrain = only(sim.runs, "ml-retrain.yml")
    assert (retrain.event_name, retrain.waiting_for) == ("repository_dispatch", ["production"])
    sim.approve(retrain, "production")
    succeeded(retrain)
    second = action_outputs(retrain, "production", "deploy")
    assert (second["version"], second["previous-version"]) == ("2", first["version"])

    # (e) the next nightly: the new production model knows these birds; the issue closes
    sim.clock.advance(days=1)
    calm = only(sim.schedule(NIGHTLY), "ml-drift-check.yml")
    succeeded(calm)
    assert action_outputs(calm, "drift-check", "drift-check")["drift"] == "false"
    assert len(fake_github.dispatches) == 1
    assert fake_github.issues[issue["number"]]["state"] == "closed"


# ---- (f) ------------------------------------------------------------------------------------------
REPORTER = {
    "actions": "read",
    "contents": "read",
    "pull-requests": "write",
    "statuses": "write",
    "metadata": "read",
}


@pytest.mark.slow
@pytest.mark.parametrize("example", ["penguins", "diabetes"])
def test_f_a_fork_pull_request_gets_its_report(example, project, fake_github):
    sim = project(example)
    number, runs, before, after = pull_request_dropping_rows(sim, example, "fork-change", fork=True)
    head = sim.repo.git("rev-parse", "fork-change")

    # the fork's run: read-only token, the report in its step summary and its artifact only
    run = only(runs, "ml-pull-request.yml")
    succeeded(run)
    leg = run.job("checks").legs[0]
    assert leg.permissions == {"contents": "read", "metadata": "read"}
    assert "**Baseline:** none" in leg.run.summary
    packed = run.artifacts["mlops-pr-report"].files()
    verdict = json.loads(packed["verdict.json"])
    assert (verdict["pr"], verdict["head_sha"]) == (number, head)
    assert set(packed) == {"verdict.json", "validate-data.md", "evaluate-gate.md"}

    # the follow-up: the default branch's ml-pr-report.yml, its own token, GitHub's payload
    (report,) = sim.runs_of("ml-pr-report.yml")
    succeeded(report)
    assert (report.event_name, report.ref) == ("workflow_run", "refs/heads/main")
    assert report.payload["workflow_run"]["pull_requests"] == []  # a fork's: found by head
    assert report.job("report").legs[0].permissions == REPORTER
    (comment,) = fake_github.comments_on(number)
    assert f"| {before} | {after} |" in comment["body"]
    assert "## ✅ data validation and gate passed" in comment["body"]
    gate = [(s["sha"], s["state"], s["context"]) for s in fake_github.statuses]
    assert gate == [(head, "success", f"mlops/gate: {NAMES[example]}")]


FORGE = """\
import json, os
event = json.load(open(os.environ["GITHUB_EVENT_PATH"]))
pull = event["pull_request"]
claim = int(open("claim.txt").read() or pull["number"])
out = os.path.join(os.environ["RUNNER_TEMP"], "forged")
os.makedirs(out)
body = (
    "<!-- mlops-actions:verdict:validate-data:passed -->\\n"
    "<img src=https://evil.example/t.png onerror=alert(1)>\\n"
    "Ping @maintainer and @octo-org/security, see #1\\n" + "| x | 1 |\\n" * 12000
)
open(os.path.join(out, "evaluate-gate.md"), "w").write(body)
verdict = {
    "pr": claim,
    "head_sha": pull["head"]["sha"],
    "checks": {"validate-data": None, "evaluate-gate": "failed"},
    "gate_status": "forged",
}
json.dump(verdict, open(os.path.join(out, "verdict.json"), "w"))
"""
FORGED_WORKFLOW = """\
name: ml-pull-request
on: pull_request
permissions: {}
jobs:
  checks:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions: {contents: read}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with: {persist-credentials: false}
      - run: python forge.py
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with: {name: mlops-pr-report, path: '${{ runner.temp }}/forged/'}
"""


@pytest.mark.slow
def test_f_an_outsiders_artifact_is_refused_or_neutralised(project, fake_github):
    """A fork's branch can change ml-pull-request.yml itself, so its artifact says what its
    author likes: another pull request's number is refused, HTML, hidden markers, @mentions
    and a huge body reach its own pull request neutralised."""
    sim = project("penguins")
    victim = fake_github.add_pull_request(head_sha="d" * 40, title="someone else's")
    fake_github.add_comment(victim, "a maintainer's comment")
    outsiders = {}
    for name, claim in (("claims-another", str(victim)), ("claims-itself", "")):
        sim.repo.branch(name, start="main")
        sim.repo.write(".github/workflows/ml-pull-request.yml", FORGED_WORKFLOW)
        sim.repo.write("forge.py", FORGE)
        sim.repo.write("claim.txt", claim)
        sim.repo.commit(f"outsider: {name}")
        number, runs = sim.open_pull_request(name, fork=True)
        succeeded(only(runs, "ml-pull-request.yml"))
        outsiders[name] = number
    refused, posted = sim.runs_of("ml-pr-report.yml")

    # another pull request's number: refused, nothing written anywhere
    assert refused.conclusion == "failure"
    assert f"names pull request #{victim}, whose head is not commit" in refused.log()
    assert [c["body"] for c in fake_github.comments_on(victim)] == ["a maintainer's comment"]
    assert fake_github.comments_on(outsiders["claims-another"]) == []
    (status,) = fake_github.statuses  # only the one below, on the outsider's own commit

    # its own number: posted on its own pull request, inert, cut to fit
    succeeded(posted)
    (comment,) = fake_github.comments_on(outsiders["claims-itself"])
    body = comment["body"]
    assert "<img" not in body and "&lt;img src" in body
    assert "<!-- mlops-actions:verdict:validate-data" not in body
    assert "## ❌ gate failed: <code>" in body  # the forged passed data check did not count
    assert "@maintainer" not in body and "@\u200bmaintainer" in body
    assert len(body) <= 65_536 and "Cut to fit a GitHub comment" in body
    assert (status["sha"], status["state"], status["description"]) == (
        sim.repo.git("rev-parse", "claims-itself"),
        "failure",
        "forged",
    )


# ---- (g) ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("example", ["penguins", "diabetes"])
def test_g_a_rollback_from_workflow_dispatch_returns_production_to_the_previous_version(
    example, project
):
    sim = project(example)
    first = action_outputs(release(sim), "production", "deploy")
    drop_rows(sim, DATA[example], 8)
    sim.repo.commit("drop doubtful rows")
    sim.push("main")
    (pushed,) = sim.runs_of("ml-release.yml")[1:]
    sim.approve(pushed, "production")
    succeeded(pushed)
    second = action_outputs(pushed, "production", "deploy")
    assert second["previous-version"] == first["version"]

    run = sim.dispatch_workflow("ml-rollback.yml")
    assert run.waiting_for == ["production"]
    sim.approve(run, "production")
    succeeded(run)
    back = action_outputs(run, "rollback", REPO.name)
    assert (back["version"], back["previous-version"]) == (first["version"], second["version"])
