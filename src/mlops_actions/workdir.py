"""Where each stage's outputs live under the workdir: the contract between the stages.

Every stage writes ``<workdir>/<stage>/result.json`` (last, so its presence means the
stage finished) and ``summary.md``, and besides::

    train/          model.joblib, metrics.json, params.json, features.json, lineage.json
    evaluate-gate/  metrics.json, report.md, comment.md
    package-onnx/   model.onnx, model-card.md
    drift-check/    profile.json, report.html
    drift-alert/    (result.json and summary.md only: what the alerts did)
    data-watch/     (result.json and summary.md only: what changed, what was dispatched)
    select-champion/  report.md, report.html (the champion itself is copied to train/)

A stage that reads another's output asks this module for the path.
"""

from __future__ import annotations

from pathlib import Path

VALIDATE_DATA = "validate-data"
TRAIN = "train"
EVALUATE_GATE = "evaluate-gate"
PACKAGE_ONNX = "package-onnx"
DEPLOY = "deploy"
ROLLBACK = "rollback"
DRIFT_CHECK = "drift-check"
DRIFT_ALERT = "drift-alert"
DATA_WATCH = "data-watch"
INIT = "init"
SELECT_CHAMPION = "select-champion"

RESULT_FILE = "result.json"
SUMMARY_FILE = "summary.md"
JOBLIB_FILE = "model.joblib"
ONNX_FILE = "model.onnx"
CARD_FILE = "model-card.md"
METRICS_FILE = "metrics.json"


def stage_dir(workdir: str | Path, stage: str) -> Path:
    """The stage's output folder, created."""
    path = Path(workdir) / stage
    path.mkdir(parents=True, exist_ok=True)
    return path


def result_file(workdir: str | Path, stage: str) -> Path:
    return Path(workdir) / stage / RESULT_FILE


def trained_model(workdir: str | Path) -> Path:
    return Path(workdir) / TRAIN / JOBLIB_FILE


def train_metrics(workdir: str | Path) -> Path:
    return Path(workdir) / TRAIN / METRICS_FILE


def packaged_model(workdir: str | Path) -> Path:
    return Path(workdir) / PACKAGE_ONNX / ONNX_FILE
