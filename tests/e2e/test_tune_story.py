"""Tuning as a user lives it (issue 15 part 4): someone runs workflows/ml-tune.yml by hand on
the penguins example, verbatim; each trial of its ``tune.grid`` trains on its own runner, the
candidates travel as artifacts, and the final job picks the champion on the same test rows,
gates it against production and packages it.
"""

from __future__ import annotations

import io
import json

import joblib
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from e2e.test_stories import action_outputs, only, project  # noqa: F401  (project: a fixture)
from mlops_actions.features import features_from_json, model_frame

TRIALS = ["trial-01", "trial-02", "trial-03", "trial-04"]  # examples/penguins: a 2 × 2 grid


def expected_champion(sim, run, names: list[str]) -> str:
    """Best accuracy on the example's test rows, then the smaller model file, then the name:
    worked out here with scikit-learn from each trial's artifact."""
    test = pd.read_csv(sim.repo.work / "data" / "test.csv")
    ranks = {}
    for name in names:
        files = run.artifacts[name].files()
        pipeline = joblib.load(io.BytesIO(files["model.joblib"]))
        features = features_from_json(json.loads(files["features.json"]))
        accuracy = accuracy_score(test["species"], pipeline.predict(model_frame(test, features)))
        ranks[name] = (-accuracy, len(files["model.joblib"]), name)
    return min(ranks, key=ranks.__getitem__)


@pytest.mark.slow
def test_a_dispatch_trains_each_trial_on_its_own_runner_and_picks_the_champion(project):  # noqa: F811
    sim = project("penguins")
    run = sim.dispatch_workflow("ml-tune.yml")
    assert run.conclusion == "success", run.log()
    legs = run.job("trial").legs
    assert [leg.matrix["trial"] for leg in legs] == TRIALS  # the matrix came from the plan job
    assert [leg.status for leg in legs] == ["success"] * 4
    assert legs[1].matrix["set"] == "model.params.max_depth=3\nmodel.params.n_estimators=200"
    assert len({leg.machine for leg in legs}) == 4  # each trial on a fresh machine
    assert all(leg.permissions == {"contents": "read", "metadata": "read"} for leg in legs)

    champion = action_outputs(run, "champion", "select-champion")["champion"]
    assert champion == expected_champion(sim, run, TRIALS)
    assert run.job("champion").outputs["champion"] == champion
    outputs = run.artifacts["mlops-outputs"].files()
    selection = json.loads(outputs["select-champion/result.json"])
    assert [t["name"] for t in selection["trials"]][0] == champion
    assert sorted(t["name"] for t in selection["trials"]) == TRIALS
    # the champion is what was gated and packaged
    assert outputs["train/model.joblib"] == run.artifacts[champion].files()["model.joblib"]
    assert json.loads(outputs["evaluate-gate/result.json"])["passed"] is True
    assert "package-onnx/model.onnx" in outputs
    summary = run.job("champion").run.summary
    assert f"Champion: {champion.replace('-', chr(92) + '-')}" in summary
    assert all(name.replace("-", "\\-") in summary for name in TRIALS)


@pytest.mark.slow
def test_a_trial_that_fails_to_train_is_listed_and_the_others_still_compete(project):  # noqa: F811
    sim = project("penguins")
    config = sim.repo.work / "mlops.yaml"
    text = config.read_text()
    assert "    model.params.max_depth: [3, 8]\n" in text
    sim.repo.write("mlops.yaml", text.replace("max_depth: [3, 8]", "max_depth: [3, -1]"))
    sim.repo.commit("tune: try a negative depth [skip ci]")
    assert sim.push("main") == []
    run = sim.dispatch_workflow("ml-tune.yml")
    legs = run.job("trial").legs
    assert [leg.status for leg in legs] == ["success", "success", "failure", "failure"]
    assert run.job("champion").state == "success", run.log()
    assert run.conclusion == "failure"  # as on GitHub: a failed matrix job fails the run
    assert set(run.artifacts) >= {"trial-01", "trial-02", "mlops-outputs"}
    assert not {"trial-03", "trial-04"} & set(run.artifacts)
    selection = json.loads(run.artifacts["mlops-outputs"].files()["select-champion/result.json"])
    failed = {t["name"]: t["why"] for t in selection["trials"] if t["status"] == "failed"}
    assert set(failed) == {"trial-03", "trial-04"} and "uploaded nothing" in failed["trial-03"]
    assert selection["champion"] == expected_champion(sim, run, ["trial-01", "trial-02"])
