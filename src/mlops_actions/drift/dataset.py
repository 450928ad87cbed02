"""Dataset drift: every shared column tested, schema skew reported, share of drifted columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlops_actions.drift.columns import ColumnSummary
from mlops_actions.drift.compare import ColumnResult, compare_column
from mlops_actions.drift.select import CATEGORICAL, NUMERICAL, TESTS, TEXT


@dataclass(frozen=True)
class ColumnChoice:
    """A configured test and/or threshold for one column (None = Evidently's default)."""

    stattest: str | None = None
    threshold: float | None = None


@dataclass
class DatasetDrift:
    columns: list[ColumnResult]
    missing_columns: list[str] = field(default_factory=list)  # in reference, not in current
    new_columns: list[str] = field(default_factory=list)  # in current, not in reference
    dtype_changes: list[dict] = field(default_factory=list)
    untested: list[dict] = field(default_factory=list)
    drift_share_threshold: float = 0.5

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def drift_share(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.drift_share >= self.drift_share_threshold

    @property
    def schema_skew(self) -> bool:
        return bool(self.missing_columns or self.new_columns or self.dtype_changes)

    def ordered(self) -> list[ColumnResult]:
        """Drifted columns first, then by effect size (largest first)."""
        return sorted(self.columns, key=lambda c: (not c.drifted, -c.effect_size, c.column))


def _family(summary: ColumnSummary) -> str:
    return "number" if summary.is_numeric else "bool" if summary.dtype == "bool" else "other"


def detect_drift(
    reference: Mapping[str, ColumnSummary],
    current: Mapping[str, ColumnSummary],
    *,
    default: ColumnChoice = ColumnChoice(),
    per_column: Mapping[str, ColumnChoice] | None = None,
    drift_share: float = 0.5,
    columns: list[str] | None = None,
) -> DatasetDrift:
    """Test each column Evidently would test (numerical, categorical, text in current data).

    A per-column choice wins over the global one (Evidently's order); a global test that does
    not apply to a column's kind leaves that column on its default test.
    """
    per_column = per_column or {}
    names = columns if columns is not None else list(current)
    result = DatasetDrift(
        columns=[],
        missing_columns=[c for c in reference if c not in current],
        new_columns=[c for c in current if c not in reference],
        drift_share_threshold=drift_share,
    )
    for name in names:
        if name not in current or name not in reference:
            continue
        ref, cur = reference[name], current[name]
        if ref.dtype != cur.dtype:
            result.dtype_changes.append(
                {"column": name, "reference": ref.dtype, "current": cur.dtype}
            )
        if cur.kind not in (NUMERICAL, CATEGORICAL, TEXT):
            result.untested.append(
                {"column": name, "reason": f"{cur.dtype} columns are not tested"}
            )
            continue
        if _family(ref) != _family(cur):
            result.untested.append(
                {"column": name, "reason": f"type changed from {ref.dtype} to {cur.dtype}"}
            )
            continue
        if cur.count == 0 or ref.count == 0:
            side = "current" if cur.count == 0 else "reference"
            result.untested.append({"column": name, "reason": f"no values in the {side} data"})
            continue
        if (
            cur.categories is None
            and not cur.is_numeric
            or ref.categories is None
            and not ref.is_numeric
        ):
            result.untested.append({"column": name, "reason": "too many distinct values to count"})
            continue
        choice = per_column.get(name, ColumnChoice())
        kind = NUMERICAL if cur.kind == NUMERICAL else CATEGORICAL
        test = choice.stattest
        if test is None and default.stattest is not None and kind in TESTS[default.stattest].kinds:
            test = default.stattest
        threshold = choice.threshold if choice.threshold is not None else default.threshold
        result.columns.append(compare_column(ref, cur, test=test, threshold=threshold))
    return result
