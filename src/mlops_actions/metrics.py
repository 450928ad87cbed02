"""Task metrics: their names, which way is better, and how to compute them.

The table is import-cheap (the config loader uses it to reject unknown metric names);
scikit-learn loads only when metrics are computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricSpec:
    task: str
    higher_is_better: bool
    needs_proba: bool = False


METRICS: dict[str, MetricSpec] = {
    "accuracy": MetricSpec("classification", True),
    "balanced_accuracy": MetricSpec("classification", True),
    "precision_macro": MetricSpec("classification", True),
    "recall_macro": MetricSpec("classification", True),
    "f1_macro": MetricSpec("classification", True),
    "roc_auc": MetricSpec("classification", True, needs_proba=True),
    "log_loss": MetricSpec("classification", False, needs_proba=True),
    "rmse": MetricSpec("regression", False),
    "mae": MetricSpec("regression", False),
    "r2": MetricSpec("regression", True),
    "mape": MetricSpec("regression", False),
}


def metric_names(task: str) -> list[str]:
    return [name for name, spec in METRICS.items() if spec.task == task]


def compute_metrics(
    task: str,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float | None]:
    """Every metric of ``task``; ``None`` where it is undefined (one class only, no probabilities)."""
    import numpy as np
    from sklearn import metrics as m

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if task == "regression":
        return {
            "rmse": float(np.sqrt(m.mean_squared_error(y_true, y_pred))),
            "mae": float(m.mean_absolute_error(y_true, y_pred)),
            "r2": float(m.r2_score(y_true, y_pred)) if len(y_true) > 1 else None,
            "mape": float(m.mean_absolute_percentage_error(y_true, y_pred)),
        }
    result: dict[str, float | None] = {
        "accuracy": float(m.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(m.balanced_accuracy_score(y_true, y_pred)),
        "precision_macro": float(m.precision_score(y_true, y_pred, average="macro", zero_division=0)),
        "recall_macro": float(m.recall_score(y_true, y_pred, average="macro", zero_division=0)),
        "f1_macro": float(m.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "roc_auc": None,
        "log_loss": None,
    }
    if proba is None or classes is None:
        return result
    proba = np.asarray(proba, dtype=float)
    labels = list(classes)
    result["log_loss"] = float(m.log_loss(y_true, proba, labels=labels))
    if len(np.unique(y_true)) < 2:
        return result
    if len(labels) == 2:
        positive = y_true == labels[1]
        result["roc_auc"] = float(m.roc_auc_score(positive, proba[:, 1]))
    elif set(np.unique(y_true)) == set(labels):
        result["roc_auc"] = float(m.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
    return result
