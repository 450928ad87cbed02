"""Fixtures shared by the whole suite: example projects in temp folders, and the CLI in a subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import UNREACHABLE_API, copy_example, run_mlops

pytest_plugins = ["support.fakegithub.plugin", "support.mlflow_server"]
# what a developer's shell or a CI runner exports that would point a test at the real GitHub
# (or at the team's MLflow tracker)
_HOST_PREFIXES = ("GITHUB_", "ACTIONS_", "RUNNER_", "MLFLOW_")
_HOST_TOKENS = ("GH_TOKEN", "GH_ENTERPRISE_TOKEN")


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
        copy_example(name, target)
        return target

    return copy


@pytest.fixture
def mlops():
    return run_mlops
