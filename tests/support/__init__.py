"""What tests share besides fixtures: the repository's paths and the CLI run as a user runs it.

``support.fakegithub`` (a fake GitHub checked against the OpenAPI description),
``support.harness`` (runs actions and workflows as a runner does), ``support.actions``
and ``support.models`` (helpers for the action and deploy tests) live beside this module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
SRC = REPO / "src"
EXAMPLES = REPO / "examples"
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"
UNREACHABLE_API = "http://127.0.0.1:9/api/v3"  # the discard port: nothing listens there


GITHUB_REGISTRY = "url: github://"
FOLDER_REGISTRY = "url: .mlops/registry"


def copy_example(name: str, dest: Path) -> Path:
    """The example project ``name`` copied to ``dest``, its registry a folder inside it.

    The examples keep their registry on the GitHub repository (``github://``), which only the
    stories in tests/e2e have (the fake GitHub, the examples verbatim); a test of one stage
    keeps it beside the project, where it can see and break it."""
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".mlops"))
    config = dest / "mlops.yaml"
    text = config.read_text()
    assert text.count(GITHUB_REGISTRY) == 1, f"{config}: expected one {GITHUB_REGISTRY!r}"
    config.write_text(text.replace(GITHUB_REGISTRY, FOLDER_REGISTRY))
    return dest


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
