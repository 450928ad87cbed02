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
        "balanced_accuracy": _balanced_accuracy(y_true, y_pred),
        "precision_macro": float(
            m.precision_score(y_true, y_pred, average="macro", zero_division=0)
        ),
        "recall_macro": float(m.recall_score(y_true, y_pred, average="macro", zero_division=0)),
        "f1_macro": float(m.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "roc_auc": None,
        "log_loss": None,
    }
    if proba is None or classes is None:
        return result
    proba = _probabilities(proba)
    labels = list(classes)
    if not set(np.unique(y_true)) <= set(labels):
        return result  # a true class the model does not know: log_loss and AUC undefined
    result["log_loss"] = float(m.log_loss(y_true, proba, labels=labels))
    if len(np.unique(y_true)) < 2:
        return result
    if len(labels) == 2:
        positive = y_true == labels[1]
        result["roc_auc"] = float(m.roc_auc_score(positive, proba[:, 1]))
    elif set(np.unique(y_true)) == set(labels):
        result["roc_auc"] = float(m.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
    return result


def _balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean recall over the true classes; a predicted class absent from the truth does not count.

    That is scikit-learn's definition, and ``weighted_metrics``'; scikit-learn also warns about
    it, and about truth and predictions of one single class, but for a gate both are normal
    cases (a test set without some class), not mistakes.
    """
    import warnings

    from sklearn import metrics as m

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "y_pred contains classes not in y_true", UserWarning)
        warnings.filterwarnings("ignore", "A single label was found", UserWarning)
        return float(m.balanced_accuracy_score(y_true, y_pred))


def _probabilities(proba: Any) -> Any:
    """Probabilities as float64; float32 rows (ONNX outputs) renormalised to sum to 1.

    float32 rows sum to 1 only to float32 precision, and scikit-learn checks the sum at
    float64 precision (it warns and no longer renormalises), so log_loss would take them
    as not quite probabilities. The change is below float32 precision.
    """
    import numpy as np

    proba = np.asarray(proba)
    if proba.dtype == np.float32:
        proba = proba.astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)
    return proba.astype(np.float64, copy=False)


def weighted_metrics(
    task: str,
    y_true: Any,
    y_pred: Any,
    proba: Any,
    classes: Sequence[Any] | None,
    weights: Any,
) -> dict[str, Any]:
    """Every metric of ``task`` once per row of ``weights``, as arrays, with no loop over rows.

    A row of ``weights`` counts how often each test row takes part: a bootstrap resample
    (how often it was drawn) or a slice (a 0/1 mask). Counts and sums are matrix products,
    so a thousand resamples cost about as much as a few metric calls. The values agree with
    scikit-learn's ``sample_weight`` (tested); NaN where a metric is undefined for a row.
    """
    import numpy as np

    w = np.atleast_2d(np.asarray(weights, dtype=float))
    total = w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if task == "regression":
            return _weighted_regression(
                np.asarray(y_true, float), np.asarray(y_pred, float), w, total
            )
        return _weighted_classification(
            np.asarray(y_true), np.asarray(y_pred), proba, classes, w, total
        )


def _weighted_regression(y: Any, pred: Any, w: Any, total: Any) -> dict[str, Any]:
    import numpy as np

    err = pred - y
    squared = w @ err**2
    mean_y = (w @ y) / total
    spread = (w * (y[None, :] - mean_y[:, None]) ** 2).sum(axis=1)
    scale = np.maximum(np.abs(y), np.finfo(np.float64).eps)  # as scikit-learn's MAPE
    return {
        "rmse": np.sqrt(squared / total),
        "mae": (w @ np.abs(err)) / total,
        "r2": np.where(spread > 0, 1 - squared / spread, np.nan),
        "mape": (w @ (np.abs(err) / scale)) / total,
    }


def _weighted_classification(
    y: Any, pred: Any, proba: Any, classes: Sequence[Any] | None, w: Any, total: Any
) -> dict[str, Any]:
    import numpy as np

    labels = np.unique(np.concatenate([y, pred]))
    truth = y[:, None] == labels[None, :]
    guess = pred[:, None] == labels[None, :]
    support, predicted, hits = w @ truth, w @ guess, w @ (truth & guess)
    present = (support + predicted) > 0  # scikit-learn averages over labels seen in either
    precision = np.where(predicted > 0, hits / predicted, 0.0)
    recall = np.where(support > 0, hits / support, 0.0)
    f1 = np.where(support + predicted > 0, 2 * hits / (support + predicted), 0.0)
    n_present = present.sum(axis=1)
    result = {
        "accuracy": hits.sum(axis=1) / total,
        "balanced_accuracy": recall.sum(axis=1) / (support > 0).sum(axis=1),
        "precision_macro": (precision * present).sum(axis=1) / n_present,
        "recall_macro": (recall * present).sum(axis=1) / n_present,
        "f1_macro": (f1 * present).sum(axis=1) / n_present,
        "roc_auc": np.full(len(w), np.nan),
        "log_loss": np.full(len(w), np.nan),
    }
    if proba is None or classes is None:
        return result
    proba = _probabilities(proba)
    order = list(classes)
    index = {label: i for i, label in enumerate(order)}
    column = np.array([index.get(label, -1) for label in y])
    if (column < 0).any():
        return result  # a true class the model does not know: log_loss and AUC undefined
    eps = np.finfo(proba.dtype).eps
    p_true = np.clip(proba, eps, 1 - eps)[np.arange(len(y)), column]
    result["log_loss"] = (w @ -np.log(p_true)) / total
    if len(order) == 2:
        result["roc_auc"] = _weighted_auc(column == 1, proba[:, 1], w)
    else:
        per_class = np.stack(
            [_weighted_auc(column == k, proba[:, k], w) for k in range(len(order))]
        )
        result["roc_auc"] = per_class.mean(
            axis=0
        )  # NaN when any class is absent, as compute_metrics
    return result


def _weighted_auc(positive: Any, score: Any, w: Any) -> Any:
    """Area under the ROC curve per weight row: the weighted Mann-Whitney statistic, ties half."""
    import numpy as np

    order = np.argsort(score, kind="mergesort")
    s, pos = score[order], positive[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # rows of equal score form one group
    ws = w[:, order]
    neg_g = np.add.reduceat(ws * ~pos, starts, axis=1)
    pos_g = np.add.reduceat(ws * pos, starts, axis=1)
    below = np.cumsum(neg_g, axis=1) - neg_g
    n_pos, n_neg = pos_g.sum(axis=1), neg_g.sum(axis=1)
    wins = (pos_g * (below + 0.5 * neg_g)).sum(axis=1)
    return np.where((n_pos > 0) & (n_neg > 0), wins / (n_pos * n_neg), np.nan)


def confusion(y_true: Any, y_pred: Any, classes: Sequence[Any]) -> dict[str, Any]:
    """Confusion matrix over ``classes`` plus any label seen only in the data: rows true, columns predicted."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    labels = list(classes) + sorted(set(np.unique(y_true).tolist()) - set(classes))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return {"labels": [str(label) for label in labels], "matrix": matrix.tolist()}


def paired_bootstrap(
    task: str,
    y_true: Any,
    candidate: tuple[Any, Any, Sequence[Any] | None],
    baseline: tuple[Any, Any, Sequence[Any] | None],
    *,
    resamples: int,
    confidence: float,
    seed: int,
    max_cells: int = 2_000_000,
) -> dict[str, dict[str, float] | None]:
    """Percentile interval of candidate minus baseline per metric, both scored on the same resamples.

    ``candidate`` and ``baseline`` are ``(predictions, proba, classes)`` on the same rows.
    Resamples are drawn as count matrices in chunks of at most ``max_cells`` entries, so
    memory stays bounded whatever the test size. ``None`` for a metric undefined in most
    resamples (e.g. AUC when a class is rare).
    """
    import numpy as np

    y_true = np.asarray(y_true)
    rows = len(y_true)
    rng = np.random.default_rng(seed)
    per_chunk = max(1, max_cells // rows)
    diffs: dict[str, list[Any]] = {name: [] for name in metric_names(task)}
    for start in range(0, resamples, per_chunk):
        count = min(per_chunk, resamples - start)
        drawn = rng.integers(0, rows, size=(count, rows)) + rows * np.arange(count)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=count * rows).reshape(count, rows)
        ours = weighted_metrics(task, y_true, *candidate, weights)
        theirs = weighted_metrics(task, y_true, *baseline, weights)
        for name, parts in diffs.items():
            parts.append(ours[name] - theirs[name])
    tail = (1 - confidence) / 2
    intervals: dict[str, dict[str, float] | None] = {}
    for name, parts in diffs.items():
        values = np.concatenate(parts)
        values = values[~np.isnan(values)]
        if len(values) < resamples / 2:
            intervals[name] = None
            continue
        low, high = np.quantile(values, [tail, 1 - tail])
        intervals[name] = {"low": float(low), "high": float(high), "resamples": int(len(values))}
    return intervals
