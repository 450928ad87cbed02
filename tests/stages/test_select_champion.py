"""select-champion on real trained candidates of a toy project: the best wins on the same test
rows, ties break by model size then trial order, every other trial gets its paired interval,
failed trials are listed, and candidates from another setup are refused (exit 2).

Expected metrics come from scikit-learn on the saved pipelines, never from the stage's output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import accuracy_score

from mlops_actions.cli import main
from mlops_actions.config import load_config, with_overrides
from mlops_actions.features import features_from_json, model_frame
from mlops_actions.stages.select_champion import select_champion
from mlops_actions.stages.train import train
from support.gate import make_rows, write_config

GATE = {"metrics": {"accuracy": {"min": 0.5}}, "confidence": 0.95, "resamples": 500}
TRIALS = {
    "trial-01": {"model.params.C": 1.0},
    "trial-02": {"model.estimator": "sklearn.dummy.DummyClassifier"},
    "trial-03": {"model.params.C": 0.003},
    "trial-04": {"model.params.C": 5.0},
}


def train_trials(config, root: Path, trials: dict[str, dict]) -> list[Path]:
    """Each trial trained on its own workdir, its train folder moved to ``candidates/<name>``,
    as ml-tune.yml's download of the trial artifacts lays them out."""
    folders = []
    for name, overrides in trials.items():
        trial_config = with_overrides(config, [f"{k}={v}" for k, v in overrides.items()])
        train(trial_config, workdir=root / "runs" / name)
        folder = root / "candidates" / name
        folder.parent.mkdir(exist_ok=True)
        shutil.move(root / "runs" / name / "train", folder)
        folders.append(folder)
    return folders


