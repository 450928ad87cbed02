"""Hypothesis feeds the config loader, the data readers and the stage functions malformed
input: every failure is a one-line MlopsError (exit 2 in the CLI), never another exception."""

from __future__ import annotations

import copy
import string

import numpy as np
import pandas as pd
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


# -- the stage functions on small random tables ---------------------------------------------------

column_kinds = st.sampled_from(["number", "integer", "text", "mixed", "missing", "boolean"])


@st.composite
def tables(draw, *, min_rows: int = 0, max_rows: int = 24) -> pd.DataFrame:
    """A few feature columns of any kind, some cells missing, and a label of one to three classes."""
    rows = draw(st.integers(min_rows, max_rows))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    columns = {}
    for i, kind in enumerate(draw(st.lists(column_kinds, min_size=1, max_size=3))):
        if kind == "number":
            values = rng.normal(size=rows).round(3).astype(object)
        elif kind == "integer":
            values = rng.integers(-3, 3, rows).astype(object)
        elif kind == "text":
            values = rng.choice(["a", "b", "c, d", 'q"u', "é"], rows).astype(object)
        elif kind == "mixed":
            values = rng.choice(["1.5", "x", "", "2", "NA"], rows).astype(object)
        elif kind == "boolean":
            values = rng.choice([True, False], rows).astype(object)
        else:
            values = np.full(rows, None, dtype=object)
        holes = rng.random(rows) < draw(st.sampled_from([0.0, 0.2, 0.9]))
        values[holes] = None
        columns[f"c{i}"] = values
    classes = draw(st.integers(1, 3))
    label = rng.choice(["yes", "no", "maybe"][:classes], rows).astype(object)
    label[rng.random(rows) < draw(st.sampled_from([0.0, 0.1]))] = None
    columns["label"] = label
    return pd.DataFrame(columns)


def _stage_project(root, frame: pd.DataFrame, *, task: str, test: pd.DataFrame | None = None):
    root.mkdir(parents=True, exist_ok=True)
    frame.to_csv(root / "train.csv", index=False)
    doc = copy.deepcopy(VALID)
    doc["task"] = task
    doc["data"] = {"train": "train.csv", "target": "label", "schema": "schema.yaml"}
    if test is not None:
        test.to_csv(root / "test.csv", index=False)
        doc["data"]["test"] = "test.csv"
    estimator = "Classifier" if task == "classification" else "Regressor"
    doc["model"] = {"estimator": f"sklearn.tree.DecisionTree{estimator}", "params": {}}
    doc["gate"] = {"metrics": {}}
    (root / "mlops.yaml").write_text(yaml.safe_dump(doc))
    return load_config(root / "mlops.yaml")


def _only_mlops_errors(call) -> None:
    """Run a stage: it may refuse the input, but only with a one-line MlopsError."""
    try:
        call()
    except MlopsError as exc:
        assert str(exc) and "\n" not in str(exc)


@given(frame=tables(), infer=st.booleans())
@settings(max_examples=30)
def test_validate_data_on_random_tables(tmp_path_factory, frame, infer):
    from mlops_actions.stages.validate_data import validate_data

    root = tmp_path_factory.mktemp("validate")
    config = _stage_project(root, frame, task="classification")
    if not infer:  # a schema inferred from other data: the frame breaks it in every way it can
        other = _stage_project(root / "other", make_frame(30), task="classification")
        _only_mlops_errors(lambda: validate_data(other, workdir=root / "w0", infer_schema=True))
        if (root / "other" / "schema.yaml").exists():
            (root / "schema.yaml").write_bytes((root / "other" / "schema.yaml").read_bytes())
    _only_mlops_errors(lambda: validate_data(config, workdir=root / "w", infer_schema=infer))


@given(frame=tables(), test=st.none() | tables(min_rows=1, max_rows=8), regression=st.booleans())
@settings(max_examples=30)
def test_train_on_random_tables(tmp_path_factory, frame, test, regression):
    from mlops_actions.stages.train import train

    root = tmp_path_factory.mktemp("train")
    if regression:  # a numeric target
        frame = frame.assign(label=np.arange(len(frame), dtype=float))
    task = "regression" if regression else "classification"
    config = _stage_project(root, frame, task=task, test=test)
    _only_mlops_errors(lambda: train(config, workdir=root / "w"))


@given(reference=tables(min_rows=1), current=tables())
@settings(max_examples=30)
def test_drift_check_on_random_tables(tmp_path_factory, reference, current):
    from mlops_actions.stages.drift_check import drift_check

    root = tmp_path_factory.mktemp("drift")
    config = _stage_project(root, reference, task="classification")
    current.to_csv(root / "current.csv", index=False)
    _only_mlops_errors(
        lambda: drift_check(
            config, workdir=root / "w", current=str(root / "current.csv"), alert=False
        )
    )


def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(rows)
    return pd.DataFrame(
        {
            "c0": rng.normal(size=rows).round(3),
            "c1": rng.choice(["a", "b"], rows),
            "label": rng.choice(["yes", "no"], rows),
        }
    )
