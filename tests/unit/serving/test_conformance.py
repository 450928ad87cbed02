"""``mlops serve`` against the Open Inference Protocol, spoken by Triton's own HTTP client
(``tritonclient.http``, unmodified): health, metadata, versioned routes, JSON and binary
tensors both ways, compressed bodies, the repository extension; and every refusal a JSON
``{"error": ...}`` with a 4xx, for anything a client can send."""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib

import numpy as np
import pandas as pd
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from mlops_actions.features import CATEGORICAL, NUMERIC, Feature, features_to_json, preprocessor
from mlops_actions.model import OnnxModel, to_onnx
from mlops_actions.serving.server import ModelServer, create_app
from support.models import FEATURE_NAMES, flowers, make_model, running

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "v1": make_model(root / "v1", seed=1),
        "v2": make_model(root / "v2", seed=2),
        "regression": regression_model(root / "regression"),
    }


def regression_model(folder):
    """Width from length and colour; length in metres (spread 0.01), so 1e308 overflows."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    data = flowers(seed=3)
    data["length"] = data["length"] / 100
    features = [Feature("length", NUMERIC, "float64"), Feature("colour", CATEGORICAL, "object")]
    pipeline = Pipeline([("preprocess", preprocessor(features)), ("model", Ridge())])
    pipeline.fit(data[["length", "colour"]], data["width"])
    metadata = {
        "features": features_to_json(features),
        "target": {"name": "width", "task": "regression", "classes": None},
    }
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(to_onnx(pipeline, features, metadata=metadata))
    return folder / "model.onnx"


@pytest.fixture
def served(tmp_path, models):
    server = ModelServer(
        "flowers", model_path=models["v1"], cache_dir=tmp_path / "cache", admin_token=TOKEN
    )
    with running(create_app(server)) as url:
        yield server, url


@pytest.fixture
def client(served):
    _, url = served
    with triton.InferenceServerClient(url.removeprefix("http://")) as client:
        yield client


@contextlib.contextmanager
def triton_client(server):
    """``server`` on a free port, and tritonclient's HTTP client for it."""
    with (
        running(create_app(server)) as url,
        triton.InferenceServerClient(url.removeprefix("http://")) as client,
    ):
        yield client


def _sample(path, rows=8):
    sample = OnnxModel(path).meta("test_sample")
    return sample["rows"][:rows], sample["expected"]


def _inputs(rows, *, binary=True):
    """One InferInput per feature, as a Triton user writes them (binary data by default)."""
    inputs = []
    for name in FEATURE_NAMES:
        text = name == "colour"
        array = np.array(
            [[r[name]] for r in rows], dtype=object if text else np.float64
        )  # [n, 1], as the metadata says
        tensor = triton.InferInput(name, list(array.shape), "BYTES" if text else "FP64")
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_health_and_metadata_through_tritonclient(client, models):
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "mlops-serve"
    assert set(meta["extensions"]) == {"binary_tensor_data", "model_repository"}
    assert client.is_model_ready("flowers") and client.is_model_ready("flowers", "1")
    assert not client.is_model_ready("flowers", "2") and not client.is_model_ready("iris")
    session = OnnxModel(models["v1"])._small  # what Triton would read from the same file
    for version in ("", "1"):
        model = client.get_model_metadata("flowers", version)
        assert (model["name"], model["versions"], model["platform"]) == (
            "flowers",
            ["1"],
            "onnxruntime_onnx",
        )
        assert [(t["name"], t["datatype"], t["shape"]) for t in model["inputs"]] == [
            ("length", "FP64", [-1, 1]),
            ("width", "FP64", [-1, 1]),
            ("colour", "BYTES", [-1, 1]),
        ]
        assert [(t["name"], t["datatype"], t["shape"]) for t in model["outputs"]] == [
            ("label", "BYTES", [-1]),
            ("probabilities", "FP32", [-1, 3]),
        ]
        assert [t["name"] for t in model["outputs"]] == [o.name for o in session.get_outputs()]
    with pytest.raises(InferenceServerException) as caught:
        client.get_model_metadata("flowers", "2")
    assert caught.value.status() == "404" and "serves version '1'" in caught.value.message()


