"""The gate's rules and how each is judged: one ``Rule`` per threshold, with a closed set of statuses.

Metric rules compare the candidate with absolute limits (``min``, ``max``) and with the
baseline (``max_drop``, ``max_relative_drop``); slice rules bound the best-to-worst gap of a
metric across the values of a column; budget rules bound the model's size and latency.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from mlops_actions.config import GateConfig
from mlops_actions.metrics import METRICS
from mlops_actions.reports import fmt, pct

Status = Literal["pass", "fail", "skipped", "not significant"]
STATUSES: tuple[Status, ...] = ("fail", "not significant", "pass", "skipped")
"""Worst first: a group of rules shows the worst status any of them has."""
CHANGE_RULES = ("max_drop", "max_relative_drop")


@dataclasses.dataclass
class Rule:
    kind: Literal["metric", "slice", "budget"]
    name: str
    """The metric, ``<metric> by <column>`` for a slice, or what a budget measures."""
    rule: str
    """min, max, max_drop, max_relative_drop, max_gap, max_model_mb or max_latency_ms."""
    threshold: float
    observed: float | None
    status: Status
    note: str = ""
    baseline: float | None = None
    change: float | None = None
    """How much worse than the baseline (absolute, or relative for max_relative_drop)."""
    interval: dict[str, float] | None = None
    passed: bool = dataclasses.field(init=False)
    """Only ``fail`` blocks; written to result.json beside the status."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"rule status {self.status!r} is not one of {STATUSES}")
        self.passed = self.status != "fail"

    def describe_failure(self) -> str:
        """One line for the annotation and the failure message."""
        if self.rule in CHANGE_RULES and self.change is not None:
            relative = self.rule == "max_relative_drop"
            change = pct(self.change) if relative else fmt(self.change)
            limit = pct(self.threshold) if relative else fmt(self.threshold)
            return (
                f"{self.name} worsened by {change} ({fmt(self.baseline)} → {fmt(self.observed)}), "
                f"{self.rule} is {limit}"
            )
        note = f" ({self.note})" if self.note else ""
        return f"{self.name} {self.rule} {fmt(self.threshold)}: observed {fmt(self.observed)}{note}"


def _met(ok: bool) -> Status:
    return "pass" if ok else "fail"


def metric_rules(
    gate: GateConfig,
    candidate: dict[str, float | None],
    baseline: dict[str, float | None] | None,
    intervals: dict[str, dict[str, float]] | None = None,
) -> list[Rule]:
    """One rule per configured threshold, in config order; ``baseline`` None is the first model."""
    rules = []
    for name, limits in gate.metrics.items():
        for kind in ("min", "max", *CHANGE_RULES):
            threshold = getattr(limits, kind)
            if threshold is None:
                continue
            rules.append(
                _metric_rule(
                    name,
                    kind,
                    threshold,
                    value=candidate.get(name),
                    before=None if baseline is None else baseline.get(name),
                    first_model=baseline is None,
                    block_on=limits.block_on,
                    interval=(intervals or {}).get(name),
                )
            )
    return rules


def _metric_rule(
    name: str,
    kind: str,
    threshold: float,
    *,
    value: float | None,
    before: float | None,
    first_model: bool,
    block_on: str,
    interval: dict[str, float] | None,
) -> Rule:
    def rule(status: Status, note: str = "", change: float | None = None) -> Rule:
        return Rule("metric", name, kind, threshold, value, status, note, before, change, interval)

    if value is None:
        return rule("fail", "the candidate has no value for this metric")
    if kind == "min":
        return rule(_met(value >= threshold))
    if kind == "max":
        return rule(_met(value <= threshold))
    if first_model:
        return rule("skipped", "no baseline (first model)")
    if before is None:
        return rule("skipped", "the baseline has no value for this metric")
    higher = METRICS[name].higher_is_better
    drop = (before - value) if higher else (value - before)
    note = ""
    if kind == "max_drop":
        change, ok = drop, drop <= threshold
    elif before == 0:  # a relative change of a zero baseline: any worsening is unbounded
        change, ok = None, drop <= 0
        note = "baseline is 0: relative change undefined, any drop fails"
    else:
        change = drop / abs(before)
        ok = change <= threshold
    if ok or block_on != "significant":
        return rule(_met(ok), note, change)
    if interval is None:
        return rule(
            "fail", "no confidence interval for this metric: blocks as block_on: any", change
        )
    if significant_drop(interval, higher):
        return rule("fail", note, change)
    return rule(
        "not significant", "drop within the bootstrap interval's noise: does not block", change
    )


def significant_drop(interval: dict[str, float], higher: bool) -> bool:
    """The whole interval of candidate minus baseline lies on the worse side of zero."""
    return interval["high"] < 0 if higher else interval["low"] > 0


def slice_rule(table: dict[str, Any]) -> Rule:
    """The best-to-worst gap of one metric across the slices of one column."""
    name = f"{table['metric']} by {table['column']}"
    gap = table["gap"]
    if gap is None:
        note = (
            f"fewer than two slices with at least {table['min_rows']} rows and a value: not gated"
        )
        return Rule("slice", name, "max_gap", table["max_gap"], None, "skipped", note)
    return Rule("slice", name, "max_gap", table["max_gap"], gap, _met(gap <= table["max_gap"]))


def budget_rules(gate: GateConfig, budgets: dict[str, Any], model_file_name: str) -> list[Rule]:
    """Model size and batch-1 latency against ``gate.budgets``."""
    rules = []
    for key, observed_key, name in (
        ("max_model_mb", "model_mb", f"model size (MB, {model_file_name})"),
        ("max_latency_ms", "latency_ms", "ONNX batch-1 latency (ms, p99)"),
    ):
        threshold = getattr(gate.budgets, key)
        if threshold is None:
            continue
        observed = budgets.get(observed_key)
        if observed is None:
            note = (
                "no latency measured: run mlops package-onnx (package.measure_latency: true) first"
            )
            rules.append(Rule("budget", name, key, threshold, None, "skipped", note))
        else:
            rules.append(
                Rule("budget", name, key, threshold, observed, _met(observed <= threshold))
            )
    return rules


def worst_status(rules: list[Rule]) -> Status | None:
    """The worst status among ``rules`` (skipped only if all were); None for no rules."""
    return next((s for s in STATUSES if any(r.status == s for r in rules)), None)
