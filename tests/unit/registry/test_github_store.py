"""The registry on the repository itself (``github://``) against the fake GitHub on 127.0.0.1.

The registry's own behaviour (numbers, aliases, rollback, the audit log, racing processes) is
tested on every store in test_registry.py, ``github`` included; here is what only this store
has: a branch and releases as storage, answers lost after a write landed, assets that must
match their sha256, a read-only token, and every consumer through the real CLI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from mlops_actions.errors import GitHubError
from mlops_actions.registry import store as store_module
from mlops_actions.registry.store import Registry, actor
from support import SRC


def _register(registry: Registry, tmp_path: Path, content: bytes):
    folder = tmp_path / content.decode()
    folder.mkdir()
    (folder / "model.onnx").write_bytes(content)
    (folder / "model-card.md").write_text(f"# {content.decode()}\n")
    files = {"model.onnx": folder / "model.onnx", "model-card.md": folder / "model-card.md"}
    return registry.register("iris", files, {"sha256": content.decode()})[0]


def _branch_log(fake) -> list[str]:
    """Commit messages of the registry branch, newest first."""
    messages, sha = [], fake.git.branch("mlops-registry")
    while sha:
        commit = fake.git.commits[sha]
        messages.append(commit.message)
        sha = commit.parents[0] if commit.parents else None
    return messages


def test_the_registry_is_a_branch_of_its_own_and_one_release_per_version(fake_github, tmp_path):
    registry = Registry("github://")
    assert registry.url == f"github://{fake_github.repository}"  # github:// is this repository
    one = _register(registry, tmp_path, b"one")
    registry.set_alias("iris", "production", one.version)

    git = fake_github.git
    log = _branch_log(fake_github)
    assert log[-1] == "registry: start the model registry of this repository"
    assert log[:3] == [
        "iris: production -> v1",
        f"iris: promote production v1 by {actor()}",  # the audit trail, readable in git log
        "iris: v1 complete",
    ]
    assert not git.is_ancestor(git.branch("main"), git.branch("mlops-registry"))
    files = {path for path, _ in git.walk(git.commits[git.branch("mlops-registry")].tree)}
    assert not any(p.startswith(".github") for p in files)  # so no workflow runs on its pushes

    (release,) = fake_github.releases.values()
    assert (release["tag_name"], release["prerelease"]) == ("iris@v1", True)
    assets = {a["label"]: a for a in fake_github.assets.values()}
    assert sorted(assets) == ["model-card.md", "model.onnx"]
    model = assets["model.onnx"]
    assert model["name"] == f"{model['digest'].removeprefix('sha256:')}-model.onnx"
    assert registry.read_file(one, "model.onnx") == b"one"
    assert registry.versions("iris")[0].location.endswith("/tree/mlops-registry/iris/1")


def test_a_write_whose_answer_was_lost_lands_once(fake_github, tmp_path):
    """GitHub applied the write, then the answer was a 502: the client's retry is refused (409
    stale sha, 422 exists) and the store recognises its own bytes instead of writing again."""
    handler = fake_github._handlers["repos/create-or-update-file-contents"]
    lost: list[tuple[str, bool]] = []

    def answer_lost(call):
        status, body, headers = handler(call)
        write = (call.params["path"], "sha" in call.body)  # a create, or a replace
        wanted = write[0].endswith((".claim", "aliases/production.json"))
        if status < 300 and wanted and write not in lost:
            lost.append(write)
            return 502, {"message": "Server Error"}, {}
        return status, body, headers

    fake_github._handlers["repos/create-or-update-file-contents"] = answer_lost
    registry = Registry("github://")
    one = _register(registry, tmp_path, b"one")
    registry.set_alias("iris", "production", one.version)  # created: 502, retried: 422
    two = _register(registry, tmp_path, b"two")
    registry.set_alias("iris", "production", two.version)  # replaced: 502, retried: 409
    assert [path for path, _ in lost] == [
        "iris/1/.claim",
        "iris/aliases/production.json",
        "iris/2/.claim",
        "iris/aliases/production.json",
    ]
    assert (one.version, two.version) == (1, 2)  # no number skipped for a lost claim answer
    alias = registry.alias("iris", "production")
    assert (alias.version, alias.history) == (2, (1,))
    moves = [(e["from_version"], e["to_version"]) for e in registry.history("iris") if "alias" in e]
    assert moves == [(None, 1), (1, 2)]  # each move once
    refused = [e.status for e in fake_github.exchanges if e.status in (409, 422)]
    assert sorted(refused) == [409, 422, 422, 422]


def test_a_dead_deploys_files_and_assets_go_once_its_claim_is_stale(
    fake_github, tmp_path, monkeypatch
):
    registry = Registry("github://")
    _register(registry, tmp_path, b"one")
    died = tmp_path / "died.onnx"
    died.write_bytes(b"copied, never completed")
    number = registry._claim("iris", 1)  # as a deploy killed after copying its model
    registry._store.copy_in(died, f"iris/{number}/model.onnx")
    assert registry._store.list("iris/2") == [".claim", "model.onnx"]
    assert len(fake_github.assets) == 3

    monkeypatch.setattr(store_module, "STALE_AFTER_S", 0.0)
    three = _register(registry, tmp_path, b"three")
    assert three.version == 3  # number 2 stays claimed
    assert registry._store.list("iris/2") == [".claim"]
    assert sorted(a["label"] for a in fake_github.assets.values()) == [
        "model-card.md",
        "model-card.md",
        "model.onnx",
        "model.onnx",
    ]  # versions 1 and 3; the dead deploy's asset is deleted with its pointer


def test_a_replaced_asset_is_refused(fake_github, tmp_path):
    registry = Registry("github://")
    one = _register(registry, tmp_path, b"one")
    (asset_id,) = [i for i, a in fake_github.assets.items() if a["label"] == "model.onnx"]
    fake_github.asset_data[asset_id] = b"tampered"
    with pytest.raises(GitHubError, match="downloaded with sha256 .*the asset was replaced"):
        registry.read_file(one, "model.onnx")


def test_an_unchanged_alias_is_read_without_spending_the_rate_limit(fake_github, tmp_path):
    """``mlops serve`` polls the alias: GitHub answers an unchanged file 304, which is free."""
    registry = Registry("github://")
    registry.set_alias("iris", "production", _register(registry, tmp_path, b"one").version)
    registry.alias("iris", "production")  # read once since it changed
    before = len(fake_github.exchanges)
    for _ in range(5):
        assert registry.alias("iris", "production").version == 1
    polls = fake_github.exchanges[before:]
    assert [e.status for e in polls] == [304] * 5


def _env(fake, contents: str) -> dict[str, str]:
    """What a job's step sees, its token carrying ``permissions: {contents: <contents>}``."""
    return {
        "GITHUB_API_URL": fake.url,
        "GITHUB_TOKEN": fake.issue_token({"contents": contents}),
        "GITHUB_REPOSITORY": fake.repository,
    }


