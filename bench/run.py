"""Run every ``bench/bench_*.py`` (or the names given), each in a fresh process.

    python bench/run.py            # all
    python bench/run.py startup    # bench/bench_startup.py only
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
    failed = []
    for script in scripts:
        print(f"== {script.stem.removeprefix('bench_')}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"benchmarks that errored: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
