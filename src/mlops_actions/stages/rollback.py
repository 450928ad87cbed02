"""Return an alias to the version it pointed at before: one command when production misbehaves."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.errors import UsageError
from mlops_actions.github.deployments import record_github_deployment
from mlops_actions.registry.targets import audit_context, deploy_target, registry_for
from mlops_actions.reports import render
from mlops_actions.serving.endpoint import HttpEndpoint
from mlops_actions.stages._common import StageResult, write_result


@dataclasses.dataclass
class RollbackResult(StageResult):
    stage = layout.ROLLBACK
    target: str
    model: str
    alias: str
    from_version: int
    to_version: int
    location: str
    deployment_id: int | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)

    def outputs(self) -> dict[str, Any]:
        return {
            **super().outputs(),
            "version": self.to_version,
            "previous-version": self.from_version,
        }

    def summary_markdown(self) -> str:

        return render("rollback.md.j2", r=self)

    def annotations(self) -> list[dict[str, Any]]:
        return [{"level": "warning", "message": w} for w in self.warnings]


def rollback(
    config: Config, *, workdir: str | Path = ".mlops", target: str, alias: str = "production"
) -> RollbackResult:
    """Move ``alias`` back one version in the target's registry (and on its server, for ``http``)."""
    spec = deploy_target(config, target)
    if spec.type == "github-release":
        raise UsageError(
            f"deploy target {target!r} is a GitHub release, which has no live version to roll back; "
            "roll back the registry or http target that serves the model"
        )
    registry = registry_for(config, target)
    current = registry.alias(config.name, alias)
    if spec.type == "http" and current is not None and current.history:
        # the server first: if it refuses, the registry still tells the truth about what is live
        endpoint = HttpEndpoint(spec, config)
        previous = registry.version(config.name, current.history[0])
        endpoint.load(previous.version, registry.read_file(previous, layout.ONNX_FILE))
        location = endpoint.url
    else:
        location = registry.url
    move = registry.rollback(config.name, alias, context=audit_context(config, target, alias))
    result = RollbackResult(
        out_dir=layout.stage_dir(workdir, layout.ROLLBACK),
        target=target,
        model=config.name,
        alias=alias,
        from_version=move.from_version,
        to_version=move.to_version,
        location=location,
    )
    result.deployment_id, warning = record_github_deployment(
        config, target=target, alias=alias, version=move.to_version, location=location
    )
    result.warnings += [warning] if warning else []
    return write_result(result)
