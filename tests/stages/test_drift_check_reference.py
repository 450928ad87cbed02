"""The training reference is built once: a later check with the same file reads the cached
sorted values, neither parsing nor sorting the file again, and gets the same results."""

from __future__ import annotations

import pytest

from mlops_actions.config import load_config
from mlops_actions.drift import columns
from mlops_actions.stages import drift_check as stage
from support import copy_example


def test_second_check_reuses_the_reference_and_a_changed_file_rebuilds_it(tmp_path, monkeypatch):
    copy_example("penguins", tmp_path / "p")
    config = load_config(tmp_path / "p" / "mlops.yaml")
    current = str(tmp_path / "p" / "data" / "test.csv")
    first = stage.drift_check(config, workdir=tmp_path / "w", current=current, alert=False)
    assert len(list((tmp_path / "w" / "drift-check").glob("reference-*.npz"))) == 1

    def no(*args, **kwargs):
        raise AssertionError("the reference was read or sorted again")

    with monkeypatch.context() as patch:
        patch.setattr(stage, "read_config_table", no)
        patch.setattr(columns, "summarize", no)
        again = stage.drift_check(config, workdir=tmp_path / "w", current=current, alert=False)
    assert again.columns == first.columns and again.target == first.target
    assert again.reference == first.reference

    train = tmp_path / "p" / "data" / "train.csv"
    lines = train.read_text().splitlines(keepends=True)
    train.write_text("".join(lines[: len(lines) // 2]))
    with monkeypatch.context() as patch:
        patch.setattr(stage, "read_config_table", no)
        with pytest.raises(AssertionError, match="read or sorted again"):
            stage.drift_check(config, workdir=tmp_path / "w", current=current, alert=False)
    rebuilt = stage.drift_check(config, workdir=tmp_path / "w", current=current, alert=False)
    assert rebuilt.reference["rows"] < first.reference["rows"]
    assert len(list((tmp_path / "w" / "drift-check").glob("reference-*.npz"))) == 1
