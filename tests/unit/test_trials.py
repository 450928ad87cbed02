"""``mlops tune-matrix``: the trials of the config (or the workflow) as an Actions matrix."""

from __future__ import annotations

import json

import pytest
import yaml

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.errors import ConfigError
from mlops_actions.trials import Trial, matrix, plan_trials
from support import EXAMPLES


def write(tmp_path, tune=None, **extra):
    doc = {
        "name": "toy",
        "task": "classification",
        "data": {"train": "train.csv", "target": "label"},
        "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
        **extra,
    }
    if tune is not None:
        doc["tune"] = tune
    path = tmp_path / "mlops.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def tune_matrix(capsys, path, *extra):
    code = main(["tune-matrix", "--config", str(path), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_listed_trials_then_the_grid_in_order(tmp_path, capsys):
    path = write(
        tmp_path,
        {
            "trials": [{"model.params.C": 0.5, "model.params.solver": "saga"}],
            "grid": {"model.params.C": [1, 10], "model.params.fit_intercept": [True, False]},
        },
    )
    code, out, err = tune_matrix(capsys, path)
    assert code == 0, err
    assert out.count("\n") == 1  # one line: a GITHUB_OUTPUT value as it is
    assert json.loads(out) == {
        "include": [
            {"trial": "trial-01", "set": "model.params.C=0.5\nmodel.params.solver=saga"},
            {"trial": "trial-02", "set": "model.params.C=1\nmodel.params.fit_intercept=true"},
            {"trial": "trial-03", "set": "model.params.C=1\nmodel.params.fit_intercept=false"},
            {"trial": "trial-04", "set": "model.params.C=10\nmodel.params.fit_intercept=true"},
            {"trial": "trial-05", "set": "model.params.C=10\nmodel.params.fit_intercept=false"},
        ]
    }


@pytest.mark.parametrize(
    "value", [1e-05, 4, 0.1, "gini", "4", "yes", "a: b", None, True, [1, 2], {"a": 1}]
)
def test_each_value_reads_back_as_itself_through_set(tmp_path, value):
    path = write(tmp_path)
    (line,) = Trial("trial-01", {"model.params.x": value}).set_lines()
    assert load_config(path, [line]).model.params["x"] == value


def test_the_256_job_limit_is_exit_2_before_any_runner_starts(tmp_path, capsys):
    path = write(tmp_path, {"grid": {"model.params.C": list(range(1, 257))}})
    code, out, _ = tune_matrix(capsys, path)
    include = json.loads(out)["include"]
    assert code == 0 and len(include) == 256 and include[-1]["trial"] == "trial-256"
    assert include[0]["trial"] == "trial-001"  # names sort in trial order
    path = write(
        tmp_path,
        {"trials": [{"model.params.C": 0.5}], "grid": {"model.params.C": list(range(256))}},
    )
    code, out, err = tune_matrix(capsys, path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "mlops.yaml: tune gives 257 trials; a GitHub Actions matrix runs at most 256 jobs" in err


def test_trials_from_the_workflow_replace_the_config_and_are_checked(tmp_path, capsys):
    path = write(tmp_path, {"trials": [{"model.params.C": 0.5}]})
    code, out, _ = tune_matrix(capsys, path, "--trials", '[{"model.params.C": 3}]')
    assert code == 0 and json.loads(out)["include"] == [
        {"trial": "trial-01", "set": "model.params.C=3"}
    ]
    for bad, expected in [
        ("[{", "--trials: not JSON"),
        ('{"model.params.C": 3}', "--trials: expected a JSON list of non-empty objects"),
        ("[{}]", "--trials: expected a JSON list of non-empty objects"),
        ('[{"model.params.C": 1}, {"model.estimator": 3}]', "--trials: trial-02"),
    ]:
        code, _, err = tune_matrix(capsys, path, "--trials", bad)
        assert code == 2 and expected in err and err.count("\n") == 1, err


def test_a_wrong_trial_fails_the_plan_naming_it(tmp_path, capsys):
    path = write(tmp_path, {"trials": [{"model.params.C": 1}, {"data.split.test_size": "half"}]})
    code, _, err = tune_matrix(capsys, path)
    assert code == 2 and "mlops.yaml: tune: trial-02" in err and "test_size" in err, err


def test_no_trials_and_unknown_metric_are_config_errors(tmp_path, capsys):
    code, _, err = tune_matrix(capsys, write(tmp_path))
    assert code == 2 and "tune: no trials; add tune.trials" in err
    with pytest.raises(ConfigError, match=r"tune\.metric is not a classification metric"):
        load_config(write(tmp_path, {"trials": [{"model.params.C": 1}], "metric": "rmse"}))
    with pytest.raises(ConfigError, match="tune.grid"):
        load_config(write(tmp_path, {"grid": {"model.params.C": 3}}))


def test_in_actions_the_matrix_is_a_step_output(tmp_path, capsys, monkeypatch):
    output = tmp_path / "output"
    output.write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    code, out, _ = tune_matrix(capsys, EXAMPLES / "penguins" / "mlops.yaml")
    assert code == 0
    lines = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert lines == {"matrix": out.strip(), "trials": "4"}


def test_the_examples_plan_their_trials():
    for example in ("penguins", "diabetes"):
        config = load_config(EXAMPLES / example / "mlops.yaml")
        trials = plan_trials(config)
        assert len(matrix(trials)["include"]) == len(trials) >= 3
