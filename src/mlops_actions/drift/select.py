"""Column types and default tests, chosen exactly as Evidently 0.7's DataDriftPreset chooses them.

Evidently infers each column's type from the *current* data
(``evidently.core.datasets.infer_column_type``) and then picks the test in
``evidently.legacy.calculations.stattests.registry._get_default_stattest``:

* float -> numerical; int -> categorical when it has <= 10 distinct values, else numerical;
  strings -> text when distinct > half the non-missing count, else categorical;
  bool / category -> categorical; datetimes and anything else are not tested.
* Reference rows (after dropping missing and infinite values) <= 1000:
  numerical with > 5 distinct values (reference and current together) -> ``ks``;
  otherwise ``chisquare``, or ``z`` when there are <= 2 distinct values.
* More reference rows: numerical with > 5 distinct values -> ``wasserstein``, else
  ``jensenshannon``; categorical -> ``jensenshannon``.

Evidently tests text columns with a domain classifier; we test them as categories and say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_actions.features import CATEGORICAL

NUMERICAL = "numerical"  # Evidently's word, kept so the report reads like its reports
TEXT = "text"
UNTESTED = "untested"

INTEGER_CARDINALITY_LIMIT = 10  # Evidently's INTEGER_CARDINALITY_LIMIT
SMALL_SAMPLE_ROWS = 1000  # reference rows up to which p-value tests are chosen
FEW_VALUES = 5  # distinct values up to which a numerical column is tested as categories


@dataclass(frozen=True)
class TestSpec:
    """A registered test: what it returns and which side of the threshold means drift."""

    name: str
    statistic: str  # what the test computes, as reports name it (p-value tests: not the p-value)
    kinds: tuple[str, ...]
    default_threshold: float
    is_pvalue: bool
    drift_on_equal: bool  # True: p <= t (or d >= t) is drift; False: p < t

    def drifted(self, score: float, threshold: float) -> bool:
        if self.is_pvalue:
            return score <= threshold if self.drift_on_equal else score < threshold
        return score >= threshold

    @property
    def drift_if(self) -> str:
        """How the score compares with the threshold when the column drifted."""
        if self.is_pvalue:
            return "<=" if self.drift_on_equal else "<"
        return ">="


_BOTH = (NUMERICAL, CATEGORICAL)
TESTS: dict[str, TestSpec] = {
    t.name: t
    for t in (
        TestSpec("ks", "KS D", (NUMERICAL,), 0.05, True, True),
        TestSpec("wasserstein", "normed Wasserstein distance", (NUMERICAL,), 0.1, False, True),
        TestSpec("chisquare", "chi-square", (CATEGORICAL,), 0.05, True, False),
        TestSpec("z", "z", (CATEGORICAL,), 0.05, True, False),
        TestSpec("jensenshannon", "Jensen-Shannon distance", _BOTH, 0.1, False, True),
        TestSpec("psi", "PSI", _BOTH, 0.1, False, True),
        TestSpec("kl_div", "Kullback-Leibler divergence", _BOTH, 0.1, False, True),
        TestSpec("hellinger", "Hellinger distance", _BOTH, 0.1, False, True),
        TestSpec("anderson", "Anderson-Darling", (NUMERICAL,), 0.1, True, False),
        TestSpec("cramer_von_mises", "Cramer-von Mises", (NUMERICAL,), 0.1, True, True),
        TestSpec("empirical_mmd", "MMD", (NUMERICAL,), 0.1, True, False),
    )
}


def infer_kind(dtype_name: str, *, nunique: int, count: int, first_is_str: bool = True) -> str:
    """Evidently's ``infer_column_type`` from a dtype name, distinct and non-missing counts."""
    if dtype_name.startswith("float"):
        return NUMERICAL
    if dtype_name.startswith("int"):  # not "Int64"/"uint8": Evidently leaves those untested
        return CATEGORICAL if nunique <= INTEGER_CARDINALITY_LIMIT else NUMERICAL
    if dtype_name in ("string", "str", "object"):
        if count == 0 or not first_is_str:
            return UNTESTED
        return TEXT if nunique > count * 0.5 else CATEGORICAL
    if dtype_name in ("bool", "category"):
        return CATEGORICAL
    return UNTESTED


def default_test(kind: str, *, reference_rows: int, distinct_values: int) -> str:
    """Evidently's ``_get_default_stattest`` (text columns tested as categorical here)."""
    if kind not in (NUMERICAL, CATEGORICAL, TEXT):
        raise ValueError(f"no drift test for a column of kind {kind!r}")
    few = distinct_values <= FEW_VALUES
    if reference_rows <= SMALL_SAMPLE_ROWS:
        if kind == NUMERICAL and not few:
            return "ks"
        return "chisquare" if distinct_values > 2 else "z"
    if kind == NUMERICAL and not few:
        return "wasserstein"
    return "jensenshannon"
