"""The pull request does not judge itself (issue 14, part 1): with ``--rules-from git:<base>``
the config committed on the base branch decides the verdict, and the pull request's changes
to it are listed as proposed, applied once merged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.errors import UsageError
from mlops_actions.registry.store import Registry
from mlops_actions.stages.evaluate_gate import evaluate_gate
from mlops_actions.stages.package_onnx import package_onnx
from support.gate import make_rows, trained, write_config

STRICT = {"metrics": {"accuracy": {"min": 0.99}}}
LAX = {"metrics": {"accuracy": {"min": 0.5}}}


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Data committed on main; each test commits its base config, then edits it as a PR would."""
    make_rows(300, 1).to_csv(tmp_path / "train.csv", index=False)
    make_rows(150, 2).to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / ".gitignore").write_text("w/\nregistry/\nempty/\nstrong/\n")
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def commit_base(repo: Path, **config) -> str:
    trained(repo, "w", **config)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return git(repo, "rev-parse", "HEAD")


def test_a_pull_request_that_lowers_min_is_judged_by_the_base_rules(repo):
    base = commit_base(repo, gate=STRICT)
    proposed = write_config(repo, LAX)  # the pull request's edit, in the working tree
    assert evaluate_gate(proposed, workdir=repo / "w").passed  # judging itself, it would pass
    result = evaluate_gate(proposed, workdir=repo / "w", rules_from=f"git:{base}")
    assert not result.passed
    assert result.judged_by["commit"] == base and result.judged_by["found"]
    assert result.judged_by["proposed"] == [
        {"key": "gate.metrics.accuracy.min", "base": 0.99, "proposed": 0.5}
    ]
    report = result.summary_markdown()
    assert "as on the base branch" in report and "applied once merged" in report
    assert "| <code>gate\\.metrics\\.accuracy\\.min</code> | 0\\.99 | 0\\.5 |" in report
    written = json.loads((repo / "w" / "evaluate-gate" / "result.json").read_text())
    assert written["judged_by"]["proposed"][0]["key"] == "gate.metrics.accuracy.min"


def test_a_pull_request_that_points_the_registry_at_an_empty_folder_is_compared_all_the_same(
    repo,
):
    """The base config's registry holds a stronger production model: the weak candidate fails
    against it, although the pull request's registry folder is empty (a first model there)."""
    registry = {"targets": {"models": {"type": "registry", "url": "registry"}}}
    gate = {"baseline": "registry:production", "metrics": {"accuracy": {"max_drop": 0.01}}}
    strong_config, strong = trained(repo, "strong", package={"measure_latency": False})
    packaged = package_onnx(strong_config, workdir=strong)
    store = Registry(repo / "registry")
    version, _ = store.register("toy", {"model.onnx": packaged.model_path}, {"sha256": "strong"})
    store.set_alias("toy", "production", version.version)
    base = commit_base(repo, gate=gate, deploy=registry, features=["x2"])  # a weak candidate
    elsewhere = {"targets": {"models": {"type": "registry", "url": "empty"}}}
    proposed = write_config(repo, gate, deploy=elsewhere, features=["x2"])
    alone = evaluate_gate(proposed, workdir=repo / "w")
    assert alone.passed and alone.baseline["reason"] == "empty registry"
    judged = evaluate_gate(proposed, workdir=repo / "w", rules_from=f"git:{base}")
    assert judged.baseline["kind"] == "registry" and not judged.passed
    keys = [row["key"] for row in judged.judged_by["proposed"]]
    assert keys == ["deploy.targets.models.url"]


def test_a_renamed_model_is_still_looked_up_under_the_base_name(repo):
    base = commit_base(repo, gate=STRICT)
    doc = write_config(repo, STRICT).raw
    (repo / "mlops.yaml").write_text(json.dumps({**doc, "name": "toy-renamed"}))
    result = evaluate_gate(
        load_config(repo / "mlops.yaml"), workdir=repo / "w", rules_from="git:main"
    )
    assert result.model == "toy"
    assert {"key": "name", "base": "toy", "proposed": "toy-renamed"} in result.judged_by["proposed"]
    assert git(repo, "rev-parse", "main") == base


def test_proposed_values_are_inert_markdown(repo):
    commit_base(repo, gate=STRICT)
    hostile = {**STRICT, "baseline": "<img src=x onerror=alert(1)> @octocat [x](http://evil)"}
    result = evaluate_gate(write_config(repo, hostile), workdir=repo / "w", rules_from="git:main")
    report = result.full_report
    assert "<img" not in report and "@octocat" not in report and "](http" not in report
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in report


def test_no_config_at_the_base_judges_by_the_pull_requests_own_rules_and_says_so(repo):
    (repo / "README.md").write_text("setting up\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "before the model")
    config, workdir = trained(repo, "w", gate=LAX)
    result = evaluate_gate(config, workdir=workdir, rules_from="git:main")
    assert result.passed and result.judged_by["found"] is False
    assert "does not exist at" in result.full_report and "own rules judged it" in result.full_report


def test_a_changed_task_cannot_be_judged_by_the_base_rules(repo):
    commit_base(repo, gate=STRICT)
    doc = write_config(repo, STRICT).raw
    regression = {**doc, "task": "regression", "gate": {"metrics": {"r2": {"min": 0.1}}}}
    (repo / "mlops.yaml").write_text(json.dumps(regression))
    with pytest.raises(UsageError, match="turns task 'classification' into 'regression'"):
        evaluate_gate(load_config(repo / "mlops.yaml"), workdir=repo / "w", rules_from="git:main")


def test_cli_flag_and_a_ref_that_is_not_there(repo, capsys):
    commit_base(repo, gate=STRICT)
    write_config(repo, LAX)
    common = ["evaluate-gate", "--config", str(repo / "mlops.yaml"), "--workdir", str(repo / "w")]
    assert main(common) == 0
    assert main([*common, "--rules-from", "git:main"]) == 1
    assert main([*common, "--rules-from", "git:no-such-branch"]) == 2
    assert "--rules-from git:no-such-branch: 'no-such-branch' is not a commit" in (
        capsys.readouterr().err
    )
    assert main([*common, "--rules-from", "main"]) == 2
    assert "expected git:REF" in capsys.readouterr().err
