"""Parity of the converted graph with scikit-learn for every estimator family the docs list:
linear models, forests, gradient boosting, classification and regression, few and many
iterations. Data sits on a decimal grid (test values land on split thresholds) and the
regression target is in the millions, where float32 trees or sums show at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import ensemble, linear_model, tree
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlops_actions.features import CATEGORICAL, NUMERIC, Feature, model_frame, preprocessor
from mlops_actions.files import atomic_write_bytes
from mlops_actions.model import OnnxModel, to_onnx

FEATURES = [
    Feature("length", NUMERIC, "float64"),
    Feature("mass", NUMERIC, "float64"),
    Feature("depth", NUMERIC, "float64"),
    Feature("site", CATEGORICAL, "object"),
]


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "length": np.round(rng.normal(45, 5, rows), 1),  # a decimal grid, as measured
            "mass": np.round(rng.normal(4200, 800, rows), -1),
            "depth": np.round(rng.normal(17, 2, rows), 1),
            "site": rng.choice(["Biscoe", "Dream", "Torgersen"], rows),
        }
    )
    data.loc[rng.random(rows) < 0.05, "length"] = np.nan
    data.loc[rng.random(rows) < 0.05, "site"] = None
    signal = data["length"].fillna(45) / 5 + data["mass"] / 800 + (data["site"] == "Dream")
    data["species"] = np.select([signal < 13.5, signal < 15], ["Adelie", "Chinstrap"], "Gentoo")
    data["weight"] = 1e4 * signal**2 + rng.normal(0, 1e3, rows)  # ~2e6: float32 is off by 0.1
    return data


TRAIN, TEST = frame(400, 0), frame(300, 1)

CLASSIFIERS = {
    "logistic regression": linear_model.LogisticRegression(max_iter=1000),
    "decision tree": tree.DecisionTreeClassifier(max_depth=8, random_state=0),
    "random forest": ensemble.RandomForestClassifier(n_estimators=60, random_state=0),
    "extra trees": ensemble.ExtraTreesClassifier(n_estimators=40, random_state=0),
    "gradient boosting, 10": ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0),
    "gradient boosting, 100": ensemble.GradientBoostingClassifier(n_estimators=100, random_state=0),
    "hist gradient boosting, 5": ensemble.HistGradientBoostingClassifier(max_iter=5),
    "hist gradient boosting, 40": ensemble.HistGradientBoostingClassifier(max_iter=40),
    "hist gradient boosting, 300": ensemble.HistGradientBoostingClassifier(
        max_iter=300, early_stopping=False
    ),
}
REGRESSORS = {
    "ridge": linear_model.Ridge(),
    "decision tree": tree.DecisionTreeRegressor(max_depth=10, random_state=0),
    "random forest": ensemble.RandomForestRegressor(n_estimators=60, random_state=0),
    "extra trees": ensemble.ExtraTreesRegressor(n_estimators=40, random_state=0),
    "gradient boosting, 10": ensemble.GradientBoostingRegressor(n_estimators=10, random_state=0),
    "gradient boosting, 300": ensemble.GradientBoostingRegressor(n_estimators=300, random_state=0),
    "hist gradient boosting, 5": ensemble.HistGradientBoostingRegressor(max_iter=5),
    "hist gradient boosting, 300": ensemble.HistGradientBoostingRegressor(
        max_iter=300, early_stopping=False
    ),
}


def converted(estimator, target, tmp_path):
    x_train, x_test = model_frame(TRAIN, FEATURES), model_frame(TEST, FEATURES)
    pipeline = Pipeline([("preprocess", preprocessor(FEATURES)), ("model", estimator)])
    with threadpool_limits(1):  # 400 rows: OpenMP threads only contend on a busy machine
        pipeline.fit(x_train, TRAIN[target])
    model = OnnxModel(atomic_write_bytes(tmp_path / "model.onnx", to_onnx(pipeline, FEATURES)))
    return pipeline, model, x_test


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_parity(name, tmp_path):
    pipeline, model, x_test = converted(CLASSIFIERS[name], "species", tmp_path)
    ours = model.predict(TEST)
    assert (ours.labels == pipeline.predict(x_test)).all()
    # exact splits; probabilities float32 (forests also sum in float32, the rest in float64)
    np.testing.assert_allclose(ours.probabilities, pipeline.predict_proba(x_test), atol=1e-6)


@pytest.mark.parametrize("name", REGRESSORS)
def test_regressor_parity(name, tmp_path):
    pipeline, model, x_test = converted(REGRESSORS[name], "weight", tmp_path)
    assert model.output_types == {"value": "tensor(double)"}
    ours = model.predict(TEST).values
    # float64 from thresholds to output: ~1e-15 relative on values in the millions
    np.testing.assert_allclose(ours, pipeline.predict(x_test), rtol=1e-12, atol=0)


def test_tree_regressors_use_the_float64_tree_ensemble(tmp_path):
    import onnx

    _, model, _ = converted(REGRESSORS["hist gradient boosting, 5"], "weight", tmp_path)
    graph = onnx.load(model.path)
    assert {(n.domain, n.op_type) for n in graph.graph.node} >= {("ai.onnx.ml", "TreeEnsemble")}
    assert {o.domain: o.version for o in graph.opset_import}["ai.onnx.ml"] == 5
