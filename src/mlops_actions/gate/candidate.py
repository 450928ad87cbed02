"""A trained candidate scored on the test rows, with the files ``mlops train`` wrote beside it.

evaluate-gate scores one candidate; select-champion scores every trial's, on the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import DataError, ModelError, UsageError
from mlops_actions.features import features_from_json, model_frame
from mlops_actions.gate.baselines import Scores, score_onnx

if TYPE_CHECKING:
    import pandas as pd

    from mlops_actions.config import Config

BESIDE = ("params.json", "lineage.json", "features.json")


def score_model(config: Config, path: Path, test: pd.DataFrame) -> tuple[Scores, dict[str, Any]]:
    """Candidate scores on the test rows, and the train files beside the model (params, lineage)."""
    beside = {name: read_json(path.with_name(name)) for name in BESIDE}
    if not path.exists():
        raise UsageError(
            f"{path}: no candidate model; run `mlops train` first or pass --model PATH"
        )
    if path.suffix.lower() == ".onnx":
        return score_onnx(path, test, config.task)[0], beside
    import joblib

    if beside["features.json"] is None:
        raise UsageError(
            f"{path}: no features.json beside the model; run `mlops train` to write both"
        )
    try:
        pipeline = joblib.load(path)
    except Exception as exc:  # joblib/pickle raise many unrelated classes for a bad file
        raise ModelError(
            f"{path}: cannot load the model ({type(exc).__name__}: {exc}); re-run mlops train"
        ) from None
    x = model_frame(test, features_from_json(beside["features.json"]), source="test data")
    if config.task == "regression":
        return Scores(pipeline.predict(x)), beside
    proba = pipeline.predict_proba(x) if hasattr(pipeline, "predict_proba") else None
    return Scores(pipeline.predict(x), proba, [str(c) for c in pipeline.classes_]), beside


def read_json(path: Path) -> Any:
    """A JSON file a stage wrote, or None when it is absent."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); re-run the stage that wrote it") from None
