"""The gate verdict as a commit status, so branch protection can require it.

On a pull request it goes on the PR's head commit (GITHUB_SHA is the test merge commit there,
which the PR's checks list does not show). Like the sticky comment, a token that may not set
statuses (a fork's pull request) gives a warning, not a failure: the verdict keeps its exit code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mlops_actions.errors import GitHubError
from mlops_actions.github.actions import annotate, event_pull_request, run_url


@dataclass(frozen=True)
class StatusResult:
    state: str | None  # "success" or "failure"; None when skipped
    sha: str | None
    context: str
    reason: str = ""  # why it was skipped


def post_gate_status(
    passed: bool,
    description: str,
    *,
    name: str | None,
    sha: str | None = None,
    target_url: str | None = None,
    client: Any = None,
    token_env: str = "GITHUB_TOKEN",
) -> StatusResult:
    """Set commit status ``mlops/gate: <name>`` (``mlops/gate`` with no name: every model of a
    multi-model run) to success or failure on the commit under test.

    ``sha`` defaults to that commit, ``target_url`` to this run; ``client`` to
    ``GitHubClient.from_env(token_env=token_env)``.
    """
    context = f"mlops/gate: {name}" if name else "mlops/gate"
    sha = sha or (event_pull_request().get("head") or {}).get("sha") or os.environ.get("GITHUB_SHA")
    if not sha:
        reason = "no commit to mark: GITHUB_SHA is not set and the event is not a pull request"
        annotate("notice", f"commit status skipped: {reason}")
        return StatusResult(None, None, context, reason)
    if client is None:
        from mlops_actions.github.client import GitHubClient

        client = GitHubClient.from_env(token_env=token_env)
    state = "success" if passed else "failure"
    try:
        client.create_commit_status(
            sha,
            state,
            context=context,
            description=description,
            target_url=target_url or run_url(),
        )
    except GitHubError as exc:
        if not exc.forbidden:
            raise
        annotate("warning", f"commit status skipped, the verdict is in the step summary: {exc}")
        return StatusResult(None, sha, context, str(exc))
    return StatusResult(state, sha, context)
