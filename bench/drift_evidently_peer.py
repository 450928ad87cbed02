"""Evidently's DataDriftPreset on the drift bench's Parquet files; prints one JSON line.

Runs in the Evidently venv (``make evidently-venv``): it imports nothing from this project.
    .venv-evidently/bin/python bench/drift_evidently_peer.py REF.parquet CUR.parquet
"""

from __future__ import annotations

import json
import resource
import sys
import time

import pandas as pd


def main(reference_path: str, current_path: str) -> None:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference).dict()
    seconds = time.perf_counter() - start
    columns = {}
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {"method": config["method"], "score": metric["value"]}
    for test in snapshot["tests"]:
        column = test["name"].removeprefix("Value Drift for column ")
        if column in columns:
            columns[column]["drifted"] = test["status"] == "FAIL"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_bytes": peak, "columns": columns}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
