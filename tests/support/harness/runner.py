"""Run composite actions (and one job of a workflow) step by step, as the Actions runner does.

What is real: inputs and their defaults, step ``env:``, ``${{ }}`` expressions, ``if:`` with
success()/failure()/always(), ``working-directory``, ``shell: bash`` (``bash --noprofile --norc
-eo pipefail``), the files behind GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV, GITHUB_PATH
and GITHUB_EVENT_PATH, GITHUB_ACTION_PATH, nested ``uses:`` of this repository's actions
(``./actions/x`` or ``OWNER/mlops-actions/actions/x@v1`` resolve to the checkout under test),
post steps, and ``timeout-minutes``.

The GitHub-provided actions that move files (checkout, upload/download-artifact, cache) run
through a ``ToolBox`` (tools.py) when the runner belongs to a simulated workflow run
(simulation.py) and are skipped (``status="skipped-tool"``) when it runs alone.
actions/setup-python and the pip install step (``id: install``) of our setup actions are
always skipped: the test's interpreter stands in for the installed one, its bin folder first on
PATH and this checkout's ``src`` on PYTHONPATH.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .expressions import condition, interpolate, to_text
from .tools import Machine, ToolBox, ToolFailed

REPO_ROOT = Path(__file__).resolve().parents[3]
OWN_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/mlops-actions(?:/(?P<path>[^@]+))?@(?P<ref>.+)$")
TOOL_ACTIONS = frozenset(
    {
        "actions/setup-python",
        "actions/cache",
        "actions/cache/restore",
        "actions/cache/save",
        "actions/checkout",
        "actions/upload-artifact",
        "actions/download-artifact",
    }
)
INSTALL_STEP_ID = "install"
CLOCK_SITE = Path(__file__).resolve().parent / "clock_site"
_HOST_PREFIXES = ("GITHUB_", "RUNNER_", "MLOPS_", "INPUT_", "ACTIONS_")
# what a job on a simulated machine inherits from the test process: nothing that says where
# things are (HOME, TMPDIR, caches, credentials), only how to run
_MACHINE_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


class HarnessError(RuntimeError):
    """The YAML asks for something the runner would reject (unknown input, missing action, …)."""


@dataclasses.dataclass
class StepRecord:
    id: str
    name: str
    status: str  # success | failure | skipped | skipped-tool
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    summary: str = ""
    nested: ActionRun | None = None


@dataclasses.dataclass
class ActionRun:
    """What one action (or job) did: its outputs, step summary, and every step's record."""

    path: Path
    outputs: dict[str, str]
    steps: list[StepRecord]
    env_written: dict[str, str]
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def summary(self) -> str:
        return "".join(step.summary for step in self.steps)

    def step(self, step_id: str) -> StepRecord:
        for record in self.steps:
            if record.id == step_id:
                return record
        raise KeyError(f"no step {step_id!r} in {self.path} (steps: {[s.id for s in self.steps]})")

    def log(self) -> str:
        """Everything the steps printed, for assertion messages."""
        parts = []
        for record in self.steps:
            parts.append(
                f"--- {record.id} [{record.status}, exit {record.exit_code}]\n{record.stdout}{record.stderr}"
            )
            if record.nested:
                parts.append(record.nested.log())
        return "\n".join(parts)


