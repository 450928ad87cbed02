"""The small schema the validate-data tests share: a unique id, a nullable number with a
range, and two columns of words from closed sets (one of them the label)."""

from __future__ import annotations

SCHEMA = {
    "columns": {
        "id": {"dtype": "int64", "unique": True},
        "size": {
            "dtype": "float64",
            "nullable": True,
            "in_range": {"min_value": 0, "max_value": 10},
        },
        "color": {"dtype": "str", "isin": ["red", "green", "blue"]},
        "label": {"dtype": "str", "isin": ["a", "b"]},
    }
}
