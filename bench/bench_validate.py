"""validate-data on 1,000,000 rows x 26 columns with 78 checks, against pandera called directly.

    python bench/bench_validate.py            (or: python bench/run.py validate)

78 checks = 26 dtypes + 26 not-null + 15 float ranges + 5 integer ranges + 5 category sets
+ 1 uniqueness. "Ours" is the whole stage (read, pandera lazy validation, profile, row hashes,
dataset checks, result.json); "pandera" is ``read + schema.validate(df, lazy=True)`` on the same
file and schema. Peak memory is the peak RSS of a fresh process running the stage, against the
DataFrame's own in-memory size (both above what the interpreter and libraries take before any
data is read). Great Expectations runs in its own venv (``make ge-venv``) on the same data in
memory; without that venv it is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import median_seconds, report

ROWS = 1_000_000
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "build" / "bench-validate"
GE_VENV = ROOT / ".venv-ge"
FLOATS, INTS, CATEGORIES = 15, 5, 4
LABELS = ["a", "b", "c"]
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def make_data() -> None:
    """The same seeded data as CSV and Parquet (written once, kept under build/)."""
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet

    if (DATA / "data.parquet").exists() and (DATA / "data.csv").exists():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    columns = {"id": rng.permutation(ROWS).astype(np.int64)}
    for i in range(FLOATS):
        columns[f"f{i:02d}"] = rng.normal(i, 1 + i, ROWS).round(4)
    for i in range(INTS):
        columns[f"i{i:02d}"] = rng.integers(0, 1000, ROWS)
    for i in range(CATEGORIES):
        columns[f"c{i:02d}"] = np.asarray(WORDS[: 3 + i])[rng.integers(0, 3 + i, ROWS)]
    columns["label"] = np.asarray(LABELS)[rng.integers(0, 3, ROWS)]
    table = pa.table(columns)
    pyarrow.parquet.write_table(table, DATA / "data.parquet")
    pyarrow.csv.write_csv(table, DATA / "data.csv")


def write_project() -> None:
    import pandas as pd
    import pandera.pandas as pa
    import yaml

    frame = pd.read_parquet(DATA / "data.parquet")
    spec = {"id": pa.Column("int64", unique=True)}
    for name in frame.columns:
        if name.startswith(("f", "i")):
            spec[name] = pa.Column(
                str(frame[name].dtype),
                pa.Check.in_range(frame[name].min().item(), frame[name].max().item()),
            )
        elif name != "id":
            spec[name] = pa.Column("str", pa.Check.isin(sorted(frame[name].unique())))
    (DATA / "schema.yaml").write_text(pa.DataFrameSchema(spec).to_yaml())
    for fmt in ("csv", "parquet"):
        doc = {
            "name": "bench",
            "task": "classification",
            "data": {"train": f"data.{fmt}", "target": "label", "schema": "schema.yaml"},
        }
        (DATA / f"mlops-{fmt}.yaml").write_text(yaml.safe_dump(doc))


def checks_in_schema() -> int:
    import pandera.pandas as pa

    schema = pa.DataFrameSchema.from_yaml(DATA / "schema.yaml")
    return sum(2 + len(c.checks) + bool(c.unique) for c in schema.columns.values())


def ours(fmt: str, chunksize: int | None = None) -> None:
    from mlops_actions.config import load_config
    from mlops_actions.stages.validate_data import validate_data

    with tempfile.TemporaryDirectory() as workdir:
        result = validate_data(
            load_config(DATA / f"mlops-{fmt}.yaml"), workdir=workdir, chunksize=chunksize
        )
    assert result.passed, result.failure_message()


def pandera_direct(fmt: str) -> None:
    import pandas as pd
    import pandera.pandas as pa

    schema = pa.DataFrameSchema.from_yaml(DATA / "schema.yaml")
    if fmt == "csv":
        text = [n for n, c in schema.columns.items() if str(c.dtype).startswith("str")]
        frame = pd.read_csv(DATA / "data.csv", dtype=dict.fromkeys(text, str))
    else:
        frame = pd.read_parquet(DATA / "data.parquet")
    schema.validate(frame, lazy=True)


def peak_rss_mb(call: str) -> tuple[float, float]:
    """(peak RSS, RSS once the libraries are imported) of a fresh interpreter running ``call``.

    Read from /proc/self/status (VmHWM belongs to this process image; getrusage's maxrss would
    include the forking parent's size).
    """
    code = (
        f"import re, sys; sys.path[:0] = [{str(ROOT / 'src')!r}, {str(ROOT / 'bench')!r}]; "
        "import pandas, pandera.pandas, pyarrow.parquet, mlops_actions.stages.validate_data; "
        "import mlops_actions.validation.scan; import bench_validate as b; "
        "status = lambda key: float(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read())[1]) / 1024; "
        f"base = status('VmRSS'); b.{call}; print(status('VmHWM'), base)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak, base = done.stdout.split()[-2:]
    return float(peak), float(base)


GE_SCRIPT = r"""
import json, sys, time
import pandas as pd, great_expectations as gx
import great_expectations.expectations as gxe
frame = pd.read_parquet(sys.argv[1]); schema = json.loads(sys.argv[2])
context = gx.get_context(mode="ephemeral")
batch = (context.data_sources.add_pandas("p").add_dataframe_asset("a")
         .add_batch_definition_whole_dataframe("b").get_batch(batch_parameters={"dataframe": frame}))
suite = gx.ExpectationSuite(name="s")
for name, spec in schema.items():
    suite.add_expectation(gxe.ExpectColumnValuesToBeOfType(column=name, type_=spec["type"]))
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=name))
    if "range" in spec:
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=name, min_value=spec["range"][0], max_value=spec["range"][1]))
    if "set" in spec:
        suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=name, value_set=spec["set"]))
    if spec.get("unique"):
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=name))
suite = context.suites.add(suite)
times = []
for _ in range(3):
    start = time.perf_counter(); result = batch.validate(suite); times.append(time.perf_counter() - start)
