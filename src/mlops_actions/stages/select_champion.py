"""Pick the champion among training trials, all scored on the same test rows with the gate's metrics.

Each trial's candidate is the folder ``mlops train`` wrote (in ml-tune.yml, one artifact per
matrix job). Every candidate must come from this config's data, target, split and features,
else the comparison would not be fair (exit 2). A trial whose training did not finish (no
folder, or no model.joblib/result.json in it) is listed as failed and left out, never
dropped silently.

The champion is the best value of the selection metric (``tune.metric``, else the first
``gate.metrics`` entry, else accuracy or rmse); ties go to the smaller model file (the
simpler model), then to the earlier trial name (config order). Every other candidate gets the
paired bootstrap interval of its metric minus the champion's, on the same resamples, so the
report says which trials are really worse and which are within noise. The champion's folder
is copied to ``<workdir>/train``, where evaluate-gate and package-onnx look for a model.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_actions import __version__
from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.data import load_splits
from mlops_actions.data_source import pull_source
from mlops_actions.errors import UsageError
from mlops_actions.features import infer_features, target_values
from mlops_actions.files import atomic_write_text
from mlops_actions.gate.candidate import read_json, score_model
from mlops_actions.gate.rules import significant_drop
from mlops_actions.github.actions import run_url
from mlops_actions.metrics import METRICS, paired_bootstrap
from mlops_actions.reports import render
from mlops_actions.stages._common import StageResult, write_result
from mlops_actions.trials import plan_trials

DEFAULT_METRIC = {"classification": "accuracy", "regression": "rmse"}
DEFAULT_CONFIDENCE = 0.95
REPORT_MD, REPORT_HTML = "report.md", "report.html"
FINISHED = (layout.JOBLIB_FILE, layout.RESULT_FILE)
"""What a trial's folder holds once its training finished (train writes result.json last)."""


@dataclasses.dataclass
class SelectionResult(StageResult):
    stage = layout.SELECT_CHAMPION
    task: str
    model: str
    metric: str
    higher_is_better: bool
    champion: str | None
    """The winning trial's name; None when no trial produced a candidate."""
    champion_path: Path | None
    """Where the champion now is: ``<workdir>/train``."""
    trials: list[dict[str, Any]]
    """Every trial, best first then the failed ones: name, status, why, path, overrides,
    params, metrics, model_bytes, interval (of its metric minus the champion's)."""
    rows: int
    confidence: float
    resamples: int
    run_url: str | None

    @property
    def passed(self) -> bool:
        return self.champion is not None

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [t for t in self.trials if t["status"] == "failed"]

    def failure_message(self) -> str:
        return (
            f"no trial produced a candidate ({len(self.failed)} failed); "
            f"see {self.out_dir / REPORT_MD}"
        )

    def outputs(self) -> dict[str, Any]:
        champion = next((t for t in self.trials if t["status"] == "champion"), None)
        return {
            **super().outputs(),
            "champion": self.champion or "",
            "model-path": self.champion_path / layout.JOBLIB_FILE if self.champion_path else "",
            "metrics": json.dumps(champion["metrics"] if champion else {}, sort_keys=True),
            "report-path": self.out_dir / REPORT_HTML,
        }

    @functools.cached_property
    def report(self) -> str:
        return render("select_champion.md.j2", r=self, version=__version__)

    def summary_markdown(self) -> str:
        return self.report

    def annotations(self) -> list[dict[str, Any]]:
        return [
            {"level": "warning", "message": f"{t['name']} left out: {t['why']}"}
            for t in self.failed
        ]


