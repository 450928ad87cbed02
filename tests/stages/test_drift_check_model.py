"""drift-check with a packaged model as reference: prediction drift and performance."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from mlops_actions.config import load_config
from mlops_actions.model import OnnxModel
from mlops_actions.stages.drift_check import drift_check
from support.packaged_model import packaged_penguins


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    return packaged_penguins(tmp_path_factory.mktemp("packaged"))


def test_prediction_drift_and_performance_on_labelled_data(packaged, tmp_path):
    project, model, metrics = packaged
    config = load_config(project / "mlops.yaml", ["drift.performance.accuracy=0.05"])
    same = drift_check(
        config, workdir=tmp_path / "a", current=str(project / "data/test.csv"), reference=model
    )
    assert same.predictions["columns"] and not same.predictions["drift"]
    accuracy = next(m for m in same.performance["metrics"] if m["name"] == "accuracy")
    assert accuracy["reference"] == metrics["accuracy"] and not accuracy["degraded"]

    biscoe = pd.read_csv(project / "data/train.csv").query("island == 'Biscoe'")
    biscoe.to_csv(tmp_path / "biscoe.csv", index=False)
    moved = drift_check(
        config, workdir=tmp_path / "b", current=str(tmp_path / "biscoe.csv"), reference=model
    )
    assert moved.predictions["drift"]  # nearly all Gentoo: the predicted species moved
    assert {c["column"] for c in moved.predictions["columns"] if c["drifted"]} >= {"prediction"}


def test_a_breached_performance_limit_is_the_verdict_not_only_the_exit_code(packaged, tmp_path):
    """Once a limit changed only the exit code (with --fail-on-drift) under a ✅ headline.
    Target drift is off here so that performance alone decides."""
    project, model, _ = packaged
    frame = pd.read_csv(project / "data/test.csv")
    frame["species"] = frame["species"].map(
        {"Adelie": "Gentoo", "Gentoo": "Chinstrap", "Chinstrap": "Adelie"}
    )
    frame.to_csv(tmp_path / "relabelled.csv", index=False)
    config = load_config(
        project / "mlops.yaml", ["drift.performance.accuracy=0.05", "drift.verdict.target=false"]
    )
    result = drift_check(
        config,
        workdir=tmp_path / "w",
        current=str(tmp_path / "relabelled.csv"),
        reference=model,
        fail_on_drift=True,
    )
    assert result.performance["degraded"] and not result.passed
    assert result.status == "drift" and [s["name"] for s in result.fired] == ["performance"]
    assert "accuracy 1 -> 0" in result.failure_message()
    saved = json.loads((tmp_path / "w/drift-check/result.json").read_text())
    assert saved["performance"]["degraded"] is True and saved["status"] == "drift"
    summary = (tmp_path / "w/drift-check/summary.md").read_text()
    assert summary.startswith("## 🚨 Drift detected") and "Drift from performance." in summary
    # the limit is the only judged metric: the others are information, not a pass
    assert re.search(r"\| accuracy \|.*\| 🔴 over the limit \|", summary)
    assert re.search(r"\| balanced_accuracy \|.*\| ℹ️ no limit \|", summary)
    assert "✅" not in summary.split("### Performance")[1]


def test_unlabelled_logs_without_features_skip_the_model(packaged, tmp_path):
    project, model, _ = packaged
    frame = pd.read_csv(project / "data/test.csv").drop(columns=["species", "island"])
    frame.to_csv(tmp_path / "partial.csv", index=False)
    result = drift_check(
        load_config(project / "mlops.yaml"),
        workdir=tmp_path / "w",
        current=str(tmp_path / "partial.csv"),
        reference=model,
    )
    assert "island" in result.predictions["skipped"] and result.performance is None


def _served_log(model, frame, folder):
    """An inference log as the model server writes it: the features as the model takes them
    (text missing as '') and the model's labels."""
    from mlops_actions.serving.inference_log import InferenceLog

    onnx = OnnxModel(model)
    features = frame[[f.name for f in onnx.features]]
    columns = {
        name: (values if pd.api.types.is_float_dtype(values) else values.fillna("")).to_numpy()
        for name, values in features.items()
    }
    log = InferenceLog(folder)
    log.write(columns, onnx.predict(features).labels, "1")
    log.close()
    return folder


def test_logged_predictions_feed_prediction_drift_without_the_model(packaged, tmp_path):
    """With a saved profile (no model to run), the log's prediction column is compared with the
    profiled outputs: the same verdicts and scores as re-running the model on the logged rows."""
    project, model, _ = packaged
    profile = OnnxModel(model).metadata["mlops.drift_profile"]
    (tmp_path / "profile.json").write_text(json.dumps(profile))
    config = load_config(project / "mlops.yaml")
    biscoe = pd.read_csv(project / "data/train.csv").query("island == 'Biscoe'")
    for name, frame, moved in (
        ("test", pd.read_csv(project / "data/test.csv"), False),
        ("biscoe", biscoe, True),
    ):
        log = _served_log(model, frame, tmp_path / name)
        logged = drift_check(
            config,
            workdir=tmp_path / f"{name}-p",
            current=str(log),
            reference=tmp_path / "profile.json",
            alert=False,
        )
        rerun = drift_check(
            config, workdir=tmp_path / f"{name}-m", current=str(log), reference=model, alert=False
        )
        assert [c["column"] for c in logged.predictions["columns"]] == ["prediction"]
        assert logged.predictions["columns"][0] == next(
            c for c in rerun.predictions["columns"] if c["column"] == "prediction"
        )
        assert logged.predictions["columns"][0]["drifted"] is moved
        assert logged.schema["new_columns"] == [] and logged.performance is None
