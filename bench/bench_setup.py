"""What actions/setup costs a job: installing the hash-pinned dependency set, pip against uv.

Cold is an empty download cache (a job whose cache missed); warm is a second install into a
fresh virtual environment with the cache the first one filled (a cache hit). Each installer
runs in its own temporary cache and environment, with this machine's pip configuration (extra
indexes and local wheel folders) switched off, so both fetch the same files from PyPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import report

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "action.txt"
UV = Path(sys.executable).with_name("uv")


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_CACHE_DIR=str(cache), UV_CACHE_DIR=str(cache))
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", UV_NO_CONFIG="1")
    return env


def _install(tool: str, cache: Path, work: Path) -> float:
    """Seconds to create a fresh environment and install the lock and the package into it."""
    venv = work / f"venv-{time.monotonic_ns()}"
    env = _env(cache)
    start = time.perf_counter()
    if tool == "uv":
        python = venv / "bin" / "python"
        steps = [
            [str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)],
            [
                str(UV),
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python),
                "--require-hashes",
                "-r",
                str(LOCK),
            ],
            [
                str(UV),
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python),
                "--no-deps",
                "--no-build-isolation",
                str(ROOT),
            ],
        ]
    else:
        python = venv / "bin" / "python"
        pip = [str(python), "-m", "pip", "install", "--quiet", "--progress-bar", "off"]
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [*pip, "--require-hashes", "-r", str(LOCK)],
            [*pip, "--no-deps", "--no-build-isolation", str(ROOT)],
        ]
    for step in steps:
        subprocess.run(step, check=True, env=env, cwd=work)
    seconds = time.perf_counter() - start
    shutil.rmtree(venv)
    return seconds


def main() -> int:
    if not UV.exists():
        print(f"bench_setup: {UV} is missing; `make install` installs uv with the dev extra")
        return 2
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for tool in ("pip", "uv"):
            cache = work / f"cache-{tool}"
            times[tool, "cold"] = _install(tool, cache, work)
            times[tool, "warm"] = _install(tool, cache, work)
    for state in ("cold", "warm"):
        report(
            f"actions/setup install, {state} cache (uv vs pip)",
            times["uv", state],
            "pip",
            times["pip", state],
        )
    report(
        "actions/setup install with uv, warm vs cold cache",
        times["uv", "warm"],
        "cold",
        times["uv", "cold"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
