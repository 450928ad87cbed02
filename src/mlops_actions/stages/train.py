"""Train a scikit-learn pipeline from config, reproducibly, and record where it came from."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import __version__
from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.data import load_splits
from mlops_actions.errors import ConfigError, DataError, ModelError, did_you_mean
from mlops_actions.features import (
    features_to_json,
    infer_features,
    model_frame,
    preprocessor,
    target_values,
)
from mlops_actions.files import atomic_path, atomic_write_json
from mlops_actions.github.actions import run_url
from mlops_actions.gitrepo import commit_info
from mlops_actions.metrics import compute_metrics
from mlops_actions.reports import render
from mlops_actions.stages._common import StageResult, write_result

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from mlops_actions.features import Feature


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

    def outputs(self) -> dict[str, Any]:
        import json

        return {
            **super().outputs(),
            "model-path": self.model_path,
            "model-fingerprint": self.model_fingerprint,
            "metrics": json.dumps(self.metrics, sort_keys=True),
        }

    def summary_markdown(self) -> str:

        return render("train.md.j2", r=self)

    def annotations(self) -> list[dict[str, Any]]:
        return [{"level": "warning", "message": w} for w in self.warnings]


def train(config: Config, *, workdir: str | Path = ".mlops") -> TrainResult:
    """Fit the configured pipeline on the training rows, score it on the test rows, save it all."""
    import joblib

    out = layout.stage_dir(workdir, layout.TRAIN)
    splits = load_splits(config)
    target = config.data.target
    features = infer_features(config, splits.train)
    pipeline = _build_pipeline(config, features)
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
    feature_items = features_to_json(features)
    warnings = []
    if splits.dropped_unlabelled:
        warnings.append(
            f"dropped {splits.dropped_unlabelled} row(s) with no value in target {target!r}"
        )
    for name, payload in (
        ("metrics.json", metrics),
        ("params.json", params),
        ("lineage.json", lineage),
        ("features.json", feature_items),
    ):
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
    return write_result(result)


def _build_pipeline(config: Config, features: list[Feature]) -> Pipeline:
    """Preprocessing from column kinds, then the configured estimator (or the user's factory)."""
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

    if config.model.factory:
        built = _call_factory(config)
        if isinstance(built, Pipeline):
            return built
        if not isinstance(built, BaseEstimator):
            raise ConfigError(
                f"{config.label}: model.factory {config.model.factory!r} returned "
                f"{type(built).__name__}, not a scikit-learn Pipeline or estimator"
            )
        estimator = built
    else:
        estimator = _estimator(config)
    return Pipeline([("preprocess", preprocessor(features)), ("model", estimator)])


def _estimator(config: Config) -> Any:
    from sklearn.base import is_classifier, is_regressor

    dotted = config.model.estimator
    module_name, _, class_name = dotted.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise ConfigError(
            f"{config.label}: model.estimator {dotted!r}: cannot import {exc.name or module_name!r}"
        ) from None
    except AttributeError:
        raise ConfigError(
            f"{config.label}: model.estimator {dotted!r}: {module_name} has no {class_name!r}"
            f"{did_you_mean(class_name, dir(sys.modules[module_name]))}"
        ) from None
    if not isinstance(cls, type) or not hasattr(cls, "fit"):
        raise ConfigError(
            f"{config.label}: model.estimator {dotted!r} is not a scikit-learn estimator class"
        )
    estimator = cls()
    wrong_task = (config.task == "classification" and is_regressor(estimator)) or (
        config.task == "regression" and is_classifier(estimator)
    )
    if wrong_task:
        raise ConfigError(
            f"{config.label}: model.estimator {dotted!r} does not fit task {config.task!r}"
        )
    params = dict(config.model.params)
    valid = estimator.get_params(deep=False)
    for key in params:
        if key not in valid:
            raise ConfigError(
                f"{config.label}: model.params.{key} is not a parameter of {class_name}{did_you_mean(key, valid)}"
            )
    if "random_state" in valid and "random_state" not in params:
        params["random_state"] = (
            config.data.split.seed
        )  # reproducible unless the user says otherwise
    estimator.set_params(**params)
    return estimator


def _call_factory(config: Config) -> Any:
    module_name, _, func_name = config.model.factory.partition(":")
    sys.path.insert(0, str(config.root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{config.label}: model.factory: cannot import {exc.name or module_name!r}"
        ) from None
    finally:
        sys.path.remove(str(config.root))
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ConfigError(
            f"{config.label}: model.factory: {module_name} has no function {func_name!r}"
        )
    return func(**config.model.params)


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