@pytest.mark.parametrize("version", ["", "1"])
@pytest.mark.parametrize("binary_inputs", [True, False])
def test_infer_binary_and_json_tensors(client, models, version, binary_inputs):
    rows, expected = _sample(models["v1"])
    result = client.infer(
        "flowers", _inputs(rows, binary=binary_inputs), model_version=version, request_id="r-7"
    )
    response = result.get_response()
    assert (response["model_name"], response["model_version"], response["id"]) == (
        "flowers",
        "1",
        "r-7",
    )
    # no outputs named: tritonclient asks binary_data_output, and every output comes binary
    assert all("binary_data_size" in o["parameters"] for o in response["outputs"])
    labels = result.as_numpy("label")
    assert labels.shape == (len(rows),)
    assert [v.decode() for v in labels] == expected["label"]  # scikit-learn's labels
    proba = result.as_numpy("probabilities")
    assert proba.dtype == np.float32 and proba.shape == (len(rows), 3)
    np.testing.assert_allclose(proba, expected["probabilities"], atol=1e-4)


def test_each_output_in_the_form_asked(client, models):
    rows, expected = _sample(models["v1"], rows=3)
    result = client.infer(
        "flowers",
        _inputs(rows),
        outputs=[
            triton.InferRequestedOutput("probabilities", binary_data=True),
            triton.InferRequestedOutput("label", binary_data=False),
        ],
    )
    response = result.get_response()
    assert [o["name"] for o in response["outputs"]] == ["probabilities", "label"]
    assert response["outputs"][1]["data"] == expected["label"][:3]
    assert response["outputs"][0]["parameters"]["binary_data_size"] == 3 * 3 * 4
    assert result.as_numpy("label").tolist() == expected["label"][:3]  # JSON BYTES: str
    only = client.infer(
        "flowers", _inputs(rows), outputs=[triton.InferRequestedOutput("label", binary_data=False)]
    )
    assert [o["name"] for o in only.get_response()["outputs"]] == ["label"]
    assert only.as_numpy("probabilities") is None


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests(client, models, algorithm):
    rows, expected = _sample(models["v1"])
    result = client.infer("flowers", _inputs(rows), request_compression_algorithm=algorithm)
    assert [v.decode() for v in result.as_numpy("label")] == expected["label"]


def test_parameters_custom_ones_pass_unsupported_ones_are_refused(client, models):
    rows, expected = _sample(models["v1"], rows=2)
    result = client.infer("flowers", _inputs(rows), parameters={"tenant": "acme", "trace": True})
    assert [v.decode() for v in result.as_numpy("label")] == expected["label"][:2]
    with pytest.raises(InferenceServerException) as caught:
        client.infer("flowers", _inputs(rows), sequence_id=7)
    assert caught.value.status() == "400" and "sequence batching" in caught.value.message()
    with pytest.raises(InferenceServerException) as caught:
        client.infer(
            "flowers", _inputs(rows), outputs=[triton.InferRequestedOutput("label", class_count=2)]
        )
    assert caught.value.status() == "400" and "classification extension" in caught.value.message()


def test_client_errors_arrive_as_json_with_their_status(client, models):
    rows, _ = _sample(models["v1"], rows=2)
    cases = [
        ({"model_name": "iris"}, "404", "unknown model 'iris'"),
        ({"model_version": "9"}, "404", "has no version '9' here"),
        ({"outputs": [triton.InferRequestedOutput("proba")]}, "400", "unknown output(s) 'proba'"),
    ]
    for kwargs, status, message in cases:
        with pytest.raises(InferenceServerException) as caught:
            client.infer(kwargs.pop("model_name", "flowers"), _inputs(rows), **kwargs)
        assert caught.value.status() == status and message in caught.value.message(), kwargs
    wrong = _inputs(rows)[:2]  # colour left out
    with pytest.raises(InferenceServerException) as caught:
        client.infer("flowers", wrong)
    assert caught.value.status() == "400" and "missing input(s) 'colour'" in caught.value.message()


