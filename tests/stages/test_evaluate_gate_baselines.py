"""A baseline that was asked for but cannot be read is exit 2 with the reason, never a silent
"first model" (issue 14, part 1); the first model only when nothing was configured, ``none``
was said, or the registry holds no version of the model, and the report says which."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.registry.store import Registry
from mlops_actions.stages.evaluate_gate import evaluate_gate
from support.gate import make_rows, trained

REGISTRY = {"targets": {"models": {"type": "registry", "url": "registry"}}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    make_rows(300, 1).to_csv(tmp_path / "train.csv", index=False)
    make_rows(100, 2).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def gate_cli(project: Path, *args: str) -> int:
    return main(
        ["evaluate-gate", "--config", str(project / "mlops.yaml"), "--workdir", str(project / "w")]
        + list(args)
    )


def registry_with(project: Path, aliases: dict[str, int]) -> Registry:
    """Two versions of the toy model; the alias is never scored, so any bytes do for the file."""
    registry = Registry(project / "registry")
    model = project / "fake.onnx"
    model.write_bytes(b"not scored")
    for number in (1, 2):
        registry.register("toy", {"model.onnx": model}, {"sha256": f"sha-{number}"})
    for alias, version in aliases.items():
        registry.set_alias("toy", alias, version)
    return registry


def test_a_misspelt_alias_is_exit_2_naming_the_aliases_that_exist(project, capsys):
    trained(project, "w", deploy=REGISTRY)
    registry_with(project, {"production": 2, "staging": 1})
    assert gate_cli(project, "--baseline", "registry:prodution") == 2
    err = capsys.readouterr().err
    assert "no alias 'prodution'" in err and "did you mean 'production'" in err
    assert "aliases: production, staging" in err and "Traceback" not in err
    assert not (project / "w" / "evaluate-gate" / "result.json").exists()


def test_versions_without_the_alias_are_not_a_first_model(project, capsys):
    trained(project, "w", deploy=REGISTRY)
    registry_with(project, {"staging": 2})
    assert gate_cli(project, "--baseline", "registry:canary") == 2
    assert "2 version(s) of toy but no alias 'canary'" in capsys.readouterr().err


def test_a_registry_without_any_version_of_the_model_is_the_first_model_and_says_so(project):
    config, workdir = trained(project, "w", deploy=REGISTRY)
    Registry(project / "registry").register(
        "other-model", {"model.onnx": project / "train.csv"}, {"sha256": "x"}
    )
    result = evaluate_gate(config, workdir=workdir, baseline="registry:production")
    assert (result.baseline["kind"], result.baseline["reason"]) == ("none", "empty registry")
    assert result.passed
    report = result.full_report
    assert "holds no version of toy yet\\: first model" in report  # md-escaped


def test_first_model_reasons_are_told_apart(project):
    config, workdir = trained(project, "w")
    unset = evaluate_gate(config, workdir=workdir)
    said = evaluate_gate(config, workdir=workdir, baseline="none")
    assert unset.baseline["reason"] == "not configured"
    assert "no baseline configured" in unset.full_report
    assert said.baseline["reason"] == "none"
    assert "baseline\\: none\\: first model" in said.full_report
    written = json.loads((workdir / "evaluate-gate" / "result.json").read_text())
    assert written["baseline"]["reason"] == "none"


def test_an_unreachable_registry_is_exit_2_with_the_reason(project, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    closed = {
        "targets": {
            "models": {
                "type": "registry",
                "url": "s3://models/prefix",
                "storage_options": {
                    "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"},  # nothing listens
                    "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
                },
            }
        }
    }
    trained(project, "w", deploy=closed)
    assert gate_cli(project, "--baseline", "registry:production") == 2
    err = capsys.readouterr().err
    assert "cannot read the registry s3://models/prefix" in err and "127.0.0.1:9" in err
    assert "Traceback" not in err


def test_a_git_ref_without_the_metrics_file_is_exit_2(project, capsys):
    trained(project, "w")
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "train.csv"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "data only"], check=True)
    assert gate_cli(project, "--baseline", "git:main:nowhere/metrics.json") == 2
    err = capsys.readouterr().err
    assert "no nowhere/metrics.json committed at main" in err


def test_a_path_that_does_not_exist_is_exit_2(project, capsys):
    trained(project, "w")
    assert gate_cli(project, "--baseline", str(project / "missing" / "metrics.json")) == 2
    assert "no such file" in capsys.readouterr().err


def test_an_unreadable_baseline_file_is_exit_2(project, capsys):
    """A socket file exists but cannot be opened for reading, even by root."""
    trained(project, "w")
    path = project / "metrics.json"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        assert gate_cli(project, "--baseline", str(path)) == 2
    finally:
        server.close()
    err = capsys.readouterr().err
    assert "cannot read the baseline" in err and "Traceback" not in err
