"""``mlops deploy`` and ``mlops rollback`` on real ONNX models: registry promotion, the
replay and gate checks, and the http target against real servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.errors import DeployFailed, GateFailed, ModelError, UsageError
from mlops_actions.registry.store import Registry
from mlops_actions.stages.deploy import deploy
from mlops_actions.stages.rollback import rollback
from support.models import make_model, running, write_config


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "v1": make_model(root / "v1", seed=1),
        "v2": make_model(root / "v2", seed=2),
        "no-gate": make_model(root / "no-gate", seed=3, gate_passed=None),
        "failed-gate": make_model(root / "failed-gate", seed=4, gate_passed=False),
        "wrong-sample": make_model(root / "wrong-sample", seed=5, wrong_sample=True),
    }


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    return load_config(write_config(tmp_path / "project"))


def test_promote_registers_once_and_moves_the_alias(config, models, tmp_path):
    work = tmp_path / "work"
    first = deploy(config, workdir=work, target="local", alias="staging", model=models["v1"])
    assert (first.version, first.from_version, first.created, first.passed) == (1, None, True, True)
    assert first.checks["replay"] == {"rows": 8, "matched": True, "atol": 1e-4}
    rerun = deploy(config, workdir=work, target="local", alias="staging", model=models["v1"].parent)
    assert (rerun.version, rerun.created) == (1, False)
    second = deploy(config, workdir=work, target="local", alias="staging", model=models["v2"])
    assert (second.version, second.from_version) == (2, 1)
    registry = Registry(config.resolve("registry"))
    assert registry.resolve("flowers", "staging").version == 2
    version = registry.version("flowers", 2)
    assert registry.read_file(version, "model.onnx") == models["v2"].read_bytes()
    assert registry.read_file(version, "model-card.md") == b"# flowers (seed 2)\n"
    assert version.metrics["accuracy"] > 0.8 and version.metadata["features"] == [
        "length",
        "width",
        "colour",
    ]
    saved = json.loads((work / "deploy" / "result.json").read_text())
    assert saved["version"] == 2 and saved["passed"] is True
    log = registry.history("flowers")
    assert [e["event"] for e in log] == ["register", "promote", "promote", "register", "promote"]
    assert {e["actor"] for e in log} == {"octocat"} and all(e["forced"] is False for e in log)


def test_production_needs_a_passed_gate_unless_forced(config, models, tmp_path):
    for name, why in (("no-gate", "has no gate result"), ("failed-gate", "failed the gate")):
        with pytest.raises(GateFailed, match=f"{why}.*--force"):
            deploy(config, workdir=tmp_path, target="local", alias="production", model=models[name])
    staging = deploy(
        config, workdir=tmp_path, target="local", alias="staging", model=models["failed-gate"]
    )
    assert staging.passed and staging.forced is False
    forced = deploy(
        config,
        workdir=tmp_path,
        target="local",
        alias="production",
        model=models["no-gate"],
        force=True,
    )
    assert forced.forced is True
    last = Registry(config.resolve("registry")).history("flowers")[-1]
    assert (last["event"], last["alias"], last["forced"]) == ("promote", "production", True)


def test_every_protected_alias_needs_a_passed_gate(tmp_path, models, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    config = load_config(
        write_config(tmp_path / "project"), ["deploy.protected_aliases=[prod-eu, prod-us]"]
    )
    assert config.deploy.protected_aliases == ("prod-eu", "prod-us")
    for alias in ("prod-eu", "prod-us"):
        with pytest.raises(
            GateFailed, match=f"cannot go to {alias} \\(deploy.protected_aliases\\)"
        ):
            deploy(config, workdir=tmp_path, target="local", alias=alias, model=models["no-gate"])
    # production is an ordinary alias once the list leaves it out
    result = deploy(
        config, workdir=tmp_path, target="local", alias="production", model=models["no-gate"]
    )
    assert result.passed and result.checks["gate"]["required"] is False
    assert load_config(write_config(tmp_path / "default")).deploy.protected_aliases == (
        "production",
    )


def test_the_gate_result_of_this_run_wins_over_the_packaged_one(config, models, tmp_path):
    (tmp_path / "evaluate-gate").mkdir()
    (tmp_path / "evaluate-gate" / "result.json").write_text(json.dumps({"passed": True}))
    result = deploy(
        config, workdir=tmp_path, target="local", alias="production", model=models["failed-gate"]
    )
    assert result.passed and result.checks["gate"]["passed"] is True


def test_a_model_that_does_not_replay_its_sample_is_not_deployed(config, models, tmp_path):
    with pytest.raises(
        DeployFailed, match="replaying the packaged test sample.*output 'label' differs"
    ):
        deploy(config, workdir=tmp_path, target="local", model=models["wrong-sample"])
    assert Registry(config.resolve("registry")).models() == []


def test_missing_model_and_unknown_target_name_the_fix(config, tmp_path):
    with pytest.raises(UsageError, match="run `mlops package-onnx` first or pass --model"):
        deploy(config, workdir=tmp_path, target="local")
    with pytest.raises(UsageError, match="no deploy target 'prod' .*local, releases"):
        deploy(config, workdir=tmp_path, target="prod")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        deploy(config, workdir=tmp_path, target="local", model=bad)


def test_cli_deploy_rollback_and_registry(config, models, tmp_path, capsys):
    common = ["--config", str(config.path), "--workdir", str(tmp_path / "work")]
    assert (
        main(
            [
                "deploy",
                *common,
                "--target",
                "local",
                "--stage",
                "production",
                "--model",
                str(models["v1"]),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "deploy",
                *common,
                "--target",
                "local",
                "--stage",
                "production",
                "--model",
                str(models["v2"]),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "deploy",
                *common,
                "--target",
                "local",
                "--stage",
                "production",
                "--model",
                str(models["no-gate"]),
            ]
        )
        == 1
    )
    assert "cannot go to production" in capsys.readouterr().err
    assert main(["rollback", *common, "--target", "local", "--stage", "production"]) == 0
    assert "rolled back from v2 to v1" in capsys.readouterr().out
    assert main(["rollback", *common, "--target", "local", "--stage", "production"]) == 2
    assert "nothing to roll back" in capsys.readouterr().err
    assert main(["registry", "list", *common, "--target", "local"]) == 0
    listing = capsys.readouterr().out
    assert "| 1 | production |" in listing and "| 2 |  |" in listing
    assert main(["registry", "show", "production", *common, "--target", "local"]) == 0
    shown = capsys.readouterr().out
    assert "### Version 1 (production)" in shown and "| rollback | production | 2 → 1 |" in shown


# -- http -----------------------------------------------------------------------------------------


class _Scripted(BaseHTTPRequestHandler):
    """A serving endpoint that takes every load but answers inference wrongly, or late."""

    loads: list[str] = []
    delay = 0.0

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("/load"):
            (key,) = (k for k in body["parameters"] if k.startswith("file:"))
            type(self).loads.append(key)
            answer = {}
        else:
            time.sleep(self.delay)
            rows = body["inputs"][0]["shape"][0]
            answer = {
                "model_version": type(self).loads[-1].split(":")[1].split("/")[0],
                "outputs": [
                    {
                        "name": "label",
                        "datatype": "BYTES",
                        "shape": [rows],
                        "data": ["setosa"] * rows,
                    }
                ],
            }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(
            BrokenPipeError, ConnectionResetError
        ):  # a client past its deadline left
            self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted_server():
    _Scripted.loads, _Scripted.delay = [], 0.0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield _Scripted, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _http_config(tmp_path, url, monkeypatch, deadline=10):
    monkeypatch.setenv("SERVER_TOKEN", "s3cret")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return load_config(write_config(tmp_path / "project", server=url, deadline=deadline))


def test_http_deploy_to_mlops_serve_smoke_tests_then_promotes(models, tmp_path, monkeypatch):
    import requests

    from mlops_actions.serving.server import ModelServer, create_app

    server = ModelServer(
        "flowers", model_path=models["v1"], cache_dir=tmp_path / "cache", admin_token="s3cret"
    )
    with running(create_app(server)) as url:
        config = _http_config(tmp_path, url, monkeypatch)
        result = deploy(
            config, workdir=tmp_path / "work", target="web", alias="production", model=models["v2"]
        )
        assert result.passed and result.checks["smoke"]["passed"] and result.version == 1
        assert requests.get(f"{url}/v2/models/flowers", timeout=10).json()["versions"] == ["1"]
        result = deploy(
            config, workdir=tmp_path / "work", target="web", alias="production", model=models["v1"]
        )
        assert (result.version, result.from_version) == (2, 1)
        assert server.current.model.path.read_bytes() == models["v1"].read_bytes()
        back = rollback(config, workdir=tmp_path / "work", target="web", alias="production")
        assert (back.from_version, back.to_version) == (2, 1)
        assert server.current.version == "1"
        assert server.current.model.path.read_bytes() == models["v2"].read_bytes()
    assert Registry(config.resolve("registry")).resolve("flowers", "production").version == 1


def test_http_deploy_answering_wrongly_is_rolled_back(
    models, tmp_path, monkeypatch, scripted_server
):
    scripted, url = scripted_server
    config = _http_config(tmp_path, url, monkeypatch)
    registry = Registry(config.resolve("registry"))
    # v1 is live: deployed when the server still answered setosa for everything...
    first = registry.register("flowers", {"model.onnx": models["v1"]}, {"sha256": "v1"})[0]
    registry.set_alias("flowers", "production", first.version)
    work = tmp_path / "work"
    code = main(
        [
            "deploy",
            "--config",
            str(config.path),
            "--workdir",
            str(work),
            "--target",
            "web",
            "--stage",
            "production",
            "--model",
            str(models["v2"]),
        ]
    )
    assert code == 1
    assert scripted.loads == [
        "file:2/model.onnx",
        "file:1/model.onnx",
    ]  # pushed, then the previous back
    result = json.loads((work / "deploy" / "result.json").read_text())
    assert result["rolled_back"] is True and "output 'label' differs" in result["problem"]
    assert registry.resolve("flowers", "production").version == 1
    last = registry.history("flowers")[-1]
    assert (last["event"], last["from_version"], last["to_version"]) == ("rollback", 2, 1)
    assert last["reason"].startswith("smoke test failed")


def test_http_deploy_answering_late_is_rolled_back(models, tmp_path, monkeypatch, scripted_server):
    scripted, url = scripted_server
    scripted.delay = 3.0
    config = _http_config(tmp_path, url, monkeypatch, deadline=0.5)
    registry = Registry(config.resolve("registry"))
    first = registry.register("flowers", {"model.onnx": models["v1"]}, {"sha256": "v1"})[0]
    registry.set_alias("flowers", "production", first.version)
    result = deploy(
        config, workdir=tmp_path / "work", target="web", alias="production", model=models["v2"]
    )
    assert not result.passed and result.rolled_back
    assert "no answer within 0.5 s" in result.problem
    assert scripted.loads[-1] == "file:1/model.onnx"


def test_http_load_needs_the_token(models, tmp_path, monkeypatch):
    from mlops_actions.serving.server import ModelServer, create_app

    server = ModelServer(
        "flowers", model_path=models["v1"], cache_dir=tmp_path / "cache", admin_token="other"
    )
    with running(create_app(server)) as url:
        config = _http_config(tmp_path, url, monkeypatch)
        result = deploy(config, workdir=tmp_path / "work", target="web", model=models["v2"])
    assert not result.passed and "refused (401" in result.problem and not result.rolled_back
    assert server.current.version == "1"


# -- GitHub: releases and deployments (against the fake GitHub) -----------------------------------


def test_release_is_idempotent(config, models, tmp_path, fake_github):
    work = tmp_path / "work"
    first = deploy(config, workdir=work, target="releases", alias="staging", model=models["v1"])
    assert (first.version, first.created) == (1, True)
    assert first.checks["release"]["uploaded"] == ["model.onnx", "metrics.json", "model-card.md"]
    rerun = deploy(config, workdir=work, target="releases", alias="staging", model=models["v1"])
    assert (rerun.version, rerun.created, rerun.checks["release"]["uploaded"]) == (1, False, [])
    second = deploy(config, workdir=work, target="releases", alias="production", model=models["v2"])
    assert second.version == 2
    releases = {r["tag_name"]: r for r in fake_github.releases.values()}
    assert sorted(releases) == ["flowers-v1", "flowers-v2"]
    assert (
        releases["flowers-v1"]["prerelease"] is True
        and releases["flowers-v2"]["prerelease"] is False
    )
    assets = {
        (
            fake_github.releases[fake_github._asset_release[i]]["tag_name"],
            a["name"],
        ): fake_github.asset_data[i]
        for i, a in fake_github.assets.items()
    }
    assert len(assets) == 6
    assert assets[("flowers-v1", "model.onnx")] == models["v1"].read_bytes()
    assert assets[("flowers-v2", "model-card.md")] == b"# flowers (seed 2)\n"
    assert json.loads(assets[("flowers-v2", "metrics.json")])["accuracy"] > 0.8


def test_release_takes_its_number_from_the_registry(config, models, tmp_path, fake_github):
    deploy(config, workdir=tmp_path, target="local", model=models["v1"])
    result = deploy(config, workdir=tmp_path, target="numbered-releases", model=models["v2"])
    assert result.version == 2
    assert [r["tag_name"] for r in fake_github.releases.values()] == ["flowers-v2"]


def test_each_promotion_is_a_github_deployment_in_actions(
    config, models, tmp_path, fake_github, monkeypatch
):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_SHA", "6dcb09b5b57875f334f61aebed695e2e4193db5e")
    monkeypatch.setenv("GITHUB_RUN_ID", "1234")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary"))
    code = main(
        [
            "deploy",
            "--config",
            str(config.path),
            "--workdir",
            str(tmp_path / "work"),
            "--target",
            "local",
            "--stage",
            "production",
            "--model",
            str(models["v1"]),
        ]
    )
    assert code == 0
    (deployment,) = fake_github.deployments.values()
    assert (
        deployment["environment"] == "production"
        and deployment["ref"] == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    )
    assert deployment["payload"] == {
        "model": "flowers",
        "version": 1,
        "target": "local",
        "write_id": deployment["payload"]["write_id"],  # finds it again after a lost answer
    }
    (status,) = fake_github.deployment_statuses
    assert status["state"] == "success" and status["log_url"].endswith("/actions/runs/1234")
    outputs = (tmp_path / "output").read_text()
    assert "version=1\n" in outputs and "passed=true\n" in outputs
    assert "`flowers` v1 → `production`" in (tmp_path / "summary").read_text()
    audit = Registry(config.resolve("registry")).history("flowers")[-1]
    assert audit["run_url"].endswith("/actions/runs/1234") and audit["git_sha"].startswith(
        "6dcb09b5"
    )
