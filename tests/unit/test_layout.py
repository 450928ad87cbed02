"""The layering the package keeps, checked on its source: a newcomer can trust the folder names."""

from __future__ import annotations

import ast
import inspect

import pytest

from mlops_actions.stages._common import StageResult
from support import SRC

PACKAGE = SRC / "mlops_actions"
TOP = {"cli.py", "__init__.py", "__main__.py"}  # the layers above the stages


def _imported_modules(path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level:
            found += [(node.lineno, node.module or "")]
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


def test_nothing_below_the_stages_imports_a_stage():
    upward = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "stages" and path.name not in TOP
        for line, name in _imported_modules(path)
        if name.startswith("mlops_actions.stages")
    ]
    assert upward == []


STAGE_MODULES = sorted(p.stem for p in (PACKAGE / "stages").glob("[!_]*.py"))


@pytest.mark.parametrize("stage", STAGE_MODULES)
def test_a_stage_module_has_one_entry_function_and_its_result(stage):
    import importlib

    module = importlib.import_module(f"mlops_actions.stages.{stage}")
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
        and (inspect.isfunction(value) or inspect.isclass(value))
    }
    results = {
        n for n in public if inspect.isclass(v := getattr(module, n)) and issubclass(v, StageResult)
    }
    assert public - results == {stage}, "one public entry function, named after the module"
    assert len(results) == 1, "one result type"
