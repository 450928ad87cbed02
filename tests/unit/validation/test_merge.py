"""validate-data's per-partition results, merged on a cluster, equal one pass over the
concatenation.

For random rows (drawn from small pools, so ids, whole rows and test rows repeat across
partitions, and values break the schema's ranges, sets and nullability) cut into random
Parquet partitions, ``distributed.scan_roles`` on a real in-process Dask cluster (two
workers, so two hash buckets) gives ``scan.scan``'s answer on one file holding all the rows:
every failure's count, first positions and values, failing rows, duplicate rows, rows of the
test data also in the training data, and the column profiles. Partitions share the dataset's
column types, as one dataset's files do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_actions.validation import schema as sch
from mlops_actions.validation.scan import Source, kinds_from_schema, scan
from support.validation import SCHEMA

distributed = pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")

ROW = st.tuples(
    st.integers(0, 12),  # id, declared unique
    st.sampled_from([0.5, 3.0, 9.5, 11.0, -1.0, np.nan]),  # size in [0, 10], nullable
    st.sampled_from(["red", "green", "blue", "pink", None]),  # color, not nullable
    st.sampled_from(["a", "b", "c"]),  # label
)
TYPES = pa.schema(
    [("id", pa.int64()), ("size", pa.float64()), ("color", pa.string()), ("label", pa.string())]
)
KEEP = 3  # first rows kept per failure: small, so partitions compete for the places


@pytest.fixture(scope="module")
def client():
    with distributed.Client(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0"
    ) as connected:
        yield connected


def _write(rows: list[tuple], path: Path) -> None:
    import pyarrow.parquet as pq

    frame = pd.DataFrame(rows, columns=TYPES.names)
    pq.write_table(pa.Table.from_pandas(frame, schema=TYPES, preserve_index=False), path)


def _partitioned(data, rows: list[tuple], folder: Path) -> None:
    """``rows`` cut at random places into non-empty files, in order."""
    inner = st.lists(st.integers(1, len(rows) - 1), max_size=5) if len(rows) > 1 else st.just([])
    bounds = [0, *sorted(set(data.draw(inner))), len(rows)]
    folder.mkdir()
    for i, (start, stop) in enumerate(zip(bounds, bounds[1:], strict=False)):
        _write(rows[start:stop], folder / f"part-{i:02d}.parquet")


def _answer(found, reference=None) -> dict:
    failures = [(f.column, f.check, f.count, f.positions, repr(f.values)) for f in found.failures]
    return {
        "rows": found.rows,
        "columns": found.columns,
        "failures": failures,
        "failing_rows": found.failing_rows,
        "duplicates": found.duplicate_rows(KEEP),
        "also_in_train": None if reference is None else found.rows_in(reference, KEEP),
        "profile": found.profile,
    }


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    train=st.lists(ROW, min_size=1, max_size=40),
    test=st.lists(ROW, min_size=1, max_size=15),
    share=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_merged_partitions_equal_the_concatenation(client, data, train, test, share):
    from mlops_actions.validation import distributed as dist

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "schema.yaml").write_text(yaml.safe_dump(SCHEMA))
        schema = sch.load_schema(root / "schema.yaml", config_label="test")
        options = {
            "schema": schema,
            "kinds": kinds_from_schema(schema, {"label"}),
            "edges": {"size": (0.0, 10.0)},
            "hash_columns": sorted(TYPES.names),
            "keep": KEEP,
            "max_duplicate_share": share,
        }
        _write(train, root / "train.parquet")
        _write(test, root / "test.parquet")
        _partitioned(data, train, root / "train")
        _partitioned(data, test, root / "test")
        whole_train = scan(Source("train", root / "train.parquet"), **options)
        whole_test = scan(Source("test", root / "test.parquet"), **options)
        merged_train, merged_test = dist.scan_roles(
            client, [Source("train", root / "train"), Source("test", root / "test")], **options
        )
        assert _answer(merged_train) == _answer(whole_train)
        assert _answer(merged_test, merged_train) == _answer(whole_test, whole_train)
