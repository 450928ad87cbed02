"""Where a run computes: the scheduler address from flag, environment or config; the
partitions of a dataset; a scheduler that cannot be reached is one line and exit 2."""

from __future__ import annotations

import socket

import pandas as pd
import pytest
import yaml

from mlops_actions import engine
from mlops_actions.cli import main
from mlops_actions.config import load_config


def _config(tmp_path, compute=None):
    doc = {"name": "t", "task": "regression", "data": {"train": "train.csv", "target": "y"}}
    if compute is not None:
        doc["compute"] = compute
    (tmp_path / "mlops.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path / "mlops.yaml"


def test_flag_wins_over_environment_over_config(tmp_path, monkeypatch):
    config = load_config(_config(tmp_path, {"scheduler": "tcp://config:8786"}))
    monkeypatch.delenv(engine.SCHEDULER_ENV, raising=False)
    assert engine.scheduler_address(None, config) == "tcp://config:8786"
    monkeypatch.setenv(engine.SCHEDULER_ENV, "tcp://env:8786")
    assert engine.scheduler_address(None, config) == "tcp://env:8786"
    assert engine.scheduler_address("tcp://flag:8786", config) == "tcp://flag:8786"
    monkeypatch.delenv(engine.SCHEDULER_ENV)
    assert engine.scheduler_address(None, load_config(_config(tmp_path))) is None


def test_config_rejects_an_unknown_compute_key(tmp_path):
    from mlops_actions.errors import ConfigError

    with pytest.raises(ConfigError, match="compute"):
        load_config(_config(tmp_path, {"schedular": "tcp://x:1"}))


def test_large_parquet_files_split_at_row_groups(tmp_path):
    frame = pd.DataFrame({"x": range(1000)})
    frame.to_parquet(tmp_path / "big.parquet", row_group_size=100)
    frame.head(50).to_parquet(tmp_path / "small.parquet")
    (tmp_path / "c.csv").write_text("x\n1\n")
    parts = engine.partitions(
        [tmp_path / "big.parquet", tmp_path / "small.parquet", tmp_path / "c.csv"], max_rows=350
    )
    assert [(p.rows, p.row_groups, p.first) for p in parts] == [
        (300, (0, 1, 2), 0),
        (300, (3, 4, 5), 300),
        (300, (6, 7, 8), 600),
        (100, (9,), 900),
        (50, None, 0),
        (None, None, 0),
    ]
    assert engine.known_rows(parts) is None and engine.known_rows(parts[:5]) == 1050


@pytest.mark.parametrize("command", ["drift-check", "validate-data"])
def test_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, command):
    pytest.importorskip("distributed")
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "train.csv").write_text("a,y\n1,2\n3,4\n")
    (tmp_path / "schema.yaml").write_text(
        yaml.safe_dump({"columns": {"a": {"dtype": "int64"}, "y": {"dtype": "int64"}}})
    )
    doc = yaml.safe_load(_config(tmp_path).read_text())
    doc["data"]["schema"] = "schema.yaml"
    (tmp_path / "mlops.yaml").write_text(yaml.safe_dump(doc))
    extra = (
        ["--current", str(tmp_path / "train.csv"), "--no-alert"] if command == "drift-check" else []
    )
    code = main(
        [
            command,
            "--config",
            str(tmp_path / "mlops.yaml"),
            "--workdir",
            str(tmp_path / "w"),
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert f"--scheduler tcp://127.0.0.1:{port}: cannot reach the Dask scheduler" in err[0]
