"""Deploy a packaged model to a target: a registry, a GitHub release or a serving endpoint.

Before anything moves, the ONNX file is loaded in a fresh onnxruntime session and replays
the test sample packaged inside it (as TFX's InfraValidator does), and ``production``
needs a passed gate unless ``--force``. An ``http`` deploy is smoke-tested live and rolled
back to the previous version when the answer is wrong or late.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.config import Config, DeployTarget
from mlops_actions.errors import DeployFailed, GateFailed, ModelError, UsageError
from mlops_actions.files import atomic_write_json
from mlops_actions.github.actions import in_actions, run_url
from mlops_actions.registry import CARD_FILE, MODEL_FILE, ModelVersion, Registry, sha256_file
from mlops_actions.stages._common import StageResult, stage_dir, write_result

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_actions.onnx_model import OnnxModel

METRICS_FILE = "metrics.json"
REPLAY_ATOL = 1e-4
"""Largest difference of a probability or value the replay and smoke checks accept when the
packaged sample names none (package-onnx stores its parity ``atol`` with the sample)."""
PRODUCTION = "production"


@dataclasses.dataclass
class DeployResult(StageResult):
    stage = "deploy"
    failure = DeployFailed
    target: str
    target_type: str
    model: str
    alias: str
    version: int | None
    from_version: int | None
    created: bool
    forced: bool
    location: str | None
    checks: dict[str, Any]
    rolled_back: bool = False
    deployment_id: int | None = None
    problem: str | None = None

    @property
    def passed(self) -> bool:
        return self.problem is None

    def failure_message(self) -> str:
        return f"deploy to {self.target}: {self.problem}"

    def outputs(self) -> dict[str, Any]:
        return {
            **super().outputs(),
            "version": self.version,
            "alias": self.alias,
            "previous-version": self.from_version,
            "location": self.location,
            "rolled-back": self.rolled_back,
        }

    def summary_markdown(self) -> str:
        from mlops_actions.reports import render

        return render("deploy.md.j2", r=self)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """The model about to be deployed and what travels with it."""

    path: Path
    card: Path | None
    sha256: str
    metrics: dict[str, Any]
    gate_passed: bool | None


def deploy(
    config: Config,
    *,
    workdir: str | Path = ".mlops",
    target: str,
    stage: str = "staging",
    model: str | Path | None = None,
    force: bool = False,
) -> DeployResult:
    """Check the packaged model, then put it on ``target`` under the alias ``stage``."""
    from mlops_actions.onnx_model import OnnxModel

    spec = deploy_target(config, target)
    out = stage_dir(workdir, "deploy")
    path = _model_path(Path(workdir), model)
    onnx = OnnxModel(path)  # a fresh session, as the server will build
    candidate = Candidate(
        path=path,
        card=path.with_name(CARD_FILE) if path.with_name(CARD_FILE).is_file() else None,
        sha256=sha256_file(path),
        metrics=_metrics(onnx, Path(workdir)),
        gate_passed=_gate_passed(onnx, Path(workdir)),
    )
    checks = {"replay": replay(onnx, path)}
    gate = {"passed": candidate.gate_passed, "required": stage == PRODUCTION, "forced": False}
    if stage == PRODUCTION and not candidate.gate_passed:
        if not force:
            why = "failed the gate" if candidate.gate_passed is False else "has no gate result"
            raise GateFailed(
                f"{path}: the model {why}, so it cannot go to production; run "
                "`mlops evaluate-gate` first, or pass --force (recorded in the audit log)"
            )
        gate["forced"] = True
    checks["gate"] = gate
    context = audit_context(config, target, stage, forced=gate["forced"])
    if spec.type == "github-release":
        result = _to_release(config, spec, candidate, onnx, out, stage, checks, context)
    else:
        registry = registry_for(config, spec.name)
        version, created = _register(config, registry, candidate, onnx, context)
        if spec.type == "registry":
            move = registry.set_alias(config.name, stage, version.version, context=context)
            result = _result(
                spec,
                config,
                out,
                stage,
                version.version,
                move.from_version,
                created,
                checks,
                version.location,
            )
        else:
            result = _to_http(
                config, spec, registry, version, created, onnx, out, stage, checks, context
            )
    result.forced = gate["forced"]
    result.deployment_id = record_github_deployment(
        config,
        target=target,
        alias=stage,
        version=result.version,
        location=result.location,
        problem=result.problem,
    )
    return write_result(result)


def deploy_target(config: Config, name: str) -> DeployTarget:
    spec = config.deploy.targets.get(name)
    if spec is None:
        known = ", ".join(config.deploy.targets) or "none"
        raise UsageError(
            f"{config.label}: no deploy target {name!r} (deploy.targets: {known}); add it under deploy.targets"
        )
    return spec


def registry_for(config: Config, name: str) -> Registry:
    """The registry a target keeps its versions in: itself, or the one its ``registry`` names."""
    spec = deploy_target(config, name)
    if spec.type != "registry":
        if spec.registry is None:
            raise UsageError(
                f"{config.label}: deploy target {name!r} ({spec.type}) keeps no registry; set its registry key"
            )
        spec = deploy_target(config, spec.registry)
    return Registry(spec.url, storage_options=spec.storage_options)


def _model_path(workdir: Path, model: str | Path | None) -> Path:
    path = Path(model) if model is not None else workdir / "package-onnx" / MODEL_FILE
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise UsageError(
            f"{path}: no ONNX model to deploy; run `mlops package-onnx` first or pass --model PATH"
        )
    return path


def _metrics(onnx: OnnxModel, workdir: Path) -> dict[str, Any]:
    stored = onnx.meta("metrics")
    if stored:
        return dict(stored)
    train = workdir / "train" / METRICS_FILE
    return json.loads(train.read_text(encoding="utf-8")) if train.is_file() else {}


def _gate_passed(onnx: OnnxModel, workdir: Path) -> bool | None:
    """The gate's verdict: from this run's evaluate-gate result, else the one packaged in the model."""
    result = workdir / "evaluate-gate" / "result.json"
    if result.is_file():
        return bool(json.loads(result.read_text(encoding="utf-8")).get("passed"))
    packaged = onnx.meta("gate")
    return (
        bool(packaged.get("passed"))
        if isinstance(packaged, dict) and "passed" in packaged
        else None
    )


def test_sample(
    onnx: OnnxModel, source: Path | str
) -> tuple[pd.DataFrame, dict[str, np.ndarray], float]:
    """The packaged test rows, the outputs the model gave for them when packaged, and the tolerance."""
    import numpy as np
    import pandas as pd

    from mlops_actions.inference_protocol import LABEL, PROBABILITIES, VALUE

    sample = onnx.meta("test_sample")
    if (
        not isinstance(sample, dict)
        or not sample.get("rows")
        or not isinstance(sample.get("expected"), dict)
    ):
        raise ModelError(
            f"{source}: the model carries no test sample (metadata mlops.test_sample) to replay; "
            "package it with `mlops package-onnx`"
        )
    expected = {
        name: np.asarray(values, dtype=object).astype(str)
        if name == LABEL
        else np.asarray(values, dtype="float64")
        for name, values in sample["expected"].items()
        if name in (LABEL, PROBABILITIES, VALUE)  # the names inference_protocol.outputs_of gives
    }
    return (
        pd.DataFrame.from_records(sample["rows"]),
        expected,
        float(sample.get("atol") or REPLAY_ATOL),
    )


def replay(onnx: OnnxModel, source: Path | str) -> dict[str, Any]:
    """Replay the packaged sample in ``onnx``'s session; a mismatch stops the deploy."""
    from mlops_actions.inference_protocol import mismatch, outputs_of

    frame, expected, atol = test_sample(onnx, source)
    problem = mismatch(expected, outputs_of(onnx.predict(frame, source=str(source))), atol=atol)
    if problem:
        raise DeployFailed(
            f"{source}: replaying the packaged test sample in a fresh onnxruntime session: {problem}; "
            "re-package the model with this onnxruntime version"
        )
    return {"rows": len(frame), "matched": True, "atol": atol}