assert result.success, "GE found failures"
print(sorted(times)[1], len(suite.expectations))
"""


def ge_seconds() -> tuple[float, int] | None:
    """Median GE validation time on the frame in memory, or None when GE cannot be set up.

    ``MLOPS_BENCH_GE_PYTHON`` names an interpreter that already has great_expectations.
    """
    python = Path(os.environ.get("MLOPS_BENCH_GE_PYTHON") or GE_VENV / "bin" / "python")
    if not python.exists():
        print(f"Great Expectations skipped: no {python} (make ge-venv installs it)")
        return None
    import pandera.pandas as pa

    schema = pa.DataFrameSchema.from_yaml(DATA / "schema.yaml")
    spec = {}
    for name, column in schema.columns.items():
        item = {
            "type": "int64"
            if str(column.dtype) == "int64"
            else "float64"
            if str(column.dtype) == "float64"
            else "str"
        }
        for check in column.checks:
            stats = check.statistics
            if "allowed_values" in stats:
                item["set"] = list(stats["allowed_values"])
            else:
                item["range"] = [float(stats["min_value"]), float(stats["max_value"])]
        item["unique"] = bool(column.unique)
        spec[name] = item
    done = subprocess.run(
        [str(python), "-c", GE_SCRIPT, str(DATA / "data.parquet"), json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"Great Expectations skipped: its run failed ({tail[:200]})")
        return None
    seconds, expectations = done.stdout.split()[-2:]
    return float(seconds), int(expectations)


def pandera_validate_only() -> float:
    import pandas as pd
    import pandera.pandas as pa

    schema = pa.DataFrameSchema.from_yaml(DATA / "schema.yaml")
    frame = pd.read_parquet(DATA / "data.parquet")
    return median_seconds(lambda: schema.validate(frame, lazy=True), repeat=3, warmup=1)


def interleaved(
    first, second, *, repeat: int = 5
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) seconds of two calls run alternately, so load from other processes
    hits both alike; CPU time (all threads) is the steadier figure on a shared machine."""
    first(), second()  # warm up
    runs: tuple[list, list] = ([], [])
    for _ in range(repeat):
        for call, times in zip((first, second), runs, strict=True):
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            times.append((time.perf_counter() - wall, time.process_time() - cpu))
    median = lambda values: sorted(values)[repeat // 2]  # noqa: E731
    return tuple((median([w for w, _ in t]), median([c for _, c in t])) for t in runs)


def main() -> None:
    import pandas as pd

    start = time.perf_counter()
    make_data()
    write_project()
    print(
        f"data: {ROWS:,} rows x 26 columns, {checks_in_schema()} checks (built in {time.perf_counter() - start:.0f} s)"
    )
    met = True
    for fmt in ("parquet", "csv"):
        (mine, mine_cpu), (peer, peer_cpu) = interleaved(
            lambda fmt=fmt: ours(fmt), lambda fmt=fmt: pandera_direct(fmt)
        )
        met &= report(
            f"validate-data wall time ({fmt}, read included)",
            mine,
            "pandera lazy",
            peer,
            target=1.3,
        )
        report(f"  same runs, CPU time ({fmt})", mine_cpu, "pandera lazy", peer_cpu)
    frame_mb = pd.read_parquet(DATA / "data.parquet").memory_usage(deep=True).sum() / 2**20
    for fmt in ("parquet", "csv"):
        peak, base = peak_rss_mb(f"ours({fmt!r})")
        peer_peak, peer_base = peak_rss_mb(f"pandera_direct({fmt!r})")
        print(
            f"peak RSS ({fmt}): ours {peak:.0f} MB, pandera direct {peer_peak:.0f} MB; "
            f"{base:.0f} MB of it is the interpreter and libraries before any data is read"
        )
        met &= report(
            f"validate-data peak memory above the libraries ({fmt})",
            peak - base,
            "DataFrame in memory",
            frame_mb,
            unit="MB",
            target=3,
        )
        report(
            f"  for scale: pandera direct, same measure ({fmt})",
            peer_peak - peer_base,
            "DataFrame in memory",
            frame_mb,
            unit="MB",
        )
    peak, base = peak_rss_mb("ours('csv', chunksize=100_000)")
    report(
        "validate-data --chunksize 100000 peak memory above the libraries (csv)",
        peak - base,
        "DataFrame in memory",
        frame_mb,
        unit="MB",
    )
    ge = ge_seconds()
    if ge is not None:
        seconds, expectations = ge
        report(
            f"validation in memory, {expectations} expectations: pandera lazy (our engine)",
            pandera_validate_only(),
            "Great Expectations",
            seconds,
        )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
