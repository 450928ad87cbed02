"""A toy classification project the gate tests share: rows with a known signal, a config, a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlops_actions.config import load_config
from mlops_actions.stages.train import train

GATE = {"metrics": {"accuracy": {"min": 0.5, "max_drop": 0.02}}}


def make_rows(rows: int, seed: int, *, flip_b: float = 0.0) -> pd.DataFrame:
    """Two informative numbers, a group column; group B's labels are flipped at rate ``flip_b``."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    group = np.where(rng.random(rows) < 0.5, "A", "B")
    positive = x1 + 0.7 * x2 + 0.3 * rng.normal(size=rows) > 0
    flip = (group == "B") & (rng.random(rows) < flip_b)
    label = np.where(positive ^ flip, "yes", "no")
    return pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "group": group, "label": label})


def write_config(
    root: Path,
    gate: dict | None = None,
    *,
    features: list[str] | None = None,
    name: str = "mlops.yaml",
    **extra,
):
    doc = {
        "name": "toy",
        "task": "classification",
        "data": {"train": "train.csv", "test": "test.csv", "target": "label"},
        "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
        "gate": gate if gate is not None else GATE,
    }
    if features:
        doc["data"]["features"] = features
    doc.update(extra)
    path = root / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_config(path)


def trained(root: Path, workdir: str, **kwargs) -> tuple[object, Path]:
    config = write_config(root, **kwargs)
    train(config, workdir=root / workdir)
    return config, root / workdir
