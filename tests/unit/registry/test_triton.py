"""The registry folder as a Triton model repository: ``config.pbtxt`` per model, parsed by
Triton's own ``ModelConfig`` message (tritonclient's gRPC package), following production."""

from __future__ import annotations

import json

import onnxruntime as ort
import pytest
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from mlops_actions.files import sha256_file
from mlops_actions.registry.store import Registry
from mlops_actions.registry.triton import model_config
from support.models import make_model

TYPES = {
    "tensor(double)": "TYPE_FP64",
    "tensor(string)": "TYPE_STRING",
    "tensor(float)": "TYPE_FP32",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return [make_model(root / f"v{seed}", seed=seed) for seed in (1, 2, 3)]


def _config(registry_root, model="flowers"):
    text = (registry_root / model / "config.pbtxt").read_text()
    return text_format.Parse(text, model_config_pb2.ModelConfig())  # raises on any wrong field


def _register(registry, path):
    return registry.register("flowers", {"model.onnx": path}, {"sha256": sha256_file(path)})[0]


def test_config_follows_production_and_describes_the_graph(tmp_path, models):
    registry = Registry(tmp_path / "registry")
    first = _register(registry, models[0])
    config = _config(tmp_path / "registry")  # before any promotion: the first complete version
    assert list(config.version_policy.specific.versions) == [first.version]
    second = _register(registry, models[1])
    assert list(_config(tmp_path / "registry").version_policy.specific.versions) == [1]
    registry.set_alias("flowers", "staging", second.version)
    assert list(_config(tmp_path / "registry").version_policy.specific.versions) == [1]
    registry.set_alias("flowers", "production", second.version)
    config = _config(tmp_path / "registry")
    assert list(config.version_policy.specific.versions) == [2]
    assert (config.name, config.platform, config.max_batch_size) == (
        "flowers",
        "onnxruntime_onnx",
        0,  # no batch cap: each request's rows go to onnxruntime as they come
    )
    assert [g.kind for g in config.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_CPU]
    session = ort.InferenceSession(str(models[1]))
    for declared, graph in (
        (config.input, session.get_inputs()),
        (config.output, session.get_outputs()),
    ):
        assert [
            (t.name, model_config_pb2.DataType.Name(t.data_type), list(t.dims)) for t in declared
        ] == [
            (g.name, TYPES[g.type], [d if isinstance(d, int) else -1 for d in g.shape])
            for g in graph
        ]
    registry.set_alias("flowers", "production", _register(registry, models[2]).version)
    assert list(_config(tmp_path / "registry").version_policy.specific.versions) == [3]
    registry.rollback("flowers", "production")
    assert list(_config(tmp_path / "registry").version_policy.specific.versions) == [2]


def test_registry_of_other_files_writes_no_config(tmp_path):
    source = tmp_path / "model.onnx"
    source.write_bytes(b"not a graph")
    registry = Registry(tmp_path / "registry")
    registry.register("flowers", {"model.onnx": source}, {"sha256": "x"})
    registry.set_alias("flowers", "production", 1)
    assert not (tmp_path / "registry" / "flowers" / "config.pbtxt").exists()


def test_the_load_request_config_is_a_model_config_too(models):
    config = model_config("flowers", models[2].read_bytes(), versions=[7])
    parsed = json_format.Parse(json.dumps(config), model_config_pb2.ModelConfig())
    assert list(parsed.version_policy.specific.versions) == [7]
    assert [o.name for o in parsed.output] == ["label", "probabilities"]
    assert list(parsed.output[1].dims) == [-1, 3]


def test_racing_production_moves_leave_the_config_at_the_last_one(tmp_path, models, monkeypatch):
    """Moves swap the alias without a lock: a deploy that moved production to 2 and is about
    to write the config meets one that moves it to 3 meanwhile; the config ends at 3."""
    registry = Registry(tmp_path / "registry")
    first, second, third = (_register(registry, path) for path in models)
    registry.set_alias("flowers", "production", first.version)
    store, read_tagged, raced = registry._store, registry._store.read_tagged, []

    def the_other_deploy_moves_meanwhile(key):
        found = read_tagged(key)
        if key.endswith("config.pbtxt") and not raced:
            raced.append(key)
            registry.set_alias("flowers", "production", third.version)
        return found

    monkeypatch.setattr(store, "read_tagged", the_other_deploy_moves_meanwhile)
    registry.set_alias("flowers", "production", second.version)
    assert raced and registry.alias("flowers", "production").version == third.version
    assert list(_config(tmp_path / "registry").version_policy.specific.versions) == [3]
