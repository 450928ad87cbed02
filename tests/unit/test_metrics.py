"""Metrics under weight rows (bootstrap resamples, slice masks) against scikit-learn's sample_weight."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from mlops_actions.metrics import compute_metrics, paired_bootstrap, weighted_metrics


def classification_case(classes: int, rows: int = 300, seed: int = 1):
    rng = np.random.default_rng(seed)
    labels = [f"c{k}" for k in range(classes)]
    y = rng.choice(labels, rows)
    proba = np.round(rng.dirichlet(np.ones(classes), rows), 2)  # rounding makes ties in the scores
    proba /= proba.sum(axis=1, keepdims=True)
    return labels, y, np.array(labels)[proba.argmax(axis=1)], proba


@pytest.mark.parametrize("classes", [2, 3])
def test_classification_matches_sklearn_sample_weight(classes):
    labels, y, pred, proba = classification_case(classes)
    weights = np.random.default_rng(2).integers(0, 3, size=(6, len(y))).astype(float)
    got = weighted_metrics("classification", y, pred, proba, labels, weights)
    for row, w in enumerate(weights):
        auc = (
            skm.roc_auc_score(y == labels[1], proba[:, 1], sample_weight=w)
            if classes == 2
            else skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels, sample_weight=w)
        )
        expected = {
            "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
            "precision_macro": skm.precision_score(
                y, pred, average="macro", sample_weight=w, zero_division=0
            ),
            "recall_macro": skm.recall_score(
                y, pred, average="macro", sample_weight=w, zero_division=0
            ),
            "f1_macro": skm.f1_score(y, pred, average="macro", sample_weight=w, zero_division=0),
            "log_loss": skm.log_loss(y, proba, labels=labels, sample_weight=w),
            "roc_auc": auc,
        }
        for name, value in expected.items():
            assert got[name][row] == pytest.approx(value), (name, row)


def test_regression_matches_sklearn_sample_weight():
    rng = np.random.default_rng(3)
    y = rng.normal(size=250) * 10
    pred = y + rng.normal(size=250)
    weights = rng.integers(0, 3, size=(4, 250)).astype(float)
    got = weighted_metrics("regression", y, pred, None, None, weights)
    for row, w in enumerate(weights):
        assert got["rmse"][row] == pytest.approx(
            np.sqrt(skm.mean_squared_error(y, pred, sample_weight=w))
        )
        assert got["mae"][row] == pytest.approx(skm.mean_absolute_error(y, pred, sample_weight=w))
        assert got["r2"][row] == pytest.approx(skm.r2_score(y, pred, sample_weight=w))
        assert got["mape"][row] == pytest.approx(
            skm.mean_absolute_percentage_error(y, pred, sample_weight=w)
        )


def test_a_slice_mask_gives_the_metrics_of_the_slice_alone():
    labels, y, pred, proba = classification_case(3, rows=400)
    mask = np.arange(len(y)) % 3 == 0
    got = weighted_metrics("classification", y, pred, proba, labels, mask[None, :])
    alone = compute_metrics("classification", y[mask], pred[mask], proba[mask], labels)
    for name, value in alone.items():
        assert got[name][0] == pytest.approx(value), name


def test_undefined_metrics_are_nan_not_errors():
    y = np.array(["a", "a", "b", "b"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    only_a = np.array([[1.0, 1.0, 0.0, 0.0]])
    got = weighted_metrics("classification", y, y, proba, ["a", "b"], only_a)
    assert np.isnan(got["roc_auc"][0]) and got["accuracy"][0] == 1.0


def test_bootstrap_is_seeded_and_chunking_does_not_change_it():
    labels, y, pred, proba = classification_case(2, rows=120)
    other = np.where(np.arange(len(y)) % 7 == 0, labels[0], pred)
    args = ("classification", y, (pred, proba, labels), (other, proba, labels))
    whole = paired_bootstrap(*args, resamples=300, confidence=0.9, seed=5)
    chunked = paired_bootstrap(*args, resamples=300, confidence=0.9, seed=5, max_cells=1000)
    assert whole == chunked
    assert whole != paired_bootstrap(*args, resamples=300, confidence=0.9, seed=6)
