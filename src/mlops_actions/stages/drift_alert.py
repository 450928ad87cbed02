"""Send the alerts of a drift check that ran without them, from its result alone.

The nightly check parses data from outside the repository, so the template runs it with a
read-only token and ``--no-alert``; a later job holding the write token runs this stage, which
reads the check's ``result.json`` and ``summary.md`` (its artifact) and never the data.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.drift.alerts import alert_on
from mlops_actions.drift.verdict import STATUSES
from mlops_actions.errors import UsageError
from mlops_actions.reports import render
from mlops_actions.stages._common import StageResult, write_result


@dataclasses.dataclass
class DriftAlertResult(StageResult):
    stage = layout.DRIFT_ALERT
    name: str
    status: str
    drift: bool
    check: Path  # the drift-check result the alerts are for
    alerts: dict[str, Any]

    def outputs(self) -> dict[str, Any]:
        issue = self.alerts.get("issue") or {}
        return {
            **super().outputs(),
            "drift": self.drift,
            "dispatched": bool(self.alerts.get("dispatched")),
            "issue": issue.get("number", ""),
        }

    def summary_markdown(self) -> str:
        return render("drift_alert.md.j2", r=self)

    def annotations(self) -> list[dict[str, Any]]:
        error = self.alerts.get("error")
        return [{"level": "warning", "message": f"drift alert not sent: {error}"}] if error else []


def drift_alert(
    config: Config, *, workdir: str | Path = ".mlops", check: str | Path | None = None
) -> DriftAlertResult:
    """Dispatch, open, update or close the alert issue as the drift check in ``check`` (a
    drift-check output folder; default the workdir's) found."""
    folder = Path(check) if check is not None else Path(workdir) / layout.DRIFT_CHECK
    verdict = _read_verdict(folder / layout.RESULT_FILE, config.name)
    summary = folder / layout.SUMMARY_FILE
    try:
        report = summary.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"{summary}: cannot read the drift check's summary ({exc.strerror})"
        ) from None
    outcome = alert_on(config, verdict, report)
    return write_result(
        DriftAlertResult(
            out_dir=layout.stage_dir(workdir, layout.DRIFT_ALERT),
            name=config.name,
            status=verdict["status"],
            drift=bool(verdict["drift"]),
            check=folder / layout.RESULT_FILE,
            alerts=outcome.to_dict(),
        )
    )


_VERDICT_KEYS = ("drift", "drift_share", "drifted_columns", "signals", "current")


def _read_verdict(path: Path, name: str) -> dict[str, Any]:
    """The check's result, refused unless it is a finished drift check of this model."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no drift-check result; run `mlops drift-check --no-alert` first "
            "(or download its artifact here)"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable drift-check result ({exc})") from None
    if not isinstance(data, dict) or data.get("stage") != layout.DRIFT_CHECK:
        raise UsageError(f"{path}: not a drift-check result")
    if data.get("name") != name:
        raise UsageError(
            f"{path}: a drift check of model {data.get('name')!r}, not of this config's {name!r}"
        )
    if data.get("status") not in STATUSES:
        raise UsageError(f"{path}: unknown drift status {data.get('status')!r}")
    missing = [key for key in _VERDICT_KEYS if key not in data]
    if missing or "sha256" not in (data.get("current") or {}):
        raise UsageError(
            f"{path}: incomplete drift-check result, no {(missing or ['current.sha256'])[0]!r}"
        )
    return data
