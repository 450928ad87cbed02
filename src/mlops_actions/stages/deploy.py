"""Deploy a packaged model to a target: a registry, a GitHub release or a serving endpoint.

Before anything moves, the ONNX file is loaded in a fresh onnxruntime session and replays
the test sample packaged inside it (as TFX's InfraValidator does), and a protected alias
(``deploy.protected_aliases``, default ``production``) needs a passed gate unless ``--force``.
An ``http`` deploy is smoke-tested live and rolled back to the previous version when the
answer is wrong or late.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_actions import workdir as layout
from mlops_actions.config import Config, DeployTarget
from mlops_actions.errors import DeployFailed, GateFailed, ModelError, UsageError
from mlops_actions.files import atomic_write_json, sha256_file
from mlops_actions.github.deployments import record_github_deployment
from mlops_actions.github.releases import release_for_model, upload_assets
from mlops_actions.model import OnnxModel, replay
from mlops_actions.registry.store import ModelVersion, Registry
from mlops_actions.registry.targets import audit_context, deploy_target, registry_for
from mlops_actions.reports import render
from mlops_actions.serving.endpoint import HttpEndpoint
from mlops_actions.stages._common import StageResult, write_result


@dataclasses.dataclass
class DeployResult(StageResult):
    stage = layout.DEPLOY
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
    warnings: list[str] = dataclasses.field(default_factory=list)

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

        return render("deploy.md.j2", r=self)

    def annotations(self) -> list[dict[str, Any]]:
        return [{"level": "warning", "message": w} for w in self.warnings]


@dataclasses.dataclass(frozen=True)
class _Candidate:
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
    alias: str = "staging",
    model: str | Path | None = None,
    force: bool = False,
) -> DeployResult:
    """Check the packaged model, then put it on ``target`` under ``alias``."""
    spec = deploy_target(config, target)
    out = layout.stage_dir(workdir, layout.DEPLOY)
    path = _model_path(Path(workdir), model)
    onnx = OnnxModel(path)  # a fresh session, as the server will build
    candidate = _Candidate(
        path=path,
        card=path.with_name(layout.CARD_FILE)
        if path.with_name(layout.CARD_FILE).is_file()
        else None,
        sha256=sha256_file(path),
        metrics=_metrics(onnx, Path(workdir)),
        gate_passed=_gate_passed(onnx, Path(workdir)),
    )
    checks = {"replay": replay(onnx, path)}
    if spec.type == "http" and not checks["replay"]["rows"]:
        raise ModelError(
            f"{path}: carries no test rows (package.test_sample_rows: 0), and the http target "
            "smoke-tests the live server with them; package it with some rows for this target"
        )
    protected = alias in config.deploy.protected_aliases
    gate = {"passed": candidate.gate_passed, "required": protected, "forced": False}
    if protected and not candidate.gate_passed:
        if not force:
            why = "failed the gate" if candidate.gate_passed is False else "has no gate result"
            raise GateFailed(
                f"{path}: the model {why}, so it cannot go to {alias} (deploy.protected_aliases); "
                "run `mlops evaluate-gate` first, or pass --force (recorded in the audit log)"
            )
        gate["forced"] = True
    checks["gate"] = gate
    context = audit_context(config, target, alias, forced=gate["forced"])
    if spec.type == "github-release":
        result = _to_release(config, spec, candidate, onnx, out, alias, checks, context)
    else:
        registry = registry_for(config, spec.name)
        version, created = _register(config, registry, candidate, onnx, context)
        if spec.type == "registry":
            move = registry.set_alias(config.name, alias, version.version, context=context)
            result = _result(
                spec,
                config,
                out,
                alias,
                version.version,
                move.from_version,
                created,
                checks,
                version.location,
            )
        else:
            result = _to_http(
                config, spec, registry, version, created, onnx, out, alias, checks, context
            )
    result.forced = gate["forced"]
    result.deployment_id, warning = record_github_deployment(
        config,
        target=target,
        alias=alias,
        version=result.version,
        location=result.location,
        problem=result.problem,
    )
    result.warnings += [warning] if warning else []
    return write_result(result)


def _model_path(workdir: Path, model: str | Path | None) -> Path:
    path = Path(model) if model is not None else layout.packaged_model(workdir)
    if path.is_dir():
        path = path / layout.ONNX_FILE
    if not path.is_file():
        raise UsageError(
            f"{path}: no ONNX model to deploy; run `mlops package-onnx` first or pass --model PATH"
        )
    return path


def _metrics(onnx: OnnxModel, workdir: Path) -> dict[str, Any]:
    stored = onnx.meta("metrics")
    if stored:
        return dict(stored)
    train = layout.train_metrics(workdir)
    return json.loads(train.read_text(encoding="utf-8")) if train.is_file() else {}


def _gate_passed(onnx: OnnxModel, workdir: Path) -> bool | None:
    """The gate's verdict: from this run's evaluate-gate result, else the one packaged in the model."""
    result = layout.result_file(workdir, layout.EVALUATE_GATE)
    if result.is_file():
        return bool(json.loads(result.read_text(encoding="utf-8")).get("passed"))
    packaged = onnx.meta("gate")
    return (
        bool(packaged.get("passed"))
        if isinstance(packaged, dict) and "passed" in packaged
        else None
    )


def _register(
    config: Config,
    registry: Registry,
    candidate: _Candidate,
    onnx: OnnxModel,
    context: Mapping[str, Any],
) -> tuple[ModelVersion, bool]:
    files = {layout.ONNX_FILE: candidate.path}
    if candidate.card is not None:
        files[layout.CARD_FILE] = candidate.card
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
    alias: str,
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
        alias=alias,
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
    candidate: _Candidate,
    onnx: OnnxModel,
    out: Path,
    alias: str,
    checks: dict[str, Any],
    context: Mapping[str, Any],
) -> DeployResult:
    """A release ``<model>-v<version>`` with the model, card and metrics; reruns replace assets."""
    from mlops_actions.github.client import GitHubClient

    client = GitHubClient.from_env(token_env=config.github.token_env)
    created = False
    if spec.registry:
        version, created = _register(
            config, registry_for(config, spec.name), candidate, onnx, context
        )
        number = version.version
        release = client.get_release_by_tag(f"{config.name}-v{number}")
    else:
        number, release = release_for_model(client, config.name, candidate.sha256)
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
                alias=alias,
                run_url=context.get("run_url"),
            ),
            target_commitish=os.environ.get("GITHUB_SHA"),
            prerelease=alias not in config.deploy.protected_aliases,
        )
        created = True
    metrics_path = out / layout.METRICS_FILE
    atomic_write_json(metrics_path, candidate.metrics)
    assets = {
        layout.ONNX_FILE: (candidate.path, "application/octet-stream"),
        layout.METRICS_FILE: (metrics_path, "application/json"),
    }
    if candidate.card is not None:
        assets[layout.CARD_FILE] = (candidate.card, "text/markdown")
    uploaded = upload_assets(client, release, assets)
    checks["release"] = {"tag": tag, "assets": sorted(assets), "uploaded": uploaded}
    result = _result(
        spec, config, out, alias, number, None, created, checks, release.get("html_url")
    )
    rows = checks["replay"]["rows"]
    if rows:
        result.warnings.append(
            f"{layout.ONNX_FILE} is now a release asset that anyone who can read this repository "
            f"can download, with the {rows} raw test rows packaged in it (mlops.test_sample); "
            "set package.test_sample_rows: 0 if those rows are private"
        )
    return result


# -- http ------------------------------------------------------------------------------------------


def _to_http(
    config: Config,
    spec: DeployTarget,
    registry: Registry,
    version: ModelVersion,
    created: bool,
    onnx: OnnxModel,
    out: Path,
    alias: str,
    checks: dict[str, Any],
    context: Mapping[str, Any],
) -> DeployResult:
    """Push, smoke-test within the deadline, then move the alias; on failure push the previous back."""
    endpoint = HttpEndpoint(spec, config)
    current = registry.alias(config.name, alias)
    previous = current.version if current else None
    problem = None
    try:
        endpoint.load(version.version, registry.read_file(version, layout.ONNX_FILE))
        checks["smoke"] = endpoint.smoke(onnx, version.version, candidate_source=version.location)
    except DeployFailed as exc:
        problem = exc.message
        checks["smoke"] = {"passed": False, "problem": problem}
    result = _result(
        spec, config, out, alias, version.version, previous, created, checks, endpoint.url
    )
    if problem is None:
        registry.set_alias(
            config.name, alias, version.version, context={**context, "endpoint": endpoint.url}
        )
        return result
    result.problem = problem
    if previous is not None:
        endpoint.load(
            previous, registry.read_file(registry.version(config.name, previous), layout.ONNX_FILE)
        )
        result.rolled_back = True
    registry.record(
        config.name,
        {
            "event": "rollback",
            "alias": alias,
            "from_version": version.version,
            "to_version": previous,
            "reason": f"smoke test failed: {problem}",
            "endpoint": endpoint.url,
            **context,
        },
    )
    return result