def parse_command_file(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as GITHUB_OUTPUT and GITHUB_ENV hold them."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise HarnessError(f"unterminated {name}<<{delimiter} block in a command file")
            i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise HarnessError(f"malformed command-file line {line!r}")
    return values


class Runner:
    """One job's world: a workspace, the event, job env, and this repository as the actions' home.

    Alone (``machine=None``) it runs in the given workspace with the test's environment. On a
    simulated machine it gets the machine's own home, temp and workspace, an environment with
    nothing of the test process's but PATH and locale, and a ``ToolBox`` for checkout,
    artifacts and caches.
    """

    def __init__(
        self,
        workspace: str | Path | None = None,
        *,
        event_name: str = "push",
        event: Mapping[str, Any] | None = None,
        repository: str = "octo-org/ml-project",
        token: str = "ghs_harness_token",
        api_url: str = "http://127.0.0.1:9",  # a closed port: a stray API call fails here, fast
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        repo_root: str | Path = REPO_ROOT,
        timeout: float = 600,
        machine: Machine | None = None,
        tools: ToolBox | None = None,
        context: Mapping[str, Any] | None = None,
        clock_offset: float = 0.0,
    ):
        if machine is None and workspace is None:
            raise HarnessError("Runner needs a workspace or a machine")
        self.machine = machine
        self.workspace = (machine.workspace if machine else Path(workspace)).resolve()
        self.repo_root = Path(repo_root).resolve()
        self.temp = machine.temp if machine else Path(tempfile.mkdtemp(prefix="runner-temp-"))
        self.event_name = event_name
        self.event = dict(event or {})
        self.event_path = self.temp / "_github_workflow" / "event.json"
        self.event_path.parent.mkdir(parents=True, exist_ok=True)
        self.event_path.write_text(json.dumps(self.event), encoding="utf-8")
        self.repository = repository
        self.token = token
        self.api_url = api_url
        self.secrets = dict(secrets or {})
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.tools = tools
        self.context = dict(context or {})
        self.clock_offset = clock_offset
        self.run_id = str(self.context.get("run_id") or uuid.uuid4().int % 10**10)
        self.job_env: dict[str, str] = dict(env or {})
        self.extra_path: list[str] = []
        self.post_steps: list[tuple[str, Callable[[bool], str]]] = []

    # ---- contexts -------------------------------------------------------------------------
    def github(self, **extra: Any) -> dict[str, Any]:
        pr = self.event.get("pull_request") or {}
        ref = f"refs/pull/{pr['number']}/merge" if pr else "refs/heads/main"
        ref = self.context.get("ref", ref)
        return {
            "event_name": self.event_name,
            "event": self.event,
            "event_path": str(self.event_path),
            "workspace": str(self.workspace),
            "repository": self.repository,
            "repository_owner": self.repository.split("/")[0],
            "token": self.token,
            "api_url": self.api_url,
            "server_url": "https://github.com",
            "run_id": self.run_id,
            "run_number": "1",
            "run_attempt": "1",
            "sha": "0" * 40,
            "ref": ref,
            "ref_name": ref.split("/", 2)[-1],
            "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
            "base_ref": (pr.get("base") or {}).get("ref", ""),
            "head_ref": (pr.get("head") or {}).get("ref", ""),
            "actor": "octocat",
            "triggering_actor": "octocat",
            "workflow": "",
            "job": "",
            "action_path": "",
            **{k: v for k, v in self.context.items() if k != "ref"},
            **extra,
        }

    def process_env(self) -> dict[str, str]:
        src = str(self.repo_root / "src")
        if self.machine is None:
            host = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(_HOST_PREFIXES) and k != "CI"
            }
            pythonpath = [src, host.get("PYTHONPATH", "")]
        else:
            host = {k: v for k, v in os.environ.items() if k in _MACHINE_ENV}
            host |= {
                "HOME": str(self.machine.home),
                "TMPDIR": str(self.temp),
                "RUNNER_TOOL_CACHE": str(self.machine.tool_cache),
                "RUNNER_WORKSPACE": str(self.workspace.parent),
                "RUNNER_ENVIRONMENT": "github-hosted",
                "RUNNER_NAME": f"GitHub Actions {self.machine.root.name}",
            }
            pythonpath = [src]
        if self.clock_offset:
            host["HARNESS_CLOCK_OFFSET"] = repr(self.clock_offset)
            pythonpath.insert(0, str(CLOCK_SITE))
        path = os.pathsep.join(
            [*self.extra_path, str(Path(sys.executable).parent), host.get("PATH", "")]
        )
        gh = self.github()
        return {
            **host,
            "PATH": path,
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(p for p in pythonpath if p)),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": gh["workspace"],
            "GITHUB_EVENT_NAME": gh["event_name"],
            "GITHUB_EVENT_PATH": gh["event_path"],
            "GITHUB_REPOSITORY": gh["repository"],
            "GITHUB_REPOSITORY_OWNER": gh["repository_owner"],
            "GITHUB_SHA": gh["sha"],
            "GITHUB_REF": gh["ref"],
            "GITHUB_REF_NAME": gh["ref_name"],
            "GITHUB_REF_TYPE": gh["ref_type"],
            "GITHUB_BASE_REF": gh["base_ref"],
            "GITHUB_HEAD_REF": gh["head_ref"],
            "GITHUB_ACTOR": gh["actor"],
            "GITHUB_TRIGGERING_ACTOR": gh["triggering_actor"],
            "GITHUB_WORKFLOW": gh["workflow"],
            "GITHUB_JOB": gh["job"],
            "GITHUB_SERVER_URL": gh["server_url"],
            "GITHUB_API_URL": gh["api_url"],
            "GITHUB_RUN_ID": gh["run_id"],
            "GITHUB_RUN_NUMBER": str(gh["run_number"]),
            "GITHUB_RUN_ATTEMPT": "1",
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": str(self.temp),
            **self.job_env,
        }

    # ---- actions --------------------------------------------------------------------------
    def resolve(self, uses: str, *, base: Path | None = None) -> Path | None:
        """The folder of an action named in ``uses:``; None for a GitHub-provided tool action."""
        if uses.startswith("./"):
            return (self.workspace / uses).resolve()
        own = OWN_ACTION.match(uses)
        if own:
            return (self.repo_root / (own.group("path") or ".")).resolve()
        if uses.split("@")[0] in TOOL_ACTIONS:
            return None
        raise HarnessError(
            f"uses: {uses}: only this repository's actions and {sorted(TOOL_ACTIONS)} are known"
        )

    def run_action(self, action: str | Path, with_: Mapping[str, Any] | None = None) -> ActionRun:
        """Run a composite action (a folder holding action.yml, or a ``uses:`` string)."""
        folder = self.resolve(action) if isinstance(action, str) and "@" in action else None
        folder = folder or (
            self.repo_root / action if not Path(action).is_absolute() else Path(action)
        )
        meta = yaml.safe_load((folder / "action.yml").read_text(encoding="utf-8"))
        if meta["runs"]["using"] != "composite":
            raise HarnessError(f"{folder}/action.yml: only composite actions can run here")
        declared = meta.get("inputs") or {}
        given = {k: to_text(v) for k, v in (with_ or {}).items()}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise HarnessError(f"{folder}/action.yml has no input(s) {unknown}")
        inputs = {}
        defaults_ctx = {
            "github": self.github(action_path=str(folder)),
            "runner": self.runner_context(),
        }
        for name, spec in declared.items():
            if name in given:
                inputs[name] = given[name]
            elif spec.get("required") and "default" not in spec:
                raise HarnessError(f"{folder}/action.yml: required input {name!r} not given")
            else:
                inputs[name] = to_text(self._interpolate(spec.get("default", ""), defaults_ctx))
        steps_ctx: dict[str, Any] = {}
        contexts = {
            "inputs": inputs,
            "steps": steps_ctx,
            "github": self.github(action_path=str(folder)),
            "runner": self.runner_context(),
            "env": self.job_env,
        }
        records, env_written, status = self._run_steps(
            meta["runs"]["steps"], contexts, action_path=folder, own_setup=self._is_setup(folder)
        )
        outputs = {
            name: to_text(self._interpolate(spec.get("value", ""), contexts))
            for name, spec in (meta.get("outputs") or {}).items()
        }
        return ActionRun(folder, outputs, records, env_written, status)

    def runner_context(self) -> dict[str, str]:
        context = {
            "os": "Linux",
            "arch": "X64",
            "temp": str(self.temp),
            "environment": "github-hosted",
        }
        if self.machine is not None:
            context["tool_cache"] = str(self.machine.tool_cache)
        return context

    def _is_setup(self, folder: Path) -> bool:
        return folder in (self.repo_root / "actions" / "setup", self.repo_root)

    # ---- jobs -----------------------------------------------------------------------------
    def run_job(
        self,
        workflow: str | Path | Mapping[str, Any],
        job_id: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        needs: Mapping[str, Mapping[str, Any]] | None = None,
        matrix: Mapping[str, Any] | None = None,
        strategy: Mapping[str, Any] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> ActionRun:
        """Run the steps of one job (``if:`` and ``needs`` order are the caller's business)."""
        if isinstance(workflow, Mapping):
            path, doc = Path(str(workflow.get("name", "workflow"))), workflow
        else:
            path = Path(workflow) if Path(workflow).is_absolute() else self.repo_root / workflow
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        job = doc["jobs"][job_id]
        triggers = doc.get(True) or doc.get("on") or {}
        declared = (
            (triggers.get("workflow_call") or {}).get("inputs", {})
            if isinstance(triggers, dict)
            else {}
        )
        workflow_inputs = {k: v.get("default", "") for k, v in declared.items()} | dict(
            inputs or {}
        )
        if "timeout-minutes" in job:
            self.deadline = time.monotonic() + min(self.timeout, float(job["timeout-minutes"]) * 60)
        steps_ctx: dict[str, Any] = {}
        contexts = {
            "github": self.github(),
            "inputs": workflow_inputs,
            "steps": steps_ctx,
            "needs": {k: dict(v) for k, v in (needs or {}).items()},
            "secrets": {"GITHUB_TOKEN": self.token, **self.secrets},
            "vars": dict(variables or {}),
            "runner": self.runner_context(),
            "matrix": dict(matrix or {}),
            "strategy": dict(strategy or {}),
            "env": self.job_env,
            "job": {"status": "success"},
        }
        for scope in (doc.get("env") or {}, job.get("env") or {}):
            self.job_env.update(
                {k: to_text(self._interpolate(v, contexts)) for k, v in scope.items()}
            )
        defaults = {
            **((doc.get("defaults") or {}).get("run") or {}),
            **((job.get("defaults") or {}).get("run") or {}),
        }
        records, env_written, status = self._run_steps(
            job["steps"], contexts, action_path=None, defaults=defaults
        )
        for name, post in reversed(self.post_steps):
            records.append(
                StepRecord(f"post:{name}", name, "success", 0, post(status == "success"))
            )
        self.post_steps.clear()
        contexts["job"] = {"status": status}
        outputs = {
            k: to_text(self._interpolate(v, contexts))
            for k, v in (job.get("outputs") or {}).items()
        }
        return ActionRun(path, outputs, records, env_written, status)

    # ---- steps ----------------------------------------------------------------------------
    def _run_steps(
        self,
        steps: list[dict[str, Any]],
        contexts: dict[str, Any],
        *,
        action_path: Path | None,
        own_setup: bool = False,
        defaults: Mapping[str, Any] | None = None,
    ) -> tuple[list[StepRecord], dict[str, str], str]:
        records: list[StepRecord] = []
        env_written: dict[str, str] = {}
        failed = False
        for index, step in enumerate(steps):
            step_id = str(step.get("id") or f"__step{index}")
            name = str(step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0])
            functions = _status_functions(ok=not failed)
            if not condition(step.get("if"), contexts, {**functions, "hashfiles": self.hash_files}):
                record = StepRecord(step_id, name, "skipped")
            elif "uses" in step:
                record = self._uses_step(step, step_id, name, contexts, env_written)
            elif own_setup and step.get("id") == INSTALL_STEP_ID:
                record = StepRecord(step_id, name, "skipped-tool")
            else:
                record = self._run_step(
                    step, step_id, name, contexts, action_path, defaults or {}, env_written
                )
            records.append(record)
            outcome = (
                "failure"
                if record.status == "failure"
                else "skipped"
                if record.status == "skipped"
                else "success"
            )
            continue_on_error = (
                to_text(self._interpolate(step.get("continue-on-error", False), contexts)) == "true"
            )
            conclusion = "success" if outcome == "failure" and continue_on_error else outcome
            contexts["steps"][step_id] = {
                "outputs": record.outputs,
                "outcome": outcome,
                "conclusion": conclusion,
            }
            failed = failed or conclusion == "failure"
        return records, env_written, "failure" if failed else "success"

    def _interpolate(self, value: Any, contexts: Mapping[str, Any]) -> Any:
        return interpolate(value, contexts, {"hashfiles": self.hash_files})

    def hash_files(self, *patterns: str) -> str:
        """``hashFiles()``: sha256 over the sha256 of each matching file under the workspace."""
        import glob
        import hashlib

        files = sorted(
            {
                Path(found)
                for pattern in patterns
                for found in glob.glob(str(self.workspace / pattern), recursive=True)
                if Path(found).is_file()
            }
        )
        if not files:
            return ""
        digest = hashlib.sha256()
        for file in files:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        return digest.hexdigest()

    def _uses_step(
        self,
        step: dict[str, Any],
        step_id: str,
        name: str,
        contexts: dict[str, Any],
        env_written: dict[str, str],
    ) -> StepRecord:
        folder = self.resolve(step["uses"])
        with_ = {
            k: to_text(self._interpolate(v, contexts)) for k, v in (step.get("with") or {}).items()
        }
        if folder is None:
            return self._tool_step(step["uses"].split("@")[0], with_, step_id, name)
        saved = dict(self.job_env)
        self.job_env.update(
            {k: to_text(self._interpolate(v, contexts)) for k, v in (step.get("env") or {}).items()}
        )
        try:
            nested = self.run_action(folder, with_)
        finally:
            written = {
                k: v
                for k, v in self.job_env.items()
                if saved.get(k) != v and k not in (step.get("env") or {})
            }
            self.job_env.clear()
            self.job_env.update(saved | written)
        env_written.update(nested.env_written)
        return StepRecord(
            step_id,
            name,
            "success" if nested.ok else "failure",
            0 if nested.ok else 1,
            outputs=nested.outputs,
            summary=nested.summary,
            nested=nested,
        )

    def _tool_step(self, action: str, with_: dict[str, str], step_id: str, name: str) -> StepRecord:
        if self.tools is None or action == "actions/setup-python":
            return StepRecord(step_id, name, "skipped-tool")
        try:
            outputs, log = self.tools.run(action, with_, self)
        except ToolFailed as error:
            return StepRecord(step_id, name, "failure", 1, stderr=f"::error::{error}\n")
        return StepRecord(step_id, name, "success", 0, stdout=log, outputs=outputs)

    def _run_step(
        self,
        step: dict[str, Any],
        step_id: str,
        name: str,
        contexts: dict[str, Any],
        action_path: Path | None,
        defaults: Mapping[str, Any],
        env_written: dict[str, str],
    ) -> StepRecord:
        shell = (
            step.get("shell") or defaults.get("shell") or ("bash" if action_path is None else None)
        )
        if shell != "bash":
            raise HarnessError(
                f"step {name!r}: only `shell: bash` is supported (composite steps must name it)"
            )
        script = to_text(
            self._interpolate(str(step["run"]), contexts)
        )  # as the runner does (our files never need it)
        env = self.process_env()
        files = {}
        for var in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH"):
            files[var] = self.temp / f"{var.lower()}_{uuid.uuid4().hex}"
            files[var].touch()
            env[var] = str(files[var])
        env["GITHUB_ACTION"] = step_id
        if action_path is not None:
            env["GITHUB_ACTION_PATH"] = str(action_path)
        env.update(
            {k: to_text(self._interpolate(v, contexts)) for k, v in (step.get("env") or {}).items()}
        )
        workdir = to_text(
            self._interpolate(
                step.get("working-directory") or defaults.get("working-directory") or ".", contexts
            )
        )
        cwd = (self.workspace / workdir).resolve()
        script_file = self.temp / f"step_{uuid.uuid4().hex}.sh"
        script_file.write_text(script, encoding="utf-8")
        try:
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=max(1.0, self.deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired as expired:
            return StepRecord(
                step_id,
                name,
                "failure",
                None,
                str(expired.stdout or ""),
                f"{expired.stderr or ''}\nThe job has exceeded the maximum execution time\n",
            )
        written_env = parse_command_file(files["GITHUB_ENV"].read_text(encoding="utf-8"))
        env_written.update(written_env)
        self.job_env.update(written_env)
        self.extra_path[:0] = [
            p for p in files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines() if p
        ]
        return StepRecord(
            step_id,
            name,
            "success" if proc.returncode == 0 else "failure",
            proc.returncode,
            proc.stdout,
            proc.stderr,
            parse_command_file(files["GITHUB_OUTPUT"].read_text(encoding="utf-8")),
            files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8"),
        )


def _status_functions(*, ok: bool) -> dict[str, Any]:
    return {
        "success": lambda: ok,
        "failure": lambda: not ok,
        "always": lambda: True,
        "cancelled": lambda: False,
    }
