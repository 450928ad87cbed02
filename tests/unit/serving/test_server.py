"""``mlops serve`` over real HTTP on 127.0.0.1: the Open Inference Protocol, /predict, bad
requests, hot reload under load, and the inference log read back by drift-check."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import requests

from mlops_actions.files import sha256_file
from mlops_actions.model import OnnxModel
from mlops_actions.registry.store import Registry
from mlops_actions.serving.server import ModelServer, create_app
from support.models import FEATURE_NAMES, flowers, make_model, running, write_config


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"v1": make_model(root / "v1", seed=1), "v2": make_model(root / "v2", seed=2)}


@pytest.fixture
def registry(tmp_path, models):
    registry = Registry(tmp_path / "registry")
    for name in ("v1", "v2"):
        registry.register(
            "flowers", {"model.onnx": models[name]}, {"sha256": sha256_file(models[name])}
        )
    registry.set_alias("flowers", "production", 1)
    return registry


@pytest.fixture
def served(tmp_path, registry):
    from mlops_actions.serving.inference_log import InferenceLog

    server = ModelServer(
        "flowers",
        registry=registry,
        alias="production",
        cache_dir=tmp_path / "cache",
        inference_log=InferenceLog(tmp_path / "log"),
        poll_s=0.05,
        max_rows=50,
    )
    with running(create_app(server)) as url:
        yield server, url


def _sample(model_path, rows=8):
    sample = OnnxModel(model_path).meta("test_sample")
    return sample["rows"][:rows], sample["expected"]


def test_open_inference_protocol(served, models):
    server, url = served
    assert requests.get(f"{url}/v2/health/live", timeout=10).json() == {"live": True}
    assert requests.get(f"{url}/v2/health/ready", timeout=10).status_code == 200
    meta = requests.get(f"{url}/v2/models/flowers", timeout=10).json()
    assert meta["versions"] == ["1"] and [i["name"] for i in meta["inputs"]] == FEATURE_NAMES
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    rows, expected = _sample(models["v1"])
    inputs = [
        {
            "name": name,
            "datatype": "BYTES" if name == "colour" else "FP64",
            "shape": [len(rows), 1],
            "data": [r[name] for r in rows],
        }
        for name in FEATURE_NAMES
    ]
    answer = requests.post(
        f"{url}/v2/models/flowers/infer", json={"id": "42", "inputs": inputs}, timeout=10
    ).json()
    assert answer["model_version"] == "1" and answer["id"] == "42"
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["label"]["data"] == expected["label"]  # scikit-learn's labels for these rows
    assert outputs["probabilities"]["shape"] == [len(rows), 3]
    np.testing.assert_allclose(
        np.reshape(outputs["probabilities"]["data"], (len(rows), 3)),
        expected["probabilities"],
        atol=1e-4,
    )
    only = requests.post(
        f"{url}/v2/models/flowers/infer",
        timeout=10,
        json={"inputs": inputs, "outputs": [{"name": "label"}]},
    ).json()
    assert [o["name"] for o in only["outputs"]] == ["label"]


def test_predict_takes_records(served, models):
    _, url = served
    rows, expected = _sample(models["v1"], rows=3)
    answer = requests.post(f"{url}/predict", json=rows, timeout=10).json()
    assert answer["predictions"] == expected["label"][:3]
    assert set(answer["probabilities"][0]) == {"setosa", "versicolor", "virginica"}
    wrapped = requests.post(f"{url}/predict", json={"records": rows}, timeout=10).json()
    assert wrapped["predictions"] == answer["predictions"]
    missing_value = requests.post(
        f"{url}/predict", json=[{"length": None, "width": 1.0, "colour": None}], timeout=10
    )
    assert missing_value.status_code == 200  # missing values are the model's business (imputed)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/predict", "not json", 400, "not JSON"),
        ("/predict", [], 400, "non-empty list of records"),
        ("/predict", [{"length": 1.0, "width": 1.0}], 400, "records lack feature 'colour'"),
        (
            "/predict",
            [{"length": "long", "width": 1.0, "colour": "red"}],
            400,
            "'length' row 0: 'long' is not a number",
        ),
        (
            "/predict",
            [{"length": True, "width": 1.0, "colour": "red"}],
            400,
            "True is not a number",
        ),
        ("/predict", [{"length": 1, "width": 1, "colour": {"a": 1}}], 400, "is not a string"),
        ("/predict", [{"length": 1, "width": 1, "colour": "red"}] * 51, 413, "more than the 50"),
        ("/v2/models/flowers/infer", {"inputs": []}, 400, "non-empty 'inputs'"),
        (
            "/v2/models/flowers/infer",
            {"inputs": [{"name": "height", "shape": [1], "datatype": "FP64", "data": [1]}]},
            400,
            "unknown input 'height'",
        ),
        (
            "/v2/models/flowers/infer",
            {"inputs": [{"name": "length", "shape": [2], "datatype": "FP64", "data": [1]}]},
            400,
            "shape [2] needs 2 value(s), 'data' has 1",
        ),
        (
            "/v2/models/flowers/infer",
            {"inputs": [{"name": "colour", "shape": [1], "datatype": "FP64", "data": [1]}]},
            400,
            "wants BYTES",
        ),
        (
            "/v2/models/flowers/infer",
            {"inputs": [{"name": "length", "shape": [1], "datatype": "FP64", "data": [1]}]},
            400,
            "missing input(s) 'width', 'colour'",
        ),
        ("/v2/models/iris/infer", {"inputs": []}, 404, "unknown model 'iris'"),
        ("/v2/repository/models/flowers/load", {"parameters": {}}, 403, "model loading is off"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(served, path, body, status, message):
    _, url = served
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    resp = requests.post(
        f"{url}{path}", data=data, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert resp.status_code == status
    assert message in resp.json()["error"]
    assert requests.get(f"{url}/v2/health/ready", timeout=10).status_code == 200  # still serving


def test_wrong_method_and_unknown_path(served):
    _, url = served
    assert requests.get(f"{url}/v2/models/flowers/infer", timeout=10).status_code == 405
    assert requests.get(f"{url}/v3", timeout=10).status_code == 404


def test_hot_reload_under_load_drops_no_request(served, registry, models):
    server, url = served
    rows, _ = _sample(models["v1"], rows=1)
    seen: list[list[str]] = [[], []]  # versions each client got, in its own order
    failures: list[str] = []
    stop = threading.Event()

    def client(answers: list[str]):
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    resp = session.post(f"{url}/predict", json=rows, timeout=30)
                except requests.RequestException as exc:
                    failures.append(repr(exc))
                    continue
                if resp.status_code != 200:
                    failures.append(f"{resp.status_code} {resp.text}")
                else:
                    answers.append(resp.json()["model_version"])

    def wait_for(version: str) -> None:
        deadline = time.monotonic() + 120  # a ceiling for a stuck watcher, not a timing claim
        while sum(a.count(version) for a in seen) < 20 and not failures:
            assert time.monotonic() < deadline, f"fewer than 20 answers from version {version}"
            stop.wait(0.01)

    clients = [threading.Thread(target=client, args=(answers,)) for answers in seen]
    for thread in clients:
        thread.start()
    try:
        wait_for("1")
        registry.set_alias("flowers", "production", 2)
        wait_for("2")
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert failures == []
    # Each client asks after its previous answer, so once it got version 2 it never gets 1
    # again; across clients answers may land out of order, so only per client is checked.
    for answers in seen:
        assert answers == sorted(answers), answers
    assert sum(a.count("1") for a in seen) >= 20 and sum(a.count("2") for a in seen) >= 20
    assert server.current.version == "2"


def test_inference_log_is_read_back_by_drift_check(tmp_path, served, models):
    from mlops_actions.config import load_config
    from mlops_actions.stages.drift_check import drift_check

    server, url = served
    traffic = flowers(rows=40, seed=9)[FEATURE_NAMES]
    started = datetime.now(UTC)
    for start in range(0, 40, 10):
        records = traffic.iloc[start : start + 10].to_dict(orient="records")
        assert requests.post(f"{url}/predict", json=records, timeout=10).status_code == 200
    server.inference_log.close()  # rotation publishes the file under its .jsonl name
    files = sorted((tmp_path / "log").glob("*.jsonl"))
    assert len(files) == 1 and not list((tmp_path / "log").glob(".*"))
    logged = pd.read_json(files[0], lines=True)
    assert list(logged.columns) == [*FEATURE_NAMES, "prediction", "model_version", "timestamp"]
    pd.testing.assert_frame_equal(
        logged[FEATURE_NAMES], traffic.reset_index(drop=True), check_dtype=False
    )
    assert set(logged["prediction"]) <= {"setosa", "versicolor", "virginica"}
    # as written (read_json would parse them): UTC with a Z, within this test's requests
    stamps = [json.loads(line)["timestamp"] for line in files[0].read_text().splitlines()]
    assert all(s.endswith("Z") for s in stamps), stamps[:3]
    assert all(started <= datetime.fromisoformat(s) <= datetime.now(UTC) for s in stamps)
    config = load_config(write_config(tmp_path / "project"))
    result = drift_check(
        config, workdir=tmp_path / "work", current=str(tmp_path / "log"), alert=False
    )
    assert result.current["rows"] == 40
    tested = {c["column"] for c in result.columns}
    assert set(FEATURE_NAMES) <= tested
    # what the server adds beside the features is bookkeeping, not schema skew
    assert result.current["bookkeeping"] == ["prediction", "model_version", "timestamp"]
    assert result.schema == {"missing_columns": [], "new_columns": [], "dtype_changes": []}
    assert not result.annotations()


def test_inference_log_rotates_and_recovers_an_abandoned_file(tmp_path):
    from mlops_actions.serving.inference_log import InferenceLog

    columns = {"length": np.array([1.0, np.nan]), "colour": np.array(["red", ""], dtype=object)}
    log = InferenceLog(tmp_path, max_rows=3)
    for _ in range(3):
        log.write(columns, np.array(["a", "b"]), "1")
    log.close()
    files = sorted(tmp_path.glob("*.jsonl"))
    assert [len(f.read_text().splitlines()) for f in files] == [4, 2]
    first = json.loads(files[0].read_text().splitlines()[1])
    assert {k: first[k] for k in ("length", "colour", "prediction", "model_version")} == {
        "length": None,
        "colour": "",
        "prediction": "b",
        "model_version": "1",
    }
    dead = tmp_path / ".inference-20260101T000000000000Z-999999999.jsonl.open"
    dead.write_text('{"length": 1.0}\n{"length": 2')  # a server killed mid-line
    InferenceLog(tmp_path).close()
    recovered = tmp_path / "inference-20260101T000000000000Z-999999999.jsonl"
    assert recovered.read_text() == '{"length": 1.0}\n' and not dead.exists()


def test_a_packaged_regression_model_from_train_to_serving(example, tmp_path, monkeypatch):
    """The diabetes example through train, package-onnx and deploy, then served: the V2
    answer for the packaged test rows is what package-onnx recorded for them."""
    from mlops_actions.config import load_config
    from mlops_actions.serving.protocol import v2_request
    from mlops_actions.stages.deploy import deploy
    from mlops_actions.stages.package_onnx import package_onnx
    from mlops_actions.stages.train import train

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    project = example("diabetes")
    config = load_config(
        project / "mlops.yaml",
        [
            "deploy.targets.models.type=registry",
            f"deploy.targets.models.url={tmp_path / 'registry'}",
        ],
    )
    work = tmp_path / "work"
    train(config, workdir=work)
    package_onnx(config, workdir=work)
    result = deploy(config, workdir=work, target="models", alias="staging")
    assert result.passed and result.checks["replay"]["rows"] == 20
    registry = Registry(tmp_path / "registry")
    server = ModelServer(
        config.name, registry=registry, alias="staging", cache_dir=tmp_path / "cache"
    )
    model = OnnxModel(work / "package-onnx" / "model.onnx")
    sample = model.meta("test_sample")
    with running(create_app(server)) as url:
        meta = requests.get(f"{url}/v2/models/{config.name}", timeout=10).json()
        body = v2_request(pd.DataFrame(sample["rows"]), model.features)
        answer = requests.post(f"{url}/v2/models/{config.name}/infer", json=body, timeout=10).json()
    assert meta["outputs"] == [{"name": "value", "datatype": "FP64", "shape": [-1, 1]}]
    (value,) = answer["outputs"]
    assert value["name"] == "value" and value["shape"] == [20, 1]
    np.testing.assert_allclose(value["data"], sample["expected"]["value"], atol=sample["atol"])


def test_serve_command_without_the_alias_says_what_to_do(tmp_path, mlops):
    config = write_config(tmp_path / "project")
    run = mlops(
        "serve",
        "--config",
        str(config),
        "--target",
        "local",
        "--alias",
        "production",
        "--port",
        "9",
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert (
        "has no alias 'production' to serve; `mlops deploy --stage production` first" in run.stderr
    )
