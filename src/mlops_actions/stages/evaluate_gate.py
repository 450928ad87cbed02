"""Score the trained candidate against its baseline on the same test rows, and pass or block it.

Rules follow MLflow's ``MetricThreshold`` and TFX's change thresholds: a missing candidate
metric fails; without a baseline the change rules are skipped (and the report says so); a
zero baseline never divides by zero. With ``gate.confidence`` a paired bootstrap gives an
interval of candidate minus baseline, and ``block_on: significant`` blocks only real drops.
On a pull request ``rules_from`` names the base branch, whose config judges the candidate
(see ``gate.rules_from``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import __version__
from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.data import load_splits, require_columns
from mlops_actions.data_source import pull_source
from mlops_actions.errors import GateFailed
from mlops_actions.features import target_values
from mlops_actions.files import atomic_write_json, atomic_write_text
from mlops_actions.gate.baselines import Baseline, Scores, resolve_baseline
from mlops_actions.gate.candidate import read_json, score_model
from mlops_actions.gate.rules import (
    STATUSES,
    Rule,
    budget_rules,
    metric_rules,
    slice_rule,
    worst_status,
)
from mlops_actions.gate.rules_from import load_rules
from mlops_actions.github.actions import run_url
from mlops_actions.metrics import METRICS, confusion, paired_bootstrap, weighted_metrics
from mlops_actions.reports import (
    GITHUB_COMMENT_LIMIT,
    cut_markdown,
    flatten_params,
    fmt,
    render,
    signed,
)
from mlops_actions.stages._common import StageResult, write_result
from mlops_actions.tracking import earlier_run, lineage_tags, log_run, model_params

if TYPE_CHECKING:
    import pandas as pd

COMMENT_BUDGET = GITHUB_COMMENT_LIMIT - 1_536
"""What the report may use: the sticky-comment marker and header need the rest."""
SLICE_BINS = 5
MAX_SLICE_VALUES = 20
"""A numeric column with more distinct values is cut into SLICE_BINS quantile bins."""
MB = 1_000_000


@dataclasses.dataclass
class GateResult(StageResult):
    stage = layout.EVALUATE_GATE
    failure = GateFailed
    task: str
    model: str
    candidate: dict[str, Any]
    """path, metrics, params, data fingerprints and test rows of the model being judged."""
    baseline: dict[str, Any]
    rules: list[Rule]
    """Every rule: kind, name, rule, observed, threshold, baseline, passed, status, note."""
    significance: dict[str, Any] | None
    slices: list[dict[str, Any]]
    confusion: dict[str, Any] | None
    budgets: dict[str, Any]
    data_diff: dict[str, Any] | None
    """validate-data's diff against its baseline, when that stage ran in this workdir."""
    commit: str | None
    run_url: str | None
    notes: list[str]
    judged_by: dict[str, Any] | None = None
    """With ``rules_from``: spec, commit, config path, found, and the proposed changes."""
    tracking: dict[str, Any] | None = None
    """The MLflow run logged to (train's run, continued, when it has one), when tracking is on."""

    @property
    def passed(self) -> bool:
        return all(rule.passed for rule in self.rules)

    @property
    def failed_rules(self) -> list[Rule]:
        return [rule for rule in self.rules if not rule.passed]

    def one_line(self) -> str:
        failed = self.failed_rules
        if failed:
            shown = "; ".join(rule.describe_failure() for rule in failed[:3])
            more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
            return f"Gate failed: {shown}{more}"
        counts = {status: sum(r.status == status for r in self.rules) for status in STATUSES}
        parts = [f"{counts['pass']} of {len(self.rules)} rule(s) met"]
        if counts["not significant"]:
            parts.append(f"{counts['not significant']} drop(s) within noise")
        if counts["skipped"]:
            parts.append(f"{counts['skipped']} skipped")
        return "Gate passed: " + ", ".join(parts)

    def status_line(self) -> str:
        """The commit status description (GitHub keeps 140 characters): rules met and the
        first failed (else first gated) metric with its change, e.g. '3 of 5 rules met; accuracy 0.93 (-0.01)'."""

        met = sum(rule.status == "pass" for rule in self.rules)
        text = f"{met} of {len(self.rules)} rules met"
        metric_rules = [rule for rule in self.rules if rule.kind == "metric"]
        shown = next(
            (r for r in metric_rules if not r.passed), metric_rules[0] if metric_rules else None
        )
        if shown is None:
            return text
        name = shown.name
        value = self.candidate["metrics"].get(name)
        before = (
            (self.baseline["metrics"] or {}).get(name) if self.baseline["kind"] != "none" else None
        )
        change = f" ({signed(value - before)})" if value is not None and before is not None else ""
        return f"{text}; {name} {fmt(value)}{change}"

    def failure_message(self) -> str:
        return f"{self.one_line()}; see {self.out_dir / 'comment.md'}"

    def to_dict(self) -> dict[str, Any]:
        """With ``status_line``: a fork's pull request run packs it for ml-pr-report.yml."""
        return {**super().to_dict(), "status_line": self.status_line()}

    def outputs(self) -> dict[str, Any]:
        return {
            **super().outputs(),
            "summary": self.one_line(),
            "comment-file": self.out_dir / "comment.md",
            "metrics": json.dumps(self.candidate["metrics"], sort_keys=True),
            "tracking-url": (self.tracking or {}).get("url"),
        }

    @functools.cached_property
    def full_report(self) -> str:
        """The whole report, rendered once (``report.md``)."""

        return render(
            "evaluate_gate.md.j2",
            r=self,
            v=_report_view(self),
            version=__version__,
        )

    def summary_markdown(self) -> str:
        """The report, cut to fit one GitHub comment; the uncut one is ``report.md``."""

        pointer = f"the full report is `report.md` in `{self.out_dir}`"
        if self.run_url:
            pointer += f" (artifacts of [this run]({self.run_url}))"
        return cut_markdown(self.full_report, COMMENT_BUDGET, pointer)

    def annotations(self) -> list[dict[str, Any]]:
        return [
            {"level": "error", "message": rule.describe_failure()} for rule in self.failed_rules
        ]


