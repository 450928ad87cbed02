"""validate-data's pass on a Dask cluster, with the single-machine pass's answers.

Each partition (a file, or row groups of one) runs ``scan.ScanState`` on a worker: pandera
on each chunk, failures with the first rows, column profiles, an 8-byte hash per row and per
value of each unique column. Failures and profiles merge in data order up a tree. Hashes
never leave the workers: each partition splits them into ``buckets`` by hash, and one task
per bucket compares every partition's share of it, so duplicate rows, unique columns and
rows of one role that are also in the reference role are exact over the whole dataset
(equal values share a bucket), not per partition as pandera alone would see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops_actions import engine
from mlops_actions.progress import Progress
from mlops_actions.validation import profile as prof
from mlops_actions.validation import scan as sc

if TYPE_CHECKING:
    import pandera.pandas as pa

ROWS = "rows"  # the bucket key of row hashes; unique columns use their own names


@dataclass
class Partial:
    """Failures and profiles of some consecutive partitions (positions from their start)."""

    rows: int
    columns: list[str]
    failures: dict[tuple[str | None, str], sc.Failure]
    accumulators: dict[str, prof.ColumnAccumulator]
    marked: int  # rows failing a chunk-level schema check
    keep: int

    def merge(self, later: Partial) -> Partial:
        for key, failure in later.failures.items():
            mine = self.failures.setdefault(key, sc.Failure(*key))
            if failure.seen_cases:
                for value in failure.values:
                    mine.add_case(value)
            else:
                mine.count += failure.count - len(failure.positions)
                shifted = np.asarray(failure.positions, dtype=np.int64) + self.rows
                mine.add_rows(shifted, failure.values, self.keep)
        for name, acc in later.accumulators.items():
            self.accumulators[name] = (
                self.accumulators[name].merge(acc) if name in self.accumulators else acc
            )
        self.columns = self.columns or later.columns
        self.rows += later.rows
        self.marked += later.marked
        return self


@dataclass
class Leaf:
    """One partition's result, kept on its worker: the partial, flags, hashes by bucket."""

    partial: Partial
    marks: np.ndarray  # packed bits, one per row
    buckets: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.partial.rows


def scan_partition(
    part: engine.Partition,
    read: dict[str, Any],
    schema: pa.DataFrameSchema | None,
    kinds: dict[str, str],
    edges: dict[str, tuple[float, float]],
    hash_columns: list[str],
    keep: int,
    buckets: int,
) -> Leaf:
    """What one worker computes for one partition (positions counted from its first row)."""
    from mlops_actions.data import read_chunks

    state = sc.ScanState(schema, kinds=kinds, edges=edges, hash_columns=hash_columns, keep=keep)
    chunks = read_chunks(part.path, row_groups=part.row_groups, first=0, empty_ok=True, **read)
    for chunk in chunks:
        state.add(chunk)
    marks = np.concatenate(state.failing) if state.failing else np.zeros(0, dtype=bool)
    hashes = {ROWS: state.row_hashes, **state.unique_hashes}
    partial = Partial(state.rows, state.columns, state.failures, state.accumulators, 0, keep)
    partial.marked = int(marks.sum())
    return Leaf(
        partial,
        np.packbits(marks),
        {name: _split(np.concatenate(h or [sc._NO_HASHES]), buckets) for name, h in hashes.items()},
    )


