"""Fixtures shared by the whole suite: example projects in temp folders, and the CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["fakegithub.plugin"]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SRC = REPO / "src"


@pytest.fixture
def example(tmp_path: Path):
    """Copy an example project into tmp_path: ``example('penguins') -> Path`` of its folder."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".mlops"))
        return target

    return copy


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run_mlops(
    *args: str, cwd: Path | str, env: dict[str, str] | None = None, timeout: float = 300
) -> Run:
    """Run ``python -m mlops_actions ARGS`` as a user would, in a fresh process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env["PYTHONPATH"] = str(SRC) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_actions", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def mlops():
    return run_mlops
