"""Each statistic against scipy / numpy computed on the raw arrays (1e-6 relative)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import spatial, stats

from mlops_actions.drift import stattests as st
from mlops_actions.drift.columns import ColumnAccumulator, summarize
from mlops_actions.drift.compare import compare_column
from mlops_actions.drift.select import default_test, infer_kind

RTOL = 1e-6


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-300)


@pytest.fixture(params=[(50, 70), (400, 1200), (12000, 11000)], ids=["tiny", "small", "asymptotic"])
def samples(request):
    rng = np.random.default_rng(sum(request.param))
    n, m = request.param
    # rounding makes ties, which is where merge-based CDFs usually go wrong
    return rng.normal(0, 1, n).round(2), rng.normal(0.1, 1.2, m).round(2)


def test_ks_and_wasserstein_match_scipy(samples):
    a, b = samples
    dist = st.ks_and_wasserstein(st.SortedSample.exact(a), st.SortedSample.exact(b))
    expected = stats.ks_2samp(a, b)
    assert close(dist.ks_statistic, expected.statistic)
    assert close(st.ks_pvalue(dist.ks_statistic, a.size, b.size), expected.pvalue)
    assert close(dist.wasserstein, stats.wasserstein_distance(a, b))
    # the quantile-function path (no merge) gives the same distance
    assert close(
        st.wasserstein(st.SortedSample.exact(a), st.SortedSample.exact(b)),
        stats.wasserstein_distance(a, b),
    )
    assert close(
        st.wasserstein(st.SortedSample.exact(a), st.SortedSample.exact(a[::-1] + 0.5)),
        stats.wasserstein_distance(a, a + 0.5),
    )
    assert close(
        st.wasserstein_normed(dist.wasserstein, float(np.std(a))),
        stats.wasserstein_distance(a, b) / np.std(a),
    )


def test_wasserstein_norm_is_floored_for_constant_reference():
    a, b = np.full(30, 2.0), np.linspace(1, 3, 40)
    assert close(
        st.wasserstein_normed(stats.wasserstein_distance(a, b), float(np.std(a))),
        stats.wasserstein_distance(a, b) / 0.001,
    )


def test_histogram_from_sorted_values_matches_numpy(samples):
    a, b = samples
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
    assert np.array_equal(st.SortedSample.exact(a).histogram(edges), np.histogram(a, edges)[0])
    ours = st.sturges_edges(min(a.min(), b.min()), max(a.max(), b.max()), a.size + b.size)
    assert np.allclose(ours, edges, rtol=0, atol=0)


def test_chisquare_matches_scipy():
    ref = np.array([120.0, 80.0, 50.0, 10.0])
    cur = np.array([30.0, 40.0, 20.0, 14.0])
    stat, p = st.chisquare_pvalue(ref, cur)
    expected = stats.chisquare(cur, ref * cur.sum() / ref.sum())
    assert close(stat, expected.statistic) and close(p, expected.pvalue)


def test_z_test_matches_two_proportion_formula():
    ref, cur = np.array([300.0, 700.0]), np.array([180.0, 320.0])
    z, p = st.z_proportions(ref, cur)
    p1, p2 = 0.7, 320 / 500
    pooled = (700 + 320) / 1500
    expected_z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 500))
    assert close(z, expected_z)
    assert close(p, 2 * stats.norm.sf(abs(expected_z)))


def test_z_test_same_single_value_is_no_drift():
    assert st.z_proportions(np.array([10.0]), np.array([5.0])) == (0.0, 1.0)


def test_jensenshannon_psi_kl_match_scipy():
    r = np.array([0.5, 0.3, 0.2, 0.0])
    c = np.array([0.25, 0.25, 0.3, 0.2])
    assert close(st.jensenshannon(r, c), spatial.distance.jensenshannon(r, c))
    assert close(st.jensenshannon(r, c, base=2), spatial.distance.jensenshannon(r, c, base=2))
    rf, cf = st.fill_zeroes(r), st.fill_zeroes(c)
    assert rf[-1] == 0.0001  # Evidently's fill for bins whose smallest non-empty share > 1e-4
    assert close(st.psi(r, c), float(np.sum((rf - cf) * np.log(rf / cf))))
    assert close(st.kl_divergence(r, c), stats.entropy(rf, cf))


def test_hellinger_matches_definition():
    r, c = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    expected = math.sqrt(1 - sum(math.sqrt(x * y) for x, y in zip(r, c, strict=True)))
    assert close(st.hellinger(r, c), expected)


@pytest.mark.filterwarnings("ignore:p-value floored:UserWarning")  # the asymptotic case, as ours
def test_anderson_and_cramer_von_mises_match_scipy(samples):
    a, b = samples
    ad = stats.anderson_ksamp([a, b], variant="midrank")
    assert close(st.anderson_darling_pvalue(a, b)[1], ad.pvalue)
    cvm = stats.cramervonmises_2samp(a, b)
    assert close(st.cramer_von_mises_pvalue(a, b)[1], cvm.pvalue)


def test_mmd_matches_direct_unbiased_estimator():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 60), rng.normal(0.8, 1, 50)
    sq = (x[:, None] - x[None, :]) ** 2
    sigma = math.sqrt(0.5 * np.percentile(sq.ravel(), 50, method="nearest"))
    k = lambda u, v: np.exp(-((u[:, None] - v[None, :]) ** 2) / (2 * sigma**2))  # noqa: E731
    kxx, kyy = k(x, x), k(y, y)
    expected = (
        (kxx.sum() - np.trace(kxx)) / (60 * 59)
        + (kyy.sum() - np.trace(kyy)) / (50 * 49)
        - 2 * k(y, x).mean()
    )
    mmd, p = st.mmd_rbf(x, y)
    assert close(mmd, expected)
    assert p < 0.05  # a shift of 0.8 sd is found


@pytest.mark.parametrize(
    "rows,distinct,kind,expected",
    [
        (1000, 6, "numerical", "ks"),
        (1001, 6, "numerical", "wasserstein"),
        (1000, 5, "numerical", "chisquare"),
        (1001, 5, "numerical", "jensenshannon"),
        (1000, 2, "numerical", "z"),
        (1000, 3, "categorical", "chisquare"),
        (1000, 2, "categorical", "z"),
        (1001, 2, "categorical", "jensenshannon"),
        (1001, 50, "categorical", "jensenshannon"),
    ],
)
def test_default_test_rules(rows, distinct, kind, expected):
    assert default_test(kind, reference_rows=rows, distinct_values=distinct) == expected


def test_kind_inference_follows_evidently():
    assert infer_kind("int64", nunique=10, count=100) == "categorical"
    assert infer_kind("int64", nunique=11, count=100) == "numerical"
    assert infer_kind("float64", nunique=2, count=100) == "numerical"
    assert infer_kind("str", nunique=50, count=100) == "categorical"
    assert infer_kind("str", nunique=51, count=100) == "text"
    assert infer_kind("bool", nunique=2, count=100) == "categorical"
    assert infer_kind("datetime64[ns]", nunique=2, count=100) == "untested"


def test_distinct_values_are_counted_over_both_samples():
    """5 values in the reference plus a 6th only in current: more than 5 -> ks, not chi-square."""
    ref = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0] * 20, name="x")
    cur = pd.Series([1.0, 2.0, 3.0, 4.0, 6.0] * 20, name="x")
    assert compare_column(summarize(ref), summarize(ref)).test == "chisquare"
    assert compare_column(summarize(ref), summarize(cur)).test == "ks"


def test_chunked_summary_equals_in_memory():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(5000) < 0.1, np.nan, rng.normal(size=5000).round(3)),
            "c": rng.choice(["a", "b", "c"], 5000),
        }
    )
    reference = frame.iloc[:2000]
    accumulators = {c: ColumnAccumulator(c) for c in frame.columns}
    for start in range(2000, 5000, 700):
        for c in frame.columns:
            accumulators[c].add(frame[c].iloc[start : start + 700])
    for c in frame.columns:
        chunked, whole = accumulators[c].summary(), summarize(frame[c].iloc[2000:])
        for test in (
            ["ks", "wasserstein", "psi", "jensenshannon", "anderson"]
            if c == "x"
            else ["chisquare", "jensenshannon", "psi"]
        ):
            a = compare_column(summarize(reference[c]), chunked, test=test)
            b = compare_column(summarize(reference[c]), whole, test=test)
            assert a.score == b.score and not a.approximate, (c, test)


def test_compressed_chunks_stay_within_their_error_bound():
    rng = np.random.default_rng(8)
    values = rng.normal(size=60_000)
    acc = ColumnAccumulator("x", max_values=4096)
    for chunk in np.array_split(values, 30):
        acc.add(pd.Series(chunk))
    sketch = acc.summary()
    assert sketch.sample.values.size <= 4096 and 0 < sketch.cdf_error < 0.05
    ref = summarize(pd.Series(rng.normal(size=3000), name="x"))
    exact = compare_column(ref, summarize(pd.Series(values, name="x")), test="ks")
    approx = compare_column(ref, sketch, test="ks")
    assert approx.approximate
    assert abs(approx.statistic - exact.statistic) <= sketch.cdf_error
    w_exact = compare_column(ref, summarize(pd.Series(values, name="x")), test="wasserstein")
    w_approx = compare_column(ref, sketch, test="wasserstein")
    assert abs(w_approx.score - w_exact.score) <= w_approx.error_bound
