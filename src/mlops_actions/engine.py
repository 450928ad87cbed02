"""Where drift-check and validate-data compute: in this process, or on a Dask cluster.

With a scheduler address (``--scheduler``, ``MLOPS_SCHEDULER``, ``compute.scheduler``) the
data's files become partitions (one per file, Parquet files past ``PARTITION_ROWS`` split by
row groups); each worker builds, for its partition, the same accumulators the single-machine
loop builds from its chunks, and they merge pairwise in partition order up a tree of fan-in
``FAN_IN``, on the workers. Only the merged result and one row count per partition come back
to this process; the scheduler moves task metadata, never data.

``dask[distributed]`` is an optional extra, imported only here and only when a scheduler is
given. Task functions must be importable on the workers: they run ``mlops_actions`` too.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import UsageError
from mlops_actions.progress import Progress

if TYPE_CHECKING:
    from mlops_actions.config import Config

SCHEDULER_ENV = "MLOPS_SCHEDULER"
FAN_IN = 8  # partials merged per tree task: log8(P) levels, each task holds 8 partials at most
PARTITION_ROWS = 2_000_000  # a Parquet file larger than this is split at row-group borders
CONNECT_TIMEOUT = "20s"
CHUNK_ROWS = 200_000  # rows a worker reads at a time when the caller names no chunk size


def scheduler_address(flag: str | None, config: Config) -> str | None:
    """The flag, else the environment (for workflows), else ``compute.scheduler``."""
    return flag or os.environ.get(SCHEDULER_ENV) or config.compute.scheduler or None


@dataclass(frozen=True)
class Partition:
    """Rows ``first``.. of one file (all of it unless ``row_groups`` picks some)."""

    path: Any  # a local Path or an fsspec URL string
    rows: int | None = None  # known ahead for Parquet (its footer); None for CSV
    row_groups: tuple[int, ...] | None = None
    first: int = 0  # position in the file of the partition's first row


def partitions(files: Sequence[Any], *, max_rows: int = PARTITION_ROWS) -> list[Partition]:
    """One partition per file; large Parquet files in runs of row groups up to ``max_rows``."""
    from mlops_actions.data import is_parquet, parquet_row_groups
    from mlops_actions.errors import DataError

    out: list[Partition] = []
    for path in files:
        try:
            groups = parquet_row_groups(path) if is_parquet(path) else None
        except DataError:  # an empty or broken file: the reader skips it or says what is wrong
            groups = None
        if groups is None:
            out.append(Partition(path))
            continue
        total = sum(groups)
        if total <= max_rows:
            out.append(Partition(path, total))
            continue
        start, run, first = 0, 0, 0
        for i, rows in enumerate(groups):
            if run and run + rows > max_rows:
                out.append(Partition(path, run, tuple(range(start, i)), first))
                start, first, run = i, first + run, 0
            run += rows
        out.append(Partition(path, run, tuple(range(start, len(groups))), first))
    return out


def known_rows(parts: Sequence[Partition]) -> int | None:
    """All rows ahead of reading, when every partition's footer says how many."""
    return sum(p.rows for p in parts) if all(p.rows is not None for p in parts) else None


@contextmanager
def connect(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` on ``address``; a missing extra or an unreachable scheduler
    is a one-line usage error."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            f"--scheduler {address}: needs dask.distributed; pip install 'mlops-actions[dask]'"
        ) from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            f"--scheduler {address}: cannot reach the Dask scheduler "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            f"check the address or unset {SCHEDULER_ENV} / compute.scheduler"
        ) from None
    try:
        yield client
    finally:
        client.close()


@dataclass
class Distributed:
    """Leaf futures (one partial per partition) on a client, and what is known of them."""

    client: Any
    leaves: list[Any]
    label: str

    @classmethod
    def map(
        cls,
        client: Any,
        fn: Callable[..., Any],
        parts: Sequence[Partition],
        *args: Any,
        label: str,
        **kwargs: Any,
    ) -> Distributed:
        token = uuid.uuid4().hex[:12]
        leaves = [
            client.submit(fn, part, *args, key=f"mlops-{label}-{token}-part-{i}", **kwargs)
            for i, part in enumerate(parts)
        ]
        return cls(client, leaves, f"{label}-{token}")

    def rows(self, parts: Sequence[Partition], progress: Progress) -> list[int]:
        """Rows of each partition (its partial's ``rows``), reported as partitions finish."""
        from distributed import as_completed

        counts = [
            self.client.submit(_rows, leaf, key=f"mlops-{self.label}-rows-{i}")
            for i, leaf in enumerate(self.leaves)
        ]
        index = {c.key: i for i, c in enumerate(counts)}
        rows: list[int | None] = [None] * len(counts)
        for future, n in as_completed(counts, loop=self.client.loop, with_results=True):
            rows[index[future.key]] = n
            done = sum(1 for r in rows if r is not None)
            progress.add(n, share=done / len(rows))
        return [int(r) for r in rows]  # type: ignore[arg-type]

    def reduce(self, merge: Callable[[Any, Any], Any]) -> Any:
        """The merged partial: pairwise ``merge`` in partition order, FAN_IN per task."""
        return self.client.gather(tree_reduce(self.client, self.leaves, merge, self.label))


def tree_reduce(client: Any, futures: list[Any], merge: Callable, label: str) -> Any:
    level, depth = list(futures), 0
    while len(level) > 1:
        level = [
            client.submit(
                merge_all, merge, *level[i : i + FAN_IN], key=f"mlops-{label}-merge-{depth}-{i}"
            )
            for i in range(0, len(level), FAN_IN)
        ]
        depth += 1
    return level[0]


def merge_all(merge: Callable[[Any, Any], Any], *partials: Any) -> Any:
    """Left fold: each partial follows the one before it in the data."""
    return functools.reduce(merge, partials)


def _rows(partial: Any) -> int:
    return partial.rows
