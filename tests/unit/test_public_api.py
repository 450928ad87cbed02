"""The package's public surface: what `import mlops_actions` offers is what the README promises."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest

import mlops_actions
from support import REPO

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


def test_every_error_class_and_stage_result_is_exported():
    """Callers catch our errors and type our results by importing them from the package."""
    from mlops_actions import errors
    from mlops_actions.stages._common import StageResult

    for stage in STAGES:
        importlib.import_module(f"mlops_actions.stages.{stage}")
    error_classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.MlopsError)
    }
    results = {cls.__name__ for cls in StageResult.__subclasses__()}
    assert len(results) == len(STAGES)
    assert (error_classes | results) <= set(mlops_actions.__all__)


def test_importing_the_package_loads_no_stage():
    """``mlops --help`` pays for what the package imports: the stages load on first use."""
    code = (
        "import sys, mlops_actions; "
        "print(sorted(m for m in sys.modules if m.startswith('mlops_actions.stages')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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
