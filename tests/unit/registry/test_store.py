"""The registry on a local folder and on a real S3 server (moto, 127.0.0.1): versions,
aliases, rollback, audit log, concurrent and interrupted deploys."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlops_actions.errors import UsageError
from mlops_actions.files import sha256_file
from mlops_actions.registry.store import Registry
from support import SRC


def _files(tmp_path: Path, content: bytes, name: str = "m") -> dict[str, Path]:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / "model.onnx").write_bytes(content)
    (folder / "model-card.md").write_text(f"# card for {content!r}\n")
    return {"model.onnx": folder / "model.onnx", "model-card.md": folder / "model-card.md"}


def _register(registry: Registry, tmp_path: Path, content: bytes, **metrics: float):
    files = _files(tmp_path, content, name=content.decode())
    meta = {"sha256": sha256_file(files["model.onnx"]), "metrics": metrics}
    return registry.register("iris", files, meta)


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 in server mode on 127.0.0.1, reached over real HTTP by s3fs."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_server,
    }.items():
        monkeypatch.setenv(key, value)
    import boto3

    bucket = f"models-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/registry"


@pytest.fixture(params=["local", "s3"])
def registry(request, tmp_path):
    if request.param == "local":
        return Registry(tmp_path / "registry")
    return Registry(request.getfixturevalue("s3_env"))


def test_versions_are_numbered_and_reruns_reuse_them(registry, tmp_path):
    v1, created1 = _register(registry, tmp_path, b"one", accuracy=0.9)
    v2, created2 = _register(registry, tmp_path, b"two", accuracy=0.95)
    again, created_again = _register(registry, tmp_path, b"one", accuracy=0.9)
    assert (v1.version, v2.version, again.version) == (1, 2, 1)
    assert (created1, created2, created_again) == (True, True, False)
    assert [(v.version, v.metrics["accuracy"]) for v in registry.versions("iris")] == [
        (1, 0.9),
        (2, 0.95),
    ]
    assert registry.read_file(v2, "model.onnx") == b"two"
    assert registry.read_file(v2, "model-card.md").startswith(b"# card")
    assert registry.models() == ["iris"]


def test_promote_then_rollback_walks_the_alias_history(registry, tmp_path):
    for content in (b"one", b"two", b"three"):
        version, _ = _register(registry, tmp_path, content)
        registry.set_alias("iris", "production", version.version, context={"git_sha": "abc"})
    assert registry.resolve("iris", "production").version == 3
    move = registry.rollback("iris", "production", context={"reason": "bad"})
    assert (move.from_version, move.to_version) == (3, 2)
    assert registry.resolve("iris", "production").version == 2
    assert registry.alias("iris", "production").history == (1,)
    registry.rollback("iris", "production")
    with pytest.raises(UsageError, match="nothing to roll back"):
        registry.rollback("iris", "production")
    events = [
        (e["event"], e.get("from_version"), e["to_version"]) for e in registry.history("iris")
    ]
    assert events == [
        ("register", None, 1),
        ("promote", None, 1),
        ("register", None, 2),
        ("promote", 1, 2),
        ("register", None, 3),
        ("promote", 2, 3),
        ("rollback", 3, 2),
        ("rollback", 2, 1),
    ]
    promote = registry.history("iris")[5]
    assert promote["git_sha"] == "abc" and promote["actor"] and promote["at"].endswith("Z")


def test_unknown_alias_and_version_name_the_fix(registry, tmp_path):
    _register(registry, tmp_path, b"one")
    with pytest.raises(UsageError, match="no alias 'production'.*--stage production"):
        registry.resolve("iris", "production")
    with pytest.raises(UsageError, match="no version 7 \\(versions: 1\\)"):
        registry.set_alias("iris", "staging", 7)
    with pytest.raises(UsageError, match="is a number"):
        registry.set_alias("iris", "42", 1)
    with pytest.raises(UsageError, match="model name '../x'"):
        registry.versions("../x")


RACER = textwrap.dedent("""
    import sys
    import time
    from pathlib import Path
    from mlops_actions.files import sha256_file
    from mlops_actions.registry.store import Registry

    root, work, who, go = sys.argv[1:]
    registry = Registry(root)
    while not Path(go).exists():
        time.sleep(0.001)
    for i in range(4):
        folder = Path(work) / f"{who}{i}"
        folder.mkdir()
        (folder / "model.onnx").write_bytes(f"{who}{i}".encode())
        version, _ = registry.register(
            "iris", {"model.onnx": folder / "model.onnx"}, {"sha256": sha256_file(folder / "model.onnx")}
        )
        registry.set_alias("iris", "staging", version.version)
