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
# what a developer's shell or a CI runner exports that would point a test at the real GitHub
_HOST_PREFIXES = ("GITHUB_", "ACTIONS_", "RUNNER_")
_HOST_TOKENS = ("GH_TOKEN", "GH_ENTERPRISE_TOKEN")
UNREACHABLE_API = "http://127.0.0.1:9/api/v3"  # the discard port: nothing listens there


@pytest.fixture(autouse=True)
def no_real_github(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test never reaches the real GitHub, whatever the shell exports: the GitHub and
    runner variables are gone (so alerts are off unless ``fake_github`` sets them), and a
    client a test builds without the fake points at a closed port, not api.github.com."""
    for name in list(os.environ):
        if name.startswith(_HOST_PREFIXES) or name in _HOST_TOKENS:
            monkeypatch.delenv(name)
    monkeypatch.setenv("GITHUB_API_URL", UNREACHABLE_API)


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
    full_env["GITHUB_API_URL"] = UNREACHABLE_API  # unless env names the fake
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