def test_regression_output_is_the_graphs_and_overflow_is_a_400(tmp_path, models):
    server = ModelServer("width", model_path=models["regression"], cache_dir=tmp_path / "c")
    graph = OnnxModel(models["regression"])
    assert graph.output_names == ["value"] and graph.output_types == {"value": "tensor(double)"}
    with triton_client(server) as client:
        meta = client.get_model_metadata("width")
        assert meta["outputs"] == [{"name": "value", "datatype": "FP64", "shape": [-1, 1]}]

        def inputs(length):
            lengths = triton.InferInput("length", [2, 1], "FP64")
            lengths.set_data_from_numpy(np.array([[0.02], [length]]), binary_data=False)
            colours = triton.InferInput("colour", [2, 1], "BYTES")
            colours.set_data_from_numpy(np.array([["blue"], ["red"]], dtype=object))
            return [lengths, colours]

        value = client.infer(
            "width", inputs(0.04), outputs=[triton.InferRequestedOutput("value", False)]
        ).as_numpy("value")
        assert value.dtype == np.float64 and value.shape == (2, 1)
        expected = graph.predict(
            pd.DataFrame({"length": [0.02, 0.04], "colour": ["blue", "red"]})
        ).values
        np.testing.assert_allclose(value.ravel(), expected, rtol=1e-12)
        with pytest.raises(InferenceServerException) as caught:  # JSON has no infinity
            client.infer(
                "width", inputs(1e308), outputs=[triton.InferRequestedOutput("value", False)]
            )
        assert caught.value.status() == "400"
        assert "output 'value' row 1 is [inf], which JSON cannot carry" in (caught.value.message())
        huge = client.infer("width", inputs(1e308)).as_numpy("value")  # binary carries it
        assert np.isinf(huge[1, 0]) and np.isfinite(huge[0, 0])


def _post(url, body, *, headers=None, path="/v2/models/flowers/infer"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{url}{path}", data=data, headers=headers or {}, timeout=10)


def _tensor(name, datatype, data, shape=None):
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


def _valid(length=(1.0,), width=(2.0,), colour=("red",)):
    return [
        _tensor("length", "FP64", list(length)),
        _tensor("width", "FP64", list(width)),
        _tensor("colour", "BYTES", list(colour)),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"inputs": [*_valid(), _tensor("length", "FP64", [3.0])]},
            "input 'length' is given twice",
        ),
        (
            {"inputs": [_tensor("length", "INT64", [39.1]), *_valid()[1:]]},
            "input 'length' element 0: 39.1 is not an integer (datatype INT64)",
        ),
        (
            {"inputs": [_tensor("length", "UINT8", [300]), *_valid()[1:]]},
            "input 'length' element 0: 300 is out of range for UINT8",
        ),
        (
            {"inputs": [_tensor("length", "INT8", [-129]), *_valid()[1:]]},
            "-129 is out of range for INT8",
        ),
        (
            {"inputs": [_tensor("length", "FP32", [1e39]), *_valid()[1:]]},
            "1e+39 is out of range for FP32",
        ),
        (
            {"inputs": [*_valid()[:2], _tensor("colour", "BYTES", [3])]},
            "input 'colour' element 0: 3 is not a string (datatype BYTES)",
        ),
        (
            {"inputs": [_tensor("length", "FP64", [True]), *_valid()[1:]]},
            "True is not a number (datatype FP64)",
        ),
        (
            {"inputs": [_tensor("length", "FP64", ["1.0"]), *_valid()[1:]]},
            "'1.0' is not a number",
        ),
        (
            {"inputs": [_tensor("length", "FP64", [10**400]), *_valid()[1:]]},
            "out of range for FP64",
        ),
        ({"id": 42, "inputs": _valid()}, "'id' must be a string, got 42"),
        ({"inputs": _valid(), "parameters": [1]}, "'parameters' must be an object"),
        (
            {"inputs": _valid(), "parameters": {"x": {"y": 1}}},
            "parameters 'x' must be a string, number or boolean",
        ),
        (
            {"inputs": _valid(), "parameters": {"binary_data_output": "yes"}},
            "'binary_data_output' must be true or false",
        ),
        ({"inputs": _valid(), "outputs": "label"}, "'outputs' must be a list"),
        (
            {"inputs": _valid(), "outputs": [{"name": "label"}, {"name": "label"}]},
            "output 'label' is requested twice",
        ),
        ({"inputs": [*_valid()[:2], _tensor("colour", "BOOL", [True])]}, "which wants BYTES"),
        ({"inputs": [_tensor("length", "BF16", [1.0]), *_valid()[1:]]}, "datatype 'BF16'"),
        (
            {"inputs": [_tensor("length", "FP64", [1.0], shape=[1, 2]), *_valid()[1:]]},
            "'shape' must be [rows] or [rows, 1]",
        ),
        (
            {"inputs": [_tensor("length", "FP64", [1.0], shape=[True]), *_valid()[1:]]},
            "'shape' must be [rows] or [rows, 1]",
        ),
        (
            {"inputs": [_tensor("length", "FP64", [[[1.0]]], shape=[1, 1]), *_valid()[1:]]},
            "'data' is nested deeper than its shape",
        ),
        (
            {"inputs": [{"name": "length", "datatype": "FP64", "shape": [1]}, *_valid()[1:]]},
            "has neither 'data' nor a binary_data_size",
        ),
        (
            {
                "inputs": [
                    {**_tensor("length", "FP64", [1.0]), "parameters": {"binary_data_size": 8}},
                    *_valid()[1:],
                ]
            },
            "has both 'data' and a binary_data_size",
        ),
        (
            {"inputs": _valid(length=[1.0, 2.0], width=[1.0, 2.0])},
            "inputs differ in length (1, 2)",
        ),
    ],
)
def test_what_a_client_can_send_wrong_is_a_400(served, body, message):
    _, url = served
    resp = _post(url, body)
    assert resp.status_code == 400 and resp.headers["content-type"] == "application/json"
    assert message in resp.json()["error"]