def test_a_read_only_token_reads_and_a_deploy_with_it_names_the_permission(
    fake_github, tmp_path, example, mlops, monkeypatch
):
    project = example("penguins")
    env = _env(fake_github, "read")
    monkeypatch.setenv("GITHUB_TOKEN", env["GITHUB_TOKEN"])
    url = ["--set", "deploy.targets.models.url=github://"]
    listed = mlops("registry", "list", "--target", "models", *url, cwd=project, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "No versions yet" in listed.stdout  # no branch yet: an empty registry, not an error
    registry = Registry("github://")
    assert registry.alias("penguins-species", "production") is None
    with pytest.raises(GitHubError, match="lacks contents: write"):
        _register(registry, tmp_path, b"one")


def test_an_empty_repository_is_one_line_that_says_what_to_do(fake_github, tmp_path):
    from support.fakegithub.git import Repository

    fake_github.git = Repository()
    registry = Registry("github://")
    assert registry.versions("iris") == []
    with pytest.raises(GitHubError, match="the repository is empty; push a first commit"):
        _register(registry, tmp_path, b"one")


# -- every consumer, through the CLI as a user runs it ---------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _served_version(url: str, row: dict) -> str | None:
    try:
        answer = requests.post(f"{url}/predict", json=[row], timeout=5)
    except requests.ConnectionError:
        return None
    return answer.json()["model_version"] if answer.status_code == 200 else None


@pytest.mark.slow
def test_every_consumer_works_on_the_repository_registry(fake_github, tmp_path, example, mlops):
    """Gate, deploy, registry list/show, drift-check, serve and rollback with ``url: github://``:
    reads with a token that can only read, writes with ``contents: write``."""
    project = example("penguins")
    reader, writer = _env(fake_github, "read"), _env(fake_github, "write")
    github = ["--set", "deploy.targets.models.url=github://"]

    def run(*args: str, workdir: str = ".mlops", expect: int = 0, env=reader) -> str:
        done = mlops(*args, "--workdir", workdir, *github, cwd=project, env=env)
        assert done.returncode == expect, f"mlops {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def result(stage: str, workdir: str = ".mlops") -> dict:
        return json.loads((project / workdir / stage / "result.json").read_text())

    # two candidates; each gate reads the registry's production model with a read-only token
    for workdir, seed in ((".mlops", 7), ("second", 11)):
        run("train", "--set", f"model.params.random_state={seed}", workdir=workdir)
        run("evaluate-gate", workdir=workdir)
        run("package-onnx", workdir=workdir)
        for alias in ("staging", "production"):
            run("deploy", "--target", "models", "--alias", alias, workdir=workdir, env=writer)
    assert result("evaluate-gate")["baseline"]["kind"] == "none"  # nothing in production yet
    gate = result("evaluate-gate", "second")["baseline"]
    assert gate["kind"] == "registry" and "version 1 of github://octo-org/models" in gate["note"]
    assert result("deploy", "second")["version"] == 2

    listed = run("registry", "list", "--target", "models")
    assert "| 2 | production, staging |" in listed and "| 1 |" in listed
    shown = run("registry", "show", "production", "--target", "models")
    assert "### Version 2 (production, staging)" in shown and "| promote | production |" in shown

    run(
        "drift-check",
        "--reference",
        "registry:production",
        "--current",
        "data/test.csv",
        "--no-alert",
    )
    drift = result("drift-check")
    assert drift["reference"]["kind"] == "model"
    assert drift["reference"]["source"].startswith("registry:production (version 2 of github://")
    assert drift["predictions"]["columns"]  # the production model watched the current rows

    port = _free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlops_actions",
            "serve",
            "--target",
            "models",
            *github,
            "--workdir",
            str(tmp_path / "serve"),
            "--port",
            str(port),
            "--poll",
            "0.2",
        ],
        cwd=project,
        env={**os.environ, **reader, "PYTHONPATH": str(SRC)},
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        first = pd.read_csv(project / "data/test.csv").drop(columns=["species"]).iloc[0]
        row = {k: (None if pd.isna(v) else v) for k, v in first.to_dict().items()}
        deadline = time.monotonic() + 120
        while (version := _served_version(url, row)) is None:
            assert serve.poll() is None, serve.stderr.read().decode()
            assert time.monotonic() < deadline, "mlops serve did not come up"
            time.sleep(0.2)
        assert version == "2"

        rolled = run("rollback", "--target", "models", "--alias", "production", env=writer)
        assert "production" in rolled
        deadline = time.monotonic() + 60
        while _served_version(url, row) != "1":  # serve follows the alias back
            assert time.monotonic() < deadline, "mlops serve did not follow the rollback"
            time.sleep(0.2)
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        serve.stderr.close()
    assert Registry("github://").alias("penguins-species", "production").version == 1
    refused = [e for e in fake_github.exchanges if e.status == 403]
    assert refused == []  # every read above needed no more than contents: read
    log = _branch_log(fake_github)[:3]  # the move, its audit entry, Triton's config.pbtxt
    assert "penguins-species: production -> v1" in log
    assert any(m.startswith("penguins-species: rollback production v2 -> v1 by ") for m in log)


def test_a_drift_reference_from_the_registry_is_kept_as_written_and_must_exist(
    tmp_path, example, mlops
):
    from mlops_actions.config import load_config

    project = example("penguins")
    config = load_config(project / "mlops.yaml", ["drift.reference=registry:production"])
    assert config.drift.reference == "registry:production"
    missing = mlops(
        "drift-check",
        "--current",
        "data/test.csv",
        "--reference",
        "registry:production",
        "--no-alert",
        cwd=project,
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().endswith(
        "has no penguins-species:production yet; deploy a model there first, "
        "or pass the training data as --reference"
    ), missing.stderr
