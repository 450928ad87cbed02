"""The penguins example trained and packaged as package-onnx does, for the drift tests that
need a model (a helper, not a conftest.py: that would shadow tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd

from mlops_actions.config import load_config
from mlops_actions.drift.profile import build_profile, prediction_frame
from mlops_actions.features import features_from_json
from mlops_actions.files import atomic_write_bytes
from mlops_actions.model import OnnxModel, to_onnx
from mlops_actions.stages.train import train
from support import EXAMPLES, copy_example

PENGUINS = EXAMPLES / "penguins"


def packaged_penguins(root: Path) -> tuple[Path, Path, dict[str, float]]:
    """(project folder, model.onnx carrying the drift profile, test metrics) under ``root``."""
    copy_example("penguins", root / "project")
    config = load_config(root / "project/mlops.yaml")
    result = train(config, workdir=root / "work")
    pipeline = joblib.load(result.model_path)
    features = features_from_json(result.features)
    metadata = {
        "features": result.features,
        "target": {"task": "classification", "classes": list(pipeline.classes_)},
    }
    bare = atomic_write_bytes(root / "bare.onnx", to_onnx(pipeline, features, metadata=metadata))
    outputs = prediction_frame(OnnxModel(bare).predict(pd.read_csv(config.data.test)))
    metrics = {k: v for k, v in result.metrics.items() if v is not None}
    profile = build_profile(
        pd.read_csv(config.data.train),
        task="classification",
        predictions=outputs,
        metrics=metrics,
        packed=True,
    )
    model = atomic_write_bytes(
        root / "model.onnx",
        to_onnx(pipeline, features, metadata={**metadata, "drift_profile": profile}),
    )
    return root / "project", model, metrics
