"""Event payloads for GITHUB_EVENT_PATH, built from real examples (webhooks/, see its SOURCE.md).

Each builder takes GitHub's example for the event and puts in the simulated repository, refs,
commits and numbers; everything else stays as GitHub sends it.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

WEBHOOKS = Path(__file__).resolve().parent / "webhooks"


@functools.cache
def _load(event: str) -> dict[str, Any]:
    return json.loads((WEBHOOKS / f"{event}.json").read_text(encoding="utf-8"))


def _example(event: str, full_name: str) -> dict[str, Any]:
    """The example with its repository's name replaced everywhere (URLs included)."""
    example = _load(event)
    old = example["repository"]["full_name"]
    old_owner = old.split("/")[0]
    owner, name = full_name.split("/")
    text = json.dumps(example).replace(old, full_name)
    payload = json.loads(text)
    for holder in (payload["repository"], payload.get("organization") or {}):
        if holder.get("login") == old_owner:
            holder["login"] = owner
    payload["repository"].update(name=name, full_name=full_name, private=True)
    payload["repository"]["owner"]["login"] = owner
    return payload


def _repository(payload: dict[str, Any], default_branch: str) -> None:
    payload["repository"].update(default_branch=default_branch, fork=False)
    payload["repository"].pop("master_branch", None)


def push(
    full_name: str,
    default_branch: str,
    *,
    ref: str,
    before: str,
    after: str,
    commits: list[dict[str, Any]],
) -> dict[str, Any]:
    payload = _example("push", full_name)
    _repository(payload, default_branch)
    template = payload["head_commit"]
    listed = [
        {
            **copy.deepcopy(template),
            **commit,
            "tree_id": template["tree_id"],
            "url": f"https://github.com/{full_name}/commit/{commit['id']}",
        }
        for commit in commits
    ]
    payload.update(
        ref=ref,
        before=before,
        after=after,
        created=before == "0" * 40,
        deleted=False,
        forced=False,
        base_ref=None,
        commits=listed,
        head_commit=listed[-1] if listed else None,
        compare=f"https://github.com/{full_name}/compare/{before[:12]}...{after[:12]}",
    )
    return payload


def pull_request(
    full_name: str,
    default_branch: str,
    *,
    action: str,
    number: int,
    title: str,
    head_ref: str,
    head_sha: str,
    base_ref: str,
    base_sha: str,
    merge_sha: str,
    fork: bool,
) -> dict[str, Any]:
    """A ``pull_request`` payload; from a fork, the head repository is the fork's."""
    payload = _example("pull_request", full_name)
    _repository(payload, default_branch)
    payload.update(action=action, number=number)
    pull = payload["pull_request"]
    pull.update(
        number=number,
        title=title,
        state="open",
        merged=False,
        merge_commit_sha=merge_sha,
        url=f"https://api.github.com/repos/{full_name}/pulls/{number}",
        html_url=f"https://github.com/{full_name}/pull/{number}",
        issue_url=f"https://api.github.com/repos/{full_name}/issues/{number}",
        comments_url=f"https://api.github.com/repos/{full_name}/issues/{number}/comments",
    )
    pull["base"].update(ref=base_ref, sha=base_sha, label=f"{full_name.split('/')[0]}:{base_ref}")
    pull["base"]["repo"] = copy.deepcopy(payload["repository"])
    head_repo = copy.deepcopy(payload["repository"])
    if fork:
        fork_name = f"fork-owner/{full_name.split('/')[1]}"
        head_repo = json.loads(json.dumps(head_repo).replace(full_name, fork_name))
        head_repo["owner"]["login"] = "fork-owner"
        head_repo.update(fork=True, private=False)
    pull["head"].update(
        ref=head_ref,
        sha=head_sha,
        label=f"{head_repo['owner']['login']}:{head_ref}",
        repo=head_repo,
    )
    return payload


def repository_dispatch(
    full_name: str, default_branch: str, *, event_type: str, client_payload: dict[str, Any]
) -> dict[str, Any]:
    payload = _example("repository_dispatch", full_name)
    _repository(payload, default_branch)
    payload.update(action=event_type, client_payload=client_payload, branch=default_branch)
    return payload


def workflow_dispatch(
    full_name: str, default_branch: str, *, ref: str, workflow: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    payload = _example("workflow_dispatch", full_name)
    _repository(payload, default_branch)
    payload.update(ref=ref, workflow=workflow, inputs=inputs)
    return payload


def workflow_run(full_name: str, default_branch: str, *, run: dict[str, Any]) -> dict[str, Any]:
    """A ``workflow_run`` payload (``action: completed``) about ``run``, the finished run as
    ``actions/get-workflow-run`` shows it (its ``pull_requests`` empty for a fork's)."""
    payload = _example("workflow_run", full_name)
    _repository(payload, default_branch)
    described = payload["workflow_run"]
    old_id = str(described["id"])
    for key, value in described.items():
        if key.endswith("_url") and isinstance(value, str) and "/actions/runs/" in value:
            described[key] = value.replace(old_id, str(run["id"]))
    copied = set(described) - {"repository", "head_repository", "head_commit", "actor"}
    described.update({k: copy.deepcopy(v) for k, v in run.items() if k in copied})
    head_name = run["head_repository"]["full_name"]
    if head_name != full_name:  # a fork's: its head repository is the fork
        head = json.loads(json.dumps(described["head_repository"]).replace(full_name, head_name))
        head.update(fork=True, private=False)
        head["owner"]["login"] = head_name.split("/")[0]
        described["head_repository"] = head
    described["head_commit"]["id"] = run["head_sha"]
    payload["workflow"].update(
        id=run["workflow_id"],
        name=run["name"],
        path=run["path"],
        html_url=f"https://github.com/{full_name}/blob/{default_branch}/{run['path']}",
    )
    return payload


def schedule(cron: str) -> dict[str, Any]:
    """What GitHub writes for a scheduled run (not in the examples; see webhooks/SOURCE.md)."""
    return {"schedule": cron}
