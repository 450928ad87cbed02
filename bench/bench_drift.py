"""drift-check at scale: 1,000,000 rows x 25 columns (20 numeric, 5 categorical), both frames.

Prints ours against Evidently 0.7's DataDriftPreset (its own venv, a subprocess) and against
a floor (one read, one sort per numeric column, one factorize per string column), the
per-column verdict agreement and largest relative statistic difference, and peak memory
against the two frames' in-memory size.

    make evidently-venv && .venv/bin/python bench/bench_drift.py [--rows N] [--no-evidently]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from harness import report, script_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / ".results"
# make evidently-venv builds it here; EVIDENTLY_PYTHON points elsewhere (e.g. a shared one)
EVIDENTLY_PYTHON = Path(
    os.environ.get("EVIDENTLY_PYTHON", ROOT / ".venv-evidently" / "bin" / "python")
)
CATEGORIES = {"cat_3": 3, "cat_10": 10, "cat_50": 50, "cat_2": 2, "cat_200": 200}


def make_frame(rows: int, seed: int, drifted: bool) -> pd.DataFrame:
    """20 numeric columns of varied shapes (some move in current) and 5 string columns."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i in range(20):
        shift = 0.15 if drifted and i % 4 == 0 else 0.0
        if i % 5 == 4:
            data[f"num_{i}"] = rng.integers(0, 1000 + (200 if shift else 0), rows)
        elif i % 3 == 0:
            data[f"num_{i}"] = rng.normal(shift, 1.0, rows)
        elif i % 3 == 1:
            data[f"num_{i}"] = rng.lognormal(shift, 0.5, rows)
        else:
            data[f"num_{i}"] = rng.uniform(shift, 1.0 + shift, rows).round(3)
    for j, (name, k) in enumerate(CATEGORIES.items()):
        p = np.linspace(1.0, 2.0, k)
        if drifted and j % 2 == 0:
            p = p[::-1]
        data[name] = np.array([f"v{x}" for x in range(k)], dtype=object)[
            rng.choice(k, rows, p=p / p.sum())
        ]
    return pd.DataFrame(data)


def files(rows: int) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    ref, cur = RESULTS / f"drift_ref_{rows}.parquet", RESULTS / f"drift_cur_{rows}.parquet"
    if not (ref.exists() and cur.exists()):
        make_frame(rows, 1, False).to_parquet(ref)
        make_frame(rows, 2, True).to_parquet(cur)
    return ref, cur


