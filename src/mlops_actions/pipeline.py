"""The scikit-learn pipeline a config describes: preprocessing from column kinds, then the
configured estimator or the user's factory. train fits it; init cross-validates it."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from mlops_actions.config import Config
from mlops_actions.errors import ConfigError, did_you_mean
from mlops_actions.features import Feature, preprocessor

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def build_pipeline(config: Config, features: list[Feature]) -> Pipeline:
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
