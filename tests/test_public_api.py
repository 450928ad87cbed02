"""The package's public surface: what `import mlops_actions` offers is what the README promises."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import mlops_actions

REPO = Path(__file__).resolve().parents[1]
STAGES = sorted(
    p.stem for p in (REPO / "src/mlops_actions/stages").glob("*.py") if not p.stem.startswith("_")
)


def test_every_exported_name_resolves():
    for name in mlops_actions.__all__:
        assert getattr(mlops_actions, name) is not None, name


def test_every_stage_entry_function_is_exported():
    """One module per stage, one public entry named after it, reachable from the package."""
    for stage in STAGES:
        module = importlib.import_module(f"mlops_actions.stages.{stage}")
        assert getattr(mlops_actions, stage) is getattr(module, stage), stage


def test_names_the_readme_imports_exist():
    readme = (REPO / "README.md").read_text()
    imported = re.findall(r"from mlops_actions import ([\w, ]+)", readme)
    assert imported
    for names in imported:
        for name in names.split(","):
            assert name.strip() in mlops_actions.__all__, name


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="nope"):
        mlops_actions.nope  # noqa: B018
