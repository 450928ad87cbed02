"""``mlops init``: a working level-3 project from a data file, in the current repository.

It reads the data once and decides what a careful first look would: the task (from the
target), which columns to leave out and why (identifiers, constants, a column that alone gives
the target away), the data contract, and gate thresholds anchored on a cross-validated score
of the very model it configures, so the first pull request is judged by what the data allows,
not by an arbitrary number. Then it writes the config, the schema and the workflows, and
refuses to replace any file that exists unless told to.
"""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import gitrepo
from mlops_actions import workdir as layout
from mlops_actions.config import config_from_text
from mlops_actions.data import read_table
from mlops_actions.errors import DataError, UsageError, did_you_mean
from mlops_actions.features import infer_features, model_frame, target_values
from mlops_actions.files import atomic_write_text
from mlops_actions.pipeline import build_pipeline
from mlops_actions.reports import render
from mlops_actions.stages._common import StageResult, write_result
from mlops_actions.validation.schema import infer_schema, schema_yaml
from mlops_actions.workflow_templates import OPT_IN, packaged
from mlops_actions.workflow_templates import render as render_workflow

if TYPE_CHECKING:
    import pandas as pd

TASKS = ("classification", "regression")
FOLDS = 5
MAX_CLASSES = 20
"""A numeric target with at most this many values is read as class labels."""
LEAK_SCORE = 0.99
"""A single column that predicts the target this well (accuracy or R²) gives it away."""
_ID_NAME = re.compile(r"(^|[_\W])(id|uuid|guid|key)$", re.IGNORECASE)
ESTIMATORS = {
    "classification": "sklearn.ensemble.RandomForestClassifier",
    "regression": "sklearn.ensemble.RandomForestRegressor",
}
PARAMS = {"n_estimators": 200, "random_state": 0}
SCORES = {  # metric in mlops.yaml -> scikit-learn scorer, and how a rule bounds it
    "classification": {"accuracy": "accuracy", "f1_macro": "f1_macro"},
    "regression": {"r2": "r2", "rmse": "neg_root_mean_squared_error"},
}


@dataclasses.dataclass
class InitResult(StageResult):
    stage = layout.INIT
    name: str
    task: str
    task_reason: str
    data: str
    rows: int
    target: str
    features: list[str]
    dropped: list[dict[str, str]]
    cross_validation: dict[str, dict[str, float]]
    rules: dict[str, dict[str, float]]
    written: list[str]
    folder: str

    def summary_markdown(self) -> str:
        return render("init.md.j2", r=self)


def init(
    *,
    data: str | Path,
    target: str,
    name: str | None = None,
    task: str | None = None,
    project: str | Path = ".",
    force: bool = False,
) -> InitResult:
    """Inspect ``data`` and write the project's config, schema and workflows in ``project``."""
    project = Path(project).resolve()
    data_path = (project / data).resolve()
    if not data_path.is_relative_to(project):
        raise UsageError(
            f"--data {data}: the data must be inside the project folder {project}, "
            "so that the workflows' checkout has it"
        )
    frame = read_table(data_path)
    source = data_path.relative_to(project).as_posix()
    if frame.empty:
        raise DataError(f"{source}: no data rows")
    if target not in frame.columns:
        raise UsageError(
            f"--target {target}: {source} has no such column"
            f"{did_you_mean(target, [str(c) for c in frame.columns])}"
        )
    labelled = frame[frame[target].notna()]
    if labelled[target].nunique() < 2:
        raise DataError(f"{source}: target {target!r} has fewer than two values; nothing to learn")
    task, task_reason = _task(labelled[target], task)
    name = name or _name(project)

    top = gitrepo.toplevel(project) or project
    folder = project.relative_to(top).as_posix() or "."
    files = {
        project / "mlops.yaml": None,
        project / "schema.yaml": schema_yaml(
            infer_schema(frame, target=target, task=task), source=source
        ),
    }
    for template, source_text in packaged():
        if template.name in OPT_IN:
            continue
        files[top / ".github" / "workflows" / f"{template.name}.yml"] = render_workflow(
            template,
            source_text,
            folder=folder,
            values={"working-directory": folder},
            paths=[data_path.relative_to(top).as_posix()],
        )
    existing = [p for p in files if p.exists()]
    if existing and not force:
        shown = ", ".join(p.relative_to(top).as_posix() for p in existing)
        raise UsageError(f"{shown}: already there; give --force to replace")

    dropped = _screen(labelled, target, task)
    features = [c for c in map(str, frame.columns) if c != target and c not in dropped]
    if not features:
        raise DataError(f"{source}: no usable feature columns ({_reasons(dropped)})")
    about = {
        "name": name,
        "task": task,
        "task_reason": task_reason,
        "source": source,
        "rows": len(frame),
        "columns": len(frame.columns),
        "target": target,
        "dropped": dropped,
    }
    draft = _config_text(about, gate=None)  # what the cross-validation trains
    config = config_from_text(draft, project / "mlops.yaml", label="mlops.yaml (draft)")
    scores = _cross_validate(config, labelled)
    rules = _rules(task, scores)
    files[project / "mlops.yaml"] = _config_text(about, gate=(scores, rules))
    for path, text in files.items():
        atomic_write_text(path, text)
    _ignore_workdir(top, folder)
    return write_result(
        InitResult(
            out_dir=layout.stage_dir(project / ".mlops", layout.INIT),
            name=name,
            task=task,
            task_reason=task_reason,
            data=source,
            rows=len(frame),
            target=target,
            features=features,
            dropped=[{"column": c, "reason": r} for c, r in dropped.items()],
            cross_validation=scores,
            rules=rules,
            written=[p.relative_to(top).as_posix() for p in files],
            folder=folder,
        )
    )


