"""Small real ONNX models for the deploy, registry and serve tests, packaged as package-onnx does."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_actions.serving.limits import DEFAULT_LIMITS, Limits, uvicorn_config

FEATURE_NAMES = ["length", "width", "colour"]


def flowers(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Three species told apart by size, with a colour that helps a little."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["setosa", "versicolor", "virginica"], size=rows)
    size = pd.Series(species).map({"setosa": 1.0, "versicolor": 2.0, "virginica": 3.0}).to_numpy()
    return pd.DataFrame(
        {
            "length": size * 2 + rng.normal(0, 0.4, rows),
            "width": size + rng.normal(0, 0.3, rows),
            "colour": np.where(
                rng.random(rows) < 0.7,
                pd.Series(species).map(
                    {"setosa": "blue", "versicolor": "purple", "virginica": "red"}
                ),
                "white",
            ),
            "species": species,
        }
    )


def make_model(
    folder: Path,
    *,
    seed: int = 0,
    gate_passed: bool | None = True,
    sample_rows: int = 8,
    wrong_sample: bool = False,
) -> Path:
    """Train, convert and write ``folder/model.onnx`` + ``model-card.md``; different seeds give different models.

    The packaged test sample's expected outputs come from scikit-learn, so replaying it in
    onnxruntime checks the ONNX model against an independent implementation.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from mlops_actions.features import (
        CATEGORICAL,
        NUMERIC,
        Feature,
        features_to_json,
        model_frame,
        preprocessor,
    )
    from mlops_actions.model import to_onnx

    data = flowers(seed=seed)
    features = [
        Feature("length", NUMERIC, "float64"),
        Feature("width", NUMERIC, "float64"),
        Feature("colour", CATEGORICAL, "object"),
    ]
    x = model_frame(data, features)
    pipeline = Pipeline(
        [
            ("preprocess", preprocessor(features)),
            ("model", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=seed)),
        ]
    ).fit(x, data["species"])
    sample = data.head(sample_rows)
    proba = pipeline.predict_proba(model_frame(sample, features))
    labels = pipeline.predict(model_frame(sample, features)).tolist()
    if wrong_sample:  # as if packaged by an onnxruntime that computes differently
        labels = labels[1:] + labels[:1] if len(set(labels)) > 1 else ["nonsense"] * len(labels)
    metadata = {
        "features": features_to_json(features),
        "target": {"task": "classification", "classes": [str(c) for c in pipeline.classes_]},
        "metrics": {"accuracy": float((pipeline.predict(x) == data["species"]).mean())},
        "test_sample": {
            "rows": sample[FEATURE_NAMES].to_dict(orient="records"),
            "expected": {"label": labels, "probabilities": proba.tolist()},
            "atol": 1e-4,
        },
    }
    if gate_passed is not None:
        metadata["gate"] = {"passed": gate_passed}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(to_onnx(pipeline, features, metadata=metadata))
    (folder / "model-card.md").write_text(f"# flowers (seed {seed})\n")
    return folder / "model.onnx"


CONFIG = """\
name: flowers
task: classification
data: {train: train.csv, target: species}
deploy:
  targets:
    local: {type: registry, url: registry}
    releases: {type: github-release}
    numbered-releases: {type: github-release, registry: local}
    web: {type: http, url: "%(server)s", registry: local, token_env: SERVER_TOKEN, deadline_s: %(deadline)s}
"""


def write_config(folder: Path, *, server: str = "http://127.0.0.1:9", deadline: float = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    flowers().to_csv(folder / "train.csv", index=False)
    path = folder / "mlops.yaml"
    path.write_text(CONFIG % {"server": server, "deadline": deadline})
    return path


@contextlib.contextmanager
def running(app: Any, limits: Limits = DEFAULT_LIMITS) -> Iterator[str]:
    """An ASGI app on uvicorn in a thread, on a free port of 127.0.0.1, configured as
    ``mlops serve`` runs it; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, limits, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