def select_champion(
    config: Config,
    *,
    candidates: Sequence[str | Path],
    workdir: str | Path = ".mlops",
    trials: Sequence[Mapping[str, Any]] | None = None,
) -> SelectionResult:
    """Score every candidate folder on the config's test rows and copy the best to ``<workdir>/train``.

    ``trials`` (the workflow's list of overrides) replaces the config's ``tune`` section as
    the plan; a planned trial with no folder among ``candidates`` failed. Without either,
    the candidates are the trials, named by their folders.
    """
    folders = _folders(candidates)
    planned = _plan(config, trials)
    if not folders and not planned:
        raise UsageError(
            "no candidates: pass --candidates DIR... (the train output folder of each trial)"
        )
    workdir = Path(workdir)
    out = layout.stage_dir(workdir, layout.SELECT_CHAMPION)
    pull_source(config, workdir, if_missing=True)
    splits = load_splits(config)
    test = splits.test
    y_true = target_values(config, test)
    expected = {
        "features": [f.name for f in infer_features(config, splits.train)],
        "data": splits.fingerprints,
        "rows": {"train": len(splits.train), "test": len(test)},
    }
    metric = config.tune.metric or next(iter(config.gate.metrics), DEFAULT_METRIC[config.task])
    higher = METRICS[metric].higher_is_better

    entries = []
    for name in sorted(set(folders) | set(planned)):
        entry = {
            "name": name,
            "path": folders.get(name),
            "overrides": planned.get(name),
            "params": None,
            "metrics": None,
            "model_bytes": None,
            "interval": None,
            "status": "failed",
            "why": "",
        }
        missing = _unfinished(folders.get(name))
        if missing:
            entry["why"] = missing
        else:
            _check_same_setup(config, folders[name], expected)
            scores, beside = score_model(config, folders[name] / layout.JOBLIB_FILE, test)
            entry.update(
                params=(beside["params.json"] or {}).get("config"),
                metrics=scores.metrics(config.task, y_true),
                model_bytes=(folders[name] / layout.JOBLIB_FILE).stat().st_size,
                scores=scores,
            )
        entries.append(entry)

    ranked = sorted((e for e in entries if e["metrics"] is not None), key=_rank_key(metric, higher))
    gate = config.gate
    confidence = gate.confidence or DEFAULT_CONFIDENCE
    champion = ranked[0] if ranked else None
    if champion is not None:
        champion["status"] = "champion"
        champion["why"] = _why_champion(champion, ranked[1:], metric)
        for entry in ranked[1:]:
            entry["interval"] = paired_bootstrap(
                config.task,
                y_true,
                entry["scores"].as_tuple(),
                champion["scores"].as_tuple(),
                resamples=gate.resamples,
                confidence=confidence,
                seed=gate.seed,
            ).get(metric)
            entry["status"], entry["why"] = _judge(entry, champion, metric, higher)
        _install(champion["path"], workdir)
    for entry in entries:
        entry.pop("scores", None)
    result = SelectionResult(
        out_dir=out,
        task=config.task,
        model=config.name,
        metric=metric,
        higher_is_better=higher,
        champion=champion["name"] if champion else None,
        champion_path=layout.stage_dir(workdir, layout.TRAIN) if champion else None,
        trials=ranked + [e for e in entries if e["metrics"] is None],
        rows=len(test),
        confidence=confidence,
        resamples=gate.resamples,
        run_url=run_url(),
    )
    atomic_write_text(out / REPORT_MD, result.report)
    atomic_write_text(out / REPORT_HTML, render("select_champion.html.j2", r=result))
    return write_result(result)


def _folders(candidates: Sequence[str | Path]) -> dict[str, Path]:
    """Each candidate folder by its name (the trial's: ml-tune.yml names the artifacts so)."""
    folders: dict[str, Path] = {}
    for given in candidates:
        path = Path(given)
        if not path.is_dir():
            raise UsageError(f"--candidates {given}: no such folder; give train output folders")
        name = path.resolve().name
        if name in folders:
            raise UsageError(
                f"--candidates {given}: two candidates are named {name!r}; each trial's folder needs its own name"
            )
        folders[name] = path
    return folders


