"""One drift verdict from every signal: feature drift, target drift, prediction drift and
performance, each judged by its rule in ``drift.verdict``.

A signal that fired decides only when its rule is on; one that could not be checked (no
model, no labels, no limits, too few labelled rows) never fires. Fewer current rows than
``drift.min_rows`` give no verdict at all: a handful of rows is no evidence either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from mlops_actions.config import DriftConfig
from mlops_actions.reports import fmt, pct

DRIFT = "drift"
NO_DRIFT = "no_drift"
NOT_ENOUGH_DATA = "not_enough_data"
STATUSES = (DRIFT, NO_DRIFT, NOT_ENOUGH_DATA)
NAMED_COLUMNS = 5  # drifted columns named in a signal's detail


@dataclass(frozen=True)
class Signal:
    name: str  # features | target | predictions | performance
    label: str  # how reports name it
    rule: str  # what makes it fire, in words
    decides: bool  # its rule is on: when it fires, the verdict is drift
    checked: bool  # there was something to check
    fired: bool
    detail: str  # what was found, or why nothing was checked

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(signals: Iterable[Signal], *, rows: int, min_rows: int) -> str:
    if rows < min_rows:
        return NOT_ENOUGH_DATA
    return DRIFT if any(s.decides and s.fired for s in signals) else NO_DRIFT


LABELS = {
    "features": "feature drift",
    "target": "target drift",
    "predictions": "prediction drift",
    "performance": "performance",
}


def signal(name: str, rule: str, decides: bool, checked: bool, fired: bool, detail: str) -> Signal:
    return Signal(name, LABELS[name], rule, decides, checked, fired, detail)


def signals(
    settings: DriftConfig,
    *,
    features: list[dict[str, Any]],
    target: str,
    target_result: dict[str, Any] | None,
    target_untested: str | None,
    labelled_rows: int,
    predictions: dict[str, Any] | None,
    performance: dict[str, Any] | None,
) -> list[Signal]:
    """The four signals from the column results, the prediction drift and the performance."""
    rules = settings.verdict
    return [
        _share_signal(
            "features", "feature columns", features, rules.features, settings.drift_share
        ),
        _target_signal(
            target, target_result, target_untested, labelled_rows, settings.min_rows, rules.target
        ),
        _predictions_signal(predictions, rules.predictions, settings.drift_share),
        _performance_signal(performance, settings.min_rows, rules.performance),
    ]


def _share_signal(
    name: str, what: str, columns: list[dict[str, Any]], rule: str | bool, share: float
) -> Signal:
    """Fires on a share of drifted columns (``"share"``, also what ``False`` reports) or on
    any one (``"any"``)."""
    drifted = [c["column"] for c in columns if c["drifted"]]
    if rule == "any":
        text, fired = f"any of the {what} drifted", bool(drifted)
    else:
        text = f"share of drifted {what} ≥ {pct(share, 0)}"
        fired = bool(columns) and len(drifted) / len(columns) >= share
    if not columns:
        return signal(name, text, rule is not False, False, False, f"no {what} to test")
    detail = f"{len(drifted)} of {len(columns)} drifted ({pct(len(drifted) / len(columns), 0)})"
    if drifted:
        more = f", {len(drifted) - NAMED_COLUMNS} more" if len(drifted) > NAMED_COLUMNS else ""
        detail += f": {', '.join(drifted[:NAMED_COLUMNS])}{more}"
    return signal(name, text, rule is not False, True, fired, detail)


def _target_signal(
    target: str,
    result: dict[str, Any] | None,
    untested: str | None,
    labelled_rows: int,
    min_rows: int,
    rule: bool,
) -> Signal:
    text = f"target column {target} drifted"
    if untested is not None:
        return signal("target", text, rule, False, False, f"not tested: {untested}")
    if result is None:
        return signal("target", text, rule, False, False, "no target column in current data")
    if labelled_rows < min_rows:
        return signal(
            "target", text, rule, False, False, _too_few(labelled_rows, min_rows, "labelled")
        )
    return signal("target", text, rule, True, result["drifted"], column_test(result))


def _predictions_signal(
    predictions: dict[str, Any] | None, rule: str | bool, share: float
) -> Signal:
    if predictions is None or predictions["skipped"]:
        why = predictions["skipped"] if predictions else "no model outputs to compare"
        return signal("predictions", "model outputs drifted", rule is not False, False, False, why)
    return _share_signal("predictions", "model outputs", predictions["columns"], rule, share)


def _performance_signal(performance: dict[str, Any] | None, min_rows: int, rule: bool) -> Signal:
    text = "a metric dropped more than drift.performance allows"
    if performance is None:
        return signal(
            "performance", text, rule, False, False, "no labelled rows scored by the model"
        )
    if performance["rows"] < min_rows:
        return signal(
            "performance",
            text,
            rule,
            False,
            False,
            _too_few(performance["rows"], min_rows, "labelled"),
        )
    limited = [m for m in performance["metrics"] if m["max_drop"] is not None]
    if not limited:
        return signal("performance", text, rule, False, False, "no limit set in drift.performance")
    worse = [m for m in limited if m["degraded"]]
    if not worse:
        return signal(
            "performance",
            text,
            rule,
            True,
            False,
            f"{len(limited)} of {len(limited)} within limits",
        )
    detail = "; ".join(
        f"{m['name']} {fmt(m['reference'], 3)} -> {fmt(m['current'], 3)} "
        f"(allowed drop {fmt(m['max_drop'], 3)})"
        for m in worse
    )
    return signal("performance", text, rule, True, True, detail)


def column_test(c: dict[str, Any]) -> str:
    """One column's test in words, e.g. ``chi-square 35.2, p-value 1e-08 < 0.05``."""
    if c["p_value"] is None:
        compared = f"{c['statistic_name']} {fmt(c['score'], 3)}"
    else:
        compared = f"{c['statistic_name']} {fmt(c['statistic'], 3)}, p-value {fmt(c['p_value'], 3)}"
    op = _SYMBOL[c["drift_if"]] if c["drifted"] else _SYMBOL[_NEGATION[c["drift_if"]]]
    return f"{compared} {op} {fmt(c['threshold'], 3)}"


_SYMBOL = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}
_NEGATION = {"<=": ">", "<": ">=", ">=": "<"}


def _too_few(rows: int, min_rows: int, kind: str) -> str:
    return f"{rows} {kind} rows, fewer than drift.min_rows ({min_rows})"
