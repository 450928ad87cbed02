"""Hypothesis feeds the config loader and the data readers malformed input: every failure is
a one-line MlopsError (exit 2 in the CLI), never another exception."""

from __future__ import annotations

import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_actions.config import load_config
from mlops_actions.data import read_table
from mlops_actions.errors import MlopsError

VALID = {
    "name": "m",
    "task": "classification",
    "data": {"train": "t.csv", "target": "y", "split": {"test_size": 0.2, "seed": 1}},
    "model": {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": 1.0}},
    "gate": {"metrics": {"accuracy": {"min": 0.5}}},
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
key_paths = st.sampled_from(
    [
        "name",
        "task",
        "data",
        "data.train",
        "data.target",
        "data.split",
        "data.split.test_size",
        "data.features",
        "model",
        "model.params",
        "model.estimator",
        "gate",
        "gate.metrics",
        "gate.metrics.accuracy",
        "gate.metrics.accuracy.min",
        "extra",
        "data.extra",
        "github.token_env",
    ]
)
settings.register_profile(
    "mlops", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("mlops")


def _mutate(doc: dict, path: str, value: object) -> dict:
    node = doc
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value
    return doc


def _loads_or_fails_cleanly(path) -> None:
    try:
        load_config(path)
    except MlopsError as exc:
        assert str(exc) and "\n" not in str(exc)


@given(mutations=st.lists(st.tuples(key_paths, values), min_size=1, max_size=3))
@settings(max_examples=150)
def test_mutated_configs(tmp_path, mutations):
    import copy

    doc = copy.deepcopy(VALID)
    for path, value in mutations:
        _mutate(doc, path, value)
    target = tmp_path / "mlops.yaml"
    target.write_text(yaml.safe_dump(doc, allow_unicode=True))
    _loads_or_fails_cleanly(target)


@given(text=st.text(alphabet=string.printable + "äé:{}[]-&*!|>'\"%@`", max_size=200))
@settings(max_examples=150)
def test_arbitrary_yaml_text(tmp_path, text):
    target = tmp_path / "mlops.yaml"
    target.write_text(text)
    _loads_or_fails_cleanly(target)


@given(overrides=st.lists(st.text(max_size=30), max_size=3))
@settings(max_examples=100)
def test_arbitrary_set_overrides(tmp_path, overrides):
    target = tmp_path / "mlops.yaml"
    target.write_text(yaml.safe_dump(VALID))
    try:
        load_config(target, overrides)
    except MlopsError as exc:
        assert "\n" not in str(exc)


@given(content=st.binary(max_size=300))
@settings(max_examples=150)
def test_arbitrary_bytes_as_csv(tmp_path, content):
    target = tmp_path / "data.csv"
    target.write_bytes(content)
    try:
        read_table(target)
    except MlopsError as exc:
        assert "data.csv" in str(exc) and "\n" not in str(exc)


csv_cells = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=False, width=16).map(str),
    st.sampled_from(["", "NA", "x", "1e3", '"q,u"', "  ", "nan"]),
)


@given(
    rows=st.lists(st.lists(csv_cells, min_size=1, max_size=4), min_size=0, max_size=12),
    sep=st.sampled_from([",", ";", "\t"]),
)
@settings(max_examples=150)
def test_csv_like_tables(tmp_path, rows, sep):
    target = tmp_path / "data.csv"
    header = sep.join(f"c{i}" for i in range(3))
    target.write_text(header + "\n" + "\n".join(sep.join(r) for r in rows) + "\n")
    try:
        frame = read_table(target)
    except MlopsError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(frame) > 0


@given(content=st.binary(max_size=200))
@settings(max_examples=50)
def test_arbitrary_bytes_as_parquet(tmp_path, content):
    target = tmp_path / "data.parquet"
    target.write_bytes(b"PAR1" + content)
    try:
        read_table(target)
    except MlopsError as exc:
        assert "data.parquet" in str(exc)
