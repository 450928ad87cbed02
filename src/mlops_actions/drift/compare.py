"""Run one drift test on a reference and a current ``ColumnSummary``; one result per column."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from mlops_actions.drift import stattests as st
from mlops_actions.drift.columns import ColumnSummary
from mlops_actions.drift.select import CATEGORICAL, NUMERICAL, TESTS, default_test

MMD_MAX_POINTS = 2000  # O(n^2) kernel: larger samples are thinned to evenly spaced quantiles
_JS_VALUE_BINS = 20  # Evidently bins numeric columns by value up to this many reference values


@dataclass(frozen=True)
class ColumnResult:
    column: str
    kind: str
    test: str
    score: float  # what the threshold applies to: a p-value or a distance
    threshold: float
    drifted: bool
    statistic: float  # the raw test statistic (KS D, chi-square, z, the distance itself)
    statistic_name: str
    p_value: float | None
    drift_if: str  # score <= / < / >= threshold means drift (p-values: <=, <; distances: >=)
    effect_size: float  # normed Wasserstein (numbers) or total variation distance (categories)
    effect_name: str
    approximate: bool
    error_bound: float | None  # bound on |score - exact score| when approximate, if known

    def to_dict(self) -> dict:
        return asdict(self)


def distinct_union(ref: ColumnSummary, cur: ColumnSummary) -> int:
    """Distinct values over reference and current together (exact when either side is small)."""
    if ref.nunique is None or cur.nunique is None:
        return max(ref.nunique or 0, cur.nunique or 0, 1 << 31)
    if max(ref.nunique, cur.nunique) > 50:
        return max(ref.nunique, cur.nunique)  # past every threshold that depends on it
    return len(set(ref.value_counts()) | set(cur.value_counts()))


def choose_test(ref: ColumnSummary, cur: ColumnSummary) -> str:
    return default_test(
        cur.kind, reference_rows=ref.count, distinct_values=distinct_union(ref, cur)
    )


def compare_column(
    ref: ColumnSummary,
    cur: ColumnSummary,
    *,
    test: str | None = None,
    threshold: float | None = None,
    strict: bool = True,
) -> ColumnResult:
    """Test one column; ``strict=False`` lets a named test cross kinds as Evidently's defaults do."""
    kind = NUMERICAL if cur.kind == NUMERICAL else CATEGORICAL
    name = test or choose_test(ref, cur)
    spec = TESTS[name]
    if strict and test is not None and kind not in spec.kinds:
        raise ValueError(f"test {name!r} does not apply to {kind} column {cur.name!r}")
    threshold = spec.default_threshold if threshold is None else threshold
    # KS needs the merge of both sorted samples (which gives Wasserstein too); the effect
    # size and the Wasserstein test alone come from the cheaper quantile-function pass
    dist = None
    if kind == NUMERICAL:
        dist = (
            st.ks_and_wasserstein(ref.sample, cur.sample)
            if name == "ks"
            else st.NumericDistance(math.nan, st.wasserstein(ref.sample, cur.sample))
        )
    statistic, p_value, bound = _run(name, kind, ref, cur, dist)
    score = p_value if spec.is_pvalue else statistic
    effect_name, effect = _effect_size(ref, cur, dist)
    approximate = not (_exact(ref) and _exact(cur)) or (
        name == "empirical_mmd" and _thinned(ref, cur)
    )
    return ColumnResult(
        column=cur.name,
        kind=cur.kind,
        test=name,
        score=float(score),
        threshold=float(threshold),
        drifted=bool(spec.drifted(score, threshold)),
        statistic=float(statistic),
        statistic_name=spec.statistic,
        p_value=None if p_value is None else float(p_value),
        drift_if=spec.drift_if,
        effect_size=float(effect),
        effect_name=effect_name,
        approximate=approximate,
        error_bound=bound if approximate else None,
    )


def _exact(s: ColumnSummary) -> bool:
    return s.sample is None or s.sample.is_exact


def _thinned(ref: ColumnSummary, cur: ColumnSummary) -> bool:
    return max(ref.count, cur.count) > MMD_MAX_POINTS


def _cdf_error(ref: ColumnSummary, cur: ColumnSummary) -> float:
    return ref.cdf_error + cur.cdf_error


def _tv_bound(bins: int, ref: ColumnSummary, cur: ColumnSummary) -> float:
    """Total variation between sketched and true bin shares: each of the bins + 1 edges moves
    by at most the CDF error, so the shares' absolute errors sum to 2 (bins + 1) errors."""
    return min(1.0, (bins + 1) * _cdf_error(ref, cur))


