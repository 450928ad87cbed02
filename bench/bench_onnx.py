"""Packaged ONNX model vs the scikit-learn pipeline it came from: batch-1 latency and 100k-row throughput.

Full pipelines (impute + scale + one-hot + estimator) over 20 features (16 numbers, 4
strings, a few missing), converted by ``model.to_onnx`` and run by ``OnnxModel`` with
its tuned sessions. Both sides get prepared inputs (ONNX: the feed of ``[n, 1]`` arrays;
scikit-learn: the model frame), so the ratio is the model's own cost; a last line per model
shows what turning a one-row DataFrame into the feed adds.
Targets (issue 5): batch-1 p50 >= 50x lower for tree ensembles, >= 10x for the linear
model; 100k-row throughput at least scikit-learn's. For tree ensembles, the cost of the
float64 trees (issue 16) over skl2onnx's float32 ones, converted as before.

Threads: scikit-learn as fitted (``n_jobs=None``: one core), onnxruntime's batch session
as ``OnnxModel`` makes it (up to 4 threads, the CPUs the process may use); for forests a
second line gives scikit-learn the same number of threads (``n_jobs``). Every timing is
warmed up once; the load average is printed first, since the machine may be shared.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import median_seconds, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from mlops_actions.features import (  # noqa: E402
    CATEGORICAL,
    NUMERIC,
    Feature,
    model_frame,
    preprocessor,  # noqa: E402
)
from mlops_actions.files import atomic_write_bytes  # noqa: E402
from mlops_actions.model import BATCH_THREADS_MAX, OnnxModel, to_onnx  # noqa: E402

TRAIN_ROWS = 5_000
BATCH_ROWS = 100_000
SINGLE_CALLS = 400
SINGLE_SECONDS = 3.0

MODELS = {
    "LogisticRegression": (LogisticRegression(max_iter=500), 10),
    "RandomForest(100, depth 10)": (
        RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0),
        50,
    ),
    "HistGradientBoosting(100)": (HistGradientBoostingClassifier(max_iter=100, random_state=0), 50),
}


def data(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(16)})
    for i in range(4):
        frame[f"c{i}"] = rng.choice(["a", "b", "c", "d", "e"], size=rows)
    frame = frame.mask(rng.random(frame.shape) < 0.02)  # a few gaps of each kind
    signal = (
        frame["x0"].fillna(0)
        - frame["x1"].fillna(0)
        + (frame["c0"] == "a")
        + rng.normal(0, 0.5, rows)
    )
    return frame, np.where(signal > 0.3, "yes", "no")


def single_call_seconds(call) -> list[float]:
    for _ in range(20):
        call()
    times = []
    start = time.perf_counter()
    while len(times) < SINGLE_CALLS and time.perf_counter() - start < SINGLE_SECONDS:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


def compare(
    name: str,
    pipeline: Pipeline,
    model: OnnxModel,
    live: pd.DataFrame,
    x_live: pd.DataFrame,
    latency_target: float,
    single: OnnxModel | None,
) -> bool:
    one_feed, one_x, one_raw = model.feed(live.iloc[[0]]), x_live.iloc[[0]], live.iloc[[0]]
    onnx_p50 = statistics.median(single_call_seconds(lambda: model.run(one_feed)))
    sk_p50 = statistics.median(single_call_seconds(lambda: pipeline.predict_proba(one_x)))
    met = report(
        f"{name} batch-1 p50", onnx_p50, "sklearn predict_proba", sk_p50, target=1 / latency_target
    )
    print(f"  = ONNX {sk_p50 / onnx_p50:,.0f}x lower (target >= {latency_target}x)", flush=True)
    big_feed = model.feed(live)
    onnx_s = median_seconds(lambda: model.run(big_feed), repeat=3)
    sk_s = median_seconds(lambda: pipeline.predict_proba(x_live), repeat=3)
    met &= report(
        f"{name} {BATCH_ROWS:,}-row throughput",
        BATCH_ROWS / onnx_s,
        "sklearn predict_proba",
        BATCH_ROWS / sk_s,
        unit="rows/s",
        target=1,
        higher_is_better=True,
    )
    if "n_jobs" in pipeline[-1].get_params():
        threads = max(1, min(BATCH_THREADS_MAX, len(os.sched_getaffinity(0))))
        pipeline[-1].set_params(n_jobs=threads)
        same = median_seconds(lambda: pipeline.predict_proba(x_live), repeat=3)
        pipeline[-1].set_params(n_jobs=None)
        report(
            f"{name} {BATCH_ROWS:,}-row throughput, scikit-learn on as many threads",
            BATCH_ROWS / onnx_s,
            f"sklearn n_jobs={threads}",
            BATCH_ROWS / same,
            unit="rows/s",
            higher_is_better=True,
        )
    with_prep = statistics.median(single_call_seconds(lambda: model.predict(one_raw)))
    report(
        f"{name} batch-1 p50 from a DataFrame (OnnxModel.predict)",
        with_prep,
        "sklearn predict_proba",
        sk_p50,
    )
    if single is not None:  # what float64 trees cost over skl2onnx's float32 ones
        single_p50 = statistics.median(single_call_seconds(lambda: single.run(one_feed)))
        report(f"{name} batch-1 p50, float64 trees", onnx_p50, "float32 trees", single_p50)
        single_s = median_seconds(lambda: single.run(big_feed), repeat=3)
        report(
            f"{name} {BATCH_ROWS:,}-row throughput, float64 trees",
            BATCH_ROWS / onnx_s,
            "float32 trees",
            BATCH_ROWS / single_s,
            unit="rows/s",
            higher_is_better=True,
        )
    return met


def float32_trees(pipeline: Pipeline, features: list[Feature], path: Path) -> OnnxModel | None:
    """The pipeline converted as before issue 16: a float32 cast before the trees, which
    skl2onnx writes with float32 thresholds, leaf values and sums; None where ``to_onnx``
    does not use float64 trees (linear models, forests' classification trees)."""
    from skl2onnx.sklapi import CastTransformer

    from mlops_actions import model as onnx_model

    final = pipeline[-1]
    trees = hasattr(final, "estimators_") or hasattr(final, "_predictors")
    if not trees or onnx_model._float32_trees(final):
        return None
    cast = Pipeline([*pipeline.steps[:-1], ("float32", CastTransformer()), pipeline.steps[-1]])
    converters, onnx_model.double_tree_converters = onnx_model.double_tree_converters, dict
    try:
        return OnnxModel(atomic_write_bytes(path, to_onnx(cast, features)))
    finally:
        onnx_model.double_tree_converters = converters


def main() -> int:
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    features = [Feature(f"x{i}", NUMERIC, "float64") for i in range(16)]
    features += [Feature(f"c{i}", CATEGORICAL, "str") for i in range(4)]
    train, y = data(TRAIN_ROWS, 0)
    live, _ = data(BATCH_ROWS, 1)
    x_train, x_live = model_frame(train, features), model_frame(live, features)
    met = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, (estimator, latency_target) in MODELS.items():
            pipeline = Pipeline([("preprocess", preprocessor(features)), ("model", estimator)]).fit(
                x_train, y
            )
            model = OnnxModel(
                atomic_write_bytes(Path(tmp) / f"{name}.onnx", to_onnx(pipeline, features))
            )
            single = float32_trees(pipeline, features, Path(tmp) / f"{name}-float32.onnx")
            met &= compare(name, pipeline, model, live, x_live, latency_target, single)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