def audit_context(
    config: Config, target: str, stage: str, *, forced: bool = False
) -> dict[str, Any]:
    """What the audit log records beside who and when."""
    from mlops_actions.gitrepo import commit_info

    return {
        "target": target,
        "stage": stage,
        "forced": forced,
        "git_sha": commit_info(config.root)["commit"],
        "run_url": run_url(),
    }


def _register(
    config: Config,
    registry: Registry,
    candidate: Candidate,
    onnx: OnnxModel,
    context: Mapping[str, Any],
) -> tuple[ModelVersion, bool]:
    files = {MODEL_FILE: candidate.path}
    if candidate.card is not None:
        files[CARD_FILE] = candidate.card
    metadata = {
        "sha256": candidate.sha256,
        "task": onnx.task,
        "metrics": candidate.metrics,
        "gate": {"passed": candidate.gate_passed},
        "features": [f.name for f in onnx.features],
        "lineage": onnx.meta("lineage"),
        "git_sha": context.get("git_sha"),
        "run_url": context.get("run_url"),
    }
    return registry.register(config.name, files, metadata, context=context)


def _result(
    spec: DeployTarget,
    config: Config,
    out: Path,
    stage: str,
    version: int,
    from_version: int | None,
    created: bool,
    checks: dict[str, Any],
    location: str | None,
) -> DeployResult:
    return DeployResult(
        out_dir=out,
        target=spec.name,
        target_type=spec.type,
        model=config.name,
        alias=stage,
        version=version,
        from_version=from_version,
        created=created,
        forced=False,
        location=location,
        checks=checks,
    )


