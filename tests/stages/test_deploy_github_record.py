"""A GitHub Deployment is recorded after the alias moved: when GitHub refuses or fails that
call, the step still succeeds with its result.json, and the failure is a warning in it
(issue 14, part 8)."""

from __future__ import annotations

import json

import pytest

from mlops_actions.cli import main
from mlops_actions.registry.store import Registry
from support.models import make_model, write_config

SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"


@pytest.fixture
def project(tmp_path, monkeypatch, fake_github):  # after the fake clears runner variables
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": SHA,
        "GITHUB_RUN_ID": "7",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }.items():
        monkeypatch.setenv(name, value)
    config = write_config(tmp_path / "project")
    models = [make_model(tmp_path / f"v{seed}", seed=seed) for seed in (1, 2)]
    return config, models


def mlops(config, *args: str) -> int:
    return main(
        [args[0], "--config", str(config), "--workdir", str(config.parent / "w"), *args[1:]]
    )


def test_a_refused_deployment_record_is_a_warning_not_a_failed_step(project, fake_github, capsys):
    config, (v1, _) = project
    fake_github.forbid("repos/create-deployment")
    code = mlops(config, "deploy", "--target", "local", "--alias", "production", "--model", str(v1))
    assert code == 0
    result = json.loads((config.parent / "w" / "deploy" / "result.json").read_text())
    assert result["passed"] is True and result["deployment_id"] is None
    (warning,) = result["warnings"]
    assert "no deployment record" in warning and "deployments: write" in warning
    assert Registry(config.parent / "registry").alias("flowers", "production").version == 1
    assert any(line.startswith("::warning::") for line in capsys.readouterr().out.splitlines())


def test_a_status_that_cannot_be_set_keeps_the_deployment_id(project, fake_github):
    config, (v1, _) = project
    fake_github.forbid("repos/create-deployment-status")
    assert (
        mlops(config, "deploy", "--target", "local", "--alias", "staging", "--model", str(v1)) == 0
    )
    result = json.loads((config.parent / "w" / "deploy" / "result.json").read_text())
    (deployment,) = fake_github.deployments.values()
    assert result["deployment_id"] == deployment["id"]
    assert f"#{deployment['id']} was created, but its status was not set" in result["warnings"][0]


def test_a_rollback_whose_record_fails_still_writes_its_result(project, fake_github):
    config, (v1, v2) = project
    for model in (v1, v2):
        assert (
            mlops(
                config, "deploy", "--target", "local", "--alias", "staging", "--model", str(model)
            )
            == 0
        )
    fake_github.forbid("repos/create-deployment")
    assert mlops(config, "rollback", "--target", "local", "--alias", "staging") == 0
    result = json.loads((config.parent / "w" / "rollback" / "result.json").read_text())
    assert (result["to_version"], result["deployment_id"]) == (1, None)
    assert "no deployment record" in result["warnings"][0]
    summary = (config.parent / "w" / "rollback" / "summary.md").read_text()
    assert "⚠️" in summary
