"""A repository's GitHub Actions, simulated faithfully enough to run the workflow templates verbatim.

Events (a push, a pull request opened or pushed to, a schedule, a ``workflow_dispatch``, the
``repository_dispatch`` a job sends through the fake GitHub, and a run completing, which is a
``workflow_run`` for the workflows that name it) start a *run* of every workflow whose ``on:``
matches (types, branches, paths filters, ``[skip ci]``), read from the event's commit (for
``workflow_run``, ``repository_dispatch`` and ``schedule``: the default branch's). The fake
GitHub shows every run (``actions/get-workflow-run``) and, once it finished, its artifacts. In
a run:

- each job (each matrix leg) runs on a fresh machine: its own home, temp and workspace, empty
  until ``actions/checkout`` clones the event's commit; the machine is deleted when the job
  ends. Only artifacts, caches and remote services (the fake GitHub, S3) carry anything on;
- jobs run in ``needs`` order; ``needs.<job>.outputs``/``.result``, job ``if:`` with the
  status functions over the ``needs`` chain, ``strategy.matrix`` (include/exclude,
  ``fail-fast``, a whole matrix from ``fromJSON`` of an earlier job's output, at most 256
  jobs) behave as on GitHub;
- a job that calls a reusable workflow (``uses: ./.github/workflows/x.yml``, or
  ``OWNER/mlops-actions/.github/workflows/x.yml@v1`` for the project under test), matrix or
  not, runs that workflow's jobs in the same run with its ``with:`` as typed ``inputs``; a
  called job may hold no permission the calling job lacks (GitHub fails the run), gets only
  the secrets passed (``secrets: inherit``: all), and sees the caller's ``github`` context;
- a job whose ``environment:`` has required reviewers waits until the test calls
  ``approve``/``reject``; ``concurrency`` groups (workflow and job level) queue or cancel;
- each job gets its own token with exactly its ``permissions:`` (the workflow's block when it
  has none, else the repository default), revoked when the job ends; a pull request from a
  fork gets a read-only token and no secrets;
- a clock the test moves (``clock.advance(days=3)``) is what the jobs' code reads as now.

Machines are deleted when their job ends; set HARNESS_KEEP_MACHINES=1 to keep them for a look.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from . import payloads
from .expressions import condition, interpolate, to_text
from .repository import UserRepository
from .runner import OWN_ACTION, REPO_ROOT, ActionRun, HarnessError, Runner
from .tools import Artifact, ArtifactStore, CacheStore, Machine, ToolBox

RESTRICTED = {"contents": "read", "metadata": "read", "packages": "read"}
"""The default GITHUB_TOKEN permissions of a repository created today ("restricted")."""
SKIP_CI = ("[skip ci]", "[ci skip]", "[no ci]", "[skip actions]", "[actions skip]")
FINAL = ("success", "failure", "cancelled", "skipped")
MAX_MATRIX_JOBS = 256
"""GitHub: "A matrix will generate a maximum of 256 jobs per workflow run"; more fails the job."""
PR_TYPES = ("opened", "synchronize", "reopened")


class Clock:
    """The time the jobs see: the machine's clock plus an offset the test moves forward."""

    def __init__(self, start: datetime | None = None):
        self.offset = 0.0 if start is None else (start - datetime.now(UTC)).total_seconds()

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, **delta: float) -> datetime:
        self.offset += timedelta(**delta).total_seconds()
        return self.now()


@dataclasses.dataclass
class Leg:
    """One matrix combination of a job: what ran, with which token scopes, on which machine."""

    matrix: dict[str, Any]
    status: str
    run: ActionRun | None = None
    permissions: dict[str, str] = dataclasses.field(default_factory=dict)
    machine: Path | None = None


@dataclasses.dataclass(frozen=True)
class Call:
    """Where a job of a called (reusable) workflow runs: one leg of the calling job."""

    caller: str
    prefix: str  # "<caller>/<leg>/": the called jobs' ids in the run
    doc: dict[str, Any]
    inputs: dict[str, Any]
    permissions: dict[str, str]  # the calling job's: the most a called job can hold
    secrets: dict[str, str]