# -- github-release ------------------------------------------------------------------------------


def _to_release(
    config: Config,
    spec: DeployTarget,
    candidate: Candidate,
    onnx: OnnxModel,
    out: Path,
    stage: str,
    checks: dict[str, Any],
    context: Mapping[str, Any],
) -> DeployResult:
    """A release ``<model>-v<version>`` with the model, card and metrics; reruns replace assets."""
    from mlops_actions.github.client import GitHubClient
    from mlops_actions.reports import render

    client = GitHubClient.from_env(token_env=config.github.token_env)
    created = False
    if spec.registry:
        version, created = _register(
            config, registry_for(config, spec.name), candidate, onnx, context
        )
        number = version.version
        release = client.get_release_by_tag(f"{config.name}-v{number}")
    else:
        number, release = _release_number(client, config.name, candidate.sha256)
    tag = f"{config.name}-v{number}"
    if release is None:
        release = client.create_release(
            tag,
            name=f"{config.name} v{number}",
            body=render(
                "release.md.j2",
                model=config.name,
                version=number,
                sha256=candidate.sha256,
                metrics=candidate.metrics,
                stage=stage,
                run_url=context.get("run_url"),
            ),
            target_commitish=os.environ.get("GITHUB_SHA"),
            prerelease=stage != PRODUCTION,
        )
        created = True
    metrics_path = out / METRICS_FILE
    atomic_write_json(metrics_path, candidate.metrics)
    assets = {
        MODEL_FILE: (candidate.path, "application/octet-stream"),
        METRICS_FILE: (metrics_path, "application/json"),
    }
    if candidate.card is not None:
        assets[CARD_FILE] = (candidate.card, "text/markdown")
    present = {a["name"]: a.get("digest") for a in release.get("assets") or []}
    uploaded = []
    for name, (path, content_type) in assets.items():
        data = path.read_bytes()
        if (
            present.get(name) != f"sha256:{hashlib.sha256(data).hexdigest()}"
        ):  # a rerun uploads nothing
            client.upload_release_asset(release, name, data, content_type=content_type)
            uploaded.append(name)
    checks["release"] = {"tag": tag, "assets": sorted(assets), "uploaded": uploaded}
    return _result(spec, config, out, stage, number, None, created, checks, release.get("html_url"))


def _release_number(client: Any, model: str, sha256: str) -> tuple[int, dict[str, Any] | None]:
    """The release already holding this model (its body names the sha256), else the next free number."""
    number = 1
    while (release := client.get_release_by_tag(f"{model}-v{number}")) is not None:
        if sha256 in (release.get("body") or ""):
            return number, release
        number += 1
    return number, None


# -- http ------------------------------------------------------------------------------------------


def _to_http(
    config: Config,
    spec: DeployTarget,
    registry: Registry,
    version: ModelVersion,
    created: bool,
    onnx: OnnxModel,
    out: Path,
    stage: str,
    checks: dict[str, Any],
    context: Mapping[str, Any],
) -> DeployResult:
    """Push, smoke-test within the deadline, then move the alias; on failure push the previous back."""
    endpoint = HttpEndpoint(spec, config)
    current = registry.alias(config.name, stage)
    previous = current.version if current else None
    problem = None
    try:
        endpoint.load(version.version, registry.read_file(version, MODEL_FILE))
        checks["smoke"] = endpoint.smoke(onnx, version.version, candidate_source=version.location)
    except DeployFailed as exc:
        problem = exc.message
        checks["smoke"] = {"passed": False, "problem": problem}
    result = _result(
        spec, config, out, stage, version.version, previous, created, checks, endpoint.url
    )
    if problem is None:
        registry.set_alias(
            config.name, stage, version.version, context={**context, "endpoint": endpoint.url}
        )
        return result
    result.problem = problem
    if previous is not None:
        endpoint.load(
            previous, registry.read_file(registry.version(config.name, previous), MODEL_FILE)
        )
        result.rolled_back = True
    registry.record(
        config.name,
        {
            "event": "rollback",
            "alias": stage,
            "from_version": version.version,
            "to_version": previous,
            "reason": f"smoke test failed: {problem}",
            "endpoint": endpoint.url,
            **context,
        },
    )
    return result


