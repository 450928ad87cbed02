"""Fixtures shared by the whole suite: example projects in temp folders, and the CLI in a subprocess."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import EXAMPLES, run_mlops

pytest_plugins = ["support.fakegithub.plugin"]


@pytest.fixture
def example(tmp_path: Path):
    """Copy an example project into tmp_path: ``example('penguins') -> Path`` of its folder."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".mlops"))
        return target

    return copy


@pytest.fixture
def mlops():
    return run_mlops
