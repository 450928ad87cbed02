"""Column profiles built chunk by chunk, and the data diff between two of them.

A profile keeps only mergeable numbers: counts, sums, min/max and a fixed-edge histogram
for numeric columns, value counts for categorical ones. Fixed edges (the schema's declared
range, else the reference file's observed range) make a chunked profile equal to a
whole-file one and make two files' histograms comparable. Quantiles are read from the
100-bin histogram: estimates, which the data diff shows with the exact interval the true
value lies in (``quantile_within``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from mlops_actions.features import CATEGORICAL, NUMERIC

ID = "id"  # unique per row: only missing values are counted
OTHER = "other"  # dates and other types: only missing values are counted
BINS = 100
SKEW_BINS = 10  # numeric skew compares 10 coarse bins plus below/above, like TFDV's histograms
CATEGORY_CAP = 1000  # more distinct values than this: no category table (a text-like column)
STORED_CATEGORIES = 50  # category shares written to result.json
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class ColumnAccumulator:
    name: str
    kind: str
    dtype: str
    edges: tuple[float, float] | None = None
    rows: int = 0
    missing: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    minimum: float = np.inf
    maximum: float = -np.inf
    hist: np.ndarray | None = None
    below: int = 0
    above: int = 0
    counts: dict[Any, int] | None = field(default_factory=dict)
    unreadable: int = 0
    """Values that were there but not numbers (a dtype failure), not counted as missing."""

    def add(self, view: ColumnView, *, unreadable: int = 0) -> None:
        """One chunk; ``unreadable`` of its values were text in a number column, read as
        missing for the other checks but reported as dtype failures, not missing values."""
        self.rows += view.rows
        self.missing -= unreadable
        self.unreadable += unreadable
        if self.kind == NUMERIC:
            self._add_numbers(view.numbers())
            return
        if self.kind != CATEGORICAL or self.counts is None:
            self.missing += int(view.series.isna().sum())
            return
        codes, uniques = view.factorized()
        counts = np.bincount(codes + 1, minlength=len(uniques) + 1)  # slot 0: missing (code -1)
        self.missing += int(counts[0])
        for value, count in zip(uniques, counts[1:].tolist(), strict=True):
            key = plain(value)
            self.counts[key] = self.counts.get(key, 0) + count
        if len(self.counts) > CATEGORY_CAP:
            self.counts = None

    def _add_numbers(self, values: np.ndarray) -> None:
        finite_mask = np.isfinite(values)
        present = int(np.count_nonzero(finite_mask))
        self.missing += len(values) - present
        if not present:
            return
        finite = values if present == len(values) else values[finite_mask]
        self.total += float(finite.sum())
        self.total_sq += float(
            np.einsum("i,i->", finite, finite)
        )  # np.dot goes through BLAS threads: slower
        self.minimum = min(self.minimum, float(finite.min()))
        self.maximum = max(self.maximum, float(finite.max()))
        self._add_histogram(finite)

    def _add_histogram(self, finite: np.ndarray) -> None:
        """Equal-width bins by index arithmetic in one scratch array (np.histogram is ~2x slower).

        Values map to slot ``1 + floor((x - lo) / width)`` clipped to [0, BINS + 1]: slot 0 counts
        values below ``lo``, slot BINS + 1 those at or above ``hi``; the ones equal to ``hi``
        belong to the last bin, which is closed on the right.
        """
        lo, hi = histogram_range(self.edges)
        scale = BINS / (hi - lo)
        slots = np.multiply(finite, scale)
        slots += 1.0 - lo * scale
        np.clip(slots, 0, BINS + 1, out=slots)
        counts = np.bincount(slots.astype(np.int64), minlength=BINS + 2)  # truncation = floor here
        above = int(np.count_nonzero(finite > hi))
        self.below += int(counts[0])
        self.above += above
        inside = counts[1 : BINS + 1].copy()
        inside[-1] += int(counts[BINS + 1]) - above
        self.hist = inside if self.hist is None else self.hist + inside

    def merge(self, later: ColumnAccumulator) -> ColumnAccumulator:
        """Fold in a later partition's profile of the same column (every field adds up)."""
        self.rows += later.rows
        self.missing += later.missing
        self.unreadable += later.unreadable
        self.total += later.total
        self.total_sq += later.total_sq
        self.minimum = min(self.minimum, later.minimum)
        self.maximum = max(self.maximum, later.maximum)
        self.below += later.below
        self.above += later.above
        if later.hist is not None:
            self.hist = later.hist.copy() if self.hist is None else self.hist + later.hist
        if self.counts is None or later.counts is None:
            self.counts = None
        else:
            for key, count in later.counts.items():
                self.counts[key] = self.counts.get(key, 0) + count
            if len(self.counts) > CATEGORY_CAP:
                self.counts = None
        return self

    def to_dict(self) -> dict[str, Any]:
        present = self.rows - self.missing - self.unreadable
        out: dict[str, Any] = {
            "kind": self.kind,
            "dtype": self.dtype,
            "missing": self.missing,
            "missing_share": self.missing / self.rows if self.rows else 0.0,
        }
        if self.unreadable:
            out["unreadable"] = self.unreadable
        if self.kind == NUMERIC:
            mean = self.total / present if present else None
            variance = self.total_sq / present - mean * mean if present else None
            lo, hi = histogram_range(self.edges)
            hist = self.hist if self.hist is not None else np.zeros(BINS, dtype=np.int64)
            out.update(
                mean=_stable(mean),
                std=_stable(float(np.sqrt(max(variance, 0.0)))) if variance is not None else None,
                min=self.minimum if present else None,
                max=self.maximum if present else None,
                hist={
                    "lo": lo,
                    "hi": hi,
                    "counts": hist.tolist(),
                    "below": self.below,
                    "above": self.above,
                },
            )
            out["quantiles"] = histogram_quantiles(out["hist"])
        elif self.kind == CATEGORICAL:
            out["distinct"] = len(self.counts) if self.counts is not None else None
            if self.counts is not None:
                top = sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
                out["counts"] = {str(k): v for k, v in top}
        return out


