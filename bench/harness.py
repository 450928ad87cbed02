"""What every benchmark prints: ours against a named peer, as a ratio, beside its target."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def median_seconds(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command_seconds(cmd: Sequence[str], *, repeat: int = 15) -> float:
    """Median wall time of a fresh process running ``cmd``."""
    return median_seconds(
        lambda: subprocess.run(
            cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ),
        repeat=repeat,
        warmup=2,
    )


def script_json(script: str | Path, *args: str) -> dict:
    """Run a bench script in a fresh process (so its peak memory is its own) and read the
    JSON on the last line of its output."""
    out = subprocess.run(
        [sys.executable, str(script), *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(
    name: str,
    ours: float,
    peer_name: str,
    peer: float,
    *,
    unit: str = "s",
    target: float | None = None,
    higher_is_better: bool = False,
) -> bool:
    """Print one line ``name: ours | peer | ratio (target)``; return whether the target is met.

    The ratio is always ours/peer; ``higher_is_better`` says which side of the target passes
    (throughput) as opposed to costs such as time and memory.
    """
    ratio = ours / peer if peer else float("inf")
    verdict = ""
    if target is not None:
        met = ratio >= target if higher_is_better else ratio <= target
        verdict = (
            f"  target {'≥' if higher_is_better else '≤'} {target:g}×  {'PASS' if met else 'MISS'}"
        )
    else:
        met = True
    print(
        f"{name}: ours {_show(ours, unit)} | {peer_name} {_show(peer, unit)} | ratio {ratio:.2f}×{verdict}"
    )
    sys.stdout.flush()
    return met


def _show(value: float, unit: str) -> str:
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.1f} µs"
        if value < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    return f"{value:,.3g} {unit}"
