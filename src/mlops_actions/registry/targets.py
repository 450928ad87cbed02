"""Which registry a deploy target keeps its versions in, and what the audit log records of a move.

Every consumer of the registry (deploy, rollback, the gate's ``registry:`` baseline,
``mlops serve``, ``mlops registry``) resolves its target here.
"""

from __future__ import annotations

from typing import Any

from mlops_actions.config import Config, DeployTarget
from mlops_actions.errors import UsageError
from mlops_actions.github.actions import run_url
from mlops_actions.gitrepo import commit_info
from mlops_actions.registry.store import Registry


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
    options = dict(spec.storage_options)
    if str(spec.url).startswith("github://"):
        options.setdefault("token_env", config.github.token_env)
    return Registry(spec.url, storage_options=options)


def registry_alias(config: Config, spec: str, flag: str) -> tuple[Registry, str]:
    """``registry:[TARGET:]ALIAS`` (as ``--baseline`` and ``--reference`` take it): the registry
    and the alias; TARGET may be left out when the config has one registry target."""
    target, _, alias = spec[len("registry:") :].rpartition(":")
    if not target:
        target = only_registry(config, f"{flag} {spec}", f"registry:TARGET:{alias}")
    return registry_for(config, target), alias


def only_registry(config: Config, what: str, hint: str) -> str:
    """The name of the config's one registry target, for commands that may leave it out."""
    registries = [name for name, t in config.deploy.targets.items() if t.type == "registry"]
    if len(registries) != 1:
        raise UsageError(
            f"{what}: {config.label} has {len(registries)} registry targets "
            f"({', '.join(registries) or 'none'}); name one: {hint}"
        )
    return registries[0]


def audit_context(
    config: Config, target: str, alias: str, *, forced: bool = False
) -> dict[str, Any]:
    """What the audit log records beside who and when."""
    return {
        "target": target,
        "alias": alias,
        "forced": forced,
        "git_sha": commit_info(config.root)["commit"],
        "run_url": run_url(),
    }
