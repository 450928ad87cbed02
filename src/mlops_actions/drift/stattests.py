"""Two-sample drift statistics on sorted (optionally weighted) samples and category counts.

Every function reproduces the formula Evidently 0.7 / scipy use, so the same test on the
same data gives the same number (tests compare to 1e-6 relative), but works from data that
is already summarised: a sorted sample (exact: the whole column; approximate: a quantile
sketch whose points carry weights) or a table of category counts.  That is what lets a
saved profile stand in for the training file and lets current data arrive in chunks.

Numeric statistics share one linear merge of the two sorted samples (``ks_and_wasserstein``):
KS and Wasserstein come from the same pass; histograms are ``searchsorted`` on bin edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# scipy.stats takes seconds to import: it loads only in the tests that need it

# scipy's ks_2samp switches from the exact distribution to the asymptotic one above this size
_KS_MAX_EXACT_N = 10_000


@dataclass(frozen=True)
class SortedSample:
    """A numeric column as sorted values; ``weights`` (None = 1 each) make it a sketch.

    ``count`` is the number of rows the sample stands for (the real n for p-values).
    """

    values: np.ndarray
    weights: np.ndarray | None
    count: int

    @classmethod
    def exact(cls, values: np.ndarray, *, presorted: bool = False) -> SortedSample:
        values = np.asarray(values, dtype=np.float64)
        return cls(values if presorted else np.sort(values), None, int(values.size))

    @property
    def is_exact(self) -> bool:
        return self.weights is None

    def cumulative(self) -> np.ndarray:
        """Rows at or below each value (a float array, the same length as ``values``)."""
        if self.weights is None:
            return np.arange(1, self.values.size + 1, dtype=np.float64)
        return np.cumsum(self.weights)

    def counts_below(self, edges: np.ndarray, side: str = "left") -> np.ndarray:
        """Rows < edge (side='left') or <= edge (side='right') for each edge."""
        idx = np.searchsorted(self.values, edges, side=side)
        if self.weights is None:
            return idx.astype(np.float64)
        cum = np.concatenate([[0.0], np.cumsum(self.weights)])
        return cum[idx] * (self.count / cum[-1])

    def histogram(self, edges: np.ndarray) -> np.ndarray:
        """Counts per bin exactly as ``np.histogram`` (last bin closed) would give them."""
        below = self.counts_below(edges[:-1], side="left")
        top = self.counts_below(edges[-1:], side="right")
        return np.diff(np.concatenate([below, top]))

    def std(self) -> float:
        """Population standard deviation (ddof=0), as ``np.std``."""
        if self.weights is None:
            return float(np.std(self.values))
        mean = np.average(self.values, weights=self.weights)
        return float(np.sqrt(np.average((self.values - mean) ** 2, weights=self.weights)))


@dataclass(frozen=True)
class NumericDistance:
    ks_statistic: float
    wasserstein: float


def ks_and_wasserstein(ref: SortedSample, cur: SortedSample) -> NumericDistance:
    """KS statistic D and the (un-normed) first Wasserstein distance from one merge.

    A stable argsort of the two concatenated sorted runs is a single linear merge (timsort).
    At every merged point the CDF gap is |F_ref - F_cur|; within a run of tied values only
    the last position has both CDFs' full step (the others sit on zero-width intervals, so
    they never change Wasserstein and are left out of KS). Exact samples use integer counts,
    the same numbers scipy gets from ``searchsorted(...)/n``.
    """
    values = np.concatenate([ref.values, cur.values])
    order = np.argsort(values, kind="stable")
    values = values[order]
    from_ref = order < ref.values.size
    if ref.is_exact and cur.is_exact:
        n, m = ref.values.size, cur.values.size
        # n*m*(F_ref - F_cur) = ref_seen*m - cur_seen*n = ref_seen*(n+m) - seen*n, in integers
        scaled = np.cumsum(from_ref) * (n + m) - np.arange(1, values.size + 1) * n
        gap = np.abs(scaled) / (n * m)
    else:
        ref_w = ref.weights if ref.weights is not None else np.ones(ref.values.size)
        cur_w = cur.weights if cur.weights is not None else np.ones(cur.values.size)
        w = np.concatenate([ref_w / ref_w.sum(), -cur_w / cur_w.sum()])[order]
        gap = np.abs(np.cumsum(w))
    steps = np.diff(values)
    ks = max(float(gap[:-1][steps != 0].max(initial=0.0)), float(gap[-1]))
    return NumericDistance(ks, float(np.dot(gap[:-1], steps)))


def wasserstein(ref: SortedSample, cur: SortedSample) -> float:
    """First Wasserstein distance, from the quantile functions when both samples are exact.

    W = integral over u of |Q_ref(u) - Q_cur(u)|. Both quantile functions are step functions
    with steps at i/n and j/m; those breakpoints merge by arithmetic alone (no comparison of
    data), so this is one pass over each sorted array: |a - b| averaged when n == m.
    """
    if not (ref.is_exact and cur.is_exact):
        return ks_and_wasserstein(ref, cur).wasserstein
    a, b = ref.values, cur.values
    n, m = a.size, b.size
    if n == m:
        return float(np.mean(np.abs(a - b)))
    # breakpoints on the integer grid 0..n*m: i*m for a, j*n for b; a's go first on ties
    i, j = np.arange(n, dtype=np.int64), np.arange(m, dtype=np.int64)
    grid = np.empty(n + m, dtype=np.int64)
    grid[i + (i * m + n - 1) // n] = i * m  # after the ceil(i*m/n) b-breakpoints below it
    grid[j + (j * n) // m + 1] = j * n  # after the floor(j*n/m)+1 a-breakpoints at or below it
    lengths = np.diff(grid, append=n * m)
    return float(np.dot(lengths, np.abs(a[grid // m] - b[grid // n])) / (n * m))


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of D as scipy's ``ks_2samp(method='auto')`` computes it."""
    from scipy import stats

    if max(n1, n2) <= _KS_MAX_EXACT_N:
        from scipy.stats._stats_py import _attempt_exact_2kssamp

        g = math.gcd(n1, n2)
        if (n1 // g) < np.iinfo(np.int32).max / (n2 // g):
            ok, _, prob = _attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
            if ok:
                return float(np.clip(prob, 0, 1))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def wasserstein_normed(distance: float, ref_std: float) -> float:
    """Evidently's normed Wasserstein: distance / max(std(reference), 0.001)."""
    return distance / max(ref_std, 0.001)


def chisquare_pvalue(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Evidently's chi-square: current counts against reference counts scaled to current n.

    Returns (statistic, p-value); a category absent from the reference gives inf / 0 as
    scipy does.
    """
    from scipy import stats

    ref_counts = np.asarray(ref_counts, dtype=np.float64)
    cur_counts = np.asarray(cur_counts, dtype=np.float64)
    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (cur_counts - expected) ** 2 / expected
    terms = np.where((expected == 0) & (cur_counts == 0), 0.0, terms)
    statistic = float(np.sum(terms))
    return statistic, float(stats.chi2.sf(statistic, cur_counts.size - 1))


def z_proportions(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Z-test on proportions of the first (sorted) category vs the rest, Evidently's way.

    Counts are per category in sorted key order. Returns (z, two-sided p-value).
    """
    from scipy import stats

    ref_counts = np.asarray(ref_counts, dtype=np.float64)
    cur_counts = np.asarray(cur_counts, dtype=np.float64)
    if np.count_nonzero(ref_counts) == 1 and np.array_equal(ref_counts > 0, cur_counts > 0):
        return 0.0, 1.0  # both samples hold the same single value
    n1, n2 = ref_counts.sum(), cur_counts.sum()
    p1 = (n1 - ref_counts[0]) / n1  # Evidently codes the first key as 0, the rest as 1
    p2 = (n2 - cur_counts[0]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(z), float(2 * (1 - stats.norm.cdf(np.abs(z))))


def fill_zeroes(percents: np.ndarray) -> np.ndarray:
    """Evidently's ``feel_zeroes``: empty bins get min(non-empty)/1e6 or 1e-4."""
    smallest = percents[percents != 0].min()
    fill = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(percents == 0, fill, percents)


def jensenshannon(
    ref_percents: np.ndarray, cur_percents: np.ndarray, base: float | None = None
) -> float:
    """Jensen-Shannon distance as ``scipy.spatial.distance.jensenshannon`` (natural log by default)."""
    p = ref_percents / np.sum(ref_percents)
    q = cur_percents / np.sum(cur_percents)
    m = (p + q) / 2.0
    js = np.sum(_rel_entr(p, m) + _rel_entr(q, m)) / 2.0
    if base is not None:
        js /= np.log(base)
    return float(np.sqrt(max(js, 0.0)))


def psi(ref_percents: np.ndarray, cur_percents: np.ndarray) -> float:
    """Population stability index on zero-filled bin shares."""
    r, c = fill_zeroes(ref_percents), fill_zeroes(cur_percents)
    return float(np.sum((r - c) * np.log(r / c)))


def kl_divergence(ref_percents: np.ndarray, cur_percents: np.ndarray) -> float:
    """KL(ref || cur) on zero-filled bin shares, renormalised as ``scipy.stats.entropy`` does."""
    r, c = fill_zeroes(ref_percents), fill_zeroes(cur_percents)
    return float(np.sum(_rel_entr(r / r.sum(), c / c.sum())))


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``scipy.special.rel_entr`` where y > 0 wherever x > 0 (true for every caller here)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(x / y), 0.0)


def hellinger(ref_percents: np.ndarray, cur_percents: np.ndarray, bin_width: float = 1.0) -> float:
    """Hellinger distance from shares (categories) or densities times ``bin_width`` (numbers)."""
    overlap = np.clip(np.sum(np.sqrt(ref_percents * cur_percents)) * bin_width, 0, 1)
    return float(np.sqrt(1 - overlap))


def sturges_edges(minimum: float, maximum: float, size: int) -> np.ndarray:
    """``np.histogram_bin_edges(data, 'sturges')`` from the data's min, max and size only."""
    first, last = float(minimum), float(maximum)
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = (maximum - minimum) / (np.log2(size) + 1.0)
    n_bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, n_bins + 1, endpoint=True)


def anderson_darling_pvalue(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """k-sample Anderson-Darling (scipy); p-value capped to [0.001, 0.25] by scipy's table."""
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        # scipy warns when the p-value is floored or capped; the docstring says so instead
        warnings.filterwarnings("ignore", "p-value (floored|capped)", UserWarning)
        res = stats.anderson_ksamp([ref, cur], variant="midrank")
    return float(res.statistic), float(res.pvalue)


def cramer_von_mises_pvalue(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sample Cramér-von Mises (scipy; exact p below 21 rows per sample, else asymptotic)."""
    from scipy import stats

    res = stats.cramervonmises_2samp(ref, cur)
    return float(res.statistic), float(res.pvalue)


def mmd_rbf(
    ref: np.ndarray, cur: np.ndarray, *, permutations: int = 100, seed: int = 0
) -> tuple[float, float]:
    """Unbiased squared MMD with an RBF kernel (median heuristic on ref-ref distances).

    Same estimator as Evidently's ``mmd``; the permutation p-value uses a seeded generator
    so repeated checks agree. O(n^2) memory: callers subsample large columns.
    """
    x = np.asarray(ref, dtype=np.float64)
    y = np.asarray(cur, dtype=np.float64)
    xx = (x[:, None] - x[None, :]) ** 2
    sigma = math.sqrt(0.5 * float(np.percentile(xx.ravel(), 50, method="nearest"))) or math.sqrt(
        0.5
    )
    z = np.concatenate([x, y])
    kernel = np.exp(-((z[:, None] - z[None, :]) ** 2) / (2.0 * sigma**2))
    np.fill_diagonal(kernel, 0.0)

    def statistic(order: np.ndarray) -> float:
        k = kernel[np.ix_(order, order)]
        nx = x.size
        kxx, kyy, kxy = k[:nx, :nx], k[nx:, nx:], k[nx:, :nx]
        return float(
            kxx.sum() / (nx * (nx - 1)) + kyy.sum() / (y.size * (y.size - 1)) - 2.0 * kxy.mean()
        )

    observed = statistic(np.arange(z.size))
    rng = np.random.default_rng(seed)
    permuted = np.array([statistic(rng.permutation(z.size)) for _ in range(permutations)])
    return observed, float(np.mean(observed <= permuted))