def evaluate_gate(
    config: Config,
    *,
    workdir: str | Path = ".mlops",
    baseline: str | None = None,
    model: str | Path | None = None,
    rules_from: str | None = None,
) -> GateResult:
    """Judge the candidate (``<workdir>/train/model.joblib`` or ``model``) against ``baseline``.

    ``baseline`` overrides ``gate.baseline``. ``rules_from`` (``git:REF``) judges by the config
    at that ref instead of ``config``, whose changes to it the report lists as proposed. Writes
    result.json, metrics.json, report.md and comment.md (= summary.md) to
    ``<workdir>/evaluate-gate``. A failed gate is a result with ``passed`` False, not an
    exception: the caller decides whether it blocks.
    """

    judged_by = None
    if rules_from:  # from here on, the base branch's config decides
        config, judged_by = load_rules(config, rules_from)
    workdir = Path(workdir)
    out = layout.stage_dir(workdir, layout.EVALUATE_GATE)
    gate = config.gate
    model_path = Path(model) if model else layout.trained_model(workdir)
    pull_source(config, workdir, if_missing=True)
    splits = load_splits(config)
    test = splits.test
    y_true = target_values(config, test)
    candidate_scores, beside = score_model(config, model_path, test)
    candidate_metrics = candidate_scores.metrics(config.task, y_true)
    base = resolve_baseline(
        config, baseline or _configured_baseline(config), test=test, y_true=y_true, workdir=workdir
    )
    notes = (
        [] if base.present else [f"{base.note}; change rules (max_drop, max_relative_drop) skipped"]
    )

    significance = None
    if gate.confidence is not None:
        significance = _significance(config, y_true, candidate_scores, base)
        if significance is None and base.present:
            notes.append(
                "no confidence intervals: the baseline was not scored on these test rows "
                "(use an ONNX or registry baseline)"
            )
    rules = metric_rules(
        gate,
        candidate_metrics,
        base.metrics if base.present else None,
        (significance or {}).get("intervals"),
    )
    slices = [
        _slice_table(config, test, y_true, candidate_scores, base.scores, rule)
        for rule in gate.slices
    ]
    rules += [slice_rule(table) for table in slices]
    budgets = _measure_budgets(model_path, workdir)
    rules += budget_rules(gate, budgets, Path(budgets["model_file"]).name)

    result = GateResult(
        out_dir=out,
        task=config.task,
        model=config.name,
        candidate={
            "path": model_path,
            "metrics": candidate_metrics,
            "params": beside.get("params.json"),
            "data": splits.fingerprints,
            "rows": len(test),
        },
        baseline=base.to_dict(),
        rules=rules,
        significance=significance,
        slices=slices,
        confusion=_confusion(config, y_true, candidate_scores),
        budgets=budgets,
        data_diff=(read_json(layout.result_file(workdir, layout.VALIDATE_DATA)) or {}).get("diff"),
        commit=os.environ.get("GITHUB_SHA")
        or ((beside.get("lineage.json") or {}).get("git") or {}).get("commit"),
        run_url=run_url(),
        notes=notes,
        judged_by=judged_by,
    )
    atomic_write_json(out / "metrics.json", candidate_metrics)
    _track(config, result, beside)
    atomic_write_text(out / "report.md", result.full_report)
    atomic_write_text(out / "comment.md", result.summary_markdown())
    return write_result(result)


