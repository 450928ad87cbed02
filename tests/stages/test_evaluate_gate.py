"""evaluate-gate on small real data: rules, baselines of every kind, slices, significance, bad input.

Expected numbers come from scikit-learn or pandas computed here, never from the gate's output.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.errors import UsageError
from mlops_actions.features import features_from_json, features_to_json, model_frame
from mlops_actions.stages.evaluate_gate import evaluate_gate
from mlops_actions.stages.train import train
from support.gate import GATE, make_rows, trained, write_config


@pytest.fixture
def project(tmp_path: Path):
    make_rows(400, 1).to_csv(tmp_path / "train.csv", index=False)
    make_rows(200, 2).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def export_onnx(train_dir: Path, dest: Path, task: str = "classification") -> Path:
    """The model in ``train_dir`` as ONNX, carrying the metadata package-onnx writes."""
    from mlops_actions.model import to_onnx

    pipeline = joblib.load(train_dir / "model.joblib")
    features = features_from_json(json.loads((train_dir / "features.json").read_text()))
    metadata = {
        "params": json.loads((train_dir / "params.json").read_text()),
        "lineage": json.loads((train_dir / "lineage.json").read_text()),
        "features": features_to_json(features),
        "target": {
            "task": task,
            "classes": [str(c) for c in getattr(pipeline, "classes_", [])] or None,
        },
    }
    dest.write_bytes(to_onnx(pipeline, features, metadata=metadata))
    return dest


def sklearn_metrics(root: Path, train_dir: Path) -> dict[str, float]:
    """Metrics of a trained pipeline on test.csv, straight from scikit-learn."""
    pipeline = joblib.load(train_dir / "model.joblib")
    features = features_from_json(json.loads((train_dir / "features.json").read_text()))
    test = pd.read_csv(root / "test.csv")
    x = model_frame(test, features)
    y = test["label"].astype(str).to_numpy()
    pred, proba = pipeline.predict(x), pipeline.predict_proba(x)
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "f1_macro": skm.f1_score(y, pred, average="macro"),
        "roc_auc": skm.roc_auc_score(y == "yes", proba[:, list(pipeline.classes_).index("yes")]),
        "log_loss": skm.log_loss(y, proba, labels=pipeline.classes_),
    }


def rule(result, name: str, kind: str) -> dict:
    """The rule as result.json records it."""
    return dataclasses.asdict(next(r for r in result.rules if r.name == name and r.rule == kind))


def test_first_model_without_baseline_passes_on_absolute_rules_and_says_so(project):
    config, workdir = trained(project, "w")
    result = evaluate_gate(config, workdir=workdir)
    assert result.passed
    assert rule(result, "accuracy", "min")["status"] == "pass"
    assert rule(result, "accuracy", "max_drop")["status"] == "skipped"
    report = (workdir / "evaluate-gate" / "comment.md").read_text()
    assert "first model" in report and "skipped" in report
    written = json.loads((workdir / "evaluate-gate" / "result.json").read_text())
    assert written["passed"] is True and written["baseline"]["kind"] == "none"
    expected = sklearn_metrics(project, workdir / "train")
    candidate = json.loads((workdir / "evaluate-gate" / "metrics.json").read_text())
    assert candidate["accuracy"] == pytest.approx(expected["accuracy"])


def test_first_model_still_fails_an_absolute_rule(project):
    config, workdir = trained(project, "w", gate={"metrics": {"accuracy": {"min": 0.999}}})
    result = evaluate_gate(config, workdir=workdir)
    assert not result.passed
    assert "accuracy" in result.one_line()


def test_better_candidate_than_an_onnx_baseline_passes_scored_on_the_same_rows(project):
    _, weak = trained(project, "weak", features=["x2"], name="weak.yaml")
    config, strong = trained(project, "strong")
    onnx_path = export_onnx(weak / "train", project / "weak.onnx")
    result = evaluate_gate(config, workdir=strong, baseline=str(onnx_path))
    assert result.passed
    expected = sklearn_metrics(project, weak / "train")
    for name, value in expected.items():
        assert result.baseline["metrics"][name] == pytest.approx(value, abs=1e-5), name
    assert result.baseline["same_rows"] is True
    assert rule(result, "accuracy", "max_drop")["change"] < 0  # negative drop: it improved
    report = (strong / "evaluate-gate" / "comment.md").read_text()
    # no bar chart: mermaid draws bars up from the axis bottom, so the worst change could be the
    # shortest bar, and one large relative change flattened the rest (issue 14, part 7)
    assert "mermaid" not in report and "xychart" not in report
    assert "No params changed" in report  # same estimator and params, fewer features


def test_worse_candidate_fails_on_max_drop(project):
    _, strong = trained(project, "strong")
    config, weak = trained(project, "weak", features=["x2"], name="weak.yaml")
    result = evaluate_gate(config, workdir=weak, baseline=str(strong / "train" / "metrics.json"))
    expected_drop = (
        sklearn_metrics(project, strong / "train")["accuracy"]
        - sklearn_metrics(project, weak / "train")["accuracy"]
    )
    assert expected_drop > 0.02
    failed = rule(result, "accuracy", "max_drop")
    assert not result.passed and failed["status"] == "fail"
    assert failed["change"] == pytest.approx(expected_drop)
    assert "data they were measured on may differ" in result.baseline["note"]


def test_worse_candidate_fails_on_max_relative_drop(project):
    gate = {"metrics": {"f1_macro": {"max_relative_drop": 0.05}}}
    _, strong = trained(project, "strong", gate=gate)
    config, weak = trained(project, "weak", gate=gate, features=["x2"], name="weak.yaml")
    before = sklearn_metrics(project, strong / "train")["f1_macro"]
    after = sklearn_metrics(project, weak / "train")["f1_macro"]
    result = evaluate_gate(config, workdir=weak, baseline=str(strong / "train" / "result.json"))
    failed = rule(result, "f1_macro", "max_relative_drop")
    assert failed["status"] == "fail"
    assert failed["change"] == pytest.approx((before - after) / before)


def test_error_metric_is_better_lower_and_zero_baseline_never_divides(project, tmp_path):
    gate = {"metrics": {"log_loss": {"max_drop": 0.01, "max_relative_drop": 0.1}}}
    config, workdir = trained(project, "w", gate=gate)
    lower = tmp_path / "lower" / "metrics.json"
    lower.parent.mkdir()
    lower.write_text(json.dumps({"log_loss": 0.0, "accuracy": 1.0}))
    result = evaluate_gate(config, workdir=workdir, baseline=str(lower))
    assert rule(result, "log_loss", "max_drop")["status"] == "fail"  # log_loss went up: worse
    relative = rule(result, "log_loss", "max_relative_drop")
    assert relative["status"] == "fail" and relative["change"] is None
    higher = tmp_path / "higher.json"
    higher.write_text(json.dumps({"log_loss": 5.0}))
    assert evaluate_gate(config, workdir=workdir, baseline=str(higher)).passed


def test_missing_candidate_metric_fails(project, tmp_path):
    # a one-class test set leaves roc_auc undefined
    make_rows(200, 2).assign(label="yes").to_csv(project / "test.csv", index=False)
    config, workdir = trained(project, "w", gate={"metrics": {"roc_auc": {"min": 0.5}}})
    result = evaluate_gate(config, workdir=workdir)
    assert not result.passed
    assert rule(result, "roc_auc", "min")["note"] == "the candidate has no value for this metric"


def test_fairness_gap_between_slices_fails(tmp_path):
    make_rows(600, 1, flip_b=0.35).to_csv(tmp_path / "train.csv", index=False)
    test = make_rows(300, 2, flip_b=0.35)
    test.to_csv(tmp_path / "test.csv", index=False)
    gate = {
        "metrics": {},
        "slices": [{"column": "group", "metric": "accuracy", "max_gap": 0.1, "min_rows": 20}],
    }
    config, workdir = trained(tmp_path, "w", gate=gate)
    result = evaluate_gate(config, workdir=workdir)
    pipeline = joblib.load(workdir / "train" / "model.joblib")
    features = features_from_json(json.loads((workdir / "train" / "features.json").read_text()))
    correct = pipeline.predict(model_frame(test, features)) == test["label"].to_numpy()
    by_group = pd.Series(correct).groupby(test["group"]).mean()
    gap = by_group.max() - by_group.min()
    assert gap > 0.1
    fairness = rule(result, "accuracy by group", "max_gap")
    assert fairness["observed"] == pytest.approx(gap)
    assert fairness["status"] == "fail" and not result.passed
    table = result.slices[0]
    assert {row["value"]: row["rows"] for row in table["rows"]} == test[
        "group"
    ].value_counts().to_dict()


def test_small_slices_are_shown_but_not_gated(project):
    gate = {"slices": [{"column": "group", "metric": "accuracy", "max_gap": 0.0, "min_rows": 1000}]}
    config, workdir = trained(project, "w", gate=gate)
    result = evaluate_gate(config, workdir=workdir)
    assert result.passed and rule(result, "accuracy by group", "max_gap")["status"] == "skipped"


def test_identical_models_give_an_interval_around_zero(project):
    gate = {
        "confidence": 0.95,
        "resamples": 500,
        "metrics": {"accuracy": {"max_drop": 0.0, "block_on": "significant"}},
    }
    config, workdir = trained(project, "w", gate=gate)
    same = export_onnx(workdir / "train", project / "same.onnx")
    result = evaluate_gate(config, workdir=workdir, baseline=str(same))
    for name, interval in result.significance["intervals"].items():
        if (
            interval is not None and name != "log_loss"
        ):  # float32 ONNX probabilities: log_loss moves by ~1e-7
            assert interval["low"] <= 0 <= interval["high"], name
    assert result.passed


def test_a_drop_within_noise_does_not_block_with_block_on_significant(project):
    # baseline and candidate differ by training labels flipped on 40 rows: a few test rows change
    noisy = make_rows(400, 1)
    noisy.loc[:40, "label"] = np.where(noisy.loc[:40, "label"] == "yes", "no", "yes")
    noisy.to_csv(project / "train.csv", index=False)
    _, base = trained(project, "base")
    baseline = export_onnx(base / "train", project / "base.onnx")
    make_rows(400, 1).to_csv(project / "train.csv", index=False)
    gate = {
        "confidence": 0.95,
        "resamples": 500,
        "metrics": {"accuracy": {"max_drop": 0.0, "block_on": "significant"}},
    }
    config, workdir = trained(project, "cand", gate=gate)
    result = evaluate_gate(config, workdir=workdir, baseline=str(baseline))
    drop = rule(result, "accuracy", "max_drop")
    assert drop["change"] > 0, "the setup needs a small drop"
    interval = result.significance["intervals"]["accuracy"]
    assert interval["low"] < 0 <= interval["high"]
    assert drop["status"] == "not significant" and drop["passed"]
    strict = write_config(project, {"metrics": {"accuracy": {"max_drop": 0.0}}}, name="strict.yaml")
    assert not evaluate_gate(strict, workdir=workdir, baseline=str(baseline)).passed


SIGNIFICANT = {
    "confidence": 0.95,
    "resamples": 400,
    "metrics": {
        "accuracy": {"max_drop": 0.0, "block_on": "significant"},
        "log_loss": {"max_drop": 0.0, "block_on": "significant"},
    },
}


def test_a_significant_drop_blocks_with_block_on_significant(project):
    """Accuracy (higher is better) and log loss (lower is better) both clearly worse: both block."""
    _, strong = trained(project, "strong")
    baseline = export_onnx(strong / "train", project / "strong.onnx")
    config, weak = trained(project, "weak", gate=SIGNIFICANT, features=["x2"], name="weak.yaml")
    result = evaluate_gate(config, workdir=weak, baseline=str(baseline))
    intervals = result.significance["intervals"]
    assert intervals["accuracy"]["high"] < 0, "the setup needs a real accuracy drop"
    assert intervals["log_loss"]["low"] > 0, "the setup needs a real log-loss rise"
    for name in ("accuracy", "log_loss"):
        failed = rule(result, name, "max_drop")
        assert (failed["status"], failed["passed"]) == ("fail", False), name
        assert failed["interval"] == intervals[name]
    assert not result.passed
    assert result.one_line().startswith("Gate failed: accuracy worsened by")


def test_a_significant_improvement_never_blocks(project):
    """The mirror image: the weak model is the baseline, so every change is for the better."""
    _, weak = trained(project, "weak", features=["x2"], name="weak.yaml")
    baseline = export_onnx(weak / "train", project / "weak.onnx")
    config, strong = trained(project, "strong", gate=SIGNIFICANT)
    result = evaluate_gate(config, workdir=strong, baseline=str(baseline))
    assert result.significance["intervals"]["accuracy"]["low"] > 0
    assert result.significance["intervals"]["log_loss"]["high"] < 0
    assert [r.status for r in result.rules] == ["pass", "pass"] and result.passed


def regression_rows(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    y = 3 * x1 + x2 + 0.3 * rng.normal(size=rows)
    return pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "label": y.round(4)})


def test_a_significant_rmse_rise_blocks_with_block_on_significant(tmp_path):
    regression_rows(400, 1).to_csv(tmp_path / "train.csv", index=False)
    regression_rows(200, 2).to_csv(tmp_path / "test.csv", index=False)
    gate = {
        "confidence": 0.95,
        "resamples": 400,
        "metrics": {"rmse": {"max_relative_drop": 0.0, "block_on": "significant"}},
    }
    model = {"estimator": "sklearn.linear_model.LinearRegression"}
    _, strong = trained(tmp_path, "strong", gate=gate, task="regression", model=model)
    baseline = export_onnx(strong / "train", tmp_path / "strong.onnx", task="regression")
    config, weak = trained(
        tmp_path,
        "weak",
        gate=gate,
        features=["x2"],
        name="weak.yaml",
        task="regression",
        model=model,
    )
    result = evaluate_gate(config, workdir=weak, baseline=str(baseline))
    assert result.significance["intervals"]["rmse"]["low"] > 0, "the setup needs a real rise"
    failed = rule(result, "rmse", "max_relative_drop")
    assert (failed["status"], failed["passed"]) == ("fail", False)
    assert not result.passed


def test_block_on_significant_blocks_as_any_without_an_interval(project):
    """A metrics file was not scored on these rows: no interval, so a drop blocks as ``any``."""
    _, strong = trained(project, "strong")
    config, weak = trained(project, "weak", gate=SIGNIFICANT, features=["x2"], name="weak.yaml")
    result = evaluate_gate(config, workdir=weak, baseline=str(strong / "train" / "metrics.json"))
    assert result.significance is None
    for name in ("accuracy", "log_loss"):
        failed = rule(result, name, "max_drop")
        assert (failed["status"], failed["passed"]) == ("fail", False), name
        assert failed["note"] == "no confidence interval for this metric: blocks as block_on: any"
    assert not result.passed
    assert any("no confidence intervals" in note for note in result.notes)


def test_bootstrap_interval_matches_the_normal_approximation(project):
    """For accuracy the difference is a mean of per-row differences: its spread is known."""
    from mlops_actions.metrics import paired_bootstrap

    rng = np.random.default_rng(0)
    y = rng.choice(["a", "b"], 2000)
    ours = np.where(rng.random(2000) < 0.85, y, np.where(y == "a", "b", "a"))
    theirs = np.where(rng.random(2000) < 0.80, y, np.where(y == "a", "b", "a"))
    intervals = paired_bootstrap(
        "classification",
        y,
        (ours, None, None),
        (theirs, None, None),
        resamples=2000,
        confidence=0.95,
        seed=1,
    )
    per_row = (ours == y).astype(float) - (theirs == y)
    half = 1.96 * per_row.std() / np.sqrt(len(y))
    got = intervals["accuracy"]
    assert got["low"] == pytest.approx(per_row.mean() - half, abs=0.15 * half)
    assert got["high"] == pytest.approx(per_row.mean() + half, abs=0.15 * half)
    assert intervals["roc_auc"] is None  # no probabilities: undefined


def test_git_baseline_reads_metrics_committed_at_a_ref(project):
    _, strong = trained(project, "strong")
    config, weak = trained(project, "weak", features=["x2"], name="weak.yaml")
    (project / "committed").mkdir()
    for name in ("metrics.json", "params.json", "lineage.json"):
        (project / "committed" / name).write_bytes((strong / "train" / name).read_bytes())
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "committed"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "baseline"], check=True)
    result = evaluate_gate(config, workdir=weak, baseline="git:main:committed/metrics.json")
    assert result.baseline["kind"] == "git" and "may differ" in result.baseline["note"]
    assert result.baseline["params"]["config"] == {}
    assert not result.passed
    with pytest.raises(UsageError, match="no nowhere/metrics.json committed at main"):
        evaluate_gate(config, workdir=weak, baseline="git:main:nowhere/metrics.json")


def cli(project: Path, *args: str) -> int:
    return main(["evaluate-gate", "--config", str(project / "mlops.yaml"), *args])


def test_cli_exit_codes_and_flags(project, capsys):
    trained(project, "strong")
    trained(project, "weak", features=["x2"], name="weak.yaml")
    baseline = str(project / "strong" / "train" / "metrics.json")
    assert cli(project, "--workdir", str(project / "strong")) == 0
    assert cli(project, "--workdir", str(project / "weak"), "--baseline", baseline) == 1
    assert "accuracy worsened by" in capsys.readouterr().err
    assert (
        cli(project, "--workdir", str(project / "weak"), "--baseline", baseline, "--no-fail") == 0
    )
    model = str(project / "strong" / "train" / "model.joblib")
    assert (
        cli(project, "--workdir", str(project / "weak"), "--baseline", baseline, "--model", model)
        == 0
    )


def test_baseline_model_reading_columns_the_data_lacks_is_exit_2_naming_them(
    project, tmp_path, capsys
):
    other = tmp_path / "other"
    other.mkdir()
    make_rows(300, 3).assign(x3=1.5).to_csv(other / "train.csv", index=False)
    make_rows(100, 4).assign(x3=1.5).to_csv(other / "test.csv", index=False)
    _, wide = trained(other, "w")
    onnx_path = export_onnx(wide / "train", tmp_path / "wide.onnx")
    trained(project, "w")
    assert cli(project, "--workdir", str(project / "w"), "--baseline", str(onnx_path)) == 2
    err = capsys.readouterr().err
    assert "'x3'" in err and "Traceback" not in err


def test_metrics_of_another_task_is_exit_2(project, tmp_path, capsys):
    trained(project, "w")
    regression = tmp_path / "metrics.json"
    regression.write_text(json.dumps({"rmse": 3.2, "r2": 0.5}))
    assert cli(project, "--workdir", str(project / "w"), "--baseline", str(regression)) == 2
    assert "regression metrics" in capsys.readouterr().err


def test_corrupt_onnx_baseline_is_exit_2(project, tmp_path, capsys):
    trained(project, "w")
    corrupt = tmp_path / "broken.onnx"
    corrupt.write_bytes(b"\x08\x07not really a protobuf")
    assert cli(project, "--workdir", str(project / "w"), "--baseline", str(corrupt)) == 2
    err = capsys.readouterr().err
    assert "broken.onnx" in err and "Traceback" not in err


def test_no_candidate_model_is_a_usage_error(project, capsys):
    write_config(project)
    assert cli(project, "--workdir", str(project / "empty")) == 2
    assert "mlops train" in capsys.readouterr().err


def test_unknown_slice_metric_is_a_config_error(project):
    from mlops_actions.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"gate.slices.0.metric is not a classification metric.*'accuracy'"
    ):
        write_config(
            project, {"slices": [{"column": "group", "metric": "acuracy", "max_gap": 0.1}]}
        )


def test_model_size_budget(project):
    config, workdir = trained(
        project, "w", gate={"budgets": {"max_model_mb": 0.000001, "max_latency_ms": 100}}
    )
    result = evaluate_gate(config, workdir=workdir)
    size = rule(result, "model size (MB, model.joblib)", "max_model_mb")
    assert size["status"] == "fail"
    assert size["observed"] == pytest.approx(
        (workdir / "train" / "model.joblib").stat().st_size / 1e6
    )
    assert rule(result, "ONNX batch-1 latency (ms, p99)", "max_latency_ms")["status"] == "skipped"


def test_registry_baseline_is_the_version_at_the_alias_with_a_trend(project):
    from mlops_actions.files import sha256_file
    from mlops_actions.registry.store import Registry

    deploy = {"targets": {"local": {"type": "registry", "url": "registry"}}}
    gate = {"metrics": {"accuracy": {"max_drop": 0.02}, "roc_auc": {"min": 0.5}}}
    _, weak = trained(project, "weak", features=["x2"], name="weak.yaml")
    _, strong = trained(project, "strong", name="strong.yaml")
    registry = Registry(project / "registry")
    for number, source in enumerate((weak, strong, weak), start=1):
        onnx_path = export_onnx(source / "train", project / f"v{number}.onnx")
        metadata = {
            "sha256": sha256_file(onnx_path) + str(number),
            "metrics": {"accuracy": 0.5 + number / 10},
        }
        registry.register("toy", {"model.onnx": onnx_path}, metadata)
    registry.set_alias("toy", "production", 2)
    config = write_config(project, gate, deploy=deploy)
    train(config, workdir=project / "w")
    result = evaluate_gate(config, workdir=project / "w", baseline="registry:production")
    assert result.baseline["kind"] == "registry" and "version 2" in result.baseline["note"]
    expected = sklearn_metrics(project, strong / "train")
    assert result.baseline["metrics"]["accuracy"] == pytest.approx(expected["accuracy"])
    assert [v["version"] for v in result.baseline["history"]] == [1, 2, 3]
    assert result.baseline["history"][1]["aliases"] == ["production"]
    report = (project / "w" / "evaluate-gate" / "report.md").read_text()
    assert "Registry trend: last 3 versions" in report and "| 2 |" in report
    with pytest.raises(UsageError, match="no alias 'staging'"):
        evaluate_gate(config, workdir=project / "w", baseline="registry:local:staging")


def test_an_empty_protected_alias_compares_with_the_newest_version_and_says_so(project):
    """A first release waits for approval with version 1 at staging when the next push is
    gated: nothing is in production yet, but version 1 is evidence; an unprotected alias
    that nothing reached stays an error (above)."""
    from mlops_actions.registry.store import Registry

    deploy = {"targets": {"local": {"type": "registry", "url": "registry"}}}
    _, weak = trained(project, "weak", features=["x2"], name="weak.yaml")
    _, strong = trained(project, "strong", name="strong.yaml")
    registry = Registry(project / "registry")
    for number, source in enumerate((weak, strong), start=1):
        onnx_path = export_onnx(source / "train", project / f"v{number}.onnx")
        registry.register("toy", {"model.onnx": onnx_path}, {"sha256": f"sha-{number}"})
    registry.set_alias("toy", "staging", 1)
    config = write_config(project, deploy=deploy)
    train(config, workdir=project / "w")
    result = evaluate_gate(config, workdir=project / "w", baseline="registry:production")
    assert result.baseline["kind"] == "registry" and result.baseline["same_rows"]
    assert "nothing at 'production' yet: version 2" in result.baseline["note"]
    expected = sklearn_metrics(project, strong / "train")
    assert result.baseline["metrics"]["accuracy"] == pytest.approx(expected["accuracy"])
    report = (project / "w" / "evaluate-gate" / "report.md").read_text()
    assert "production" in report and "newest registered" in report


def test_validate_data_diff_is_included_when_that_stage_ran(project):
    from mlops_actions.files import atomic_write_json

    config, workdir = trained(project, "w")
    diff = {
        "baseline": "main",
        "files": [
            {
                "path": "train.csv",
                "status": "changed",
                "rows_before": 350,
                "rows_after": 400,
                "rows_added": 50,
                "rows_removed": 0,
                "columns_added": ["x3"],
                "columns_removed": [],
                "columns": [],
            }
        ],
    }
    atomic_write_json(
        workdir / "validate-data" / "result.json", {"stage": "validate-data", "diff": diff}
    )
    report = evaluate_gate(config, workdir=workdir).full_report
    assert (
        "Data diff against <code>main</code>" in report
        and "| <code>train\\.csv</code> | changed | 350 | 400 | 50 |" in report
    )


def test_budgets_read_the_packaged_onnx_once_there(project):
    from mlops_actions.stages.package_onnx import package_onnx

    config, workdir = trained(
        project, "w", gate={"budgets": {"max_model_mb": 50, "max_latency_ms": 60_000}}
    )
    packaged = package_onnx(config, workdir=workdir)
    result = evaluate_gate(config, workdir=workdir)
    size = rule(result, "model size (MB, model.onnx)", "max_model_mb")
    assert (
        size["observed"] == pytest.approx(packaged.model_path.stat().st_size / 1e6)
        and size["passed"]
    )
    latency = rule(result, "ONNX batch-1 latency (ms, p99)", "max_latency_ms")
    assert latency["observed"] == pytest.approx(packaged.latency["batch1"]["onnx"]["p99_us"] / 1000)
    assert latency["status"] == "pass"


def test_gate_baseline_path_in_config_is_relative_to_the_config_file(
    project, monkeypatch, tmp_path
):
    trained(project, "strong")
    gate = {**GATE, "baseline": "strong/train/metrics.json"}
    config, weak = trained(project, "weak", gate=gate, features=["x2"], name="weak.yaml")
    monkeypatch.chdir(tmp_path)
    result = evaluate_gate(config, workdir=weak)
    assert result.baseline["kind"] == "file" and not result.passed
    assert evaluate_gate(config, workdir=weak, baseline="none").baseline["kind"] == "none"


def test_regression_example_against_its_own_onnx_with_intervals(example):
    """diabetes: error metrics are better lower; the ONNX baseline's numbers match scikit-learn's."""
    from mlops_actions.data import load_splits

    root = example("diabetes")
    config = load_config(root / "mlops.yaml", ["gate.confidence=0.9", "gate.resamples=200"])
    workdir = root / ".mlops"
    train(config, workdir=workdir)
    onnx_path = export_onnx(workdir / "train", root / "prod.onnx", task="regression")
    result = evaluate_gate(config, workdir=workdir, baseline=str(onnx_path))
    test = load_splits(config).test
    pipeline = joblib.load(workdir / "train" / "model.joblib")
    features = features_from_json(json.loads((workdir / "train" / "features.json").read_text()))
    predicted = pipeline.predict(model_frame(test, features))
    rmse = np.sqrt(skm.mean_squared_error(test["progression"], predicted))
    assert result.candidate["metrics"]["rmse"] == pytest.approx(rmse)
    assert result.baseline["metrics"]["rmse"] == pytest.approx(rmse, rel=1e-5)  # float32 ONNX
    assert result.passed and result.confusion is None
    interval = result.significance["intervals"]["rmse"]
    assert interval["low"] <= 0 <= interval["high"] and interval["high"] - interval["low"] < 0.01