def sklearn_accuracy(root: Path, folder: Path) -> float:
    pipeline = joblib.load(folder / "model.joblib")
    features = features_from_json(json.loads((folder / "features.json").read_text()))
    test = pd.read_csv(root / "test.csv")
    return accuracy_score(test["label"].astype(str), pipeline.predict(model_frame(test, features)))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Four trials of a logistic regression on noisy rows (one a constant guesser), trained once."""
    root = tmp_path_factory.mktemp("toy")
    make_rows(400, 1).to_csv(root / "train.csv", index=False)
    make_rows(200, 2).to_csv(root / "test.csv", index=False)
    config = write_config(root, GATE, tune={"trials": list(TRIALS.values())})
    return root, config, train_trials(config, root, TRIALS)


def rows_by_name(result) -> dict[str, dict]:
    return {t["name"]: t for t in result.trials}


def test_the_best_trial_wins_and_every_other_gets_its_interval_against_it(toy, tmp_path):
    root, config, folders = toy
    result = select_champion(config, candidates=folders, workdir=tmp_path / "w")
    accuracy = {f.name: sklearn_accuracy(root, f) for f in folders}
    best = max(accuracy, key=lambda name: (accuracy[name], [-ord(c) for c in name]))
    assert result.passed and result.champion == best and result.metric == "accuracy"
    trials = rows_by_name(result)
    assert {n: t["metrics"]["accuracy"] for n, t in trials.items()} == pytest.approx(accuracy)
    assert [t["name"] for t in result.trials][0] == best
    assert trials["trial-02"]["status"] == "worse"  # the constant guesser: whole interval < 0
    assert trials["trial-02"]["interval"]["high"] < 0
    near = trials["trial-01"]  # C=1 against C=5: a hair apart on 200 rows
    assert (
        near["status"] == "within noise"
        and near["interval"]["low"] <= 0 <= near["interval"]["high"]
    )
    assert trials["trial-01"]["overrides"] == {"model.params.C": 1.0}
    # the champion is where evaluate-gate and package-onnx look for the model
    installed = tmp_path / "w" / "train" / "model.joblib"
    assert installed.read_bytes() == (root / "candidates" / best / "model.joblib").read_bytes()
    saved = json.loads((tmp_path / "w" / "select-champion" / "result.json").read_text())
    assert saved["champion"] == best and len(saved["trials"]) == 4
    report = (tmp_path / "w" / "select-champion" / "report.md").read_text()
    html = (tmp_path / "w" / "select-champion" / "report.html").read_text()
    for name in TRIALS:
        assert name.replace("-", "\\-") in report and name in html


def test_the_choice_does_not_depend_on_the_order_given(toy, tmp_path):
    root, config, folders = toy
    one = select_champion(config, candidates=folders, workdir=tmp_path / "a")
    two = select_champion(config, candidates=folders[::-1], workdir=tmp_path / "b")
    keep = ("name", "status", "why", "metrics", "interval", "model_bytes")
    assert [{k: t[k] for k in keep} for t in one.trials] == [
        {k: t[k] for k in keep} for t in two.trials
    ]


def test_ties_go_to_the_smaller_model_then_to_the_earlier_trial(tmp_path):
    """Rows a margin apart: every trial is perfect on the test rows, so only the tie-break decides."""
    rng = np.random.default_rng(5)
    for name, rows in (("train.csv", 300), ("test.csv", 100)):
        x1 = rng.choice([-1, 1], rows) * rng.uniform(0.5, 2, rows)
        frame = pd.DataFrame({"x1": x1.round(4), "x2": rng.normal(size=rows).round(4)})
        frame["label"] = np.where(x1 > 0, "yes", "no")
        frame.to_csv(tmp_path / name, index=False)
    config = write_config(tmp_path, GATE)
    forest = {
        "model.estimator": "sklearn.ensemble.RandomForestClassifier",
        "model.params": "{}",
        "model.params.max_features": "null",
    }
    trials = {
        "trial-01": {**forest, "model.params.n_estimators": 40},
        "trial-02": {**forest, "model.params.n_estimators": 3},
        "trial-03": {"model.params.C": 1.0},
        "trial-04": {"model.params.C": 10.0},
    }
    folders = train_trials(config, tmp_path, trials)
    result = select_champion(config, candidates=folders, workdir=tmp_path / "w")
    rows = rows_by_name(result)
    assert {t["metrics"]["accuracy"] for t in result.trials} == {1.0}
    sizes = {f.name: (f / "model.joblib").stat().st_size for f in folders}
    expected = min(sizes, key=lambda name: (sizes[name], name))
    assert sizes["trial-01"] > sizes[expected]  # the earliest trial loses on size
    assert result.champion == expected
    assert [t["name"] for t in result.trials] == sorted(sizes, key=lambda n: (sizes[n], n))
    assert all(rows[n]["status"] == "tied" for n in sizes if n != expected)
    assert "tied with" in rows[expected]["why"]


def test_failed_trials_are_listed_and_left_out(toy, tmp_path, capsys):
    """trial-03 never uploaded (no folder); trial-04's training stopped before result.json."""
    root, config, folders = toy
    partial = tmp_path / "trial-04"
    shutil.copytree(folders[3], partial)
    (partial / "result.json").unlink()
    code = main(
        [
            "select-champion",
            "--config",
            str(config.path),
            "--workdir",
            str(tmp_path / "w"),
            "--candidates",
            str(folders[0]),
            str(folders[1]),
            str(partial),
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    saved = json.loads((tmp_path / "w" / "select-champion" / "result.json").read_text())
    failed = {t["name"]: t["why"] for t in saved["trials"] if t["status"] == "failed"}
    assert set(failed) == {"trial-03", "trial-04"}
    assert "uploaded nothing" in failed["trial-03"] and "no result.json" in failed["trial-04"]
    assert saved["champion"] == "trial-01"
    assert "2 trial(s) left out" in out.out and "trial-03" in out.out


def test_no_finished_trial_is_a_failed_check_with_the_report(toy, tmp_path, capsys):
    root, config, folders = toy
    code = main(["select-champion", "--config", str(config.path), "--workdir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "no trial produced a candidate (4 failed)" in err
    saved = json.loads((tmp_path / "select-champion" / "result.json").read_text())
    assert saved["champion"] is None and [t["status"] for t in saved["trials"]] == ["failed"] * 4


def other_setup(root: Path, tmp_path: Path, change: str) -> Path:
    """A candidate trained on this toy's config with one thing changed."""
    other = tmp_path / "other"
    other.mkdir()
    for name in ("train.csv", "test.csv"):
        shutil.copy(root / name, other / name)
    doc = yaml.safe_load((root / "mlops.yaml").read_text())
    if change == "data":
        make_rows(400, 9).to_csv(other / "train.csv", index=False)
    elif change == "target":
        doc["data"]["target"] = "group"
    elif change == "features":
        doc["data"]["features"] = ["x1", "x2"]
    elif change == "model":
        doc["name"] = "someone-else"
    (other / "mlops.yaml").write_text(yaml.safe_dump(doc))
    train(load_config(other / "mlops.yaml"), workdir=other / "w")
    return other / "w" / "train"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("none", "no candidates: pass --candidates"),
        ("missing folder", "no such folder"),
        ("same name twice", "two candidates are named 'trial-01'"),
        ("no lineage", "no lineage.json beside model.joblib"),
        ("data", "trained on a different train data"),
        ("target", "trained on a different target ('group'"),
        ("features", "trained on a different feature set"),
        ("model", "trained on a different model ('someone-else'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(toy, tmp_path, capsys, case, expected):
    root, config, folders = toy
    config_path = config.path
    candidates = [str(f) for f in folders]
    if case == "none":  # no candidates and no tune section to list what failed
        config_path = tmp_path / "mlops.yaml"
        doc = yaml.safe_load((root / "mlops.yaml").read_text())
        del doc["tune"]
        doc["data"] = {
            **doc["data"],
            "train": str(root / "train.csv"),
            "test": str(root / "test.csv"),
        }
        config_path.write_text(yaml.safe_dump(doc))
        candidates = []
    elif case == "missing folder":
        candidates.append(str(tmp_path / "nope"))
    elif case == "same name twice":
        twin = tmp_path / "trial-01"
        shutil.copytree(folders[0], twin)
        candidates.append(str(twin))
    elif case == "no lineage":
        broken = tmp_path / "trial-01"
        shutil.copytree(folders[0], broken)
        (broken / "lineage.json").unlink()
        candidates[0] = str(broken)
    else:
        candidates.append(str(other_setup(root, tmp_path, case)))
    code = main(
        ["select-champion", "--config", str(config_path), "--workdir", str(tmp_path / "w")]
        + (["--candidates", *candidates] if candidates else [])
    )
    err = capsys.readouterr().err
    assert code == 2 and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "w" / "train").exists()  # nothing installed as the champion
