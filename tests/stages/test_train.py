"""Training: real pipelines on the example data, reproducible to the byte."""

from __future__ import annotations

import json
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from mlops_actions.config import load_config
from mlops_actions.errors import ConfigError, DataError
from mlops_actions.stages.train import train
from support import SRC


def test_classification_with_categorical_numeric_and_missing_values(example, tmp_path):
    project = example("penguins")
    config = load_config(project / "mlops.yaml")
    result = train(config, workdir=tmp_path)
    kinds = {f["name"]: f["kind"] for f in result.features}
    assert kinds["island"] == kinds["sex"] == "categorical"
    assert kinds["bill_length_mm"] == "numeric" and "year" not in kinds  # dropped in config
    assert pd.read_csv(config.data.train).isna().any().any()  # the example really has gaps
    # metrics agree with scoring the saved model independently
    model = joblib.load(result.model_path)
    test = pd.read_csv(config.data.test)
    x = test.drop(columns=["species", "year"])
    x[["island", "sex"]] = x[["island", "sex"]].fillna("")
    assert result.metrics["accuracy"] == pytest.approx(
        accuracy_score(test["species"], model.predict(x))
    )
    assert set(result.metrics) >= {
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "roc_auc",
        "log_loss",
    }
    assert result.params["params"]["n_estimators"] == 200


def test_regression_with_a_seeded_split(example, tmp_path):
    config = load_config(example("diabetes") / "mlops.yaml")
    result = train(config, workdir=tmp_path)
    assert result.rows == {"train": 249, "test": 83}
    assert 0.3 < result.metrics["r2"] < 0.7
    assert result.lineage["data"]["train"]["rows"] == 332
    assert "test" not in result.lineage["data"]


def test_rerun_gives_the_same_metrics_and_model_fingerprint(example, tmp_path):
    config = load_config(example("penguins") / "mlops.yaml")
    first = train(config, workdir=tmp_path / "a")
    second = train(config, workdir=tmp_path / "b")
    assert first.metrics == second.metrics
    assert first.model_fingerprint == second.model_fingerprint
    assert (tmp_path / "a/train/model.joblib").read_bytes() == (
        tmp_path / "b/train/model.joblib"
    ).read_bytes()


def test_rerun_in_another_process_with_another_hash_seed_gives_the_same_model(example, tmp_path):
    project = example("penguins")
    prints = []
    for seed in ("1", "2"):
        subprocess.run(
            [sys.executable, "-m", "mlops_actions", "train", "--workdir", str(tmp_path / seed)],
            cwd=project,
            check=True,
            capture_output=True,
            env={"PYTHONPATH": str(SRC), "PYTHONHASHSEED": seed},
        )
        prints.append(
            json.loads((tmp_path / seed / "train/result.json").read_text())["model_fingerprint"]
        )
    assert prints[0] == prints[1]


def test_different_seed_changes_the_model(example, tmp_path):
    project = example("penguins")
    a = train(load_config(project / "mlops.yaml"), workdir=tmp_path / "a")
    b = train(
        load_config(project / "mlops.yaml", ["model.params.random_state=8"]), workdir=tmp_path / "b"
    )
    assert a.model_fingerprint != b.model_fingerprint


def test_lineage_records_data_config_code_and_versions(example, tmp_path):
    config = load_config(example("penguins") / "mlops.yaml")
    lineage = train(config, workdir=tmp_path).lineage
    assert lineage["config_hash"] == config.hash
    assert len(lineage["data"]["train"]["sha256"]) == 64 and lineage["data"]["test"]["rows"] == 56
    assert lineage["seed"] == 7
    assert lineage["packages"]["scikit-learn"]
    saved = json.loads((tmp_path / "train/lineage.json").read_text())
    assert saved == json.loads(json.dumps(lineage))


def test_lineage_takes_the_run_from_the_actions_environment(example, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_SHA", "a" * 40)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/ml")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    lineage = train(load_config(example("diabetes") / "mlops.yaml"), workdir=tmp_path).lineage
    assert lineage["git"]["commit"] == "a" * 40
    assert lineage["run_url"] == "https://github.com/acme/ml/actions/runs/42"


def test_factory_returning_a_pipeline(example, tmp_path):
    project = example("diabetes")
    (project / "my_model.py").write_text(
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "from sklearn.linear_model import Lasso\n"
        "def build(alpha=1.0):\n"
        "    return make_pipeline(StandardScaler(), Lasso(alpha=alpha))\n"
    )
    config = load_config(
        project / "mlops.yaml",
        ["model.estimator=", "model.factory=my_model:build", "model.params={alpha: 0.5}"],
    )
    result = train(config, workdir=tmp_path)
    assert result.params["estimator"] == "sklearn.linear_model._coordinate_descent.Lasso"
    model = joblib.load(result.model_path)
    assert model.steps[-1][1].alpha == 0.5


def test_factory_module_missing(example, tmp_path):
    config = load_config(
        example("diabetes") / "mlops.yaml", ["model.estimator=", "model.factory=nothere:build"]
    )
    with pytest.raises(ConfigError, match="model.factory: cannot import 'nothere'"):
        train(config, workdir=tmp_path)


