"""Run every ``bench/bench_*.py`` (or the names given), each in a fresh process.

    python bench/run.py            # all
    python bench/run.py startup    # bench/bench_startup.py only

A benchmark exits 1 when it missed a target (its MISS lines say which) and anything else
non-zero when it could not run. Missed targets are listed at the end; only errors fail the run,
since timings on a shared machine move with its load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [HERE / f"bench_{name}.py" for name in argv]
    missed, errored = [], []
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        print(f"== {name}", flush=True)
        code = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        if code == 1:
            missed.append(name)
        elif code:
            errored.append(name)
    if missed:
        print(f"targets missed in: {', '.join(missed)} (see the MISS lines above)")
    if errored:
        print(f"benchmarks that could not run: {', '.join(errored)}")
    return 1 if errored else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
