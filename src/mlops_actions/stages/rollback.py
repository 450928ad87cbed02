"""Return an alias to the version it pointed at before: one command when production misbehaves."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mlops_actions.config import Config
from mlops_actions.errors import UsageError
from mlops_actions.registry.store import MODEL_FILE
from mlops_actions.stages._common import StageResult, stage_dir, write_result
from mlops_actions.stages.deploy import (
    HttpEndpoint,
    audit_context,
    deploy_target,
    record_github_deployment,
    registry_for,
)


@dataclasses.dataclass
class RollbackResult(StageResult):
    stage = "rollback"
    target: str
    model: str
    alias: str
    from_version: int
    to_version: int
    location: str
    deployment_id: int | None = None

    def outputs(self) -> dict[str, Any]:
        return {
            **super().outputs(),
            "version": self.to_version,
            "previous-version": self.from_version,
        }

    def summary_markdown(self) -> str:
        from mlops_actions.reports import render

        return render("rollback.md.j2", r=self)


def rollback(
    config: Config, *, workdir: str | Path = ".mlops", target: str, stage: str = "production"
) -> RollbackResult:
    """Move ``stage`` back one version in the target's registry (and on its server, for ``http``)."""
    spec = deploy_target(config, target)
    if spec.type == "github-release":
        raise UsageError(
            f"deploy target {target!r} is a GitHub release, which has no live version to roll back; "
            "roll back the registry or http target that serves the model"
        )
    registry = registry_for(config, target)
    alias = registry.alias(config.name, stage)
    if spec.type == "http" and alias is not None and alias.history:
        # the server first: if it refuses, the registry still tells the truth about what is live
        endpoint = HttpEndpoint(spec, config)
        previous = registry.version(config.name, alias.history[0])
        endpoint.load(previous.version, registry.read_file(previous, MODEL_FILE))
        location = endpoint.url
    else:
        location = registry.url
    move = registry.rollback(config.name, stage, context=audit_context(config, target, stage))
    result = RollbackResult(
        out_dir=stage_dir(workdir, "rollback"),
        target=target,
        model=config.name,
        alias=stage,
        from_version=move.from_version,
        to_version=move.to_version,
        location=location,
    )
    result.deployment_id = record_github_deployment(
        config, target=target, alias=stage, version=move.to_version, location=location
    )
    return write_result(result)
