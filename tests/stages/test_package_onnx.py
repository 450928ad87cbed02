"""package-onnx on real trained pipelines: parity, metadata, model card, reproducible bytes."""

from __future__ import annotations

import json

import joblib
import numpy as np
import onnx
import pandas as pd
import pytest
import yaml

from mlops_actions import cli
from mlops_actions import model as onnx_model
from mlops_actions.config import load_config
from mlops_actions.errors import ConfigError, ModelError, ParityFailed
from mlops_actions.features import features_from_json, model_frame
from mlops_actions.model import OnnxModel
from mlops_actions.stages.package_onnx import package_onnx
from mlops_actions.stages.train import train

QUICK = ["package.measure_latency=false"]


def make_project(root, *, task="classification", estimator=None, params=None, rows=240):
    """A project whose data has numbers on a 0.1 grid, NaNs, and missing categories."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "length": rng.normal(40, 5, rows).round(1),
            "weight": rng.normal(3000, 400, rows).round(0),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "site": rng.choice(["north", "south"], rows),
        }
    )
    frame.loc[rng.random(rows) < 0.1, "length"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "colour"] = None
    score = frame["length"].fillna(40) / 5 + (frame["colour"] == "red") * 2 + rng.normal(0, 1, rows)
    frame["target"] = (
        np.where(score > 10, "high", "low") if task == "classification" else score * 10
    )
    root.mkdir(parents=True, exist_ok=True)
    frame.to_csv(root / "data.csv", index=False)
    doc = {
        "name": "synthetic",
        "description": "A made-up model for tests.",
        "task": task,
        "data": {"train": "data.csv", "target": "target", "split": {"test_size": 0.3, "seed": 1}},
        "model": {"estimator": estimator, "params": params or {}}
        if estimator
        else {"params": params or {}},
    }
    (root / "mlops.yaml").write_text(yaml.safe_dump(doc))
    return root / "mlops.yaml"


def trained(config_path, workdir, overrides=()):
    config = load_config(config_path, list(overrides))
    train(config, workdir=workdir)
    return config


def sklearn_outputs(workdir, frame):
    pipeline = joblib.load(workdir / "train/model.joblib")
    features = features_from_json(json.loads((workdir / "train/features.json").read_text()))
    x = model_frame(frame, features)
    return pipeline, x


def test_penguins_packages_with_parity_metadata_and_card(example, tmp_path):
    config = trained(example("penguins") / "mlops.yaml", tmp_path, QUICK)
    result = package_onnx(config, workdir=tmp_path)
    assert (
        result.passed
        and result.parity["max_abs_diff"] <= 1e-4
        and result.parity["label_agreement"] == 1.0
    )
    assert result.parity["rows"] == len(pd.read_csv(config.data.test))

    # the file predicts what the pipeline predicts, checked here independently of the stage
    test = pd.read_csv(config.data.test)
    pipeline, x = sklearn_outputs(tmp_path, test)
    model = OnnxModel(result.model_path)
    prediction = model.predict(test)
    np.testing.assert_allclose(prediction.probabilities, pipeline.predict_proba(x), atol=1e-4)
    assert list(prediction.labels) == list(pipeline.predict(x))

    proto = onnx.load(result.model_path)
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == [
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
    ]
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]  # no ZipMap
    assert {o.domain: o.version for o in proto.opset_import}[""] == 18

    meta = model.metadata
    assert set(meta) == {
        f"mlops.{k}"
        for k in (
            "lineage",
            "metrics",
            "params",
            "features",
            "target",
            "test_sample",
            "drift_profile",
            "input_encoding",
        )
    }
    assert proto.doc_string == config.description  # the file says what it is for
    encoding = meta["mlops.input_encoding"]
    median = pipeline.named_steps["preprocess"].named_transformers_["numeric"][0].statistics_[0]
    assert encoding["bill_length_mm"] == {
        "missing": "NaN (null in a JSON request)",
        "missing_becomes": f"median of the training rows: {float(median)!r}",
    }
    assert encoding["island"]["missing"] == "'' (null in a JSON request)"
    assert encoding["island"]["unseen_category"].startswith("all its one-hot columns 0")
    # what the file says about unseen categories is what it does: as scikit-learn, no error
    atlantis = test.head(3).assign(island="Atlantis")
    np.testing.assert_allclose(
        model.predict(atlantis).probabilities,
        pipeline.predict_proba(model_frame(atlantis, model.features)),
        atol=1e-6,
    )
    assert meta["mlops.metrics"] == json.loads((tmp_path / "train/metrics.json").read_text())
    assert meta["mlops.target"] == {
        "name": "species",
        "task": "classification",
        "classes": ["Adelie", "Chinstrap", "Gentoo"],
    }
    sample = meta["mlops.test_sample"]
    assert len(sample["rows"]) == 20
    sample_x = model_frame(pd.DataFrame(sample["rows"]), model.features)
    np.testing.assert_allclose(
        sample["expected"]["probabilities"], pipeline.predict_proba(sample_x), atol=1e-4
    )
    assert sample["expected"]["label"] == list(pipeline.predict(sample_x))
    from mlops_actions.model import replay

    assert replay(OnnxModel(result.model_path), result.model_path)["matched"]  # what deploy checks
    profile = meta["mlops.drift_profile"]
    assert profile["rows"] == len(pd.read_csv(config.data.train))
    assert {"prediction", "proba_Adelie"} <= set(profile["predictions"])
    _prediction_drift_matches_profile(config, result.model_path, tmp_path, profile)

    card = (tmp_path / "package-onnx/model-card.md").read_text()
    assert "Classifies Adelie, Chinstrap and Gentoo penguins" in card  # purpose from config
    assert "| NaN (null in a JSON request) | median of the training rows: " in card
    assert "| '' (null in a JSON request) | most frequent of the training rows: " in card
    assert (
        json.loads((tmp_path / "package-onnx/result.json").read_text())["parity"]["passed"] is True
    )


def _prediction_drift_matches_profile(config, model_path, tmp_path, profile):
    """drift-check with the packaged model on its training rows: every profiled output column
    is compared (same names and types on both sides) and none moved against the outputs on
    the held-out rows the profile holds."""
    from mlops_actions.stages.drift_check import drift_check

    check = drift_check(
        config,
        workdir=tmp_path / "drift",
        current=str(config.data.train),
        reference=model_path,
        alert=False,
    )
    assert {c["column"] for c in check.predictions["columns"]} == set(profile["predictions"])
    assert not check.predictions["drift"] and check.predictions["skipped"] is None


def test_regression_profile_matches_drift_check(tmp_path):
    config = trained(make_project(tmp_path / "p", task="regression"), tmp_path / "w", QUICK)
    result = package_onnx(config, workdir=tmp_path / "w")
    profile = OnnxModel(result.model_path).metadata["mlops.drift_profile"]
    assert (
        set(profile["predictions"]) == {"prediction"}
        and profile["predictions"]["prediction"]["dtype"] == "float64"
    )
    _prediction_drift_matches_profile(config, result.model_path, tmp_path, profile)


def test_diabetes_regression_measures_speed(example, tmp_path):
    config = trained(example("diabetes") / "mlops.yaml", tmp_path)
    result = package_onnx(config, workdir=tmp_path)
    assert (
        result.passed
        and result.parity["max_abs_diff"] <= 1e-4
        and result.parity["label_agreement"] is None
    )
    assert result.graph_outputs == ["value"]
    speed = result.latency
    assert speed["throughput"]["rows"] == 100_000
    for side in ("onnx", "sklearn"):
        assert 0 < speed["batch1"][side]["p50_us"] <= speed["batch1"][side]["p99_us"]
        assert speed["batch1"][side]["calls"] >= 20
    saved = json.loads((tmp_path / "package-onnx/result.json").read_text())
    assert saved["latency"]["throughput"]["onnx_rows_per_s"] > 0
    assert "batch-1 p50" in (tmp_path / "package-onnx/model-card.md").read_text()


@pytest.mark.parametrize(
    ("task", "estimator"),
    [
        ("classification", "sklearn.ensemble.HistGradientBoostingClassifier"),
        ("regression", "sklearn.ensemble.HistGradientBoostingRegressor"),
        ("classification", "sklearn.ensemble.RandomForestClassifier"),
        ("classification", "sklearn.linear_model.LogisticRegression"),
    ],
)
def test_categorical_numeric_and_missing_values_convert_with_parity(tmp_path, task, estimator):
    params = {"max_iter": 30} if "HistGradient" in estimator else {}
    config = trained(
        make_project(tmp_path / "p", task=task, estimator=estimator, params=params), tmp_path, QUICK
    )
    result = package_onnx(config, workdir=tmp_path)
    assert result.passed, result.parity
    assert result.inputs == {
        "length": "tensor(double)",
        "weight": "tensor(double)",
        "colour": "tensor(string)",
        "site": "tensor(string)",
    }
    # a row with every kind of gap, predicted by both
    gaps = pd.DataFrame({"length": [np.nan], "weight": [2500.0], "colour": [None], "site": [""]})
    pipeline, x = sklearn_outputs(tmp_path, gaps)
    ours = OnnxModel(result.model_path).predict(gaps)
    if task == "classification":
        np.testing.assert_allclose(ours.probabilities, pipeline.predict_proba(x), atol=1e-4)
    else:
        np.testing.assert_allclose(ours.values, pipeline.predict(x), atol=1e-4)


def _altered(to_onnx, change):
    """to_onnx, then ``change`` one float initializer of the graph."""

    def convert(*args, **kwargs):
        proto = onnx.load_model_from_string(to_onnx(*args, **kwargs))
        init = next(
            i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.DOUBLE and i.dims
        )
        values = onnx.numpy_helper.to_array(init)
        init.CopyFrom(onnx.numpy_helper.from_array(change(values), init.name))
        return proto.SerializeToString()

    return convert


def test_an_altered_graph_fails_parity_and_lists_the_rows(tmp_path, monkeypatch, capsys):
    project = make_project(tmp_path / "p", estimator="sklearn.linear_model.LogisticRegression")
    config = trained(project, tmp_path, QUICK)
    # the first float64 initializer is the imputer's medians or the scaler's means: shift them
    monkeypatch.setattr(onnx_model, "to_onnx", _altered(onnx_model.to_onnx, lambda v: v + 3.0))
    result = package_onnx(config, workdir=tmp_path)
    assert not result.passed
    parity = result.parity
    assert parity["max_abs_diff"] > 1e-4 and parity["rows_differing"] > 0
    assert parity["listed_rows"] and {"row", "sklearn", "onnx", "max_abs_diff"} <= set(
        parity["listed_rows"][0]
    )
    assert result.failure is ParityFailed and ParityFailed.exit_code == 1
    summary = (tmp_path / "package-onnx/summary.md").read_text()
    assert "parity ❌" in summary and "| test row |" in summary

    code = cli.main(
        ["package-onnx", "--config", str(project), "--workdir", str(tmp_path), "--set", QUICK[0]]
    )
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert (
        "ONNX and scikit-learn disagree" in err and "package.parity.atol" in err and "\n" not in err
    )


def test_labels_that_disagree_fail_even_within_a_loose_tolerance(tmp_path, monkeypatch):
    project = make_project(tmp_path / "p", estimator="sklearn.linear_model.LogisticRegression")
    config = trained(project, tmp_path, [*QUICK, "package.parity.atol=1.0"])
    monkeypatch.setattr(onnx_model, "to_onnx", _altered(onnx_model.to_onnx, lambda v: v + 3.0))
    result = package_onnx(config, workdir=tmp_path)
    assert result.parity["label_agreement"] < 1.0 and not result.passed
    row = result.parity["listed_rows"][0]
    assert row["sklearn"] != row["onnx"]


def test_an_unconvertible_estimator_exits_2_naming_it(tmp_path, mlops):
    project = make_project(
        tmp_path / "p", task="regression", estimator="sklearn.kernel_ridge.KernelRidge"
    )
    trained(project, tmp_path / "work")
    run = mlops(
        "package-onnx", "--config", str(project), "--workdir", str(tmp_path / "work"), cwd=tmp_path
    )
    assert run.returncode == 2
    assert "KernelRidge" in run.stderr and "skl2onnx cannot convert" in run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_without_a_trained_model_exits_2_saying_what_to_run(tmp_path):
    config = load_config(make_project(tmp_path / "p"))
    with pytest.raises(
        ModelError, match=r"model\.joblib: trained model not found; run `mlops train` first"
    ):
        package_onnx(config, workdir=tmp_path / "empty")


def test_metadata_round_trips_through_inspect_json(example, tmp_path, mlops):
    project = example("penguins")
    workdir = tmp_path / "work"
    trained(project / "mlops.yaml", workdir, QUICK)
    gate = {
        "passed": True,
        "rules": [
            {
                "kind": "metric",
                "name": "accuracy",
                "rule": "min",
                "threshold": 0.9,
                "observed": 0.98,
                "passed": True,
                "status": "pass",
            }
        ],
        "slices": [
            {
                "column": "island",
                "metric": "accuracy",
                "max_gap": 0.1,
                "min_rows": 5,
                "gap": 0.02,
                "rows": [
                    {
                        "value": "Biscoe",
                        "rows": 30,
                        "gated": True,
                        "metrics": {"accuracy": 0.97},
                        "baseline": None,
                    }
                ],
            }
        ],
        "out_dir": "/somewhere/else",
    }
    (workdir / "evaluate-gate").mkdir()
    (workdir / "evaluate-gate/result.json").write_text(json.dumps(gate))
    run = mlops(
        "package-onnx",
        "--config",
        str(project / "mlops.yaml"),
        "--workdir",
        str(workdir),
        "--set",
        QUICK[0],
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr

    shown = mlops("inspect", str(workdir / "package-onnx/model.onnx"), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    meta = json.loads(shown.stdout)
    for name in ("lineage", "metrics", "params", "features"):
        assert meta[f"mlops.{name}"] == json.loads((workdir / f"train/{name}.json").read_text())
    assert meta["mlops.gate"] == {k: v for k, v in gate.items() if k != "out_dir"}

    text = mlops("inspect", str(workdir / "package-onnx/model.onnx"), cwd=tmp_path)
    assert (
        text.returncode == 0
        and "classification of `species`" in text.stdout
        and "mlops.drift_profile" in text.stdout
        and "proba_Gentoo on 56 held-out rows" in text.stdout  # data/test.csv
    )
    card = (workdir / "package-onnx/model-card.md").read_text()
    assert "## Gate: passed" in card and "accuracy by island" in card and "| Biscoe | 30 |" in card


def test_inspect_of_a_missing_file_exits_2(tmp_path, mlops):
    run = mlops("inspect", "nothing.onnx", "--json", cwd=tmp_path)
    assert run.returncode == 2 and "nothing.onnx: ONNX model file not found" in run.stderr


def test_repackaging_is_byte_identical_across_processes_and_hash_seeds(example, tmp_path, mlops):
    project = example("penguins")
    workdir = tmp_path / "work"
    trained(project / "mlops.yaml", workdir, QUICK)
    files = []
    for seed in ("1", "2"):
        run = mlops(
            "package-onnx",
            "--config",
            str(project / "mlops.yaml"),
            "--workdir",
            str(workdir),
            "--set",
            QUICK[0],
            cwd=tmp_path,
            env={"PYTHONHASHSEED": seed},
        )
        assert run.returncode == 0, run.stderr
        files.append((workdir / "package-onnx/model.onnx").read_bytes())
    assert files[0] == files[1]
    opsets = [(o.domain, o.version) for o in onnx.load_model_from_string(files[0]).opset_import]
    assert opsets == sorted(opsets) and len(opsets) == 2


def test_package_config_is_typed_and_checked(tmp_path):
    project = make_project(tmp_path / "p")
    config = load_config(project, ["package.opset=17", "package.parity.atol=0.001"])
    assert config.package.opset == 17 and config.package.parity.atol == 0.001
    assert (
        config.package.parity.min_label_agreement == 1.0 and config.package.measure_latency is True
    )
    with pytest.raises(ConfigError, match=r"package\.parity\.atol must be >= 0, got -1"):
        load_config(project, ["package.parity.atol=-1"])
    with pytest.raises(ConfigError, match=r"unknown key 'package.opst' \(did you mean 'opset'\?\)"):
        load_config(project, ["package.opst=17"])