def _split(hashes: np.ndarray, buckets: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(hashes, positions) per bucket; positions stay in order within each."""
    which = hashes % np.uint64(buckets)
    positions = np.arange(hashes.size, dtype=np.int64)
    return [(hashes[which == b], positions[which == b]) for b in range(buckets)]


def _partial(leaf: Leaf) -> Partial:
    return leaf.partial


def _bucket(leaf: Leaf, name: str, b: int) -> tuple[np.ndarray, np.ndarray]:
    return leaf.buckets[name][b]


def _marked_at(leaf: Leaf, positions: np.ndarray) -> np.ndarray:
    return np.unpackbits(leaf.marks, count=leaf.rows).astype(bool)[positions]


def _global(offsets: list[int], shares: tuple) -> tuple[np.ndarray, np.ndarray]:
    """One bucket's hashes from every partition, positions made dataset-wide, in data order."""
    hashes = np.concatenate([h for h, _ in shares]) if shares else sc._NO_HASHES
    positions = (
        np.concatenate([p + offsets[i] for i, (_, p) in enumerate(shares)])
        if shares
        else np.zeros(0, dtype=np.int64)
    )
    return hashes, positions


def repeats(
    offsets: list[int], how: str, keep: int | None, *shares: Any, without: Any = None
) -> tuple[int, np.ndarray]:
    """Duplicates within one bucket: their count and positions (the first ``keep``, or all);
    rows at the dataset-wide positions ``without`` take no part."""
    hashes, positions = _global(offsets, shares)
    if without is not None:
        kept = ~np.isin(positions, without)
        hashes, positions = hashes[kept], positions[kept]
    found = positions[sc.duplicate_positions(hashes, how)]
    return int(found.size), found if keep is None else found[:keep]


def also_in(
    offsets: list[int], reference_count: int, keep: int, *shares: Any
) -> tuple[int, np.ndarray]:
    """Rows of one bucket of a role that are rows of the same bucket of the reference."""
    reference, _ = _global([0] * reference_count, shares[:reference_count])
    hashes, positions = _global(offsets, shares[reference_count:])
    inside = positions[np.isin(hashes, reference)]
    return int(inside.size), inside[:keep]


def values_at(part: engine.Partition, read: dict[str, Any], column: str, positions: list[int]):
    """Values of ``column`` at some positions of one partition (counted from its start)."""
    from mlops_actions.data import read_chunks

    wanted, found = set(positions), {}
    for chunk in read_chunks(
        part.path, row_groups=part.row_groups, first=0, columns=[column], **read
    ):
        for position in chunk.index[chunk.index.isin(list(wanted))]:
            found[int(position)] = chunk.at[position, column]
        if chunk.index[-1] >= max(positions):
            break
    return [found.get(p) for p in positions]


@dataclass
class Role:
    source: sc.Source
    read: dict[str, Any]
    parts: list[engine.Partition]
    job: engine.Distributed
    offsets: list[int]  # dataset-wide position of each partition's first row


def read_options(source: sc.Source) -> dict[str, Any]:
    """``data.read_chunks`` options for a source's partitions."""
    return {
        "chunksize": source.chunksize or engine.CHUNK_ROWS,
        "delimiter": source.delimiter,
        "encoding": source.encoding,
        "string_columns": source.string_columns,
    }


def source_partitions(source: sc.Source) -> list[engine.Partition]:
    from mlops_actions.drift.sources import expand

    return engine.partitions(expand(str(source.path)))


def observed_ranges(client: Any, source: sc.Source, columns: list[str]) -> dict[str, tuple]:
    """(min, max) of each column's finite numbers over a source, on the cluster."""
    parts = source_partitions(source)
    job = engine.Distributed.map(
        client, ranges_of, parts, read_options(source), columns, label="validate-ranges"
    )
    found = job.reduce(merge_ranges)
    return {k: v for k, v in found.items() if k != "rows" and np.isfinite(v[0])}


def ranges_of(part: engine.Partition, read: dict[str, Any], columns: list[str]) -> dict:
    from mlops_actions.data import read_chunks

    found: dict[str, Any] = {"rows": 0, **{c: (np.inf, -np.inf) for c in columns}}
    for chunk in read_chunks(
        part.path, row_groups=part.row_groups, first=0, columns=columns, empty_ok=True, **read
    ):
        found["rows"] += len(chunk)
        for name in columns:
            values = prof.numeric_values(chunk[name])
            values = values[np.isfinite(values)]
            if values.size:
                lo, hi = found[name]
                found[name] = (min(lo, float(values.min())), max(hi, float(values.max())))
    return _Ranges(found)


class _Ranges(dict):
    """Per column (min, max), and ``rows`` as every partial result carries it."""

    @property
    def rows(self) -> int:
        return self["rows"]


def merge_ranges(a: _Ranges, b: _Ranges) -> _Ranges:
    out = _Ranges(rows=a["rows"] + b["rows"])
    for name in a.keys() - {"rows"}:
        out[name] = (min(a[name][0], b[name][0]), max(a[name][1], b[name][1]))
    return out


def scan_roles(
    client: Any,
    sources: list[sc.Source],
    *,
    schema: pa.DataFrameSchema | None,
    kinds: dict[str, str],
    edges: dict[str, tuple[float, float]],
    hash_columns: list[str],
    keep: int,
    max_duplicate_share: float | None = None,
) -> list[sc.FileScan]:
    """``scan.scan`` of every source on the cluster; the first source is the reference."""
    buckets = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
    roles = []
    for source in sources:
        read = read_options(source)
        parts = source_partitions(source)
        progress = Progress(f"validate-data {source.role}", total=engine.known_rows(parts))
        job = engine.Distributed.map(
            client,
            scan_partition,
            parts,
            read,
            schema,
            kinds,
            edges,
            hash_columns,
            keep,
            buckets,
            label=f"validate-{source.role}",
        )
        counts = job.rows(parts, progress)
        progress.close()
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist()
        roles.append(Role(source, read, parts, job, offsets[:-1]))
    return [
        _file_scan(client, role, roles[0], buckets, schema, keep, max_duplicate_share)
        for role in roles
    ]


def _file_scan(
    client: Any,
    role: Role,
    reference: Role,
    buckets: int,
    schema: pa.DataFrameSchema | None,
    keep: int,
    max_duplicate_share: float | None,
) -> sc.FileScan:
    job = role.job
    partials = [client.submit(_partial, leaf) for leaf in job.leaves]
    partial: Partial = client.gather(engine.tree_reduce(client, partials, Partial.merge, job.label))

    def shares(r: Role, name: str, b: int) -> list[Any]:
        return [client.submit(_bucket, leaf, name, b) for leaf in r.job.leaves]

    def gathered(
        fn: Any, *args: Any, name: str = ROWS, extra: Role | None = None, **kwargs: Any
    ) -> list:
        tasks = []
        for b in range(buckets):
            inputs = (shares(extra, name, b) if extra else []) + shares(role, name, b)
            tasks.append(client.submit(fn, *args, *inputs, **kwargs))
        return client.gather(tasks)

    unique = sc.sch.unique_columns(schema) if schema is not None else {}
    set_aside = None  # whole-row copies past max_duplicate_share: the duplicate check's failures
    if unique and max_duplicate_share is not None:
        every = gathered(repeats, role.offsets, "exclude_first", None)
        matches = {"duplicates": _combine(every, keep)}
        copies = np.concatenate([p for _, p in every] or [np.zeros(0, np.int64)])
        if copies.size and copies.size / partial.rows > max_duplicate_share:
            set_aside = np.sort(copies)
    else:
        found = gathered(repeats, role.offsets, "exclude_first", keep)
        matches = {"duplicates": _combine(found, keep)}
    if role is not reference:
        found = gathered(also_in, role.offsets, len(reference.parts), keep, extra=reference)
        matches[reference.source.role] = _combine(found, keep)
    repeated = [np.zeros(0, np.int64)]  # rows repeating a unique column's value
    for name, how in unique.items():
        found = gathered(repeats, role.offsets, how, None, name=name, without=set_aside)
        positions = np.sort(np.concatenate([p for _, p in found]))
        if positions.size:
            values = _values(client, role, name, positions[:keep])
            sc._failure(partial.failures, name, sc.UNIQUE_CHECK).add_rows(positions, values, keep)
            repeated.append(positions)
    union = np.unique(np.concatenate(repeated))
    marked_rows = partial.marked + union.size - _already_marked(client, role, union)
    return sc.FileScan(
        role.source,
        partial.rows,
        partial.columns,
        sorted(
            partial.failures.values(), key=lambda f: (f.column is None, f.column or "", f.check)
        ),
        marked_rows,
        None,
        {
            "rows": partial.rows,
            "columns": {n: acc.to_dict() for n, acc in partial.accumulators.items()},
        },
        {k: (count, positions.tolist()) for k, (count, positions) in matches.items()},
        copies_set_aside=set_aside is not None,
    )


def _combine(found: list[tuple[int, np.ndarray]], keep: int) -> tuple[int, np.ndarray]:
    """Buckets' (count, positions) as the whole dataset's: counts add, first positions merge."""
    positions = np.sort(np.concatenate([p for _, p in found] or [np.zeros(0, np.int64)]))
    return sum(c for c, _ in found), positions[:keep]


def _by_partition(role: Role, positions: np.ndarray) -> dict[int, np.ndarray]:
    which = np.searchsorted(role.offsets, positions, side="right") - 1
    return {int(i): positions[which == i] - role.offsets[i] for i in np.unique(which)}


def _values(client: Any, role: Role, column: str, positions: np.ndarray) -> list[Any]:
    tasks = {
        i: client.submit(values_at, role.parts[i], role.read, column, local.tolist())
        for i, local in _by_partition(role, positions).items()
    }
    found = client.gather(tasks)
    return [v for i in sorted(found) for v in found[i]]


def _already_marked(client: Any, role: Role, positions: np.ndarray) -> int:
    tasks = [
        client.submit(_marked_at, role.job.leaves[i], local)
        for i, local in _by_partition(role, positions).items()
    ]
    return int(sum(flags.sum() for flags in client.gather(tasks)))
