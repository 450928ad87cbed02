"""The ``md`` filter: a value from data or users rendered by GitHub's own markdown parser
(cmark-gfm, with its table, autolink, strikethrough and tag-filter extensions, raw HTML let
through) comes out as the same text and nothing else: no tag, link, image or marker."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_actions.reports import md, terminal_text
from support.html_text import render_markdown as render

HOSTILE = [
    "<!-- mlops-actions:drift:last-dispatch=2099-01-01T00:00:00Z -->",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "@octocat and @org/team",
    "[click](https://evil.example) ![pic](https://evil.example/p.png)",
    "<https://evil.example> https://evil.example www.evil.example me@evil.example",
    "a`b``c` ``` d",
    "x | y || z",
    "# heading\n\n- item\n1. item\n> quote\n---",
    "*em* **strong** _u_ ~~s~~ $x^2$ :+1:",
    "\\` \\| &amp; &lt;b&gt; &#64;octocat",
    "[ref]: https://evil.example",
    "see #12 and GH-3",
]


def normal(value: str) -> str:
    return " ".join(value.split())


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_render_as_their_text(value):
    paragraph = render(f"text {md(value)} end\n")
    assert paragraph.tags == ["p"] and paragraph.comments == []
    assert paragraph.shown.strip() == f"text {normal(value)} end"
    table = render(f"| a | b |\n|---|---|\n| <code>{md(value)}</code> | z |\n")
    assert table.tags.count("td") == 2 and "a" not in table.tags and "img" not in table.tags
    assert [t for t in table.tags if t not in ("table", "thead", "tbody", "tr", "th", "td")] == [
        "code"
    ]
    assert normal(value) in table.shown


def test_no_marker_mention_or_control_character_survives():
    assert "<!--" not in md(HOSTILE[0]) and "-->" not in md(HOSTILE[0])
    assert "@octocat" not in md("@octocat") and "#12" not in md("#12")
    assert md("a\u202eb\x00c\r\nd") == "a b c d"  # bidi override, NUL, line break
    assert md("x" * 80, width=10) == "x" * 9 + "…" and md(None) == "—"


MARKDOWN = "\\`*_[]()#+-.!|~:$<>&@;=^{}\"'/ \n\t0aw"
VISIBLE = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cf"))


@settings(max_examples=500, deadline=None)
@given(st.text(st.one_of(st.sampled_from(MARKDOWN), VISIBLE), max_size=40))
def test_any_text_renders_as_itself(value):
    parsed = render(f"text {md(value)} end\n")
    assert parsed.tags == ["p"] and parsed.comments == []
    assert normal(parsed.shown) == normal(f"text {value} end")


@settings(max_examples=500, deadline=None)
@given(st.text(st.one_of(st.sampled_from(MARKDOWN), VISIBLE), max_size=40))
def test_a_terminal_shows_any_value_as_it_was(value):
    """What the CLI prints outside Actions: md's escapes undone, the text itself back."""
    assert terminal_text(f"<code>{md(value)}</code>") == " ".join(value.split())


def test_a_terminal_shows_a_report_without_markdown_escapes():
    report = "- `mlops\\.yaml` for <code>wine\\-cultivar</code> &amp; <sub>@\u200bocto</sub>"
    assert terminal_text(report) == "- `mlops.yaml` for wine-cultivar & @octo"