@dataclasses.dataclass
class Job:
    id: str
    spec: dict[str, Any]
    call: Call | None = None  # a job of a called workflow
    children: list[str] = dataclasses.field(default_factory=list)  # a calling job's jobs
    state: str = "queued"  # queued | waiting (approval) | pending (concurrency) | ready | FINAL
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    legs: list[Leg] = dataclasses.field(default_factory=list)
    environment: str | None = None
    group: str | None = None  # its job-level concurrency group
    note: str = ""

    @property
    def result(self) -> str:
        return self.state

    @property
    def done(self) -> bool:
        return self.state in FINAL

    @property
    def local_needs(self) -> list[str]:
        """``needs`` as the workflow file names them."""
        needs = self.spec.get("needs") or []
        return [needs] if isinstance(needs, str) else list(needs)

    @property
    def needs(self) -> list[str]:
        """``needs`` as ids in the run."""
        prefix = self.call.prefix if self.call else ""
        return [prefix + n for n in self.local_needs]

    @property
    def local_id(self) -> str:
        return self.id.removeprefix(self.call.prefix) if self.call else self.id

    @property
    def run(self) -> ActionRun:
        """The job's one run (a matrix job: ``legs``)."""
        if len(self.legs) != 1 or self.legs[0].run is None:
            raise HarnessError(
                f"job {self.id} has {len(self.legs)} legs, {self.state}: {self.note}"
            )
        return self.legs[0].run

    def log(self) -> str:
        parts = [f"=== job {self.id}: {self.state} {self.note}".rstrip()]
        parts += [leg.run.log() for leg in self.legs if leg.run is not None]
        return "\n".join(parts)


@dataclasses.dataclass
class WorkflowRun:
    id: str
    number: int
    path: str  # .github/workflows/NAME.yml
    doc: dict[str, Any]
    event_name: str
    payload: dict[str, Any]
    sha: str
    ref: str
    inputs: dict[str, Any]
    fork: bool = False
    status: str = "queued"  # queued | pending | in_progress | waiting | completed
    conclusion: str | None = None
    jobs: dict[str, Job] = dataclasses.field(default_factory=dict)
    approvals: dict[str, bool | None] = dataclasses.field(default_factory=dict)
    group: str | None = None
    artifacts: dict[str, Artifact] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.doc.get("name") or self.path)

    @property
    def file(self) -> str:
        return Path(self.path).name

    @property
    def done(self) -> bool:
        return self.status == "completed"

    @property
    def waiting_for(self) -> list[str]:
        return sorted(env for env, decision in self.approvals.items() if decision is None)

    def job(self, job_id: str) -> Job:
        return self.jobs[job_id]

    def log(self) -> str:
        head = f"##### {self.file} run {self.id} ({self.event_name}): {self.status} {self.conclusion or ''}"
        return "\n".join([head, *(job.log() for job in self.jobs.values())])


