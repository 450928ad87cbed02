"""The drift profile a packaged model carries: the training file's exact sorted values (so
drift-check against the model gives the training file's statistics without reading it) and
the model's outputs on held-out rows (so live data like the training data shows no
prediction drift)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_actions.config import load_config
from mlops_actions.drift import columns
from mlops_actions.model import OnnxModel, metadata_value
from mlops_actions.stages import drift_check as stage
from mlops_actions.stages.package_onnx import package_onnx
from mlops_actions.stages.train import train
from support import copy_example

QUICK = ["package.measure_latency=false"]


def test_the_packaged_reference_gives_the_training_files_statistics(tmp_path, monkeypatch):
    copy_example("penguins", tmp_path / "p")
    config = load_config(tmp_path / "p/mlops.yaml", QUICK)
    train(config, workdir=tmp_path / "w")
    model = package_onnx(config, workdir=tmp_path / "w").model_path
    same_statistics(config, model, tmp_path / "p/data/live.csv", tmp_path, monkeypatch)
    profile = OnnxModel(model).metadata["mlops.drift_profile"]
    assert profile["predictions_rows"] == len(pd.read_csv(config.data.test))  # held out
    assert profile["rows"] == len(pd.read_csv(config.data.train))


def same_statistics(config, model, live, tmp_path, monkeypatch):
    """drift-check against the packaged model and against the training file agree on every
    column's statistic and verdict, and the model's reference is neither read nor sorted."""
    by_file = stage.drift_check(config, workdir=tmp_path / "a", current=str(live), alert=False)

    def no(*args, **kwargs):
        raise AssertionError("the reference was read or sorted")

    with monkeypatch.context() as patch:  # the current side streams through accumulators
        patch.setattr(columns, "summarize", no)
        by_model = stage.drift_check(
            config, workdir=tmp_path / "b", current=str(live), reference=model, alert=False
        )
    assert by_model.columns == by_file.columns and by_model.target == by_file.target
    assert not any(c["approximate"] for c in by_model.columns)
    assert (by_model.drift_share, by_model.drifted_columns) == (
        by_file.drift_share,
        by_file.drifted_columns,
    )
    return by_model


def birds(rows: int, seed: int) -> pd.DataFrame:
    """Two noisy, overlapping classes: a forest fits its training rows far more confidently
    than it predicts new ones."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(0, 1, rows), "b": rng.normal(0, 1, rows)})
    frame["target"] = np.where(frame["a"] + frame["b"] + rng.normal(0, 1.5, rows) > 0, "x", "y")
    return frame


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """(config, packaged model, live rows) for 4,000 training rows: more distinct values
    than a 2,048-point sketch holds."""
    root = tmp_path_factory.mktemp("noisy")
    birds(4000, 1).to_csv(root / "data.csv", index=False)
    birds(1500, 2).drop(columns="target").to_csv(root / "live.csv", index=False)
    doc = {
        "name": "noisy",
        "task": "classification",
        "data": {"train": "data.csv", "target": "target", "split": {"test_size": 0.3, "seed": 1}},
        "model": {
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 50, "random_state": 0},
        },
    }
    (root / "mlops.yaml").write_text(yaml.safe_dump(doc))
    config = load_config(root / "mlops.yaml", QUICK)
    train(config, workdir=root / "w")
    return config, package_onnx(config, workdir=root / "w").model_path, root / "live.csv"


def test_live_data_like_the_training_data_shows_no_prediction_drift(noisy, tmp_path):
    config, model, live = noisy
    calm = stage.drift_check(
        config, workdir=tmp_path, current=str(live), reference=model, alert=False
    )
    assert calm.predictions["columns"] and not calm.predictions["drift"], calm.predictions
    assert not calm.drift


def test_a_large_training_file_is_kept_exactly(noisy, tmp_path, monkeypatch):
    config, model, live = noisy
    same_statistics(config, model, live, tmp_path, monkeypatch)
    size = len(metadata_value(OnnxModel(model).metadata["mlops.drift_profile"]))
    assert 4000 * 2 * 8 < size < 4000 * 2 * 16  # two float columns, every value: ~11 bytes each
