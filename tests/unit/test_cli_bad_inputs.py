"""Every bad input the CLI meets ends in exit 2 and one line naming the file, key or column:
never the catch-all "unexpected …" that ``cli.main`` keeps for bugs, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_actions.cli import main


def _rows(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "c0": rng.normal(size=rows).round(3),
            "c1": rng.choice(["x", "y"], rows),
            "label": rng.choice(["p", "q"], rows),
        }
    )


def _project(root: Path, rows: pd.DataFrame | None = None, **changes) -> Path:
    """A small classification project; ``changes`` set config keys (``data__test`` is data.test)."""
    (_rows() if rows is None else rows).to_csv(root / "train.csv", index=False)
    doc = {
        "name": "toy",
        "task": "classification",
        "data": {"train": "train.csv", "target": "label"},
        "model": {"estimator": "sklearn.tree.DecisionTreeClassifier"},
        "deploy": {"targets": {"models": {"type": "registry", "url": "registry"}}},
    }
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    (root / "mlops.yaml").write_text(yaml.safe_dump(doc))
    return root


def _trained(root: Path) -> Path:
    _project(root)
    assert main(["train", "--config", str(root / "mlops.yaml")]) == 0
    return root


def _write(name: str, content: bytes) -> Callable[[Path], Path]:
    def setup(root: Path) -> Path:
        _trained(root)
        (root / name).write_bytes(content)
        return root

    return setup


def _one_version(root: Path) -> None:
    from mlops_actions.registry.store import Registry

    (root.parent / "m.onnx").write_bytes(b"model")
    Registry(root).register("toy", {"model.onnx": root.parent / "m.onnx"}, {"sha256": "x"})


CASES: list[tuple[str, Callable[[Path], object], list[str], str]] = [
    ("config file missing", lambda r: None, ["train", "--config", "nope.yaml"], "nope.yaml"),
    (
        "config not YAML",
        lambda r: (r / "mlops.yaml").write_text("name: [unclosed\n"),
        ["train"],
        "mlops.yaml",
    ),
    (
        "config value of the wrong type",
        lambda r: _project(r, gate={"metrics": {"accuracy": {"min": "high"}}}),
        ["train"],
        "gate.metrics.accuracy.min",
    ),
    (
        "unknown config key",
        lambda r: _project(r, model__estimatr="x"),
        ["train"],
        "model.estimatr",
    ),
    ("--set without =", _project, ["train", "--set", "nokey"], "--set 'nokey'"),
    (
        "train file missing",
        lambda r: _project(r, data__train="nope.csv"),
        ["train"],
        "nope.csv",
    ),
    (
        "train file empty",
        lambda r: (_project(r), (r / "train.csv").write_bytes(b"")),
        ["train"],
        "train.csv",
    ),
    (
        "train file binary",
        lambda r: (_project(r), (r / "train.csv").write_bytes(bytes(range(256)) * 4)),
        ["train"],
        "train.csv",
    ),
    (
        "target column missing",
        lambda r: _project(r, data__target="species"),
        ["train"],
        "'species'",
    ),
    (
        "one class in the training rows",
        lambda r: _project(r, _rows().assign(label="p")),
        ["train"],
        "target 'label' has only the class 'p'",
    ),
    (
        "a feature column with no values",
        lambda r: _project(r, _rows().assign(c0=np.nan)),
        ["train"],
        "column 'c0' has no values",
    ),
    (
        "no feature columns",
        lambda r: _project(r, data__drop=["c0", "c1"]),
        ["train"],
        "no feature columns",
    ),
    (
        "regression target of words",
        lambda r: _project(
            r, task="regression", model__estimator="sklearn.tree.DecisionTreeRegressor"
        ),
        ["train"],
        "target 'label' holds",
    ),
    (
        "estimator cannot be imported",
        lambda r: _project(r, model__estimator="sklearn.nope.Tree"),
        ["train"],
        "model.estimator 'sklearn.nope.Tree'",
    ),
    (
        "unknown estimator parameter",
        lambda r: _project(r, model__params={"max_deepth": 3}),
        ["train"],
        "model.params.max_deepth",
    ),
    (
        "test file without a feature column",
        lambda r: (
            _project(r, data__test="test.csv"),
            _rows(10).drop(columns="c1").to_csv(r / "test.csv"),
        ),
        ["train"],
        "test.csv: column 'c1' not found",
    ),
    (
        "test file without a labelled row",
        lambda r: (
            _project(r, data__test="test.csv"),
            _rows(10).assign(label=None).to_csv(r / "test.csv", index=False),
        ),
        ["train"],
        "test.csv: no row has a value in target 'label'",
    ),
    ("gate without a model", _project, ["evaluate-gate"], "model.joblib: no candidate model"),
    (
        "gate baseline not JSON",
        _write("bad.json", b"{not json"),
        ["evaluate-gate", "--baseline", "bad.json"],
        "bad.json: not valid JSON",
    ),
    (
        "gate baseline a corrupt ONNX file",
        _write("broken.onnx", b"\x08\x07not a protobuf"),
        ["evaluate-gate", "--baseline", "broken.onnx"],
        "broken.onnx",
    ),
    (
        "corrupt model.joblib",
        _write(".mlops/train/model.joblib", b"garbage"),
        ["evaluate-gate"],
        "model.joblib: cannot load the model",
    ),
    ("package without a trained model", _project, ["package-onnx"], "model.joblib"),
    (
        "deploy to an unknown target",
        _project,
        ["deploy", "--target", "nope"],
        "no deploy target 'nope'",
    ),
    (
        "deploy a file that is not ONNX",
        _write("x.onnx", b"garbage"),
        ["deploy", "--target", "models", "--model", "x.onnx"],
        "x.onnx: not a loadable ONNX model",
    ),
    (
        "inspect a file that is not ONNX",
        _write("x.onnx", b"garbage"),
        ["inspect", "x.onnx"],
        "x.onnx",
    ),
    (
        "rollback an alias that was never set",
        _project,
        ["rollback", "--target", "models"],
        "no alias 'production'",
    ),
    (
        "registry show of a missing version",
        lambda r: (_project(r), _one_version(r / "registry")),
        ["registry", "show", "7", "--target", "models"],
        "no version 7",
    ),
    (
        "drift-check without current data",
        _project,
        ["drift-check", "--current", "nope.csv", "--no-alert"],
        "nope.csv: current data not found",
    ),
    (
        "drift-check on current data without rows",
        lambda r: (_project(r), (r / "current.csv").write_text("c0,c1,label\n")),
        ["drift-check", "--current", "current.csv", "--no-alert"],
        "current.csv: current data has no rows",
    ),
    ("validate-data without a schema", _project, ["validate-data"], "data.schema is not set"),
    (
        "validate-data with --chunksize 0",
        lambda r: _project(r, data__schema="schema.yaml"),
        ["validate-data", "--chunksize", "0"],
        "--chunksize",
    ),
]


@pytest.mark.parametrize(
    ("setup", "argv", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line_naming_the_culprit(
    setup, argv, fragment, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    setup(tmp_path)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("mlops: error: "), err
    assert "unexpected" not in err and "Traceback" not in err, err
    assert fragment in err, err