def _plan(config: Config, trials: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    if trials is None and not (config.tune.trials or config.tune.grid):
        return {}
    return {t.name: dict(t.overrides) for t in plan_trials(config, trials)}


def _unfinished(folder: Path | None) -> str:
    """Why a trial has no candidate, or '' when its training finished."""
    if folder is None:
        return "no candidate: its training job failed or uploaded nothing"
    missing = [name for name in FINISHED if not (folder / name).is_file()]
    if missing:
        return f"training did not finish: no {' or '.join(missing)} in {folder}"
    return ""


def _check_same_setup(config: Config, folder: Path, expected: dict[str, Any]) -> None:
    """A candidate from another model, target, data, split or feature set would make the
    comparison unfair: that is bad input (exit 2), not a failed trial."""
    lineage = read_json(folder / "lineage.json")
    features = read_json(folder / "features.json")
    result = read_json(folder / layout.RESULT_FILE)
    for name, value in (("lineage.json", lineage), ("features.json", features)):
        if value is None:
            raise UsageError(f"{folder}: no {name} beside model.joblib; re-run mlops train")

    def differs(what: str, theirs: Any, ours: Any) -> UsageError:
        return UsageError(
            f"{folder}: trained on a different {what} ({theirs!r}, this config has {ours!r}); "
            "every trial must train on the same config apart from its overrides"
        )

    if lineage.get("model") != config.name:
        raise differs("model", lineage.get("model"), config.name)
    if result.get("task") != config.task:
        raise differs("task", result.get("task"), config.task)
    if lineage.get("target") != config.data.target:
        raise differs("target", lineage.get("target"), config.data.target)
    for role, fingerprint in expected["data"].items():
        theirs = ((lineage.get("data") or {}).get(role) or {}).get("sha256")
        if theirs != fingerprint["sha256"]:
            raise differs(f"{role} data", (theirs or "none")[:12], fingerprint["sha256"][:12])
    if result.get("rows") != expected["rows"]:
        raise differs("train/test split", result.get("rows"), expected["rows"])
    names = [item.get("name") for item in features]
    if names != expected["features"]:
        raise differs("feature set", names, expected["features"])


def _rank_key(metric: str, higher: bool) -> Any:
    """Best metric first (a missing value last), then the smaller model file, then the name."""

    def key(entry: dict[str, Any]) -> tuple[Any, ...]:
        value = entry["metrics"].get(metric)
        if value is None:
            return (1, 0.0, entry["model_bytes"], entry["name"])
        return (0, -value if higher else value, entry["model_bytes"], entry["name"])

    return key


def _why_champion(champion: dict[str, Any], rest: list[dict[str, Any]], metric: str) -> str:
    value = champion["metrics"].get(metric)
    tied = [e for e in rest if e["metrics"].get(metric) == value]
    best = (
        f"best {metric}" if not tied else f"{metric} tied with {', '.join(e['name'] for e in tied)}"
    )
    if not tied:
        return best
    if any(e["model_bytes"] > champion["model_bytes"] for e in tied):
        return f"{best}; the smallest model file of them"
    return f"{best}; same size: first in trial order"


def _judge(
    entry: dict[str, Any], champion: dict[str, Any], metric: str, higher: bool
) -> tuple[str, str]:
    """``worse`` when the whole interval is on the worse side of zero, else ``within noise``."""
    value, best = entry["metrics"].get(metric), champion["metrics"].get(metric)
    if value is not None and value == best:
        return "tied", f"{metric} tied with the champion; lost the tie-break"
    interval = entry["interval"]
    if interval is None:
        return "worse", f"{metric} lower-ranked; no confidence interval for it on these rows"
    if significant_drop(interval, higher):
        return "worse", f"{metric} significantly worse than the champion's"
    return (
        "within noise",
        f"{metric} behind the champion's, but within the bootstrap interval's noise",
    )


def _install(folder: Path, workdir: Path) -> None:
    """The champion's files become ``<workdir>/train``: copied beside it, then swapped in."""
    target = workdir / layout.TRAIN
    if target.resolve() == folder.resolve():
        return
    staging = workdir / f".{layout.TRAIN}.champion"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(folder, staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