def _stable(value: float | None) -> float | None:
    """12 significant digits: sums taken chunk by chunk differ from whole-column ones in the last bits."""
    return None if value is None else float(f"{value:.12g}")


class ColumnView:
    """One chunk of one column, as numbers or as (codes, distinct values), each computed once
    and shared by the profile and the row hashes."""

    def __init__(self, series: pd.Series) -> None:
        self.series = series
        self.rows = len(series)
        self._numbers: np.ndarray | None = None
        self._factorized: tuple[np.ndarray, Any] | None = None

    def numbers(self) -> np.ndarray:
        if self._numbers is None:
            self._numbers = numeric_values(self.series)
        return self._numbers

    def factorized(self) -> tuple[np.ndarray, Any]:
        """Codes (-1 for missing) and the distinct values they index."""
        import pandas as pd

        if self._factorized is None:
            codes, uniques = pd.factorize(self.series, use_na_sentinel=True)
            self._factorized = (
                np.asarray(codes, dtype=np.int64),
                np.asarray(uniques, dtype=object),
            )
        return self._factorized


def numeric_values(series: pd.Series) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def plain(value: Any) -> Any:
    """numpy scalars as Python values, so counts from int and float chunks share keys."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def histogram_range(edges: tuple[float, float] | None) -> tuple[float, float]:
    lo, hi = edges if edges is not None else (0.0, 1.0)
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    return float(lo), float(hi)


def histogram_quantiles(hist: dict[str, Any]) -> dict[str, float | None]:
    """Quantiles by linear interpolation inside the fixed bins (below/above sit on the edges)."""
    counts = np.concatenate([[hist["below"]], hist["counts"], [hist["above"]]]).astype(float)
    total = counts.sum()
    if not total:
        return {f"p{round(q * 100):02d}": None for q in QUANTILES}
    edges = np.linspace(hist["lo"], hist["hi"], len(hist["counts"]) + 1)
    # below/above are zero-width bins at the edges
    lefts = np.concatenate([[hist["lo"]], edges[:-1], [hist["hi"]]])
    rights = np.concatenate([[hist["lo"]], edges[1:], [hist["hi"]]])
    cumulative = np.cumsum(counts)
    out = {}
    for q in QUANTILES:
        target = q * total
        i = int(np.searchsorted(cumulative, target, side="left"))
        before = cumulative[i - 1] if i else 0.0
        inside = (target - before) / counts[i] if counts[i] else 0.0
        out[f"p{round(q * 100):02d}"] = float(lefts[i] + inside * (rights[i] - lefts[i]))
    return out


def quantile_within(column: dict[str, Any], q: float) -> tuple[float, float, float] | None:
    """The histogram's estimate of quantile ``q`` and the exact interval the true value (numpy's
    linear-interpolation quantile of the values) lies in, as ``(estimate, low, high)``.

    The true value lies between the two order statistics it interpolates; each lies in a known
    bin (values below or above the fixed edges lie between the edge and the exact min or max),
    and nothing lies outside [min, max]. ``low == high`` means the value is exact.
    """
    hist, lowest, highest = column.get("hist"), column.get("min"), column.get("max")
    if not hist or lowest is None or highest is None:
        return None
    counts = np.concatenate([[hist["below"]], hist["counts"], [hist["above"]]]).astype(float)
    total = int(counts.sum())
    if not total:
        return None
    edges = np.linspace(hist["lo"], hist["hi"], len(hist["counts"]) + 1)
    lefts = np.concatenate([[lowest], edges[:-1], [hist["hi"]]])
    rights = np.concatenate([[hist["lo"]], edges[1:], [highest]])
    cumulative = np.cumsum(counts)
    rank = (total - 1) * q  # 0-based position between the two order statistics
    first = int(np.searchsorted(cumulative, np.floor(rank), side="right"))
    last = int(np.searchsorted(cumulative, np.ceil(rank), side="right"))
    low = float(min(max(lefts[first], lowest), highest))
    high = float(max(min(rights[last], highest), low))
    estimate = histogram_quantiles(hist)[f"p{round(q * 100):02d}"]
    return float(min(max(estimate, low), high)), low, high


def coarse_histogram(column: dict[str, Any]) -> np.ndarray:
    """below, SKEW_BINS bins, above: the distribution numeric skew compares."""
    hist = column["hist"]
    fine = np.asarray(hist["counts"], dtype=float).reshape(SKEW_BINS, -1).sum(axis=1)
    return np.concatenate([[hist["below"]], fine, [hist["above"]]])


def category_shares(column: dict[str, Any]) -> dict[str, float] | None:
    counts = column.get("counts")
    if counts is None:
        return None
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def stored(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile as written to result.json: category tables cut to the largest ones."""
    columns = {}
    for name, column in profile["columns"].items():
        column = dict(column)
        if column.get("counts") is not None and len(column["counts"]) > STORED_CATEGORIES:
            column["counts"] = dict(list(column["counts"].items())[:STORED_CATEGORIES])
            column["counts_truncated"] = True
        columns[name] = column
    return {**profile, "columns": columns}


