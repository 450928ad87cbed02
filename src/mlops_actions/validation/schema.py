"""The data contract: a pandera schema in pandera's own YAML, loaded, inferred and read.

The file is plain ``DataFrameSchema.to_yaml()`` output with a comment on top, so users edit
it by hand and load it with ``pandera.pandas.DataFrameSchema.from_yaml`` directly.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.data import is_text_dtype_name
from mlops_actions.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

MAX_CATEGORIES = 20  # text columns with at most this many distinct values get an isin check
ID_MIN_ROWS = 20  # fewer rows than this and "every value distinct" says nothing
RANGE_MARGIN = 0.1  # inferred ranges reach this share of the observed span beyond it
LOWER_BOUND_CHECKS = {"greater_than_or_equal_to", "greater_than"}
UPPER_BOUND_CHECKS = {"less_than_or_equal_to", "less_than"}


def load_schema(path: Path | None, *, config_label: str) -> pa.DataFrameSchema:
    """Read the schema file, or a one-line ``ConfigError`` naming the fix."""
    import pandera.pandas as pa
    import yaml

    if path is None:
        raise ConfigError(
            f"{config_label}: data.schema is not set; add 'schema: schema.yaml' under data: and run "
            "mlops validate-data --infer-schema"
        )
    if not path.is_file():
        raise ConfigError(
            f"{path.name}: schema file not found ({path}); run mlops validate-data --infer-schema to create it"
        )
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path.name}: not a readable YAML schema: {str(exc).splitlines()[0]}"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), dict) or not doc["columns"]:
        raise ConfigError(
            f"{path.name}: not a pandera schema (expected a 'columns:' mapping); "
            "re-create it with mlops validate-data --infer-schema --force"
        )
    try:
        return pa.DataFrameSchema.from_yaml(text)
    except Exception as exc:  # pandera raises TypeError/AttributeError/ValueError for bad entries
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path.name}: invalid pandera schema: {detail}") from None


def infer_schema(frame: pd.DataFrame, *, target: str, task: str) -> pa.DataFrameSchema:
    """Dtypes, nullability, widened ranges, small category sets, id uniqueness, target labels."""
    import pandera.pandas as pa

    columns = {}
    for name in frame.columns:
        series = frame[name]
        checks: list[pa.Check] = []
        is_target_label = name == target and task == "classification"
        present = series.dropna()
        numeric = _is_number(series)
        unique = _is_id(series, numeric)
        if is_target_label:
            checks.append(pa.Check.isin(sorted(present.unique().tolist())))
        elif numeric and len(present):
            checks.append(pa.Check.in_range(*_widened(series)))
        elif not numeric and not unique and 0 < present.nunique() <= MAX_CATEGORIES:
            checks.append(pa.Check.isin(sorted(present.astype(str).unique().tolist())))
        columns[str(name)] = pa.Column(
            str(series.dtype),
            checks=checks or None,
            nullable=bool(series.isna().any()),
            unique=unique,
        )
    return pa.DataFrameSchema(columns)


def schema_yaml(schema: pa.DataFrameSchema, *, source: str) -> str:
    header = (
        f"# Data contract inferred by `mlops validate-data --infer-schema` from {source}.\n"
        "# pandera YAML: edit freely; load it with pandera.pandas.DataFrameSchema.from_yaml(path).\n"
    )
    return header + schema.to_yaml()


def _is_number(series: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def _is_id(series: pd.Series, numeric: bool) -> bool:
    import pandas as pd

    integer_or_text = pd.api.types.is_integer_dtype(series.dtype) or not numeric
    return (
        integer_or_text
        and not pd.api.types.is_bool_dtype(series.dtype)
        and len(series) >= ID_MIN_ROWS
        and not series.isna().any()
        and series.is_unique
    )


def _widened(series: pd.Series) -> tuple[float, float]:
    """Observed min..max plus a margin, rounded outward; never below 0 for non-negative data."""
    import pandas as pd

    lo, hi = float(series.min()), float(series.max())
    margin = (hi - lo) * RANGE_MARGIN or abs(lo) * RANGE_MARGIN or 1.0
    low, high = lo - margin, hi + margin
    if lo >= 0:
        low = max(low, 0.0)
    step = 10.0 ** (math.floor(math.log10(margin)) - 1)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    if pd.api.types.is_integer_dtype(series.dtype):
        return int(math.floor(low)), int(math.ceil(high))
    return _tidy(low), _tidy(high)


def _tidy(value: float) -> float:
    return float(f"{value:.12g}")


def numeric_range(schema: pa.DataFrameSchema, column: str) -> tuple[float, float] | None:
    """The column's declared lower and upper bounds, when it declares both."""
    spec = schema.columns.get(column)
    if spec is None:
        return None
    low = high = None
    for check in spec.checks:
        stats = getattr(check, "statistics", None) or {}
        name = getattr(check, "name", "")
        if name == "in_range":
            low, high = stats.get("min_value"), stats.get("max_value")
        elif name in LOWER_BOUND_CHECKS:
            low = stats.get("min_value")
        elif name in UPPER_BOUND_CHECKS:
            high = stats.get("max_value")
    if _finite(low) and _finite(high):
        return float(low), float(high)
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def dtype_name(schema: pa.DataFrameSchema, column: str) -> str | None:
    spec = schema.columns.get(column)
    return str(spec.dtype) if spec is not None and spec.dtype is not None else None


def is_text(schema: pa.DataFrameSchema, column: str) -> bool:
    name = dtype_name(schema, column)
    return name is not None and is_text_dtype_name(name)


def is_numeric(schema: pa.DataFrameSchema, column: str) -> bool:
    name = (dtype_name(schema, column) or "").lower()
    return name.startswith(("int", "uint", "float"))


def unique_columns(schema: pa.DataFrameSchema) -> dict[str, str]:
    """Columns declared unique, with how pandera reports their duplicates."""
    return {name: spec.report_duplicates for name, spec in schema.columns.items() if spec.unique}


def without_uniqueness(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The schema for one chunk: uniqueness is checked across chunks, from hashes, instead."""
    for name in unique_columns(schema):
        schema = schema.update_column(name, unique=False)
    return schema