def _run(
    name: str, kind: str, ref: ColumnSummary, cur: ColumnSummary, dist: st.NumericDistance | None
) -> tuple[float, float | None, float | None]:
    """(statistic, p-value or None, error bound of the score when summaries are sketches)."""
    if name in ("ks", "wasserstein"):
        if name == "ks":
            return dist.ks_statistic, st.ks_pvalue(dist.ks_statistic, ref.count, cur.count), None
        norm = max(ref.std, 0.001)
        span = max(ref.maximum, cur.maximum) - min(ref.minimum, cur.minimum)
        # |W_sketch - W| <= integral of |F_sketch - F| <= (CDF error) * range
        return (
            st.wasserstein_normed(dist.wasserstein, ref.std),
            None,
            _cdf_error(ref, cur) * span / norm,
        )
    if name in ("chisquare", "z"):
        keys, r, c = _count_table(ref, cur, sort=name == "z")
        return (st.chisquare_pvalue(r, c) if name == "chisquare" else st.z_proportions(r, c)) + (
            None,
        )
    if name in ("jensenshannon", "psi", "kl_div"):
        r, c = _binned_shares(kind, ref, cur)
        value = {"jensenshannon": st.jensenshannon, "psi": st.psi, "kl_div": st.kl_divergence}[
            name
        ](r, c)
        # JS distance is a metric with JS^2 <= ln2 * total variation; PSI and KL have no
        # finite bound (they take logs of shares a sketch may get wrong)
        tv = _tv_bound(r.size, ref, cur)
        return value, None, math.sqrt(math.log(2) * tv) if name == "jensenshannon" else None
    if name == "hellinger":
        value, bins = _hellinger(kind, ref, cur)
        return value, None, math.sqrt(_tv_bound(bins, ref, cur))  # a metric with H^2 <= TV
    if name == "anderson":
        return st.anderson_darling_pvalue(_points(ref), _points(cur)) + (None,)
    if name == "cramer_von_mises":
        return st.cramer_von_mises_pvalue(_points(ref), _points(cur)) + (None,)
    if name == "empirical_mmd":
        return st.mmd_rbf(_points(ref, MMD_MAX_POINTS), _points(cur, MMD_MAX_POINTS)) + (None,)
    raise ValueError(f"unknown drift test {name!r}")


def _points(s: ColumnSummary, limit: int | None = None) -> np.ndarray:
    """The sample's values (a sketch's points stand for equal shares); thinned to ``limit``."""
    values = s.sample.values
    if limit is not None and values.size > limit:
        values = values[np.linspace(0, values.size - 1, limit).round().astype(int)]
    return values


def _count_table(
    ref: ColumnSummary, cur: ColumnSummary, *, sort: bool
) -> tuple[list, np.ndarray, np.ndarray]:
    ref_counts, cur_counts = ref.value_counts(), cur.value_counts()
    keys = list(dict.fromkeys([*ref_counts, *cur_counts]))
    if sort:
        keys = sorted(keys)
    r = np.array([ref_counts.get(k, 0.0) for k in keys])
    c = np.array([cur_counts.get(k, 0.0) for k in keys])
    return keys, r, c


def _binned_shares(
    kind: str, ref: ColumnSummary, cur: ColumnSummary
) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's ``get_binned_data`` without zero filling: Sturges bins over both samples for
    numbers with more than 20 reference values, else one bin per value."""
    if kind == NUMERICAL and (ref.nunique is None or ref.nunique > _JS_VALUE_BINS):
        edges = st.sturges_edges(
            min(ref.minimum, cur.minimum), max(ref.maximum, cur.maximum), ref.count + cur.count
        )
        return ref.sample.histogram(edges) / ref.count, cur.sample.histogram(edges) / cur.count
    _, r, c = _count_table(ref, cur, sort=False)
    return r / ref.count, c / cur.count


def _hellinger(kind: str, ref: ColumnSummary, cur: ColumnSummary) -> tuple[float, int]:
    """(distance, number of bins)."""
    if kind == CATEGORICAL:
        _, r, c = _count_table(ref, cur, sort=False)
        return st.hellinger(r / ref.count, c / cur.count), r.size
    # Evidently's numeric Hellinger: Sturges bins over the distinct values of both samples
    distinct = np.union1d(np.unique(ref.sample.values), np.unique(cur.sample.values))
    edges = st.sturges_edges(distinct[0], distinct[-1], distinct.size)
    widths = np.diff(edges)
    r = ref.sample.histogram(edges)
    c = cur.sample.histogram(edges)
    width = (edges[-1] - edges[0]) / widths.size
    return st.hellinger(r / widths / r.sum(), c / widths / c.sum(), width), widths.size


def _effect_size(
    ref: ColumnSummary, cur: ColumnSummary, dist: st.NumericDistance | None
) -> tuple[str, float]:
    """A scale-free size of the change, shown for every column whatever its test."""
    if dist is not None:
        return "wasserstein_normed", st.wasserstein_normed(dist.wasserstein, ref.std)
    _, r, c = _count_table(ref, cur, sort=False)
    return "total_variation", float(0.5 * np.abs(r / r.sum() - c / c.sum()).sum())
