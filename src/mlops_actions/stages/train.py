"""Train a scikit-learn pipeline from config, reproducibly, and record where it came from."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import platform
from pathlib import Path
from typing import Any

from mlops_actions import __version__
from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.data import load_splits
from mlops_actions.data_source import pull_source
from mlops_actions.errors import ConfigError, DataError, ModelError
from mlops_actions.features import (
    features_to_json,
    infer_features,
    model_frame,
    target_values,
)
from mlops_actions.files import atomic_path, atomic_write_json
from mlops_actions.github.actions import run_url
from mlops_actions.gitrepo import commit_info
from mlops_actions.metrics import compute_metrics
from mlops_actions.pipeline import build_pipeline
from mlops_actions.reports import render
from mlops_actions.stages._common import StageResult, write_result
from mlops_actions.tracking import lineage_tags, log_run, model_params


@dataclasses.dataclass
class TrainResult(StageResult):
    stage = layout.TRAIN
    task: str
    model_path: Path
    model_fingerprint: str
    metrics: dict[str, float | None]
    params: dict[str, Any]
    lineage: dict[str, Any]
    features: list[dict[str, Any]]
    rows: dict[str, int]
    warnings: list[str]
    tracking: dict[str, Any] | None = None
    """The MLflow run logged to (``mlops_actions.tracking.log_run``), when tracking is on."""

    def outputs(self) -> dict[str, Any]:
        import json

        return {
            **super().outputs(),
            "model-path": self.model_path,
            "model-fingerprint": self.model_fingerprint,
            "metrics": json.dumps(self.metrics, sort_keys=True),
            "tracking-url": (self.tracking or {}).get("url"),
        }

    def summary_markdown(self) -> str:

        return render("train.md.j2", r=self)

    def annotations(self) -> list[dict[str, Any]]:
        return [{"level": "warning", "message": w} for w in self.warnings]


def train(config: Config, *, workdir: str | Path = ".mlops") -> TrainResult:
    """Fit the configured pipeline on the training rows, score it on the test rows, save it all."""
    import joblib

    out = layout.stage_dir(workdir, layout.TRAIN)
    source = pull_source(config, workdir)
    splits = load_splits(config)
    target = config.data.target
    features = infer_features(config, splits.train)
    pipeline = build_pipeline(config, features)
    x_train = model_frame(splits.train, features, source=config.data.train.name)
    x_test = model_frame(splits.test, features, source=(config.data.test or config.data.train).name)
    y_train, y_test = target_values(config, splits.train), target_values(config, splits.test)
    if config.task == "classification" and len(set(y_train)) < 2:
        raise DataError(
            f"{config.data.train.name}: target {target!r} has only the class "
            f"{next(iter(set(y_train)), None)!r} in the training rows; a classifier needs two or more"
        )
    _fit(config, pipeline, x_train, y_train)

    y_pred = pipeline.predict(x_test)
    proba = pipeline.predict_proba(x_test) if hasattr(pipeline, "predict_proba") else None
    classes = list(pipeline.classes_) if config.task == "classification" else None
    metrics = compute_metrics(config.task, y_test, y_pred, proba, classes)

    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    model_bytes = buffer.getvalue()
    with atomic_path(out / layout.JOBLIB_FILE) as tmp:
        tmp.write_bytes(model_bytes)
    params = {
        "estimator": _estimator_name(pipeline),
        "params": _plain(pipeline.steps[-1][1].get_params(deep=False)),
        "config": dict(config.model.params),
        "factory": config.model.factory,
    }
    lineage = _build_lineage(config, splits.fingerprints)
    if source is not None:
        lineage["source"] = source  # what data-watch compares the source with
    feature_items = features_to_json(features)
    warnings = []
    if splits.dropped_unlabelled:
        warnings.append(
            f"dropped {splits.dropped_unlabelled} row(s) with no value in target {target!r}"
        )
    written = {
        "metrics.json": metrics,
        "params.json": params,
        "lineage.json": lineage,
        "features.json": feature_items,
    }
    for name, payload in written.items():
        atomic_write_json(out / name, payload)
    result = TrainResult(
        out_dir=out,
        task=config.task,
        model_path=out / layout.JOBLIB_FILE,
        model_fingerprint=hashlib.sha256(model_bytes).hexdigest(),
        metrics=metrics,
        params=params,
        lineage=lineage,
        features=feature_items,
        rows={"train": len(splits.train), "test": len(splits.test)},
        warnings=warnings,
    )
    result.tracking = log_run(
        config,
        stage=layout.TRAIN,
        params=model_params(params),
        metrics=metrics,
        tags={**lineage_tags(lineage), "mlops.model_fingerprint": result.model_fingerprint},
        files=[out / name for name in written],
        texts={f"{layout.TRAIN}/summary.md": result.summary_markdown()},
    )
    return write_result(result)


def _fit(config: Config, pipeline: Any, x: Any, y: Any) -> None:
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        pipeline.fit(x, y)
    except InvalidParameterError as exc:
        raise ConfigError(f"{config.label}: model.params: {exc}") from None
    except ValueError as exc:
        raise ModelError(
            f"{config.label}: fitting {_estimator_name(pipeline)} failed: {exc}"
        ) from None


def _estimator_name(pipeline: Any) -> str:
    final = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    return f"{type(final).__module__}.{type(final).__qualname__}"


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Params as JSON values; objects (kernels, sub-estimators) as their repr."""
    return {
        k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
        for k, v in params.items()
    }


def _build_lineage(config: Config, fingerprints: dict[str, Any]) -> dict[str, Any]:
    """Where a model came from: data, config, code, run and library versions."""
    from importlib.metadata import PackageNotFoundError, version

    packages = {"python": platform.python_version(), "mlops-actions": __version__}
    for dist in ("scikit-learn", "numpy", "pandas", "scipy"):
        try:
            packages[dist] = version(dist)
        except PackageNotFoundError:
            packages[dist] = None
    return {
        "model": config.name,
        "config_hash": config.hash,
        "target": config.data.target,
        "data": fingerprints,
        "git": commit_info(config.root),
        "run_url": run_url(),
        "actor": os.environ.get("GITHUB_ACTOR"),
        "seed": config.data.split.seed,
        "packages": packages,
    }
