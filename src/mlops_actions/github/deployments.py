"""Promotions listed on the repository's Environments page (GitHub Deployments)."""

from __future__ import annotations

import os

from mlops_actions.config import Config
from mlops_actions.errors import GitHubError
from mlops_actions.github.actions import in_actions, run_url


def record_github_deployment(
    config: Config,
    *,
    target: str,
    alias: str,
    version: int | None,
    location: str | None,
    problem: str | None = None,
) -> tuple[int | None, str | None]:
    """In Actions with a token, list the promotion on the repository's Environments page.

    Returns the deployment's id and, when GitHub refused or failed a call, a warning: the
    alias has moved already, so a failed record must not fail the step and leave a live model
    without its result.json.
    """
    sha = os.environ.get("GITHUB_SHA")
    if not (in_actions() and sha and os.environ.get(config.github.token_env)):
        return None, None
    from mlops_actions.github.client import GitHubClient  # requests: only when a call is made

    client = GitHubClient.from_env(token_env=config.github.token_env)
    what = f"{config.name} v{version} to {alias} via {target}"
    try:
        deployment = client.create_deployment(
            sha,
            environment=alias,
            description=what[:140],
            payload={"model": config.name, "version": version, "target": target},
        )
    except GitHubError as exc:
        return None, f"the move is done, but GitHub has no deployment record of it: {exc}"
    try:
        client.create_deployment_status(
            deployment["id"],
            "failure" if problem else "success",
            log_url=run_url(),
            environment_url=location if str(location).startswith(("http://", "https://")) else None,
            description=(f"{what}: {problem}" if problem else what)[:140],
        )
    except GitHubError as exc:
        return int(deployment["id"]), (
            f"GitHub deployment #{deployment['id']} was created, but its status was not set: {exc}"
        )
    return int(deployment["id"]), None