def _task(target: pd.Series, given: str | None) -> tuple[str, str]:
    import pandas as pd

    if given:
        if given not in TASKS:
            raise UsageError(f"--task {given}: one of {', '.join(TASKS)}")
        return given, "given with --task"
    values = target.nunique()
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    if not numeric:
        return "classification", f"the target holds labels ({values} distinct)"
    whole = bool((target.dropna() % 1 == 0).all())
    if whole and values <= MAX_CLASSES:
        return "classification", f"the target holds {values} whole-number values"
    return "regression", f"the target holds {values} distinct numbers"


def _name(project: Path) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", project.name).strip("-._")[:100]
    return slug or "model"


def _screen(frame: pd.DataFrame, target: str, task: str) -> dict[str, str]:
    """Columns a first model should not read, each with the reason."""
    import pandas as pd

    dropped = {}
    rows = len(frame)
    for column in frame.columns:
        if column == target:
            continue
        series = frame[column]
        present = series.dropna()
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if present.nunique() <= 1:
            dropped[str(column)] = "constant: one value (or none) in every row"
        elif present.nunique() == rows and (
            not numeric or pd.api.types.is_integer_dtype(series) or _ID_NAME.search(str(column))
        ):
            dropped[str(column)] = "an identifier: a different value in every row"
        elif _ID_NAME.search(str(column)) and not numeric:
            dropped[str(column)] = "an identifier by its name"
        else:
            score = _alone(series, frame[target], task)
            if score >= LEAK_SCORE:
                metric = "accuracy" if task == "classification" else "R²"
                dropped[str(column)] = (
                    f"leaky: alone it predicts the target with cross-validated {metric} "
                    f"{score:.3f}; keep it only if it is known before the prediction is made"
                )
    return dropped


def _alone(series: pd.Series, target: pd.Series, task: str) -> float:
    """How well one column predicts the target: a small tree, 3-fold cross-validated."""
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        x = series.astype("float64").fillna(series.median()).to_numpy().reshape(-1, 1)
    else:
        x = pd.factorize(series.astype(str))[0].reshape(-1, 1).astype("float64")
    if task == "classification":
        y = target.astype(str).to_numpy()
        smallest = int(pd.Series(y).value_counts().min())
        if smallest < 3:
            return 0.0
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        model = DecisionTreeClassifier(max_depth=4, random_state=0)
    else:
        y = target.astype("float64").to_numpy()
        folds = KFold(3, shuffle=True, random_state=0)
        model = DecisionTreeRegressor(max_depth=6, random_state=0)
    return float(np.mean(cross_val_score(model, x, y, cv=folds)))


def _cross_validate(config: Any, frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over the folds of each gate metric."""
    import pandas as pd
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    features = infer_features(config, frame)
    x = model_frame(frame, features, source=config.data.train.name)
    y = target_values(config, frame)
    if config.task == "classification":
        smallest = int(pd.Series(y).value_counts().min())
        folds = StratifiedKFold(max(2, min(FOLDS, smallest)), shuffle=True, random_state=0)
    else:
        folds = KFold(FOLDS, shuffle=True, random_state=0)
    scorers = SCORES[config.task]
    scores = cross_validate(
        build_pipeline(config, features), x, y, cv=folds, scoring=dict(scorers.items())
    )
    result = {}
    for metric in scorers:
        values = scores[f"test_{metric}"]
        if metric == "rmse":
            values = -values
        result[metric] = {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "folds": len(values),
        }
    return result


def _rules(task: str, scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Two standard deviations below the cross-validated mean (above it for errors), rounded
    outwards: a model as good as this one passes; one clearly worse does not."""
    rules: dict[str, dict[str, float]] = {}
    for metric, s in scores.items():
        if metric == "rmse":
            bound = s["mean"] + 2 * s["std"]
            digits = max(0, 2 - math.floor(math.log10(bound))) if bound > 0 else 2
            rules[metric] = {
                "max": math.ceil(bound * 10**digits) / 10**digits,
                "max_relative_drop": 0.05,
            }
        else:
            low = max(0.0, math.floor((s["mean"] - 2 * s["std"]) * 100) / 100)
            drop = (
                {"max_drop": 0.02} if metric in ("accuracy", "r2") else {"max_relative_drop": 0.03}
            )
            rules[metric] = {"min": low, **drop}
    return rules


def _reasons(dropped: dict[str, str]) -> str:
    return "; ".join(f"{c}: {r}" for c, r in dropped.items()) or "no columns besides the target"


def _config_text(about: dict[str, Any], *, gate: tuple[dict, dict] | None) -> str:
    return render(
        "init_config.yaml.j2",
        **about,
        estimator=ESTIMATORS[about["task"]],
        params=PARAMS,
        gate=gate,
        folds=FOLDS,
        today=datetime.now(UTC).date().isoformat(),
    )


def _ignore_workdir(top: Path, folder: str) -> None:
    """Outputs under .mlops/ are never committed: add the line to .gitignore once."""
    line = ".mlops/" if folder == "." else f"{folder}/.mlops/"
    path = top / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if line not in text.splitlines():
        atomic_write_text(
            path, text + ("" if not text or text.endswith("\n") else "\n") + line + "\n"
        )