def run_ours(ref: Path, cur: Path) -> dict:
    """Ours, as the library runs it: read both files, summarise each column, test them
    (one column's summaries at a time, as the tests' ``FrameSummaries`` makes them)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from mlops_actions.drift.dataset import detect_drift
    from support.drift_frames import FrameSummaries

    start = time.perf_counter()
    reference, current = pd.read_parquet(ref), pd.read_parquet(cur)
    drift = detect_drift(FrameSummaries(reference), FrameSummaries(current))
    seconds = time.perf_counter() - start
    frames = int(reference.memory_usage(deep=True).sum() + current.memory_usage(deep=True).sum())
    return {
        "seconds": seconds,
        "frames_bytes": frames,
        "columns": {
            c.column: {"test": c.test, "score": c.score, "drifted": c.drifted}
            for c in drift.columns
        },
    }


def run_ours_built(ref: Path, cur: Path) -> dict:
    """Ours with the reference built once (drift-check's cache, a packaged model's profile):
    load its sorted values, read and summarise only the current file, test."""
    sys.path.insert(0, str(ROOT / "tests"))
    from mlops_actions.drift.dataset import detect_drift
    from mlops_actions.drift.profile import (
        load_binary,
        profile_columns,
        profile_from_summaries,
        save_binary,
    )
    from support.drift_frames import FrameSummaries

    built = ref.with_suffix(".npz")
    if not built.exists():  # once, untimed: what the first check (or package-onnx) does
        reference = pd.read_parquet(ref)
        summaries = dict(FrameSummaries(reference).items())
        save_binary(built, profile_from_summaries(summaries, rows=len(reference), max_points=None))
        del reference, summaries
    start = time.perf_counter()
    reference = profile_columns(load_binary(built))
    drift = detect_drift(reference, FrameSummaries(pd.read_parquet(cur)))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "columns": {
            c.column: {"test": c.test, "score": c.score, "drifted": c.drifted}
            for c in drift.columns
        },
    }


def run_floor(ref: Path, cur: Path) -> float:
    start = time.perf_counter()
    for path in (ref, cur):
        frame = pd.read_parquet(path)
        for column in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[column].dtype):
                np.sort(frame[column].to_numpy())
            else:
                pd.factorize(frame[column])
    return time.perf_counter() - start


def _rss_bytes() -> int:
    """Resident memory now: the interpreter and libraries before any data is read."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=["ours", "built", "floor"])
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args()
    ref, cur = files(args.rows)
    if args.mode:
        import mlops_actions.drift.dataset  # noqa: F401  (imports belong to the baseline)

        baseline = _rss_bytes()
        runs = {"ours": run_ours, "built": run_ours_built}
        result = (
            runs[args.mode](ref, cur) if args.mode in runs else {"seconds": run_floor(ref, cur)}
        )
        result["peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result["baseline_bytes"] = baseline
        print(json.dumps(result))
        return 0

    ours = min(
        (script_json(__file__, "--rows", str(args.rows), "--mode", "ours") for _ in range(3)),
        key=lambda r: r["seconds"],
    )
    floor = min(
        (script_json(__file__, "--rows", str(args.rows), "--mode", "floor") for _ in range(3)),
        key=lambda r: r["seconds"],
    )
    built = min(
        (script_json(__file__, "--rows", str(args.rows), "--mode", "built") for _ in range(3)),
        key=lambda r: r["seconds"],
    )
    assert built["columns"] == ours["columns"], "the built reference changed a statistic"
    print(f"{args.rows:,} rows x 25 columns, reference and current")
    for label, run in (("drift-check", ours), ("drift-check, reference built once,", built)):
        report(f"{label} vs floor (time)", run["seconds"], "floor", floor["seconds"])
    mib = 2**20
    frames = ours["frames_bytes"]
    met = report(
        "drift-check memory above start-up vs the 2 frames",
        (ours["peak_bytes"] - ours["baseline_bytes"]) / mib,
        "frames",
        frames / mib,
        unit="MiB",
        target=2.0,
    )
    report(
        "drift-check peak memory vs floor",
        ours["peak_bytes"] / mib,
        "floor",
        floor["peak_bytes"] / mib,
        unit="MiB",
    )
    if args.no_evidently or not EVIDENTLY_PYTHON.exists():
        print("Evidently skipped (make evidently-venv builds its venv)")
        return 0 if met else 1
    peer = subprocess.run(
        [
            str(EVIDENTLY_PYTHON),
            str(ROOT / "bench" / "drift_evidently_peer.py"),
            str(ref),
            str(cur),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    evidently = json.loads(peer.stdout.strip().splitlines()[-1])
    for label, run in (("drift-check", ours), ("drift-check, reference built once,", built)):
        met &= report(
            f"{label} vs Evidently DataDriftPreset (time)",
            run["seconds"],
            "evidently",
            evidently["seconds"],
            target=1 / 50,
        )
    report(
        "drift-check peak memory vs Evidently",
        ours["peak_bytes"] / mib,
        "evidently",
        evidently["peak_bytes"] / mib,
        unit="MiB",
    )
    agree, worst = 0, 0.0
    for name, theirs in evidently["columns"].items():
        mine = ours["columns"][name]
        agree += mine["drifted"] == theirs["drifted"]
        if theirs["score"]:
            worst = max(worst, abs(mine["score"] - theirs["score"]) / abs(theirs["score"]))
        elif mine["score"]:
            worst = math.inf
    total = len(evidently["columns"])
    print(
        f"verdict agreement: {agree}/{total} columns; largest relative statistic difference {worst:.2e}"
    )
    return 0 if met and agree == total and worst <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
