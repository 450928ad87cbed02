"""Watch training data that changes outside git, and start retraining when it does.

``data.source`` (a bucket prefix, a URL, a mounted folder) is listed with the hashes its
store keeps (see ``data_source``) and compared with the listing ``train`` recorded in the
lineage of the model's newest version in the registry. The newest, not production: a
retrained version waiting for a reviewer's approval already holds the new data, and
comparing with production would ask for that retraining again every night.

On a change it sends ``repository_dispatch`` ``data-updated`` (ml-retrain.yml listens) once
per change: the registry's audit log gets a ``data-updated`` entry with the new listing's
fingerprint and the dispatch id before the dispatch ("sending") and after it ("sent"). A
run that finds "sent" for this fingerprint sends nothing; one that finds only "sending" (the
answer was lost, or the job died) sends again with the same dispatch id (see
``GitHubClient.dispatch``).

File names come from whoever can write to the bucket: the summary escapes them, and the
payload carries at most ``MAX_PAYLOAD_FILES`` of each kind, each cut to ``MAX_NAME_CHARS``.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path
from typing import Any

from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.data_source import compare, is_remote, is_url, listing, public
from mlops_actions.errors import GitHubError, UsageError
from mlops_actions.github.actions import run_url
from mlops_actions.registry.store import Registry
from mlops_actions.registry.targets import only_registry, registry_for
from mlops_actions.reports import render
from mlops_actions.stages._common import StageResult, write_result

EVENT_TYPE = "data-updated"
MAX_PAYLOAD_FILES = 20
MAX_NAME_CHARS = 200
KINDS = ("added", "removed", "changed")


@dataclasses.dataclass
class DataWatchResult(StageResult):
    stage = layout.DATA_WATCH
    name: str
    source: str
    registry: str
    version: int  # the version whose training recorded the listing compared with
    recorded: str  # fingerprints of the listings
    current: str
    changed: bool
    changes: dict[str, Any]  # added, removed, changed (file names), rows
    files: int
    fail_on_change: bool
    alert: dict[str, Any]  # dispatched, dispatch_id, payload, skipped, error

    @property
    def passed(self) -> bool:
        return not (self.fail_on_change and self.changed)

    def failure_message(self) -> str:
        return f"the data at {self.source} changed since {self.name} v{self.version} was trained"

    def outputs(self) -> dict[str, Any]:
        return {
            **super().outputs(),
            "changed": self.changed,
            "dispatched": bool(self.alert.get("dispatched")),
            "fingerprint": self.current,
            "files-added": len(self.changes["added"]),
            "files-removed": len(self.changes["removed"]),
            "files-changed": len(self.changes["changed"]),
        }

    def summary_markdown(self) -> str:
        return render("data_watch.md.j2", r=self, kinds=KINDS, shown=MAX_PAYLOAD_FILES)

    def annotations(self) -> list[dict[str, Any]]:
        error = self.alert.get("error")
        return [{"level": "warning", "message": f"data-updated not sent: {error}"}] if error else []


def data_watch(
    config: Config,
    *,
    workdir: str | Path = ".mlops",
    source: str | None = None,
    target: str | None = None,
    fail_on_change: bool = False,
    alert: bool = True,
) -> DataWatchResult:
    """Compare ``source`` (default ``data.source``) with the listing recorded when the newest
    version in ``target``'s registry was trained; dispatch ``data-updated`` once per change."""
    watched = source or config.data.source
    if not watched:
        raise UsageError(
            f"{config.label}: no data.source to watch; set data.source or pass --source"
        )
    registry = registry_for(config, target or only_registry(config, "data-watch", "--target NAME"))
    versions = registry.versions(config.name)
    if not versions:
        raise UsageError(
            f"no training recorded for model {config.name} in {registry.url}: "
            "train and deploy it once, then watch its data"
        )
    last = versions[-1]
    recorded = (last.metadata.get("lineage") or {}).get("source")
    if not recorded:
        raise UsageError(
            f"no training recorded for model {config.name} in {registry.url}: v{last.version} "
            "was trained without data.source; set it, retrain and deploy"
        )
    if _is_url(watched) and _is_url(recorded["source"]) and public(watched) != recorded["source"]:
        raise UsageError(
            f"--source {public(watched)}: {config.name} v{last.version} was trained from "
            f"{recorded['source']}, not from it"
        )
    now = listing(watched)
    changed = now["sha256"] != recorded["sha256"]
    changes = compare(recorded, now)
    outcome: dict[str, Any] = {"dispatched": False}
    if changed and alert:
        payload = _payload(config.name, now, last.version, changes)
        outcome = _dispatch_once(config, registry, payload)
    return write_result(
        DataWatchResult(
            out_dir=layout.stage_dir(workdir, layout.DATA_WATCH),
            name=config.name,
            source=now["source"],
            registry=registry.url,
            version=last.version,
            recorded=recorded["sha256"],
            current=now["sha256"],
            changed=changed,
            changes=changes,
            files=len(now["files"]),
            fail_on_change=fail_on_change,
            alert=outcome,
        )
    )


def _is_url(source: str) -> bool:
    """Local paths differ between machines; only URLs name the same source everywhere."""
    return is_url(source) or is_remote(source)


def _payload(
    name: str, now: dict[str, Any], version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """What ml-retrain.yml receives: nine keys with the dispatch id (GitHub allows ten), file
    names capped so the payload stays far below GitHub's 64 KB."""
    return {
        "model": name,
        "source": now["source"][:500],
        "fingerprint": now["sha256"],
        "trained_version": version,
        "counts": {kind: len(changes[kind]) for kind in KINDS},
        "files": {
            kind: [n[:MAX_NAME_CHARS] for n in changes[kind][:MAX_PAYLOAD_FILES]] for kind in KINDS
        },
        "rows": changes["rows"],
        "run_url": run_url(),
    }


def _dispatch_once(config: Config, registry: Registry, payload: dict[str, Any]) -> dict[str, Any]:
    """Send ``data-updated`` unless the audit log says it was sent for this listing."""
    from mlops_actions.github.client import GitHubClient

    token_env = config.github.token_env
    if not (os.environ.get(token_env) and os.environ.get("GITHUB_REPOSITORY")):
        return {"dispatched": False, "skipped": f"{token_env} or GITHUB_REPOSITORY not set"}
    seen = [
        entry
        for entry in registry.history(config.name)
        if entry.get("event") == EVENT_TYPE and entry.get("fingerprint") == payload["fingerprint"]
    ]
    sent = [entry for entry in seen if entry.get("state") == "sent"]
    if sent:
        return {
            "dispatched": False,
            "dispatch_id": sent[-1].get("dispatch_id"),
            "skipped": f"sent already for this data at {sent[-1].get('at')}",
        }
    dispatch_id = seen[-1]["dispatch_id"] if seen else f"data.{uuid.uuid4().hex[:16]}"
    entry = {"event": EVENT_TYPE, "fingerprint": payload["fingerprint"], "dispatch_id": dispatch_id}
    registry.record(config.name, {**entry, "state": "sending"})
    try:
        client = GitHubClient.from_env(token_env=token_env, bot_login=config.github.bot_login)
        client.dispatch(EVENT_TYPE, payload, dispatch_id=dispatch_id)
    except GitHubError as exc:  # a warning (annotations); the next run sends it again
        return {"dispatched": False, "dispatch_id": dispatch_id, "error": str(exc)}
    registry.record(config.name, {**entry, "state": "sent"})
    return {"dispatched": True, "dispatch_id": dispatch_id, "payload": payload}
