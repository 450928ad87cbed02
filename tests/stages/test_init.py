"""mlops init (issue 17 part 1): a working project from a data file it has never seen, every
choice explained, nothing overwritten without --force, bad input a one-line exit 2."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.stages.init import init
from mlops_actions.stages.train import train
from support import REPO


def cancer(folder: Path) -> Path:
    """scikit-learn's breast-cancer data with an id, a constant and a leaky column added."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "patient_id", range(1000, 1000 + len(frame)))
    frame["clinic"] = "north"
    frame["diagnosis_code"] = frame["target"].map({0: "M", 1: "B"})
    path = folder / "data" / "cancer.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_a_classification_project_with_every_choice_explained(tmp_path):
    project = git_repo(tmp_path / "repo")
    cancer(project)
    result = init(data="data/cancer.csv", target="target", project=project)

    assert (result.task, result.name) == ("classification", "repo")
    reasons = {d["column"]: d["reason"] for d in result.dropped}
    assert reasons["patient_id"].startswith("an identifier")
    assert reasons["clinic"].startswith("constant")
    assert reasons["diagnosis_code"].startswith("leaky")
    assert set(reasons) == {"patient_id", "clinic", "diagnosis_code"}  # the 30 measurements stay

    text = (project / "mlops.yaml").read_text()
    assert "# an identifier" in text and "# leaky" in text and "5-fold cross-validation" in text
    config = load_config(project / "mlops.yaml")
    assert list(config.data.drop) == ["patient_id", "clinic", "diagnosis_code"]
    accuracy = result.cross_validation["accuracy"]
    rule = config.gate.metrics["accuracy"]
    assert rule.min <= accuracy["mean"] - 2 * accuracy["std"] < rule.min + 0.01
    assert config.deploy.targets["models"].url == "github://"

    # the config trains and its first model passes its own gate rules
    trained = train(config, workdir=project / ".mlops")
    assert trained.metrics["accuracy"] >= rule.min

    workflows = sorted(p.name for p in (project / ".github" / "workflows").iterdir())
    assert workflows == [
        f"ml-{n}.yml"
        for n in (
            "drift-check",
            "pr-report",
            "pull-request",
            "release",
            "retrain",
            "rollback",
            "tune",
        )
    ]
    for name in workflows:  # at the repository root the templates are the published ones
        assert (project / ".github/workflows" / name).read_text() == (
            REPO / "workflows" / name
        ).read_text()
    assert (project / ".gitignore").read_text() == ".mlops/\n"


def test_a_regression_project_in_a_subfolder_gets_its_paths(tmp_path):
    from sklearn.datasets import load_diabetes

    top = git_repo(tmp_path / "repo")
    project = top / "models" / "progression"
    (project / "data").mkdir(parents=True)
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(project / "data/d.csv", index=False)
    (top / ".gitignore").write_text("*.pyc")
    result = init(data="data/d.csv", target="target", project=project)

    assert result.task == "regression" and "distinct numbers" in result.task_reason
    rules = load_config(project / "mlops.yaml").gate.metrics
    rmse = result.cross_validation["rmse"]
    assert rules["rmse"].max >= rmse["mean"] + 2 * rmse["std"] and rules["r2"].min > 0
    release = yaml.safe_load((top / ".github/workflows/ml-release.yml").read_text())
    paths = release[True]["push"]["paths"]
    assert "models/progression/mlops.yaml" in paths and ".github/workflows/ml-*.yml" in paths
    steps = release["jobs"]["build"]["steps"]
    assert {
        s["with"]["working-directory"] for s in steps if "working-directory" in s.get("with", {})
    } == {"models/progression"}
    upload = next(s for s in steps if s["uses"].startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "models/progression/.mlops"
    assert (top / ".gitignore").read_text() == "*.pyc\nmodels/progression/.mlops/\n"


def test_nothing_is_replaced_without_force_and_nothing_is_written_on_refusal(tmp_path, capsys):
    project = git_repo(tmp_path / "repo")
    cancer(project)
    (project / "schema.yaml").write_text("# mine\n")
    argv = ["init", "--data", str(project / "data/cancer.csv"), "--target", "target"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "schema.yaml: already there; give --force to replace" in err
        assert len(err.strip().splitlines()) == 1
        assert (project / "schema.yaml").read_text() == "# mine\n"
        assert not (project / "mlops.yaml").exists() and not (project / ".github").exists()
        assert main([*argv, "--force"]) == 0
    assert (project / "schema.yaml").read_text().startswith("# Data contract inferred")


@pytest.mark.parametrize(
    ("data", "argv", "message"),
    [
        ("a,b\n1,2\n3,4\n", ["--target", "c"], "--target c: data/x.csv has no such column"),
        ("ab,b\n1,2\n3,4\n", ["--target", "abb"], "did you mean 'ab'"),
        ("a,b\n1,2\n3,2\n", ["--target", "b"], "target 'b' has fewer than two values"),
        ("a,b\n", ["--target", "b"], "no data rows"),
        ("a,b\n1,2\n3,4\n", ["--target", "b", "--task", "ranking"], "invalid choice: 'ranking'"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, capsys, data, argv, message):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/x.csv").write_text(data)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) if "--task" in argv else contextlib.nullcontext():
        code = main(["init", "--data", "data/x.csv", *argv])
        assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "mlops.yaml").exists()


def test_data_outside_the_project_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "elsewhere.csv").write_text("a,b\n1,2\n")
    (tmp_path / "p").mkdir()
    monkeypatch.chdir(tmp_path / "p")
    assert main(["init", "--data", "../elsewhere.csv", "--target", "b"]) == 2
    assert "must be inside the project folder" in capsys.readouterr().err


def test_data_no_path_filter_covers_joins_the_filters(tmp_path):
    """A pull request that changes only the training data must start the workflows."""
    project = git_repo(tmp_path / "repo")
    path = cancer(project)
    path.rename(project / "train.csv")
    init(data="train.csv", target="target", project=project)
    for name in ("ml-pull-request.yml", "ml-release.yml"):
        doc = yaml.safe_load((project / ".github/workflows" / name).read_text())
        trigger = doc[True]["pull_request" if "pull" in name else "push"]
        assert "train.csv" in trigger["paths"] and "data/**" in trigger["paths"]
