"""Which ``GITHUB_TOKEN`` permission each operation of the contract needs, as GitHub checks it.

From GitHub's docs on ``permissions:`` (shared/github-api/README.md, item 10): a job's token
carries exactly the scopes of its block; a call outside them is answered 403 "Resource not
accessible by integration". Reading needs ``read`` (or ``write``), anything else ``write``.
Comments and issue calls on a pull request also accept ``pull-requests``. ``rate-limit/get``
needs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

LEVELS = {"none": 0, "read": 1, "write": 2}
SCOPES = (
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "metadata",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
)
FORBIDDEN = "Resource not accessible by integration"

_CONTENTS = (
    "repos/get-content",
    "repos/create-or-update-file-contents",
    "repos/delete-file",
    "repos/create-release",
    "repos/get-release-by-tag",
    "repos/list-releases",
    "repos/upload-release-asset",
    "repos/list-release-assets",
    "repos/delete-release-asset",
    "repos/get-release",
    "repos/update-release",
    "repos/get-release-asset",
    "repos/create-dispatch-event",  # repository_dispatch needs contents: write
)
SCOPE_OF: dict[str, str | None] = {
    **dict.fromkeys(_CONTENTS, "contents"),
    "repos/create-commit-status": "statuses",
    "checks/create": "checks",
    "checks/update": "checks",
    "repos/create-deployment": "deployments",
    "repos/create-deployment-status": "deployments",
    "repos/list-deployments": "deployments",
    "pulls/get": "pull-requests",
    "repos/list-pull-requests-associated-with-commit": "pull-requests",
    "rate-limit/get": None,
}
_PREFIXES = {"issues/": "issues", "git/": "contents", "actions/": "actions"}


def scope_of(operation_id: str) -> str | None:
    """The permission an operation needs; KeyError for one nobody classified yet."""
    if operation_id in SCOPE_OF:
        return SCOPE_OF[operation_id]
    for prefix, scope in _PREFIXES.items():
        if operation_id.startswith(prefix):
            return scope
    raise KeyError(f"{operation_id}: no permission scope known (tests/fakegithub/scopes.py)")


def allows(
    granted: Mapping[str, str], operation_id: str, method: str, *, on_pull: bool = False
) -> bool:
    """Whether a token with ``granted`` scopes may make this call."""
    scope = scope_of(operation_id)
    if scope is None:
        return True
    needed = LEVELS["read" if method.upper() in ("GET", "HEAD") else "write"]
    accepted = (scope, "pull-requests") if scope == "issues" and on_pull else (scope,)
    return any(LEVELS[granted.get(name, "none")] >= needed for name in accepted)


def read_only(granted: Mapping[str, str]) -> dict[str, str]:
    """What a fork's pull request gets: every write lowered to read."""
    return {name: "read" if level == "write" else level for name, level in granted.items()}