class Simulation:
    """GitHub Actions for one repository: events in, workflow runs out."""

    def __init__(
        self,
        root: Path,
        repo: UserRepository,
        github: Any | None = None,
        *,
        secrets: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        protected: Iterable[str] = ("production",),
        default_permissions: Mapping[str, str] = RESTRICTED,
        runner_env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        timeout: float = 1200,
        keep_machines: bool = bool(os.environ.get("HARNESS_KEEP_MACHINES")),
    ):
        self.root = root
        self.repo = repo
        self.github = github
        self.secrets = dict(secrets or {})
        self.variables = dict(variables or {})
        self.protected = set(protected)
        self.default_permissions = dict(default_permissions)
        self.runner_env = dict(runner_env or {})
        self.clock = clock or Clock()
        self.timeout = timeout
        self.keep_machines = keep_machines
        self.runs: list[WorkflowRun] = []
        self.pulls: dict[int, dict[str, Any]] = {}
        self.artifacts = ArtifactStore(root / "artifacts")
        self.caches = CacheStore(root / "caches", f"refs/heads/{repo.default_branch}")
        self._run_ids = itertools.count(7001)
        self._run_numbers: dict[str, itertools.count] = {}
        self._groups: dict[str, dict[str, Any]] = {}
        self._dispatches_seen = len(github.dispatches) if github is not None else 0
        self._announced: set[str] = set()  # runs whose completion started workflow_run runs
        self._local_pulls = itertools.count(1)

    # ---- events ---------------------------------------------------------------------------
    def push(self, branch: str | None = None) -> list[WorkflowRun]:
        """``git push`` of the clone's branch; runs what the push (and an open PR on it) starts."""
        branch = branch or self.repo.git("rev-parse", "--abbrev-ref", "HEAD")
        before = self.repo.sha(f"refs/heads/{branch}")
        self.repo.git("push", "-q", "--force", "origin", f"{branch}:refs/heads/{branch}")
        after = self.repo.sha(f"refs/heads/{branch}")
        if after == before:
            return []
        commits = self.repo.commits(before, after)
        payload = payloads.push(
            self.repo.full_name,
            self.repo.default_branch,
            ref=f"refs/heads/{branch}",
            before=before,
            after=after,
            commits=commits,
        )
        started = self._trigger(
            "push", payload, after, f"refs/heads/{branch}", self.repo.changed_files(before, after)
        )
        for number, pull in self.pulls.items():
            if pull["open"] and not pull["fork"] and pull["head_ref"] == branch:
                started += self._pull_request_event(number, "synchronize")
        self._drain()
        return started

    def open_pull_request(
        self,
        head: str,
        *,
        base: str | None = None,
        title: str = "Change the model",
        fork: bool = False,
    ) -> tuple[int, list[WorkflowRun]]:
        """Open a PR from the clone's branch ``head`` (from a fork: its commits never become a
        branch here); returns its number and the runs it started."""
        base = base or self.repo.default_branch
        started = [] if fork else self.push(head)
        head_sha = self.repo.git("rev-parse", head)
        if self.github is not None:
            number = self.github.add_pull_request(head_sha=head_sha, title=title, fork=fork)
            pull = self.github.pulls[number]
            pull["head"]["ref"], pull["base"]["ref"] = head, base
        else:
            number = next(self._local_pulls)
        if fork:
            self.repo.git("push", "-q", "origin", f"{head_sha}:refs/pull/{number}/head")
        self.pulls[number] = {
            "head_ref": head,
            "base_ref": base,
            "fork": fork,
            "title": title,
            "open": True,
        }
        started += self._pull_request_event(number, "opened")
        self._drain()
        return number, started

    def merge_pull_request(self, number: int) -> list[WorkflowRun]:
        """The merge button: a merge commit on the base branch, and the push it is."""
        pull = self.pulls[number]
        head = self.repo.sha(f"refs/pull/{number}/head")
        base_ref = f"refs/heads/{pull['base_ref']}"
        before = self.repo.sha(base_ref)
        after = self.repo.merge(
            head, pull["base_ref"], f"Merge pull request #{number}\n\n{pull['title']}"
        )
        pull["open"] = False
        self.repo.git("fetch", "-q", "origin")
        self.repo.git("checkout", "-q", "-B", pull["base_ref"], f"origin/{pull['base_ref']}")
        payload = payloads.push(
            self.repo.full_name,
            self.repo.default_branch,
            ref=base_ref,
            before=before,
            after=after,
            commits=self.repo.commits(before, after),
        )
        started = self._trigger(
            "push", payload, after, base_ref, self.repo.changed_files(before, after)
        )
        self._drain()
        return started

    def schedule(self, cron: str) -> list[WorkflowRun]:
        """The scheduler fires ``cron`` on the default branch."""
        sha, ref = self._default_head()
        started = self._trigger("schedule", payloads.schedule(cron), sha, ref, [])
        if not started:
            raise HarnessError(f"no workflow on {ref} is scheduled with cron {cron!r}")
        self._drain()
        return started

    def dispatch_workflow(
        self, workflow: str, *, inputs: Mapping[str, Any] | None = None, ref: str | None = None
    ) -> WorkflowRun:
        """Someone presses "Run workflow" (``workflow_dispatch``) on ``.github/workflows/<workflow>``."""
        ref = f"refs/heads/{ref or self.repo.default_branch}"
        sha = self.repo.sha(ref)
        path = f".github/workflows/{workflow}"
        doc = self._workflow(sha, path)
        declared = (_triggers(doc).get("workflow_dispatch") or {}).get("inputs") or {}
        if "workflow_dispatch" not in _triggers(doc):
            raise HarnessError(f"{path} has no workflow_dispatch trigger")
        given = dict(inputs or {})
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise HarnessError(f"{path}: unexpected inputs {unknown}")
        values = {}
        for name, spec in declared.items():
            value = given.get(name, (spec or {}).get("default", ""))
            if (spec or {}).get("required") and name not in given and "default" not in (spec or {}):
                raise HarnessError(f"{path}: input {name!r} is required")
            values[name] = _typed(value, (spec or {}).get("type", "string"))
        payload = payloads.workflow_dispatch(
            self.repo.full_name,
            self.repo.default_branch,
            ref=ref,
            workflow=path,
            inputs={k: to_text(v) for k, v in values.items()},
        )
        run = self._start(path, doc, "workflow_dispatch", payload, sha, ref, inputs=values)
        self._drain()
        return run

    def approve(self, run: WorkflowRun, environment: str) -> None:
        """A required reviewer approves the run's deployment to ``environment``."""
        self._review(run, environment, True)

    def reject(self, run: WorkflowRun, environment: str) -> None:
        self._review(run, environment, False)

    def runs_of(self, workflow: str) -> list[WorkflowRun]:
        return [run for run in self.runs if run.file == workflow]

    # ---- triggering -----------------------------------------------------------------------
    def _default_head(self) -> tuple[str, str]:
        ref = f"refs/heads/{self.repo.default_branch}"
        return self.repo.sha(ref), ref

    def _pull_request_event(self, number: int, action: str) -> list[WorkflowRun]:
        pull = self.pulls[number]
        head = self.repo.sha(
            f"refs/pull/{number}/head" if pull["fork"] else f"refs/heads/{pull['head_ref']}"
        )
        merge = self.repo.test_merge(number, head, pull["base_ref"])
        if self.github is not None:
            self.github.pulls[number]["head"]["sha"] = head
        base_sha = self.repo.sha(f"refs/heads/{pull['base_ref']}")
        payload = payloads.pull_request(
            self.repo.full_name,
            self.repo.default_branch,
            action=action,
            number=number,
            title=pull["title"],
            head_ref=pull["head_ref"],
            head_sha=head,
            base_ref=pull["base_ref"],
            base_sha=base_sha,
            merge_sha=merge,
            fork=pull["fork"],
        )
        changed = self.repo.changed_files(self.repo.origin_git("merge-base", base_sha, head), head)
        message = self.repo.origin_git("log", "-1", "--format=%B", head)
        if any(mark in message for mark in SKIP_CI):
            return []
        return self._trigger(
            "pull_request", payload, merge, f"refs/pull/{number}/merge", changed, fork=pull["fork"]
        )

    def _trigger(
        self,
        event_name: str,
        payload: dict[str, Any],
        sha: str,
        ref: str,
        changed: list[str],
        *,
        fork: bool = False,
    ) -> list[WorkflowRun]:
        if event_name == "push":
            head = payload.get("head_commit") or {}
            if any(mark in str(head.get("message", "")) for mark in SKIP_CI):
                return []
        started = []
        listing = self.repo.origin_git("ls-tree", "--name-only", sha, ".github/workflows/")
        for path in listing.splitlines():
            if not path.endswith((".yml", ".yaml")):
                continue
            doc = self._workflow(sha, path)
            if _matches(doc, event_name, payload, ref, changed):
                started.append(self._start(path, doc, event_name, payload, sha, ref, fork=fork))
        return started

    def _workflow(self, sha: str, path: str) -> dict[str, Any]:
        text = self.repo.origin_git("show", f"{sha}:{path}")
        doc = yaml.safe_load(text)
        if not isinstance(doc, dict) or "jobs" not in doc:
            raise HarnessError(f"{path} at {sha[:12]}: not a workflow")
        return doc

    def _start(
        self,
        path: str,
        doc: dict[str, Any],
        event_name: str,
        payload: dict[str, Any],
        sha: str,
        ref: str,
        *,
        fork: bool = False,
        inputs: dict[str, Any] | None = None,
    ) -> WorkflowRun:
        counter = self._run_numbers.setdefault(path, itertools.count(1))
        run = WorkflowRun(
            id=str(next(self._run_ids)),
            number=next(counter),
            path=path,
            doc=doc,
            event_name=event_name,
            payload=payload,
            sha=sha,
            ref=ref,
            inputs=dict(inputs or {}),
            fork=fork,
        )
        run.jobs = {job_id: Job(job_id, spec) for job_id, spec in doc["jobs"].items()}
        run.artifacts = self.artifacts.of(run.id)
        self.runs.append(run)
        self._publish(run)
        concurrency = doc.get("concurrency")
        if concurrency:
            run.group, cancel = self._group(concurrency, self._contexts(run))
            self._enter(run.group, run, cancel)
        return run

    # ---- running --------------------------------------------------------------------------
    def _drain(self) -> None:
        """Run whatever can run, until every run is done or waits for someone."""
        while True:
            self._deliver_dispatches()
            self._deliver_completions()
            if not any(
                self._advance(run)
                for run in list(self.runs)
                if run.status in ("queued", "in_progress")
            ):
                return

    def _deliver_dispatches(self) -> None:
        """A repository_dispatch a job sent starts the default branch's listening workflows."""
        if self.github is None:
            return
        for body in self.github.dispatches[self._dispatches_seen :]:
            self._dispatches_seen += 1
            sha, ref = self._default_head()
            payload = payloads.repository_dispatch(
                self.repo.full_name,
                self.repo.default_branch,
                event_type=body["event_type"],
                client_payload=body.get("client_payload") or {},
            )
            self._trigger("repository_dispatch", payload, sha, ref, [])

    def _deliver_completions(self) -> None:
        """A finished run shows its artifacts on the fake GitHub, then starts the default
        branch's workflows listening for it (``on: workflow_run``), each a run of its own with
        the permissions its file asks for: a fork's pull request set it off, but it is not the
        fork's run."""
        for run in list(self.runs):
            if not run.done or run.id in self._announced:
                continue
            self._announced.add(run.id)
            view = self._publish(run)
            sha, ref = self._default_head()
            payload = payloads.workflow_run(self.repo.full_name, self.repo.default_branch, run=view)
            self._trigger("workflow_run", payload, sha, ref, [])

    def _run_view(self, run: WorkflowRun) -> dict[str, Any]:
        """``run`` as GitHub's API shows it: for a pull request's run the PR's head commit and
        branch, and ``pull_requests`` listing it unless it comes from a fork."""
        pull = run.payload.get("pull_request") or {}
        head_sha, head_branch = run.sha, run.ref.split("/", 2)[-1]
        head_repository = self.repo.full_name
        listed = []
        if pull:
            head_sha, head_branch = pull["head"]["sha"], pull["head"]["ref"]
            head_repository = pull["head"]["repo"]["full_name"]
            if head_repository == self.repo.full_name:
                listed = [_minimal_pull(pull)]
        return {
            "id": int(run.id),
            "name": run.name,
            "path": run.path,
            "display_title": str(pull.get("title") or run.name),
            "event": run.event_name,
            "status": "completed" if run.done else "in_progress",
            "conclusion": run.conclusion,
            "head_sha": head_sha,
            "head_branch": head_branch,
            "run_number": run.number,
            "run_attempt": 1,
            "workflow_id": int.from_bytes(run.path.encode()[-4:], "big"),
            "pull_requests": listed,
            "head_repository": {"full_name": head_repository},
        }

    def _publish(self, run: WorkflowRun) -> dict[str, Any]:
        """Show ``run`` (and, once done, its artifacts) on the fake GitHub; its view."""
        view = self._run_view(run)
        if self.github is None:
            return view
        fields = {k: v for k, v in view.items() if k not in ("id", "head_repository")}
        shown = self.github.add_workflow_run(view["id"], **fields)
        owner, name = view["head_repository"]["full_name"].split("/")
        shown["head_repository"].update(full_name=f"{owner}/{name}", name=name)
        shown["head_repository"]["owner"]["login"] = owner
        if run.done:
            for artifact in run.artifacts.values():
                self.github.add_artifact(view["id"], artifact.id, artifact.name, artifact.zip())
        return view

    def _advance(self, run: WorkflowRun) -> bool:
        """Run (or settle) one job of ``run``; False when nothing can move.

        A job goes queued -> (its ``if:``) -> its concurrency group (pending while another
        holds it) -> its environment's review (waiting) -> runs.
        """
        run.status = "in_progress"
        for job in run.jobs.values():
            if job.done or not all(run.jobs[n].done for n in job.needs):
                continue
            if job.state == "calling":
                if not all(run.jobs[child].done for child in job.children):
                    continue
                states = {run.jobs[child].state for child in job.children}
                job.state = next((s for s in ("failure", "cancelled") if s in states), "success")
                return True
            if job.state == "queued":
                if not self._job_if(run, job):
                    job.state = "skipped"
                    return True
                if "uses" in job.spec:
                    self._call(run, job)
                    return True
                contexts = self._contexts(run, job)
                env = job.spec.get("environment")
                env = env.get("name") if isinstance(env, Mapping) else env
                job.environment = to_text(interpolate(env, contexts)) if env else None
                job.state = "ready"
                if job.spec.get("concurrency"):
                    job.group, cancel = self._group(job.spec["concurrency"], contexts)
                    self._enter(job.group, job, cancel)
            if job.state == "ready" and job.environment in self.protected:
                run.approvals.setdefault(job.environment, None)
                job.state = "waiting"
            if job.state == "waiting":
                decision = run.approvals.get(job.environment or "")
                if decision is None:
                    continue
                if decision is False:
                    job.state, job.note = "failure", f"deployment to {job.environment} rejected"
                else:
                    self._execute(run, job)
            elif job.state == "ready":
                self._execute(run, job)
            else:
                continue  # pending in its concurrency group
            if job.group:
                self._leave(job.group, job)
            return True
        if all(job.done for job in run.jobs.values()):
            results = {job.state for job in run.jobs.values()}
            run.conclusion = next((r for r in ("failure", "cancelled") if r in results), "success")
            run.status = "completed"
            if run.group:
                self._leave(run.group, run)
            return True
        run.status = "waiting" if run.waiting_for else "in_progress"
        return False

    def _job_if(self, run: WorkflowRun, job: Job) -> bool:
        ancestors = _ancestors(run, job)
        ok = all(run.jobs[a].state == "success" for a in ancestors)
        failed = any(run.jobs[a].state == "failure" for a in ancestors)
        functions = {
            "success": lambda: ok,
            "failure": lambda: failed,
            "always": lambda: True,
            "cancelled": lambda: False,
        }
        return condition(job.spec.get("if"), self._contexts(run, job), functions)

    def _contexts(self, run: WorkflowRun, job: Job | None = None) -> dict[str, Any]:
        contexts: dict[str, Any] = {
            "github": self._github_context(run, job.local_id if job else ""),
            "inputs": job.call.inputs if job and job.call else run.inputs,
            "vars": self.variables,
        }
        if job is not None:
            contexts["needs"] = _needs(run, job)
            contexts["matrix"] = {}
            contexts["strategy"] = {}
        return contexts

    def _github_context(self, run: WorkflowRun, job_id: str) -> dict[str, Any]:
        pull = run.payload.get("pull_request") or {}
        return {
            "event_name": run.event_name,
            "event": run.payload,
            "repository": self.repo.full_name,
            "repository_owner": self.repo.full_name.split("/")[0],
            "sha": run.sha,
            "ref": run.ref,
            "ref_name": run.ref.split("/", 2)[-1],
            "base_ref": (pull.get("base") or {}).get("ref", ""),
            "head_ref": (pull.get("head") or {}).get("ref", ""),
            "run_id": run.id,
            "run_number": str(run.number),
            "workflow": run.name,
            "job": job_id,
            "actor": "octocat",
        }

    def _execute(self, run: WorkflowRun, job: Job) -> None:
        strategy = job.spec.get("strategy") or {}
        contexts = self._contexts(run, job)
        combos = (
            _matrix(interpolate(strategy.get("matrix"), contexts))
            if strategy.get("matrix")
            else [{}]
        )
        if len(combos) > MAX_MATRIX_JOBS:
            job.state = "failure"
            job.note = (
                f"strategy.matrix: {len(combos)} job configurations, more than the maximum "
                f"of {MAX_MATRIX_JOBS}"
            )
            return
        fail_fast = to_text(interpolate(strategy.get("fail-fast", True), contexts)) != "false"
        failed = False
        for index, combo in enumerate(combos):
            if failed and fail_fast:
                job.legs.append(Leg(combo, "cancelled"))
                continue
            leg = self._run_leg(
                run,
                job,
                combo,
                {"job-index": index, "job-total": len(combos), "fail-fast": fail_fast},
            )
            job.legs.append(leg)
            if leg.run is not None:  # a later leg's non-empty value wins, as on GitHub
                job.outputs.update(
                    {k: v for k, v in leg.run.outputs.items() if v or k not in job.outputs}
                )
            continue_on_error = to_text(
                interpolate(job.spec.get("continue-on-error", False), {**contexts, "matrix": combo})
            )
            failed = failed or (leg.status == "failure" and continue_on_error != "true")
        states = {leg.status for leg in job.legs}
        job.state = "failure" if failed else "cancelled" if "cancelled" in states else "success"

    def _run_leg(
        self, run: WorkflowRun, job: Job, combo: dict[str, Any], strategy: dict[str, Any]
    ) -> Leg:
        permissions = self._permissions(run, job)
        token = self.github.issue_token(permissions) if self.github is not None else "ghs_offline"
        secrets = {} if run.fork else job.call.secrets if job.call else dict(self.secrets)
        name = f"{run.id}-{job.id}-{len(job.legs) + 1}"
        machine = Machine(self.root / "machines" / name, self.repo.full_name).create()
        tools = ToolBox(
            machine=machine,
            origin=self.repo.origin,
            run_id=run.id,
            ref=run.ref,
            sha=run.sha,
            artifacts=self.artifacts,
            caches=self.caches,
        )
        context = self._github_context(run, job.local_id)
        context = {
            k: v
            for k, v in context.items()
            if k not in ("event", "event_name", "repository", "repository_owner")
        }
        runner = Runner(
            machine=machine,
            tools=tools,
            event_name=run.event_name,
            event=run.payload,
            repository=self.repo.full_name,
            token=token,
            api_url=self.github.url if self.github is not None else "http://127.0.0.1:9",
            env=self.runner_env,
            secrets=secrets,
            timeout=self.timeout,
            context=context,
            clock_offset=self.clock.offset,
        )
        try:
            result = runner.run_job(
                job.call.doc if job.call else run.doc,
                job.local_id,
                inputs=job.call.inputs if job.call else run.inputs,
                needs=_needs(run, job),
                matrix=combo,
                strategy=strategy,
                variables=self.variables,
            )
        finally:
            if self.github is not None:
                self.github.revoke_token(token)
            if not self.keep_machines:
                shutil.rmtree(machine.root, ignore_errors=True)
        return Leg(combo, result.status, result, permissions, machine.root)

    def _permissions(self, run: WorkflowRun, job: Job) -> dict[str, str]:
        if job.call is not None:  # the called workflow's block, else the calling job's
            block = job.spec.get("permissions", job.call.doc.get("permissions"))
            if block is None:
                return dict(job.call.permissions)
        else:
            block = job.spec.get(
                "permissions", run.doc.get("permissions", self.default_permissions)
            )
        from support.fakegithub.scopes import SCOPES, read_only

        if block == "read-all":
            granted = dict.fromkeys(SCOPES, "read")
        elif block == "write-all":
            granted = dict.fromkeys(SCOPES, "write")
        elif isinstance(block, Mapping):
            granted = {str(k): str(v) for k, v in block.items()}
        else:
            raise HarnessError(f"{run.path}: permissions must be a mapping, read-all or write-all")
        granted.setdefault("metadata", "read")
        return read_only(granted) if run.fork else granted

    # ---- reusable workflows ---------------------------------------------------------------
    def _call(self, run: WorkflowRun, job: Job) -> None:
        """Expand a job that calls a reusable workflow into that workflow's jobs, one set per
        matrix leg, with ids ``<job>/<leg>/<called job>``; the job ends when they all have."""
        uses = str(job.spec["uses"])
        doc, where = self._reusable(run, uses)
        declared = (_triggers(doc).get("workflow_call") or {}).get("inputs") or {}
        contexts = self._contexts(run, job)
        strategy = job.spec.get("strategy") or {}
        combos = (
            _matrix(interpolate(strategy.get("matrix"), contexts))
            if strategy.get("matrix")
            else [{}]
        )
        granted = self._permissions(run, job)
        order = ("none", "read", "write")
        children: list[Job] = []
        for leg, combo in enumerate(combos):
            scope = {**contexts, "matrix": combo}
            given = {str(k): interpolate(v, scope) for k, v in (job.spec.get("with") or {}).items()}
            unknown = sorted(set(given) - set(declared))
            if unknown:
                job.state, job.note = "failure", f"{where}: unexpected inputs {unknown}"
                return
            inputs = {}
            for name, spec in declared.items():
                spec = spec or {}
                if spec.get("required") and name not in given:
                    job.state, job.note = "failure", f"{where}: input {name!r} is required"
                    return
                value, kind = given.get(name, spec.get("default", "")), spec.get("type", "string")
                inputs[name] = to_text(value) if kind == "string" else _typed(value, kind)
            passed = job.spec.get("secrets")
            secrets = (
                dict(self.secrets)
                if passed == "inherit"
                else {str(k): to_text(interpolate(v, scope)) for k, v in (passed or {}).items()}
            )
            call = Call(job.id, f"{job.id}/{leg}/", doc, inputs, granted, secrets)
            for called_id, spec in doc["jobs"].items():
                child = Job(call.prefix + called_id, spec, call=call)
                wants = self._permissions(run, child)
                over = [
                    f"{scope_name}: {level}"
                    for scope_name, level in wants.items()
                    if order.index(level) > order.index(granted.get(scope_name, "none"))
                ]
                if over:  # GitHub's words: the run fails before any job starts
                    job.state = "failure"
                    job.note = (
                        f"{where}: the nested job {called_id!r} is requesting {', '.join(over)}, "
                        f"but is only allowed {granted}"
                    )
                    return
                children.append(child)
        for child in children:  # only once every leg's every job may run: none runs otherwise
            run.jobs[child.id] = child
            job.children.append(child.id)
        job.state = "calling"

    def _reusable(self, run: WorkflowRun, uses: str) -> tuple[dict[str, Any], str]:
        own = OWN_ACTION.match(uses)
        if uses.startswith("./"):
            path = uses[2:]
            return self._workflow(run.sha, path), path
        if own and (own["path"] or "").startswith(".github/workflows/"):
            path = REPO_ROOT / own["path"]
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or "workflow_call" not in _triggers(doc):
                raise HarnessError(f"{uses}: not a reusable workflow (no on: workflow_call)")
            return doc, own["path"]
        raise HarnessError(
            f"{uses}: the harness calls only this repository's or mlops-actions' workflows"
        )

    # ---- approvals and concurrency ----------------------------------------------------------
    def _review(self, run: WorkflowRun, environment: str, decision: bool) -> None:
        if environment not in run.waiting_for:
            raise HarnessError(
                f"run {run.id} ({run.file}) waits for no review of {environment!r} "
                f"(waiting for {run.waiting_for}, status {run.status})"
            )
        run.approvals[environment] = decision
        run.status = "in_progress"
        self._drain()

    @staticmethod
    def _group(spec: Any, contexts: dict[str, Any]) -> tuple[str, bool]:
        if isinstance(spec, str):
            return to_text(interpolate(spec, contexts)), False
        cancel = to_text(interpolate(spec.get("cancel-in-progress", False), contexts)) == "true"
        return to_text(interpolate(spec["group"], contexts)), cancel

    def _enter(self, group: str, holder: WorkflowRun | Job, cancel: bool) -> None:
        """GitHub's rule: one running and one pending per group; a newer pending one replaces
        the older, and ``cancel-in-progress`` cancels the running one instead."""
        slot = self._groups.setdefault(group.casefold(), {"active": None, "pending": None})
        if slot["active"] is None:
            slot["active"] = holder
        elif cancel:
            self._cancel(slot["active"])
            slot["active"] = holder
        else:
            if slot["pending"] is not None:
                self._cancel(slot["pending"])
            slot["pending"] = holder
            _set_state(holder, "pending")
            return
        _set_state(holder, "go")

    def _leave(self, group: str, holder: WorkflowRun | Job) -> None:
        slot = self._groups[group.casefold()]
        if slot["active"] is holder:
            slot["active"], slot["pending"] = slot["pending"], None
            if slot["active"] is not None:
                _set_state(slot["active"], "go")

    def _cancel(self, holder: WorkflowRun | Job) -> None:
        run = holder if isinstance(holder, WorkflowRun) else None
        if run is None:
            holder.state, holder.note = (
                "cancelled",
                "cancelled by a newer job in its concurrency group",
            )
            return
        for job in run.jobs.values():
            if not job.done:
                job.state = "cancelled"
                if job.group:
                    self._leave(job.group, job)
        run.approvals = {k: v for k, v in run.approvals.items() if v is not None}
        run.status, run.conclusion = "completed", "cancelled"
        if run.group:
            slot = self._groups.get(run.group.casefold())
            if slot and slot["pending"] is run:
                slot["pending"] = None