def _track(config: Config, result: GateResult, beside: dict[str, Any]) -> None:
    """Log the verdict to the candidate's train run (a new run when it has none), with the report."""
    base = result.baseline
    result.tracking = log_run(
        config,
        stage=layout.EVALUATE_GATE,
        params=model_params(beside.get("params.json")),
        metrics={
            **result.candidate["metrics"],
            **{f"baseline.{k}": v for k, v in (base.get("metrics") or {}).items()},
        },
        tags={
            **lineage_tags(beside.get("lineage.json")),
            "mlops.gate": "passed" if result.passed else "failed",
            "mlops.gate.summary": result.one_line(),
            "mlops.gate.baseline": f"{base['kind']} {base.get('source') or ''}".strip(),
        },
        files=[result.out_dir / "metrics.json"],
        texts={f"{layout.EVALUATE_GATE}/report.md": result.full_report},
        continue_run=earlier_run(result.candidate["path"]),
    )
    if result.tracking:
        del result.full_report  # rendered again, with the run's link


def _configured_baseline(config: Config) -> str | None:
    """``gate.baseline``; a file path in it is relative to the config file, like every path there."""
    spec = config.gate.baseline
    if not spec or spec == "none" or spec.startswith(("registry:", "git:")):
        return spec
    return str(config.resolve(spec))


def _significance(
    config: Config, y_true: Any, candidate: Scores, base: Baseline
) -> dict[str, Any] | None:

    if base.scores is None:
        return None
    gate = config.gate
    intervals = paired_bootstrap(
        config.task,
        y_true,
        candidate.as_tuple(),
        base.scores.as_tuple(),
        resamples=gate.resamples,
        confidence=gate.confidence,
        seed=gate.seed,
    )
    return {
        "confidence": gate.confidence,
        "resamples": gate.resamples,
        "rows": len(y_true),
        "intervals": intervals,
    }


def _confusion(config: Config, y_true: Any, scores: Scores) -> dict[str, Any] | None:

    if config.task != "classification" or scores.classes is None:
        return None
    return confusion(y_true, scores.predictions, scores.classes)


def _slice_values(column: pd.Series) -> pd.Series:
    """Slice labels of a column: its values, quantile bins for a many-valued numeric one."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column.dtype) and column.nunique() > MAX_SLICE_VALUES:
        column = pd.qcut(column, SLICE_BINS, duplicates="drop")
    return column.astype("string").fillna("(missing)").astype(object)


def _slice_table(
    config: Config,
    test: pd.DataFrame,
    y_true: Any,
    candidate: Scores,
    baseline: Scores | None,
    rule: Any,
) -> dict[str, Any]:
    """Every metric per value of one column (one weight row per slice), and the gated metric's gap."""
    import numpy as np

    require_columns(test, [rule.column], (config.data.test or config.data.train).name)
    labels = _slice_values(test[rule.column])
    values, counts = np.unique(labels.to_numpy(dtype=str), return_counts=True)
    masks = labels.to_numpy(dtype=str)[None, :] == values[:, None]
    ours = weighted_metrics(config.task, y_true, *candidate.as_tuple(), masks)
    theirs = (
        weighted_metrics(config.task, y_true, *baseline.as_tuple(), masks) if baseline else None
    )
    rows = []
    for i, value in enumerate(values):
        rows.append(
            {
                "value": str(value),
                "rows": int(counts[i]),
                "gated": bool(counts[i] >= rule.min_rows),
                "metrics": {name: _number(series[i]) for name, series in ours.items()},
                "baseline": _number(theirs[rule.metric][i]) if theirs else None,
            }
        )
    gated = [
        row["metrics"][rule.metric]
        for row in rows
        if row["gated"] and row["metrics"][rule.metric] is not None
    ]
    return {
        "column": rule.column,
        "metric": rule.metric,
        "max_gap": rule.max_gap,
        "min_rows": rule.min_rows,
        "gap": (max(gated) - min(gated)) if len(gated) >= 2 else None,
        "rows": rows,
    }


def _number(value: Any) -> float | None:
    value = float(value)
    return None if value != value else value


