"""The harness's ``workflow_run``: a finished run's artifacts on the fake GitHub's API, and the
default branch's listening workflow started as a run of its own, with its own permissions even
when a fork's pull request set off the run it follows."""

from __future__ import annotations

import textwrap

import pytest

from support.harness import Simulation, UserRepository

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2"
CHECKS = f"""
name: checks
on: pull_request
permissions: {{}}
jobs:
  check:
    runs-on: ubuntu-latest
    permissions: {{contents: read}}
    steps:
      - env:
          NUMBER: ${{{{ github.event.pull_request.number }}}}
        run: mkdir out && echo "$NUMBER" > out/number.txt
      - uses: {UPLOAD}
        with: {{name: report, path: out/}}
"""
FOLLOW = f"""
name: follow
on:
  workflow_run:
    workflows: [checks]
    types: [completed]
permissions: {{}}
jobs:
  post:
    runs-on: ubuntu-latest
    permissions: {{actions: read, pull-requests: write}}
    outputs:
      seen: ${{{{ steps.look.outputs.seen }}}}
    steps:
      - uses: {CHECKOUT}
        with: {{persist-credentials: false}}
      - id: look
        env:
          TOKEN: ${{{{ github.token }}}}
        run: echo "seen=$(python follow.py)" >> "$GITHUB_OUTPUT"
"""
FOLLOW_PY = '''\
"""What the follow-up sees: the event, the run's artifacts through the API, whether it may comment."""
import io, json, os, zipfile
import requests
event = json.load(open(os.environ["GITHUB_EVENT_PATH"]))
run = event["workflow_run"]
api = f"{os.environ['GITHUB_API_URL']}/repos/{os.environ['GITHUB_REPOSITORY']}"
auth = {"Authorization": f"Bearer {os.environ['TOKEN']}", "User-Agent": "harness-test"}
listed = requests.get(f"{api}/actions/runs/{run['id']}/artifacts", headers=auth, timeout=30).json()
(artifact,) = listed["artifacts"]
link = requests.get(
    f"{api}/actions/artifacts/{artifact['id']}/zip", headers=auth, timeout=30,
    allow_redirects=False,
).headers["Location"]
got = requests.get(link, headers={"User-Agent": "harness-test"}, timeout=30)  # no token there
number = zipfile.ZipFile(io.BytesIO(got.content)).read("number.txt").decode().strip()
said = requests.post(
    f"{api}/issues/{number}/comments", json={"body": "report"}, headers=auth, timeout=30
)
print(
    event["action"], run["event"], run["conclusion"], len(run["pull_requests"]),
    run["head_repository"]["full_name"], artifact["name"], number, said.status_code,
    "MAIN" if "ev" + "il" not in open("follow.py").read() else "PR",
)
'''


@pytest.fixture
def sim(tmp_path, fake_github) -> Simulation:
    source = tmp_path / "source"
    workflows = source / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "checks.yml").write_text(textwrap.dedent(CHECKS))
    (workflows / "follow.yml").write_text(textwrap.dedent(FOLLOW))
    (source / "follow.py").write_text(FOLLOW_PY)
    repo = UserRepository.from_folder(tmp_path / "repo", source, full_name=fake_github.repository)
    return Simulation(tmp_path / "sim", repo, fake_github)


@pytest.mark.parametrize("fork", [False, True])
def test_a_finished_run_starts_the_default_branchs_workflow_run(sim, fake_github, fork):
    sim.repo.branch("topic", start="main")
    sim.repo.write("follow.py", FOLLOW_PY + "# evil: the pull request's version\n")
    sim.repo.commit("change the follow-up's code")
    number, runs = sim.open_pull_request("topic", fork=fork)
    (checks,) = runs
    assert checks.conclusion == "success", checks.log()
    (follow,) = sim.runs_of("follow.yml")
    assert (follow.event_name, follow.ref) == ("workflow_run", "refs/heads/main")
    assert follow.job("post").state == "success", follow.log()
    assert follow.job("post").legs[0].permissions == {
        "actions": "read",
        "pull-requests": "write",  # not lowered to read: this run is not the fork's
        "metadata": "read",
    }
    head = "fork-owner/models" if fork else fake_github.repository
    listed = "0" if fork else "1"  # GitHub lists no pull request for a fork's run
    assert follow.job("post").outputs["seen"] == (
        f"completed pull_request success {listed} {head} report {number} 201 MAIN"
    )
    shown = fake_github.workflow_runs[int(checks.id)]
    assert (shown["status"], shown["head_sha"]) == ("completed", sim.repo.git("rev-parse", "topic"))


def test_only_the_named_workflows_completion_starts_it(sim):
    sim.repo.write(
        ".github/workflows/other.yml",
        "name: other\non: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n",
    )
    sim.repo.commit("another workflow")
    (other,) = sim.push("main")
    assert other.conclusion == "success", other.log()
    assert sim.runs_of("follow.yml") == []