def _set_state(holder: WorkflowRun | Job, what: str) -> None:
    if isinstance(holder, WorkflowRun):
        holder.status = "pending" if what == "pending" else "queued"
    else:
        holder.state = "pending" if what == "pending" else "ready"


# ---- workflow files -------------------------------------------------------------------------------
def _triggers(doc: Mapping[str, Any]) -> dict[str, Any]:
    on = doc.get(True, doc.get("on"))  # PyYAML reads the key `on` as True
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return dict.fromkeys(on, {})
    return {k: v or {} for k, v in (on or {}).items()}


def _filter_regex(pattern: str) -> re.Pattern[str]:
    """GitHub's filter patterns: ``*`` within a path segment, ``**`` across, ``?``/``+`` repeat."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] in "?+":
            out.append(pattern[i])
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _included(value: str, patterns: list[str]) -> bool:
    """The last matching pattern decides; a ``!`` pattern excludes."""
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _filter_regex(pattern[1:] if negated else pattern).fullmatch(value):
            result = not negated
    return result


def _matches(
    doc: Mapping[str, Any], event: str, payload: Mapping[str, Any], ref: str, changed: list[str]
) -> bool:
    triggers = _triggers(doc)
    if event not in triggers:
        return False
    spec = triggers[event]
    if event == "schedule":
        return any(item.get("cron") == payload["schedule"] for item in spec or [])
    if event == "repository_dispatch":
        return "types" not in spec or payload["action"] in spec["types"]
    if event == "workflow_run":  # GitHub's default types are requested and completed
        described = payload["workflow_run"]
        if described["name"] not in spec.get("workflows", []):
            return False
        if payload["action"] not in spec.get("types", ("requested", "completed")):
            return False
        branch = described["head_branch"]
    elif event == "pull_request":
        if payload["action"] not in spec.get("types", PR_TYPES):
            return False
        branch = payload["pull_request"]["base"]["ref"]
    elif event == "push":
        if ref.startswith("refs/tags/"):
            return "tags" in spec and _included(ref.removeprefix("refs/tags/"), spec["tags"])
        if "tags" in spec and not ({"branches", "branches-ignore"} & set(spec)):
            return False
        branch = ref.removeprefix("refs/heads/")
    else:
        return True
    if "branches" in spec and not _included(branch, spec["branches"]):
        return False
    if "branches-ignore" in spec and _included(branch, spec["branches-ignore"]):
        return False
    if "paths" in spec and not any(_included(f, spec["paths"]) for f in changed):
        return False
    ignored = spec.get("paths-ignore")
    return not (ignored and all(_included(f, ignored) for f in changed))


def _minimal_pull(pull: Mapping[str, Any]) -> dict[str, Any]:
    """A pull request as a workflow run's ``pull_requests`` lists it."""

    def end(side: Mapping[str, Any]) -> dict[str, Any]:
        repo = side["repo"]
        return {
            "ref": side["ref"],
            "sha": side["sha"],
            "repo": {"id": repo["id"], "url": repo["url"], "name": repo["name"]},
        }

    return {
        "id": pull["id"],
        "number": pull["number"],
        "url": pull["url"],
        "head": end(pull["head"]),
        "base": end(pull["base"]),
    }


