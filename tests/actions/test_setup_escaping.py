"""actions/setup echoes the extras input into an ``::error`` line: a value with a newline or
a percent sign must stay inside that one command (issue 14, part 8)."""

from __future__ import annotations

import os
import subprocess

import pytest

from support import REPO

SETUP = REPO / "actions" / "setup" / "setup.sh"


@pytest.mark.parametrize("step", ["install", "cache-key"])
def test_a_hostile_extras_value_cannot_start_another_workflow_command(step, tmp_path):
    hostile = "serve\n::add-mask::secret\r\n::error::forged 100%"
    env = {**os.environ, "MLOPS_EXTRAS": hostile, "GITHUB_OUTPUT": str(tmp_path / "out")}
    done = subprocess.run(
        ["bash", str(SETUP), step], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("::error title=mlops setup::"), done.stdout
    assert "serve%0A::add-mask::secret%0D%0A::error::forged 100%25" in lines[0]