def diff_profiles(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """What changed in one file: rows, columns, and per column missing share, mean, median or shares."""
    if before is None:
        return {
            "status": "new",
            "rows_before": None,
            "rows_after": after["rows"],
            "columns_added": [],
            "columns_removed": [],
            "columns": [],
        }
    names_before, names_after = list(before["columns"]), list(after["columns"])
    changes = []
    for name in names_after:
        if name not in before["columns"]:
            continue
        old, new = before["columns"][name], after["columns"][name]
        change = {
            "column": name,
            "kind": new["kind"],
            "missing_before": old.get("missing_share"),
            "missing_after": new.get("missing_share"),
        }
        if new["kind"] == NUMERIC and old["kind"] == NUMERIC:
            median_before, median_after = quantile_within(old, 0.5), quantile_within(new, 0.5)
            change.update(
                mean_before=old.get("mean"),
                mean_after=new.get("mean"),
                p50_before=median_before[0] if median_before else None,
                p50_after=median_after[0] if median_after else None,
                p50_before_within=list(median_before[1:]) if median_before else None,
                p50_after_within=list(median_after[1:]) if median_after else None,
            )
        shares_old, shares_new = category_shares(old), category_shares(new)
        if new["kind"] == CATEGORICAL and shares_old is not None and shares_new is not None:
            keys = set(shares_old) | set(shares_new)
            moves = {k: shares_new.get(k, 0.0) - shares_old.get(k, 0.0) for k in keys}
            if moves:
                biggest = max(sorted(moves), key=lambda k: abs(moves[k]))
                change["category"] = biggest
                change["share_before"] = shares_old.get(biggest, 0.0)
                change["share_after"] = shares_new.get(biggest, 0.0)
        change["changed"] = _changed(change)
        changes.append(change)
    return {
        "status": "unchanged" if before.get("sha256") == after.get("sha256") else "changed",
        "rows_before": before["rows"],
        "rows_after": after["rows"],
        "columns_added": [c for c in names_after if c not in before["columns"]],
        "columns_removed": [c for c in names_before if c not in after["columns"]],
        "columns": changes,
    }


def _changed(change: dict[str, Any]) -> bool:
    pairs = [
        ("missing_before", "missing_after"),
        ("mean_before", "mean_after"),
        ("p50_before", "p50_after"),
        ("share_before", "share_after"),
    ]
    for old_key, new_key in pairs:
        old, new = change.get(old_key), change.get(new_key)
        if old is None and new is None:
            continue
        if old is None or new is None or not np.isclose(old, new, rtol=1e-9, atol=1e-12):
            return True
    return False
