"""Dataset-level checks, read from the scans' profiles and row hashes.

Skew follows TensorFlow Data Validation: the L-infinity distance between category shares for
categorical columns, and the Jensen-Shannon distance (base 2, in [0, 1]) between binned
distributions for numeric ones; both compare each file with the reference (first) file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_actions.validation import profile as prof

if TYPE_CHECKING:
    from mlops_actions.config import ValidationConfig
    from mlops_actions.validation.scan import FileScan


@dataclass
class DatasetCheck:
    check: str
    role: str
    passed: bool
    value: float | int | None
    limit: float | int | None
    detail: str
    column: str | None = None
    count: int = 0  # failing rows, for the checks that name rows
    positions: list[int] = field(default_factory=list)


def per_file(
    scan: FileScan, rules: ValidationConfig, schema_columns: set[str] | None, keep: int
) -> list[DatasetCheck]:
    role = scan.source.role
    checks = [
        DatasetCheck(
            "min_rows",
            role,
            scan.rows >= rules.min_rows,
            scan.rows,
            rules.min_rows,
            f"{scan.rows:,} rows (at least {rules.min_rows:,} required)",
        )
    ]
    for name, column in scan.profile["columns"].items():
        limit = rules.column_max_missing_share.get(name, rules.max_missing_share)
        share = column["missing_share"]
        checks.append(
            DatasetCheck(
                "max_missing_share",
                role,
                share <= limit,
                share,
                limit,
                f"{column['missing']:,} of {scan.rows:,} values missing",
                column=name,
            )
        )
    repeated, positions = scan.duplicate_rows(keep)
    share = repeated / scan.rows if scan.rows else 0.0
    checks.append(
        DatasetCheck(
            "max_duplicate_share",
            role,
            share <= rules.max_duplicate_share,
            share,
            rules.max_duplicate_share,
            f"{repeated:,} row(s) repeat an earlier row",
            count=repeated,
            positions=positions,
        )
    )
    if schema_columns is not None:
        new = [c for c in scan.columns if c not in schema_columns]
        checks.append(
            DatasetCheck(
                "new_columns",
                role,
                rules.allow_new_columns or not new,
                len(new),
                None,
                (
                    f"not in the schema: {', '.join(new)}; add them to the schema or set validation.allow_new_columns"
                    if new
                    else "every column is in the schema"
                ),
            )
        )
    return checks


def leakage(
    reference: FileScan, other: FileScan, rules: ValidationConfig, keep: int
) -> DatasetCheck:
    """Rows of ``other`` that are also rows of the reference (training) file."""
    count, positions = other.rows_in(reference, keep)
    share = count / other.rows if other.rows else 0.0
    return DatasetCheck(
        "max_leakage_share",
        other.source.role,
        share <= rules.max_leakage_share,
        share,
        rules.max_leakage_share,
        f"{count:,} row(s) also in {reference.source.path.name}",
        count=count,
        positions=positions,
    )


def label_distribution(
    reference: dict[str, Any],
    other: dict[str, Any],
    *,
    role: str,
    against: str,
    target: str,
    rules: ValidationConfig,
) -> list[DatasetCheck]:
    ref = reference["columns"].get(target)
    cur = other["columns"].get(target)
    shares_ref = prof.category_shares(ref) if ref else None
    shares_cur = prof.category_shares(cur) if cur else None
    if shares_ref is None or shares_cur is None:
        return []
    checks = []
    vanished = [k for k in shares_ref if shares_cur.get(k, 0.0) == 0.0]
    checks.append(
        DatasetCheck(
            "label_vanished",
            role,
            rules.labels.allow_vanishing or not vanished,
            len(vanished),
            None,
            f"class(es) {', '.join(map(repr, vanished))} in {against} but not here"
            if vanished
            else f"every class of {against} is present",
            column=target,
        )
    )
    moves = {
        k: shares_cur.get(k, 0.0) - shares_ref.get(k, 0.0)
        for k in set(shares_ref) | set(shares_cur)
    }
    worst = max(sorted(moves), key=lambda k: abs(moves[k])) if moves else None
    change = abs(moves[worst]) if worst is not None else 0.0
    checks.append(
        DatasetCheck(
            "label_share_change",
            role,
            change <= rules.labels.max_share_change,
            change,
            rules.labels.max_share_change,
            f"class {worst!r}: {shares_ref.get(worst, 0.0):.1%} in {against}, {shares_cur.get(worst, 0.0):.1%} here"
            if worst is not None
            else "no labels",
            column=target,
        )
    )
    return checks


def skew(reference: FileScan, other: FileScan, rules: ValidationConfig) -> list[DatasetCheck]:
    from scipy.spatial.distance import jensenshannon

    checks = []
    for name, ref in reference.profile["columns"].items():
        cur = other.profile["columns"].get(name)
        if cur is None or cur["kind"] != ref["kind"]:
            continue
        if ref["kind"] == prof.NUMERIC:
            p, q = prof.coarse_histogram(ref), prof.coarse_histogram(cur)
            if not p.sum() or not q.sum():
                continue
            distance = float(jensenshannon(p / p.sum(), q / q.sum(), base=2))
            limit = rules.skew.numeric_max_js
            detail = f"Jensen-Shannon distance {distance:.3f} against {reference.source.path.name}"
        elif ref["kind"] == prof.CATEGORICAL:
            a, b = prof.category_shares(ref), prof.category_shares(cur)
            if a is None or b is None or not a or not b:
                continue
            distance = max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))
            limit = rules.skew.categorical_max_linf
            detail = f"L-infinity distance {distance:.3f} against {reference.source.path.name}"
        else:
            continue
        checks.append(
            DatasetCheck(
                "skew", other.source.role, distance <= limit, distance, limit, detail, column=name
            )
        )
    return checks