def test_what_is_right_passes_the_same_checks(served):
    _, url = served
    body = {
        "id": "",
        "inputs": [
            _tensor("length", "INT64", [[2], [6]], shape=[2, 1]),
            _tensor("width", "UINT8", [1, 255]),
            _tensor("colour", "BYTES", ["blue", None]),  # null: a missing value
        ],
        "parameters": {"binary_data_output": False, "priority": 1, "tenant": "x"},
        "model_name": "flowers",  # Triton's examples send it; not a problem
    }
    resp = _post(url, body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["id"] == "" and answer["outputs"][0]["shape"] == [2]


def test_bodies_that_are_not_a_request_are_a_4xx(served):
    _, url = served
    header = json.dumps({"inputs": _valid()}).encode()
    cases = [
        (b'{"inputs": [{"name": "length", "data": [NaN]}]}', {}, 400, "NaN is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, {}, 400, "nested too deeply"),
        (b"\xff\xfe{", {}, 400, "is not JSON"),
        (header + b"xx", {"Inference-Header-Content-Length": str(len(header))}, 400, "2 byte(s)"),
        (header, {"Inference-Header-Content-Length": str(len(header) + 5)}, 400, "is longer"),
        (header, {"Inference-Header-Content-Length": "0"}, 400, "raw binary requests"),
        (header, {"Inference-Header-Content-Length": "-3"}, 400, "is not a number"),
        (header, {"Content-Encoding": "br"}, 415, "Content-Encoding 'br'"),
        (header, {"Content-Encoding": "gzip"}, 400, "not valid gzip data"),
        (gzip.compress(header)[:-12], {"Content-Encoding": "gzip"}, 400, "cut short"),
        (zlib.compress(b"{" * 100), {"Content-Encoding": "deflate"}, 400, "is not JSON"),
    ]
    for body, headers, status, message in cases:
        resp = _post(url, body, headers=headers)
        assert resp.status_code == status and message in resp.json()["error"], (message, resp.text)


def test_binary_data_that_does_not_fit_is_a_400(served):
    _, url = served

    def binary_request(tensors, sizes=None):
        sizes = sizes or [len(b) for *_, b in tensors]
        header = json.dumps(
            {
                "inputs": [
                    {"name": n, "datatype": d, "shape": s, "parameters": {"binary_data_size": size}}
                    for (n, d, s, _), size in zip(tensors, sizes, strict=True)
                ]
            }
        ).encode()
        return header + b"".join(b for *_, b in tensors), {
            "Inference-Header-Content-Length": str(len(header))
        }

    good = [
        ("length", "FP64", [2], np.array([1.0, 2.0]).tobytes()),
        ("width", "FP32", [2], np.array([1.0, 2.0], dtype="<f4").tobytes()),
        ("colour", "BYTES", [2], b"\x03\x00\x00\x00red\x00\x00\x00\x00"),
    ]
    body, headers = binary_request(good)
    assert _post(url, body, headers=headers).status_code == 200
    cases = [
        ({0: ("length", "FP64", [2], b"\x00" * 12)}, "12 byte(s) of FP64 binary data"),
        ({2: ("colour", "BYTES", [2], b"\x03\x00\x00\x00red")}, "the binary data has 1"),
        ({2: ("colour", "BYTES", [1], b"\x09\x00\x00\x00red")}, "runs past the data"),
        ({2: ("colour", "BYTES", [1], b"\x02\x00")}, "inside a length prefix"),
        ({2: ("colour", "BYTES", [1], b"\x02\x00\x00\x00\xff\xfe")}, "is not UTF-8 text"),
    ]
    for change, message in cases:
        body, headers = binary_request([change.get(i, t) for i, t in enumerate(good)])
        resp = _post(url, body, headers=headers)
        assert resp.status_code == 400 and message in resp.json()["error"], message
    body, headers = binary_request(good, sizes=[10_000, 8, 11])
    resp = _post(url, body, headers=headers)
    assert resp.status_code == 400 and "binary_data_size 10000 does not fit" in resp.json()["error"]


def test_routing_errors_are_json_too(served):
    _, url = served
    for method, path, status in [
        ("GET", "/v3", 404),
        ("GET", "/v2/models/flowers/infer", 405),
        ("POST", "/v2/health/live", 405),
        ("GET", "/v2/repository/index", 405),
        ("GET", "/v2/models/flowers/versions/1/extra", 404),
    ]:
        resp = requests.request(method, f"{url}{path}", timeout=10)
        assert resp.status_code == status and resp.headers["content-type"] == "application/json"
        assert set(resp.json()) == {"error"}, resp.text


def test_repository_extension_index_load_unload(client, served, models):
    server, url = served
    assert client.get_model_repository_index() == [
        {"name": "flowers", "version": "1", "state": "READY", "reason": ""}
    ]
    config = json.dumps({"name": "flowers", "backend": "onnxruntime"})
    with pytest.raises(InferenceServerException) as caught:
        client.load_model("flowers", config=config, files={"file:2/model.onnx": b"x"})
    assert caught.value.status() == "401"
    client.load_model(
        "flowers",
        headers=AUTH,
        config=config,
        files={"file:2/model.onnx": models["v2"].read_bytes()},
    )
    assert client.is_model_ready("flowers", "2") and not client.is_model_ready("flowers", "1")
    rows, expected = _sample(models["v2"])
    result = client.infer("flowers", _inputs(rows), model_version="2")
    assert [v.decode() for v in result.as_numpy("label")] == expected["label"]

    client.unload_model("flowers", headers=AUTH)
    assert not client.is_model_ready("flowers") and not client.is_server_ready()
    assert client.get_model_repository_index() == [
        {"name": "flowers", "state": "UNAVAILABLE", "reason": "unloaded"}
    ]
    with pytest.raises(InferenceServerException) as caught:
        client.infer("flowers", _inputs(rows))
    assert caught.value.status() == "503" and "is unloaded" in caught.value.message()

    client.load_model("flowers", headers=AUTH)  # no file: from where it came, --model here
    assert client.is_model_ready("flowers", "1") and server.current.version == "1"
    for parameters, message in [
        ({"config": "{"}, "parameter 'config' is not JSON"),
        ({"file:3/weights.bin": "AA=="}, 'one "file:<version>/model.onnx"'),
        ({"file:3/model.onnx": "not base64!"}, "is not base64"),
        ({"file:3/model.onnx": "AAAA"}, "version 3 was not loaded"),
    ]:
        resp = requests.post(
            f"{url}/v2/repository/models/flowers/load",
            json={"parameters": parameters},
            headers=AUTH,
            timeout=10,
        )
        assert resp.status_code == 400 and message in resp.json()["error"], message
    assert server.current.version == "1"


def test_without_a_token_the_repository_extension_is_not_advertised(tmp_path, models):
    server = ModelServer("flowers", model_path=models["v1"], cache_dir=tmp_path / "c")
    with triton_client(server) as client:
        assert client.get_server_metadata()["extensions"] == ["binary_tensor_data"]
        with pytest.raises(InferenceServerException) as caught:
            client.unload_model("flowers")
        assert caught.value.status() == "403"
        assert client.is_model_ready("flowers")