class HttpEndpoint:
    """A server speaking the Open Inference Protocol with the repository extension (``mlops serve``, Triton)."""

    def __init__(self, spec: DeployTarget, config: Config) -> None:
        self.url = str(spec.url).rstrip("/")
        self.model = spec.model_name or config.name
        self.deadline_s = spec.deadline_s
        token = os.environ.get(spec.token_env, "") if spec.token_env else ""
        if spec.token_env and not token:
            raise UsageError(
                f"{config.label}: deploy.targets.{spec.name}.token_env: ${spec.token_env} is not set"
            )
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def load(self, version: int, model_bytes: bytes) -> None:
        """``POST /v2/repository/models/{name}/load`` with the file inline and the model
        config Triton needs beside it (mlops serve reads the graph instead)."""
        import requests

        from mlops_actions.triton_config import model_config

        config = model_config(self.model, model_bytes, versions=[version])
        body = {
            "parameters": {
                "config": json.dumps(config),
                f"file:{version}/{MODEL_FILE}": base64.b64encode(model_bytes).decode(),
            }
        }
        url = f"{self.url}/v2/repository/models/{self.model}/load"
        try:
            resp = requests.post(
                url, json=body, headers=self.headers, timeout=max(self.deadline_s, 30)
            )
        except requests.RequestException as exc:
            raise DeployFailed(
                f"{url}: cannot hand over version {version}: {type(exc).__name__}"
            ) from None
        if resp.status_code != 200:
            raise DeployFailed(
                f"{url}: load of version {version} refused ({resp.status_code} {_error_text(resp)})"
            )

    def smoke(self, onnx: OnnxModel, version: int, *, candidate_source: str) -> dict[str, Any]:
        """The packaged test sample must come back right, from ``version``, within the deadline.

        Asked of that version's route; the answer carries the graph's output names, read
        by role (label, probabilities, value) as the sample stores them."""
        import requests

        from mlops_actions.inference_protocol import (
            mismatch,
            named_outputs,
            outputs_from_v2,
            v2_request,
        )

        frame, expected, atol = test_sample(onnx, candidate_source)
        url = f"{self.url}/v2/models/{self.model}/versions/{version}/infer"
        start = time.monotonic()
        try:
            resp = requests.post(
                url,
                json=v2_request(frame, onnx.features),
                headers=self.headers,
                timeout=self.deadline_s,
            )
        except requests.RequestException as exc:
            raise DeployFailed(
                f"smoke request to {url} got no answer within {self.deadline_s:g} s ({type(exc).__name__})"
            ) from None
        seconds = time.monotonic() - start
        if seconds > self.deadline_s:
            raise DeployFailed(
                f"smoke request to {url} took {seconds:.2f} s, over the {self.deadline_s:g} s deadline"
            )
        if resp.status_code != 200:
            raise DeployFailed(
                f"smoke request to {url} answered {resp.status_code} {_error_text(resp)}"
            )
        try:
            body = resp.json()
            outputs = named_outputs(outputs_from_v2(body), onnx.task)
        except (ValueError, KeyError, TypeError, StopIteration) as exc:
            raise DeployFailed(f"smoke request to {url}: unreadable answer ({exc})") from None
        if str(body.get("model_version")) != str(version):
            raise DeployFailed(
                f"smoke request to {url} was answered by version {body.get('model_version')!r}, not {version}"
            )
        problem = mismatch(expected, outputs, atol=atol)
        if problem:
            raise DeployFailed(f"smoke request to {url}: {problem}")
        return {
            "passed": True,
            "rows": len(frame),
            "seconds": round(seconds, 4),
            "deadline_s": self.deadline_s,
        }


def _error_text(resp: Any) -> str:
    try:
        return str(resp.json().get("error", ""))[:200]
    except ValueError:
        return resp.text[:200]


# -- GitHub Deployments ---------------------------------------------------------------------------


def record_github_deployment(
    config: Config,
    *,
    target: str,
    alias: str,
    version: int | None,
    location: str | None,
    problem: str | None = None,
) -> int | None:
    """In Actions with a token, list the promotion on the repository's Environments page."""
    sha = os.environ.get("GITHUB_SHA")
    if not (in_actions() and sha and os.environ.get(config.github.token_env)):
        return None
    from mlops_actions.github.client import GitHubClient

    client = GitHubClient.from_env(token_env=config.github.token_env)
    what = f"{config.name} v{version} to {alias} via {target}"
    deployment = client.create_deployment(
        sha,
        environment=alias,
        description=what[:140],
        payload={"model": config.name, "version": version, "target": target},
    )
    client.create_deployment_status(
        deployment["id"],
        "failure" if problem else "success",
        log_url=run_url(),
        environment_url=location if str(location).startswith(("http://", "https://")) else None,
        description=(f"{what}: {problem}" if problem else what)[:140],
    )
    return int(deployment["id"])
