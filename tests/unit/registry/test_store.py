"""The registry on a local folder and on a real S3 server (moto, 127.0.0.1): versions,
aliases, rollback, audit log, concurrent and interrupted deploys."""

from __future__ import annotations

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
from mlops_actions.registry import store as registry_module
from mlops_actions.registry.store import Registry
from support import SRC
from support.s3 import S3_ENV, moto_server


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
    with moto_server() as server:
        yield server.url


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    for key, value in {**S3_ENV, "AWS_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(key, value)
    import boto3

    bucket = f"models-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/registry"


@pytest.fixture(params=["local", "s3", "github"])
def registry(request, tmp_path):
    if request.param == "local":
        return Registry(tmp_path / "registry")
    if request.param == "github":  # the repository itself, on the fake GitHub (127.0.0.1)
        return Registry(f"github://{request.getfixturevalue('fake_github').repository}")
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

    root, work, who, go, rounds = sys.argv[1:]
    registry = Registry(root)
    registry.models()  # connected before the start
    while not Path(go).exists():
        time.sleep(0.001)
    mine = []
    for i in range(int(rounds)):
        folder = Path(work) / f"{who}{i}"
        folder.mkdir()
        (folder / "model.onnx").write_bytes(f"{who}{i}".encode())
        version, _ = registry.register(
            "iris", {"model.onnx": folder / "model.onnx"}, {"sha256": sha256_file(folder / "model.onnx")}
        )
        registry.set_alias("iris", "staging", version.version)
        mine.append(version.version)
    for number in mine:  # moves only, back to back: the alias is contended
        registry.set_alias("iris", "production", number)
""")
RACERS, ROUNDS = "abcd", 3


@pytest.mark.parametrize("where", ["local", "s3", "github"])
def test_processes_racing_claim_every_number_once_and_lose_nothing(where, request, tmp_path):
    """Four processes register and promote at once: on S3 against moto's server over HTTP, on
    GitHub against the fake, whose writes take long enough to overlap and conflict."""
    if where == "github":
        fake = request.getfixturevalue("fake_github")
        fake.write_latency = 0.1
        root = f"github://{fake.repository}"
    else:
        root = str(tmp_path / "registry") if where == "local" else request.getfixturevalue("s3_env")
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, root, str(tmp_path), who, str(go), str(ROUNDS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for who in RACERS
    ]
    time.sleep(1)  # let them import
    go.touch()
    outputs = [p.communicate(timeout=300)[0].decode() for p in racers]
    assert [p.returncode for p in racers] == [0] * len(RACERS), outputs
    registry = Registry(root)
    versions = registry.versions("iris")
    total = len(RACERS) * ROUNDS
    assert [v.version for v in versions] == list(range(1, total + 1))
    contents = sorted(registry.read_file(v, "model.onnx").decode() for v in versions)
    assert contents == sorted(f"{who}{i}" for who in RACERS for i in range(ROUNDS))
    # each version's metadata is its own model's: no two deploys wrote into one number
    assert all(
        v.sha256 == sha256_file(tmp_path / c / "model.onnx")
        for v, c in zip(
            versions, (registry.read_file(v, "model.onnx").decode() for v in versions), strict=True
        )
    )
    log = registry.history("iris")
    assert sorted(e["event"] for e in log) == ["promote"] * 2 * total + ["register"] * total
    by_id = {e["id"]: e for e in log}
    for name in ("staging", "production"):
        alias = registry.alias("iris", name)
        # every promotion is either the current version or in its history, newest first
        assert sorted([alias.version, *alias.history]) == list(range(1, total + 1)), name
        # the log is a chain: each move starts where the one it replaced ended
        chain, move = [], alias.move
        while move is not None:
            chain.append(by_id[move])
            move = by_id[move]["after"]
        assert len(chain) == total, name
        assert [e["from_version"] for e in chain[:-1]] == [e["to_version"] for e in chain[1:]]
        assert chain[0]["to_version"] == alias.version
    if where == "github":  # the race was run: GitHub refused writes that overlapped or were stale
        refused = [e for e in fake.exchanges if e.status in (409, 422)]
        assert any(e.status == 409 for e in refused) and any(e.status == 422 for e in refused)


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


CRASHER = textwrap.dedent("""
    import os, signal, sys
    from mlops_actions.registry import store as r

    root, model, card, kill_at = sys.argv[1:]
    done = 0

    def counted(method):
        def wrapper(*args, **kwargs):
            global done
            if str(done) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            done += 1
            return method(*args, **kwargs)
        return wrapper

    for store in (r._LocalStore, r._FsspecStore):
        for name in ("write", "create", "replace", "delete", "copy_in"):
            setattr(store, name, counted(getattr(store, name)))
    registry = r.Registry(root)
    version, _ = registry.register(
        "iris", {"model.onnx": model, "model-card.md": card}, {"sha256": "two"}
    )
    registry.set_alias("iris", "production", version.version)
    print(done)
""")


def _consistent(registry: Registry) -> None:
    """Every alias target and visible version has its entry; no entry tells of what did not land."""
    visible = {v.version for v in registry.versions("iris")}
    log = registry.history("iris")
    assert sorted(e["to_version"] for e in log if e["event"] == "register") == sorted(visible)
    by_id = {e["id"]: e for e in log}
    moves = [e for e in log if e["event"] == "promote"]
    for alias in registry.aliases("iris").values():
        assert alias.version in visible
        assert by_id[alias.move]["to_version"] == alias.version
    assert len(moves) == sum(len(a.history) + 1 for a in registry.aliases("iris").values())


def _leftovers(registry: Registry) -> list[str]:
    """Files in version folders that never became a version, beside the claim that keeps the number."""
    visible = {str(v.version) for v in registry.versions("iris")}
    return [
        f"{number}/{name}"
        for number in registry._store.list("iris")
        if number.isdigit() and number not in visible
        for name in registry._store.list(f"iris/{number}")
        if name != ".claim"
    ]


def test_a_deploy_killed_between_any_two_writes_leaves_a_consistent_registry(tmp_path, monkeypatch):
    files = _files(tmp_path, b"two", name="two")
    env = {**os.environ, "PYTHONPATH": str(SRC)}

    def deploy(kill_at: int | None) -> tuple[Registry, str]:
        registry = Registry(tmp_path / f"registry-{kill_at}")
        first, _ = _register(registry, tmp_path, b"one")
        registry.set_alias("iris", "production", first.version)
        args = [registry.url, str(files["model.onnx"]), str(files["model-card.md"]), str(kill_at)]
        run = subprocess.run(
            [sys.executable, "-c", CRASHER, *args], env=env, capture_output=True, timeout=120
        )
        assert run.returncode == (0 if kill_at is None else -signal.SIGKILL), run.stderr
        return registry, run.stdout.decode()

    finished, writes = deploy(None)
    assert int(writes) == 7  # claim, model, card, register entry, metadata, move entry, alias
    assert finished.alias("iris", "production").version == 2
    for kill_at in range(int(writes)):
        registry, _ = deploy(kill_at)
        _consistent(registry)
        assert registry.alias("iris", "production").version == 1, kill_at
        left = _leftovers(registry)
        assert bool(left) == (kill_at in (2, 3, 4)), (kill_at, left)  # copied, never completed
        _register(registry, tmp_path, b"three")
        assert _leftovers(registry) == left, "a deploy under way may still be copying"
        with monkeypatch.context() as later:
            later.setattr(registry_module, "STALE_AFTER_S", 0.0)
            fourth, _ = _register(registry, tmp_path, b"four")
        registry.set_alias("iris", "production", fourth.version)
        _consistent(registry)
        assert _leftovers(registry) == [], kill_at


def test_a_killed_lock_holder_does_not_block_the_next_deploy(tmp_path):
    registry = Registry(tmp_path / "registry")
    version, _ = _register(registry, tmp_path, b"one")
    holder = textwrap.dedent("""
        import sys, time
        from mlops_actions.registry.store import _flock
        from pathlib import Path
        with _flock(Path(sys.argv[1]) / "iris" / "aliases" / ".staging.json.lock"):
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


def test_an_alias_is_replaced_only_if_unchanged_since_read(registry):
    """The compare-and-swap under every alias move: S3's If-Match on the ETag, a compare locally."""
    store, key = registry._store, "iris/aliases/staging.json"
    assert store.read_tagged(key) is None
    assert store.replace(key, b"first", None) is True
    assert store.replace(key, b"again", None) is False  # exists already
    data, tag = store.read_tagged(key)
    assert data == b"first"
    assert store.replace(key, b"second", tag) is True
    assert store.replace(key, b"stale", tag) is False  # written since `tag` was read
    assert store.read_tagged(key)[0] == b"second"


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