def _matrix(spec: Any) -> list[dict[str, Any]]:
    """strategy.matrix expanded as GitHub does: the product, minus ``exclude``, then ``include``
    merged into every combination whose original values it does not overwrite, else appended."""
    if not isinstance(spec, Mapping):
        raise HarnessError(f"strategy.matrix must be a mapping, got {spec!r}")
    axes = {k: v for k, v in spec.items() if k not in ("include", "exclude")}
    combos = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    if not axes:
        combos = []
    for exclusion in spec.get("exclude") or []:
        combos = [c for c in combos if any(c.get(k) != v for k, v in exclusion.items())]
    originals = [dict(c) for c in combos]
    for extra in spec.get("include") or []:
        merged = False
        for combo, original in zip(combos, originals, strict=True):
            if all(original.get(k, v) == v for k, v in extra.items()):
                combo.update(extra)
                merged = True
        if not merged:
            combos.append(dict(extra))
            originals.append(dict(extra))
    return combos or [{}]


def _needs(run: WorkflowRun, job: Job) -> dict[str, dict[str, Any]]:
    """The ``needs`` context: the jobs ``job`` needs, under the names its workflow uses."""
    return {
        local: {"result": run.jobs[actual].state, "outputs": run.jobs[actual].outputs}
        for local, actual in zip(job.local_needs, job.needs, strict=True)
    }


def _ancestors(run: WorkflowRun, job: Job) -> set[str]:
    found: set[str] = set()
    stack = list(job.needs)
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(run.jobs[name].needs)
    return found


def _typed(value: Any, kind: str) -> Any:
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "number":
        return float(value)
    return value
