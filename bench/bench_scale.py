"""drift-check and validate-data at scale: one process reading in chunks vs a 2-worker Dask
LocalCluster, on N rows x 25 columns in 40 Parquet files, at several N.

    python bench/bench_scale.py                       # 5M, 10M, 20M rows (disk: ~0.4 GB per 1M)
    python bench/bench_scale.py --rows 5000000        # one size
    python bench/bench_scale.py --rows 5000000 --mode single-drift   # one measurement, JSON

Each measurement runs in a fresh process, so its peak memory is its own; on the cluster the
peak of each worker process is read from the workers themselves (``client.run``). Wall time
is the stage alone (the cluster is started before the clock). Prints seconds and µs per row
per size (linear cost means a flat µs/row), the cluster's time as a ratio of the single
process's, and peak memory per worker, which should not grow with the rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from bench_drift import make_frame  # noqa: E402
from harness import report, script_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "build" / "bench-scale"
FILES = 40
SIZES = (5_000_000, 10_000_000, 20_000_000)
REFERENCE_ROWS = 500_000
CHUNK_ROWS = 200_000
MODES = ("single-drift", "cluster-drift", "single-validate", "cluster-validate")


def dataset(rows: int) -> Path:
    """40 Parquet files of rows/40 rows each (drift in some columns), written once."""
    folder = DATA / f"rows-{rows}"
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    per_file = rows // FILES
    for i in range(FILES):
        frame = make_frame(per_file, 100 + i, drifted=True)
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False),
            folder / f"part-{i:03d}.parquet",
            row_group_size=per_file,
        )
    done.touch()
    return folder


def project() -> Path:
    """The reference (training) file, a schema for all 25 columns and mlops.yaml."""
    DATA.mkdir(parents=True, exist_ok=True)
    config = DATA / "mlops.yaml"
    if config.exists():
        return config
    reference = make_frame(REFERENCE_ROWS, 1, drifted=False)
    reference.to_parquet(DATA / "reference.parquet")
    columns = {}
    for name in reference.columns:
        if name.startswith("num_"):
            columns[name] = {"dtype": str(reference[name].dtype), "nullable": True}
        else:
            values = sorted(set(reference[name]))
            columns[name] = {"dtype": "str", "isin": values}
    (DATA / "schema.yaml").write_text(yaml.safe_dump({"columns": columns}))
    doc = {
        "name": "bench-scale",
        "task": "classification",
        "data": {"train": "reference.parquet", "target": "cat_2", "schema": "schema.yaml"},
        "validation": {"min_rows": 1, "max_duplicate_share": 1.0, "max_missing_share": 1.0},
        "drift": {"chunk_rows": CHUNK_ROWS},
    }
    config.write_text(yaml.safe_dump(doc))
    return config


def measure(mode: str, rows: int) -> dict:
    """One stage run in this (fresh) process; on the cluster, peaks of each worker too."""
    from mlops_actions.config import load_config

    config = load_config(project())
    folder = dataset(rows)
    out = DATA / "work" / mode
    result: dict = {"mode": mode, "rows": rows}

    def run(scheduler: str | None) -> float:
        start = time.perf_counter()
        if mode.endswith("drift"):
            from mlops_actions.stages.drift_check import drift_check

            drift = drift_check(
                config, workdir=out, current=str(folder), alert=False, scheduler=scheduler
            )
            result["drifted"] = drift.drifted_columns
        else:
            from mlops_actions.stages.validate_data import validate_data

            validation = validate_data(
                config, workdir=out, data=[folder], chunksize=CHUNK_ROWS, scheduler=scheduler
            )
            result["failures"] = len(validation.failures)
        return time.perf_counter() - start

    if mode.startswith("single"):
        result["seconds"] = run(None)
        result["peak_bytes"] = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]
        return result
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            memory_limit=0,
        ) as cluster,
        Client(cluster) as client,
    ):
        result["seconds"] = run(cluster.scheduler_address)
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        result["peak_bytes"] = sorted(peaks.values())
        result["client_peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append", help="sizes (default 5M, 10M, 20M)")
    parser.add_argument("--mode", choices=MODES)
    args = parser.parse_args()
    sizes = args.rows or list(SIZES)
    if args.mode:
        print(json.dumps(measure(args.mode, sizes[0])))
        return 0
    project()
    mib = 2**20
    table = []
    for rows in sizes:
        dataset(rows)
        results = {
            mode: script_json(__file__, "--rows", str(rows), "--mode", mode) for mode in MODES
        }
        print(f"{rows:,} rows x 25 columns in {FILES} Parquet files")
        for stage in ("drift", "validate"):
            single, cluster = results[f"single-{stage}"], results[f"cluster-{stage}"]
            assert single.get("drifted") == cluster.get("drifted"), (single, cluster)
            assert single.get("failures") == cluster.get("failures"), (single, cluster)
            report(
                f"{stage} 2-worker cluster vs 1 process (time)",
                cluster["seconds"],
                "1 process",
                single["seconds"],
            )
            print(
                f"  peak memory: 1 process {single['peak_bytes'][0] / mib:,.0f} MiB; "
                f"per worker {', '.join(f'{b / mib:,.0f}' for b in cluster['peak_bytes'])} MiB "
                f"(client {cluster['client_peak_bytes'] / mib:,.0f} MiB)"
            )
            table.append((stage, rows, single, cluster))
    print("cost per row (linear cost: flat µs/row):")
    for stage, rows, single, cluster in table:
        print(
            f"  {stage:8} {rows:>12,} rows: 1 process {single['seconds']:7.1f} s "
            f"({single['seconds'] / rows * 1e6:.2f} µs/row), cluster {cluster['seconds']:7.1f} s "
            f"({cluster['seconds'] / rows * 1e6:.2f} µs/row), "
            f"worker peak {max(cluster['peak_bytes']) / mib:,.0f} MiB"
        )
    print(json.dumps([[s, r, a, b] for s, r, a, b in table]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
