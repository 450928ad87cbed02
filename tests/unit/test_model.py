"""OnnxModel: loading, metadata and predictions from raw columns, against scikit-learn itself."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest

from mlops_actions.config import load_config
from mlops_actions.errors import DataError, ModelError
from mlops_actions.features import features_from_json, model_frame
from mlops_actions.files import atomic_write_bytes
from mlops_actions.model import OnnxModel, to_onnx, with_metadata
from mlops_actions.stages.train import train


@pytest.fixture(scope="module")
def penguins_onnx(tmp_path_factory):
    """The penguins example trained and converted: (onnx path, fitted pipeline, test frame)."""

    from support import copy_example

    root = tmp_path_factory.mktemp("penguins")
    copy_example("penguins", root / "project")
    config = load_config(root / "project/mlops.yaml")
    result = train(config, workdir=root / "work")
    pipeline = joblib.load(result.model_path)
    features = features_from_json(result.features)
    onnx_bytes = with_metadata(
        to_onnx(pipeline, features),
        {
            "features": result.features,
            "target": {"task": "classification", "classes": list(pipeline.classes_)},
        },
    )
    path = atomic_write_bytes(root / "model.onnx", onnx_bytes)
    return path, pipeline, pd.read_csv(config.data.test), features


def test_predicts_what_scikit_learn_predicts_from_raw_columns(penguins_onnx):
    path, pipeline, test, features = penguins_onnx
    model = OnnxModel(path)
    assert model.input_names == [f.name for f in features]  # one input per raw column, named as it
    assert model.task == "classification"
    prediction = model.predict(test)  # raw frame: target, 'year' and NaN strings included
    x = model_frame(test, features)
    assert list(prediction.classes) == list(pipeline.classes_)
    assert prediction.probabilities.shape == (len(test), 3)
    np.testing.assert_allclose(prediction.probabilities, pipeline.predict_proba(x), atol=1e-5)
    assert (prediction.labels == pipeline.predict(x)).all()
    assert (prediction.output == prediction.labels).all()


def test_batch_and_single_row_sessions_agree(penguins_onnx):
    path, _, test, _ = penguins_onnx
    model = OnnxModel(path)
    big = pd.concat([test] * 20, ignore_index=True)  # above BATCH_ROWS: the threaded session
    batch = model.predict(big)
    singles = [model.predict(test.iloc[[i]]) for i in range(len(test))]
    one_by_one = np.vstack([p.probabilities for p in singles])
    # threads sum the trees in another order: float32 rounding only
    np.testing.assert_allclose(batch.probabilities[: len(test)], one_by_one, atol=1e-6)
    assert list(batch.labels[: len(test)]) == [p.labels[0] for p in singles]


def test_metadata_is_decoded_and_features_come_from_it(penguins_onnx):
    path, _, _, features = penguins_onnx
    model = OnnxModel(path)
    assert model.metadata["mlops.target"]["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert model.meta("features")[0]["name"] == features[0].name
    assert model.features == features
    island = next(f for f in model.features if f.name == "island")
    assert island.categories == ("Biscoe", "Dream", "Torgersen")


def test_missing_columns_are_named_all_at_once(penguins_onnx):
    path, _, test, _ = penguins_onnx
    with pytest.raises(DataError) as caught:
        OnnxModel(path).predict(test.drop(columns=["island", "body_mass_g"]), source="live.csv")
    message = str(caught.value)
    assert "live.csv" in message and "'island'" in message and "'body_mass_g'" in message
    assert "\n" not in message


def test_missing_values_are_nan_and_empty_string(penguins_onnx):
    path, pipeline, test, features = penguins_onnx
    row = test.iloc[[0]].copy()
    row["sex"] = np.nan
    row["bill_length_mm"] = None
    proba = OnnxModel(path).predict(row).probabilities
    np.testing.assert_allclose(proba, pipeline.predict_proba(model_frame(row, features)), atol=1e-5)


def test_missing_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match=r"model\.onnx: ONNX model file not found"):
        OnnxModel(tmp_path / "model.onnx")


def test_corrupt_file_is_a_one_line_model_error(tmp_path, penguins_onnx):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(penguins_onnx[0].read_bytes()[:200])
    with pytest.raises(ModelError) as caught:
        OnnxModel(bad)
    assert str(caught.value).startswith(f"{bad}: not a loadable ONNX model")
    assert "\n" not in str(caught.value)


def test_a_foreign_file_without_metadata_still_predicts(tmp_path):
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline

    from mlops_actions.features import NUMERIC, Feature, preprocessor

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    y = 3 * frame["a"] - frame["b"]
    features = [Feature("a", NUMERIC, "float64"), Feature("b", NUMERIC, "float64")]
    pipeline = Pipeline(
        [("preprocess", preprocessor(features)), ("model", LinearRegression())]
    ).fit(frame, y)
    path = atomic_write_bytes(tmp_path / "m.onnx", to_onnx(pipeline, features))
    model = OnnxModel(path)
    assert model.metadata == {} and model.task == "regression"
    assert [f.kind for f in model.features] == [NUMERIC, NUMERIC]
    np.testing.assert_allclose(model.predict(frame).values, pipeline.predict(frame), atol=1e-9)


def test_metadata_values_are_compact_sorted_json(tmp_path, penguins_onnx):
    import onnx

    model = onnx.load(penguins_onnx[0])
    props = {p.key: p.value for p in model.metadata_props}
    assert [p.key for p in model.metadata_props] == sorted(props)
    target = props["mlops.target"]
    assert target == json.dumps(json.loads(target), sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_graph_inputs_keep_column_names_that_are_not_identifiers(tmp_path, task):
    """skl2onnx turns "od280/od315" into "od280_od315" (scikit-learn's wine data has such a
    column); the graph keeps the data's names, so prediction and every client find them."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import Pipeline

    from mlops_actions.features import CATEGORICAL, NUMERIC, Feature, preprocessor

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "od280/od315 of wines": rng.normal(size=60),
            "colour intensity (au)": rng.normal(size=60),
            "grape-kind": rng.choice(["a b", "c"], size=60),
        }
    )
    features = [
        Feature("od280/od315 of wines", NUMERIC, "float64"),
        Feature("colour intensity (au)", NUMERIC, "float64"),
        Feature("grape-kind", CATEGORICAL, "object"),
    ]
    if task == "classification":
        y = np.where(frame["od280/od315 of wines"] > 0, "high", "low")
    else:
        y = frame["colour intensity (au)"].to_numpy() * 2
    estimator = (RandomForestClassifier if task == "classification" else RandomForestRegressor)(
        n_estimators=5, random_state=0
    )
    x = model_frame(frame, features)
    pipeline = Pipeline([("preprocess", preprocessor(features)), ("model", estimator)]).fit(x, y)
    path = atomic_write_bytes(
        tmp_path / "model.onnx",
        with_metadata(to_onnx(pipeline, features), {"features": [f.__dict__ for f in features]}),
    )
    model = OnnxModel(path)
    assert model.input_names == [f.name for f in features]
    prediction = model.predict(frame)
    if task == "classification":
        assert (prediction.labels == pipeline.predict(x)).all()
    else:
        np.testing.assert_allclose(prediction.output, pipeline.predict(x), rtol=1e-9)
