"""Drift alerts: one repository_dispatch to start retraining, one issue per model, no storms.

The issue "Data drift detected: <name>" is the alert's memory across scheduled runs: its
body starts with a hidden marker with the time of the last dispatch. While it is open and that
dispatch is younger than ``cooldown_hours``, repeated drift comments on the issue but sends
no new dispatch. A check without drift closes it.

On a public repository anyone can open an issue with that title and a marker dated 2099.
So the alert issue is only one the bot opened (``github.bot_login``) with the label
``ALERT_LABEL`` (GitHub drops labels set by users without push access), and a marker dated
in the future is ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlops_actions.config import Config, DriftAlertsConfig
from mlops_actions.drift.verdict import NOT_ENOUGH_DATA
from mlops_actions.errors import GitHubError
from mlops_actions.github.actions import annotate, run_url
from mlops_actions.reports import GITHUB_COMMENT_LIMIT, cut_markdown

MAX_PAYLOAD_COLUMNS = 10
ALERT_LABEL = "drift-alert"
_MARKER = "<!-- mlops-actions:drift:last-dispatch={} -->"
_MARKER_RE = re.compile(r"<!-- mlops-actions:drift:last-dispatch=([0-9T:.+-]+Z?) -->")


@dataclass
class AlertOutcome:
    dispatched: bool = False
    event_type: str | None = None
    dispatch_skipped: str | None = None  # why no dispatch was sent although drift was found
    issue: dict[str, Any] | None = None  # {number, action: opened/updated/closed}
    payload: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None  # why no alerting happened at all
    error: str | None = None  # the GitHub API failure that stopped alerting

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def alert_on(config: Config, verdict: Mapping[str, Any], report_markdown: str) -> AlertOutcome:
    """The alerts for one drift-check ``verdict`` (its result.json): sent whenever a token and
    GITHUB_REPOSITORY are present; a GitHub failure warns and is kept in the outcome."""
    from mlops_actions.github.client import GitHubClient

    if verdict["status"] == NOT_ENOUGH_DATA:  # no verdict: neither raise nor clear an alert
        return AlertOutcome(skipped="no verdict: not enough data")
    token_env = config.github.token_env
    if not (os.environ.get(token_env) and os.environ.get("GITHUB_REPOSITORY")):
        return AlertOutcome(skipped=f"{token_env} or GITHUB_REPOSITORY not set")
    link = run_url()
    payload = dispatch_payload(
        name=config.name,
        drift_share=verdict["drift_share"],
        drifted_columns=verdict["drifted_columns"],
        run_url=link,
        fingerprint=verdict["current"]["sha256"],
    )
    # what the retraining is for
    payload["signals"] = [s["name"] for s in verdict["signals"] if s["decides"] and s["fired"]]
    where = (
        f"the whole report is in [the run's summary]({link})" if link else "see the job's summary"
    )
    body = cut_markdown(report_markdown, GITHUB_COMMENT_LIMIT - len(_MARKER) - 64, where)
    try:
        return send_alerts(
            GitHubClient.from_env(token_env=token_env, bot_login=config.github.bot_login),
            name=config.name,
            drift=bool(verdict["drift"]),
            payload=payload,
            report_markdown=body,
            settings=config.drift.alerts,
        )
    except GitHubError as exc:
        annotate("warning", f"drift alert not sent: {exc}")
        return AlertOutcome(error=str(exc))


def issue_title(name: str) -> str:
    return f"Data drift detected: {name}"


def dispatch_payload(
    *,
    name: str,
    drift_share: float,
    drifted_columns: list[str],
    run_url: str | None,
    fingerprint: str,
) -> dict[str, Any]:
    """What the retraining workflow receives (GitHub allows at most 10 top-level keys)."""
    return {
        "model": name,
        "drift_share": round(drift_share, 6),
        "drifted_columns": drifted_columns[:MAX_PAYLOAD_COLUMNS],
        "run_url": run_url,
        "current_fingerprint": fingerprint,
    }


def last_dispatch(body: str | None) -> datetime | None:
    """The time in the marker that opens ``body`` (a marker further down came with the report)."""
    match = _MARKER_RE.match(body or "")
    if not match:
        return None
    return datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))


def _with_marker(body: str, when: datetime) -> str:
    stamp = _MARKER.format(when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if _MARKER_RE.match(body):
        return _MARKER_RE.sub(stamp, body, count=1)
    return f"{stamp}\n{body}"


def send_alerts(
    client: Any,
    *,
    name: str,
    drift: bool,
    payload: dict[str, Any],
    report_markdown: str,
    settings: DriftAlertsConfig,
    now: datetime | None = None,
) -> AlertOutcome:
    """Dispatch and upsert the issue on drift; close the issue when drift is gone."""
    now = now or datetime.now(UTC)
    outcome = AlertOutcome()
    issue = client.find_issue(issue_title(name), labels=[ALERT_LABEL]) if settings.issue else None
    if not drift:
        if issue is not None:
            client.create_issue_comment(
                issue["number"], f"No drift in the latest check.\n\n{report_markdown}"
            )
            client.update_issue(issue["number"], state="closed", state_reason="completed")
            outcome.issue = {"number": issue["number"], "action": "closed"}
        return outcome

    previous = last_dispatch(issue["body"]) if issue is not None else None
    if previous is not None and previous > now:  # no dispatch happened in the future
        previous = None
    cooling = previous is not None and now - previous < timedelta(hours=settings.cooldown_hours)
    if not settings.dispatch:
        outcome.dispatch_skipped = "drift.alerts.dispatch is off"
    elif cooling:
        outcome.dispatch_skipped = f"cooldown: last dispatch {previous:%Y-%m-%d %H:%M} UTC is younger than {settings.cooldown_hours:g} h"
    else:
        dispatch_id = client.dispatch(settings.event_type, payload)
        outcome.dispatched, outcome.event_type = True, settings.event_type
        outcome.payload = {**payload, "dispatch_id": dispatch_id}
    if not settings.issue:
        return outcome
    if issue is None:
        body = _with_marker(report_markdown, now) if outcome.dispatched else report_markdown
        created = client.create_issue(issue_title(name), body, labels=[ALERT_LABEL])
        outcome.issue = {"number": created["number"], "action": "opened"}
        return outcome
    client.create_issue_comment(issue["number"], f"Drift found again.\n\n{report_markdown}")
    if outcome.dispatched:
        client.update_issue(issue["number"], body=_with_marker(issue["body"] or "", now))
    outcome.issue = {"number": issue["number"], "action": "updated"}
    return outcome