def _measure_budgets(model_path: Path, workdir: Path) -> dict[str, Any]:
    """File size of the model (the ONNX file once packaged) and the batch-1 latency package-onnx measured."""
    packaged = layout.packaged_model(workdir)
    sized = packaged if packaged.exists() else model_path
    latency = None
    if packaged.exists():
        measured = (read_json(layout.result_file(workdir, layout.PACKAGE_ONNX)) or {}).get(
            "latency"
        ) or {}
        p99_us = ((measured.get("batch1") or {}).get("onnx") or {}).get("p99_us")
        latency = None if p99_us is None else p99_us / 1000
    return {"model_file": sized, "model_mb": sized.stat().st_size / MB, "latency_ms": latency}


def _report_view(result: GateResult) -> dict[str, Any]:
    """What the template shows, worked out here so the template only lays it out."""

    base = result.baseline
    base_metrics = base["metrics"] if base["kind"] != "none" else {}
    intervals = (result.significance or {}).get("intervals") or {}
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for rule in result.rules:
        if rule.kind == "metric":
            by_metric.setdefault(rule.name, []).append(rule)
    names = list(by_metric) + [n for n in result.candidate["metrics"] if n not in by_metric]
    names += [n for n in base_metrics if n not in names]
    rows = []
    for name in names:
        value, before = result.candidate["metrics"].get(name), base_metrics.get(name)
        delta = None if value is None or before is None else value - before
        rules = by_metric.get(name, [])
        spec = METRICS.get(name)
        rows.append(
            {
                "name": name,
                "baseline": before,
                "candidate": value,
                "delta": delta,
                "arrow": _arrow(delta, spec.higher_is_better if spec else None),
                "interval": intervals.get(name),
                "rule": ", ".join(
                    _rule_text(r) + (f" {STATUS[r.status]}" if len(rules) > 1 else "")
                    for r in rules
                ),
                "status": _status(rules),
            }
        )
    return {
        "metrics": rows,
        "params": _diff(
            flatten_params(base.get("params")), flatten_params(result.candidate["params"])
        )
        if base.get("params") is not None and result.candidate["params"] is not None
        else None,
        "data": _data_diff(base.get("data"), result.candidate["data"]),
        "trend": _trend(base.get("history") or [], list(by_metric)),
        "other_rules": [r for r in result.rules if r.kind != "metric"],
    }


ARROWS = {True: "🟢", False: "🔴"}
STATUS = {"pass": "✅", "fail": "❌", "skipped": "⏭️", "not significant": "⚠️"}
RULE_SYMBOLS = {
    "min": "≥ {}",
    "max": "≤ {}",
    "max_drop": "drop ≤ {}",
    "max_relative_drop": "drop ≤ {} rel.",
}


def _arrow(delta: float | None, higher: bool | None) -> str:
    """↑/↓ for the direction of the change, green or red for better or worse."""
    if delta is None or delta == 0:
        return "→" if delta == 0 else ""
    direction = "↑" if delta > 0 else "↓"
    if higher is None:
        return direction
    return f"{direction}{ARROWS[(delta > 0) == higher]}"


def _rule_text(rule: Rule) -> str:
    shown = (
        f"{100 * rule.threshold:g}%" if rule.rule == "max_relative_drop" else fmt(rule.threshold)
    )
    return RULE_SYMBOLS[rule.rule].format(shown)


def _status(rules: list[Rule]) -> str:
    worst = worst_status(rules)
    return STATUS[worst] if worst else "—"


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Params that differ, as ``dvc params diff`` lists them."""
    keys = sorted(set(before) | set(after))
    return [
        {"key": k, "baseline": before.get(k, "—"), "candidate": after.get(k, "—")}
        for k in keys
        if before.get(k, "—") != after.get(k, "—")
    ]


FINGERPRINT_FIELDS = ("sha256", "rows", "columns", "schema_hash")


def _data_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for role in sorted(set(after) | set(before or {})):
        ours, theirs = after.get(role) or {}, (before or {}).get(role) or {}
        for key in FINGERPRINT_FIELDS:
            mine, old = ours.get(key), theirs.get(key) if before is not None else None
            if key == "sha256":
                mine, old = (mine or "")[:12] or None, (old or "")[:12] or None
            rows.append(
                {
                    "what": f"{role} {key}",
                    "baseline": old,
                    "candidate": mine,
                    "changed": before is not None and old != mine,
                }
            )
    return rows


def _trend(history: list[dict[str, Any]], gated: list[str]) -> dict[str, Any] | None:
    if not history:
        return None
    names = gated or sorted({n for entry in history for n in entry.get("metrics") or {}})[:6]
    return {
        "metrics": names,
        "versions": [
            {
                "version": e.get("version"),
                "created": e.get("created"),
                "aliases": e.get("aliases") or [],
                "cells": [(e.get("metrics") or {}).get(n) for n in names],
            }
            for e in history
        ],
    }