def test_classifier_for_a_regression_task_is_refused(example, tmp_path):
    config = load_config(
        example("diabetes") / "mlops.yaml",
        ["model.estimator=sklearn.linear_model.LogisticRegression"],
    )
    with pytest.raises(ConfigError, match="does not fit task 'regression'"):
        train(config, workdir=tmp_path)


def test_text_in_a_regression_target(example, tmp_path):
    config = load_config(
        example("penguins") / "mlops.yaml",
        [
            "task=regression",
            "gate.metrics={}",
            "gate.slices=[]",
            "model.estimator=",
            "model.params=",
        ],
    )
    with pytest.raises(ConfigError, match="target 'species' holds 'Adelie'"):
        train(config, workdir=tmp_path)


def test_stratifying_a_class_with_one_row(example, tmp_path):
    project = example("penguins")
    frame = pd.read_csv(project / "data/train.csv")
    frame.loc[0, "species"] = "Emperor"
    frame.to_csv(project / "data/train.csv", index=False)
    config = load_config(project / "mlops.yaml", ["data.test="])
    with pytest.raises(DataError, match="cannot split into train and test"):
        train(config, workdir=tmp_path)


def test_rows_without_a_label_are_dropped_with_a_warning(example, tmp_path):
    project = example("diabetes")
    frame = pd.read_csv(project / "data/diabetes.csv")
    frame.loc[:4, "progression"] = np.nan
    frame.to_csv(project / "data/diabetes.csv", index=False)
    result = train(load_config(project / "mlops.yaml"), workdir=tmp_path)
    assert result.rows["train"] + result.rows["test"] == len(frame) - 5
    assert result.warnings == ["dropped 5 row(s) with no value in target 'progression'"]


def test_a_test_label_the_model_never_saw_leaves_log_loss_and_auc_undefined(example, tmp_path):
    project = example("penguins")
    test = pd.read_csv(project / "data/test.csv")
    test.loc[0, "species"] = "Emperor"
    test.to_csv(project / "data/test.csv", index=False)
    result = train(load_config(project / "mlops.yaml"), workdir=tmp_path)
    assert result.metrics["log_loss"] is None and result.metrics["roc_auc"] is None
    model = joblib.load(result.model_path)
    x = test.drop(columns=["species", "year"])
    x[["island", "sex"]] = x[["island", "sex"]].fillna("")
    assert result.metrics["accuracy"] == pytest.approx(
        accuracy_score(test["species"], model.predict(x))
    )


def test_one_class_or_an_empty_feature_column_is_a_data_error(example, tmp_path):
    project = example("penguins")
    frame = pd.read_csv(project / "data/train.csv")
    frame.assign(species="Adelie").to_csv(project / "data/one-class.csv", index=False)
    frame.assign(bill_depth_mm=np.nan).to_csv(project / "data/empty.csv", index=False)
    one_class = load_config(project / "mlops.yaml", ["data.train=data/one-class.csv"])
    with pytest.raises(
        DataError, match="one-class.csv: target 'species' has only the class 'Adelie'"
    ):
        train(one_class, workdir=tmp_path)
    empty = load_config(project / "mlops.yaml", ["data.train=data/empty.csv"])
    with pytest.raises(DataError, match="empty.csv: column 'bill_depth_mm' has no values"):
        train(empty, workdir=tmp_path)


def test_parquet_training_data(example, tmp_path):
    project = example("diabetes")
    pd.read_csv(project / "data/diabetes.csv").to_parquet(project / "data/diabetes.parquet")
    csv = train(load_config(project / "mlops.yaml"), workdir=tmp_path / "csv")
    parquet = train(
        load_config(project / "mlops.yaml", ["data.train=data/diabetes.parquet"]),
        workdir=tmp_path / "pq",
    )
    assert csv.metrics == parquet.metrics


def test_a_failed_run_leaves_no_result_json(example, tmp_path):
    config = load_config(example("diabetes") / "mlops.yaml", ["data.target=nope"])
    with pytest.raises(DataError, match="diabetes.csv: column 'nope' not found"):
        train(config, workdir=tmp_path)
    assert not (tmp_path / "train/result.json").exists()


def test_a_split_by_content_keeps_each_row_on_its_side_when_others_change(example, tmp_path):
    """By position, dropping rows reshuffles the split: a model in production is then scored
    on rows it trained on (breast-cancer: 0.992 against the candidate's 0.945). By content,
    every remaining row stays where it was."""
    from mlops_actions.data import load_splits

    project = example("diabetes")
    config = load_config(project / "mlops.yaml", ["data.split.by=content"])
    by_position = load_config(project / "mlops.yaml")
    before, position_before = load_splits(config), load_splits(by_position)
    frame = pd.read_csv(project / "data/diabetes.csv")
    frame.iloc[::7].to_csv(project / "data/diabetes.csv", index=False)  # keep one row in 7
    after = load_splits(config)
    rows = lambda f: set(map(tuple, f.to_numpy().round(6).tolist()))  # noqa: E731
    assert rows(after.test) <= rows(before.test) and rows(after.train) <= rows(before.train)
    assert 0.15 < len(before.test) / (len(before.test) + len(before.train)) < 0.35
    position_after = load_splits(by_position)
    assert not rows(position_after.test) <= rows(position_before.test)  # the default moves rows
