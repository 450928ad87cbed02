"""Two-class forests run as one-score tree ensembles (onnxruntime's faster path) and still
give scikit-learn's probabilities and labels, for text and integer labels. At an exact tie
(0.5) the float32 sum may land an ulp above it and pick the second class, as the
classifier node did before (same thresholds, weights and sums)."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn import ensemble, tree
from sklearn.pipeline import Pipeline

from mlops_actions.features import CATEGORICAL, NUMERIC, Feature, model_frame, preprocessor
from mlops_actions.files import atomic_write_bytes
from mlops_actions.model import OnnxModel, to_onnx

FEATURES = [
    Feature("length", NUMERIC, "float64"),
    Feature("depth", NUMERIC, "float64"),
    Feature("site", CATEGORICAL, "object"),
]


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "length": np.round(rng.normal(45, 5, rows), 1),
            "depth": np.round(rng.normal(17, 2, rows), 1),
            "site": rng.choice(["Biscoe", "Dream", "Torgersen"], rows),
        }
    )
    data.loc[rng.random(rows) < 0.05, "length"] = np.nan
    noise = rng.normal(0, 2, rows)
    data["label"] = (data["length"].fillna(45) + data["depth"] + noise > 62).astype(int)
    return data


ESTIMATORS = {
    "random forest": ensemble.RandomForestClassifier(n_estimators=50, random_state=0),
    "extra trees": ensemble.ExtraTreesClassifier(n_estimators=30, random_state=0),
    "decision tree": tree.DecisionTreeClassifier(max_depth=6, random_state=0),
}


@pytest.mark.parametrize("labels", [("no", "yes"), (3, 7)], ids=["text", "integers"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_binary_forests_match_sklearn_through_one_score(name, labels, tmp_path):
    train, test = frame(400, 0), frame(500, 1)
    classes = np.asarray(labels, dtype=object if isinstance(labels[0], str) else np.int64)
    x_train, x_test = model_frame(train, FEATURES), model_frame(test, FEATURES)
    pipeline = Pipeline([("preprocess", preprocessor(FEATURES)), ("model", ESTIMATORS[name])]).fit(
        x_train, classes[train["label"]]
    )
    graph = to_onnx(pipeline, FEATURES)
    ops = {node.op_type for node in onnx.load_from_string(graph).graph.node}
    assert "TreeEnsembleRegressor" in ops and "TreeEnsembleClassifier" not in ops
    model = OnnxModel(atomic_write_bytes(tmp_path / "m.onnx", graph))
    expected = pipeline.predict_proba(x_test)
    for single in (True, False):
        got = model.predict(test, single_thread=single)
        np.testing.assert_allclose(got.probabilities, expected, atol=1e-6)
        clear = np.abs(expected[:, 1] - 0.5) > 1e-6
        assert list(got.labels[clear]) == list(pipeline.predict(x_test)[clear])
        second = got.probabilities[:, 1] > got.probabilities[:, 0]
        assert list(got.labels) == list(classes[second.astype(int)])  # ties: the first class
    if name == "random forest":  # the tie rule above was exercised
        assert (expected[:, 1] == 0.5).any()
