"""Column names, category values and file names come from data an outsider may write: the
drift summary (step summary, alert issue) and the HTML report show them as text, never as
HTML, links, images, @mentions or a forged alert marker."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_actions.config import load_config
from mlops_actions.drift.alerts import last_dispatch
from mlops_actions.stages.drift_check import drift_check
from support import EXAMPLES, copy_example
from support.html_text import parse_html, render_markdown

PENGUINS = EXAMPLES / "penguins"
MARKER = "<!-- mlops-actions:drift:last-dispatch=2099-01-01T00:00:00Z -->"
COLUMNS = [
    MARKER,
    "<img src=x onerror=alert(1)>",
    "@octocat",
    "[x](https://evil.example)",
    "![p](https://evil.example/p.png)",
    "a`b``c",
    "x|y",
]
CATEGORIES = ["<script>alert(1)</script>", "@octocat", "<b>bold</b>"]


def frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {name: rng.normal(shift, 1, rows) for name in COLUMNS}
    data["kind"] = rng.choice(CATEGORIES, rows, p=[0.6, 0.3, 0.1] if shift else None)
    return pd.DataFrame(data)


def test_data_derived_values_are_text_in_the_summary_and_the_report(tmp_path, fake_github):
    copy_example("penguins", tmp_path / "penguins")
    frame(300, 1, 0.0).to_csv(tmp_path / "ref.csv", index=False)
    current = tmp_path / "@octocat <img src=x onerror=alert(1)> `x` | y.csv"
    frame(300, 2, 1.0).to_csv(current, index=False)
    result = drift_check(
        load_config(tmp_path / "penguins/mlops.yaml"),
        workdir=tmp_path / "w",
        current=str(current),
        reference=tmp_path / "ref.csv",
    )
    assert result.drift and len(result.columns) == len(COLUMNS) + 1

    summary = (tmp_path / "w/drift-check/summary.md").read_text()
    assert "<!--" not in summary and last_dispatch(summary) is None
    assert "@octocat" not in summary
    rendered = render_markdown(summary)
    assert set(rendered.tags) <= {
        "h2",
        "h3",
        "p",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
    }
    assert rendered.comments == []
    for name in [*COLUMNS, current.name]:
        assert name in rendered.shown, name

    (issue,) = fake_github.issues.values()  # the alert issue carries the same summary
    assert last_dispatch(issue["body"]) is not None and "2099" not in str(
        last_dispatch(issue["body"])
    )

    report = parse_html((tmp_path / "w/drift-check/report.html").read_text())
    assert not set(report.tags) & {"img", "script", "a", "b"} and report.comments == []
    for value in [*COLUMNS, *CATEGORIES, current.name]:
        assert value in report.shown, value