""")


def test_two_processes_racing_lose_nothing(tmp_path):
    root, go = tmp_path / "registry", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(root), str(tmp_path), who, str(go)], env=env
        )
        for who in ("a", "b")
    ]
    go.touch()
    assert [p.wait(timeout=120) for p in racers] == [0, 0]
    registry = Registry(root)
    versions = registry.versions("iris")
    assert [v.version for v in versions] == list(range(1, 9))
    contents = sorted(registry.read_file(v, "model.onnx").decode() for v in versions)
    assert contents == ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"]
    staging = registry.alias("iris", "staging")
    # every promotion is either the current version or in its history, newest first
    assert sorted([staging.version, *staging.history]) == list(range(1, 9))
    log = registry.history("iris")
    assert sorted(e["event"] for e in log) == ["promote"] * 8 + ["register"] * 8
    promotes = [e for e in log if e["event"] == "promote"]
    # the log is a chain: each move starts where the previous one ended
    assert [e["from_version"] for e in promotes[1:]] == [e["to_version"] for e in promotes[:-1]]
    assert promotes[-1]["to_version"] == staging.version


KILLED = textwrap.dedent("""
    import sys
    from mlops_actions.registry.store import Registry
    Registry(sys.argv[1]).register("iris", {"model.onnx": sys.argv[2]}, {"sha256": "fifo"})
""")


def test_deploy_killed_mid_copy_leaves_no_visible_version(tmp_path):
    registry = Registry(tmp_path / "registry")
    first, _ = _register(registry, tmp_path, b"one")
    registry.set_alias("iris", "production", first.version)
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(registry.url), str(fifo)], env=env)
    with open(fifo, "wb") as writer:
        writer.write(b"x" * (1 << 20))  # the copy is now under way in version 2's folder
        writer.flush()
        partial = tmp_path / "registry" / "iris" / "2"
        deadline = time.monotonic() + 60
        while not any(
            p.name.startswith(".model.onnx") and p.stat().st_size for p in partial.glob(".*")
        ):
            assert time.monotonic() < deadline, "the copy never started"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert [v.version for v in registry.versions("iris")] == [1]
    assert registry.resolve("iris", "production").version == 1
    assert not (partial / "model.onnx").exists()
    again, created = _register(registry, tmp_path, b"two")
    assert (again.version, created) == (3, True)  # number 2 stays claimed by the dead deploy
    registry.set_alias("iris", "production", again.version)
    assert registry.alias("iris", "production").history == (1,)


def test_a_killed_lock_holder_does_not_block_the_next_deploy(tmp_path):
    registry = Registry(tmp_path / "registry")
    version, _ = _register(registry, tmp_path, b"one")
    holder = textwrap.dedent("""
        import sys, time
        from mlops_actions.registry.store import _LocalStore
        from pathlib import Path
        with _LocalStore(Path(sys.argv[1])).lock("iris/.lock"):
            print("held", flush=True)
            time.sleep(600)
    """)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", holder, str(registry.url)], env=env, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout.readline() == b"held\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    registry.set_alias("iris", "staging", version.version)
    assert registry.resolve("iris", "staging").version == 1


def test_s3_version_numbers_are_claimed_exclusively(s3_env):
    registry = Registry(s3_env)
    store = registry._store
    assert store.create("iris/1/.claim", b"a") is True
    assert store.create("iris/1/.claim", b"b") is False
    assert store.read("iris/1/.claim") == b"a"


def test_s3_expired_lock_is_broken(s3_env):
    registry = Registry(s3_env)
    registry._store.write(
        "iris/.lock", json.dumps({"owner": "dead", "expires": time.time() - 1}).encode()
    )
    with registry._store.lock("iris/.lock"):
        assert json.loads(registry._store.read("iris/.lock"))["owner"] != "dead"
    assert registry._store.read("iris/.lock") is None


def test_deploy_to_s3_then_serve_from_it(s3_env, tmp_path, monkeypatch):
    import requests

    from mlops_actions.config import load_config
    from mlops_actions.serving.server import ModelServer, create_app
    from mlops_actions.stages.deploy import deploy
    from support.models import make_model, running, write_config

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    config = load_config(write_config(tmp_path / "project"), [f"deploy.targets.local.url={s3_env}"])
    model = make_model(tmp_path / "model", seed=1)
    result = deploy(
        config, workdir=tmp_path / "work", target="local", alias="production", model=model
    )
    assert result.location == f"{s3_env}/flowers/1"
    registry = Registry(s3_env)
    assert (
        registry.read_file(registry.resolve("flowers", "production"), "model.onnx")
        == model.read_bytes()
    )
    server = ModelServer(
        "flowers", registry=registry, alias="production", cache_dir=tmp_path / "cache"
    )
    with running(create_app(server)) as url:
        answer = requests.post(
            f"{url}/predict", json=[{"length": 2.0, "width": 1.0, "colour": "blue"}], timeout=10
        )
    assert answer.status_code == 200 and answer.json()["model_version"] == "1"
    assert server.current.model.path == tmp_path / "cache" / "flowers" / "1" / "model.onnx"
