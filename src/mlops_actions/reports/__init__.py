"""The one renderer: step summaries, PR comments, model cards and HTML reports all come
from the jinja2 templates beside this file, with the same filters."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).with_name("templates")


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers for humans: 4 significant digits, '—' for missing."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "—"
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def signed(value: Any, digits: int = 4) -> str:
    if value is None or value != value:
        return "—"
    return ("+" if value > 0 else "") + fmt(value, digits)


def pct(value: Any, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def cell(value: Any, width: int = 60) -> str:
    """Any value as one markdown table cell: one line, pipes escaped, cut to ``width``."""
    text = " ".join(str(value).split()) if value is not None else "—"
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|")


_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]()#+\-.!|~:$])")
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_ZWSP = "\u200b"


def md(value: Any, width: int | None = None) -> str:
    """A value from data or users (column, category, file name) as inert inline markdown.

    One line (cut to ``width``); ``< > &`` as entities, so no HTML and no ``<!-- -->``
    marker can be forged; every markdown punctuation character backslash-escaped, so no
    link, image, emphasis, autolink or code-span breakout, and a ``|`` cannot split a table
    cell; an invisible space after ``@`` and ``#`` so GitHub makes no @mention or issue
    reference of it. For markdown templates only: HTML templates are autoescaped.
    """
    if value is None:
        return "—"
    text = " ".join(_INVISIBLE.sub(" ", str(value)).split())
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    return text.replace("@", "@" + _ZWSP).replace("\\#", "\\#" + _ZWSP)


_ESCAPED = re.compile(r"\\" + _MD_PUNCTUATION.pattern)
_TAGS = re.compile(r"</?(?:code|sub|sup|details|summary|b|strong|i|em)(?: open)?>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def terminal_text(markdown: str) -> str:
    """A rendered report as a terminal shows it: ``md``'s escapes, invisible spaces and the
    few HTML tags undone, so ``mlops.yaml`` does not print as ``mlops\\.yaml``. For a
    terminal only: the result is no longer safe to post as markdown."""
    text = _TAGS.sub("", markdown.replace(_ZWSP, ""))
    text = _ESCAPED.sub(r"\1", text)
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(fmt=fmt, signed=signed, pct=pct, cell=cell, md=md)
    return env


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


GITHUB_COMMENT_LIMIT = 65_536
"""Characters GitHub keeps in one comment (and one issue body); a longer body is refused."""


def cut_markdown(text: str, budget: int, pointer: str, *, marker: str = "") -> str:
    """``text`` if it fits in ``budget`` characters; else cut before a section (or at a line),
    with open ``<details>`` and code fences closed, and a last line saying where the rest is
    (after ``marker``, a hidden line by which a later edit finds and drops the note)."""
    if len(text) <= budget:
        return text
    tail = f"\n{marker}\n\n---\n✂️ **Cut to fit a GitHub comment**: {pointer}.\n"
    room = budget - len(tail) - 200  # the closing tags below
    head = text[:room]
    section = max(head.rfind(start) for start in ("\n<details>", "\n### "))
    end = section if section > room // 2 else head.rfind("\n")
    head = head[: max(end, 0)].rstrip("\n") + "\n"
    closers = ""
    if sum(1 for line in head.splitlines() if line.startswith("```")) % 2:
        closers += "```\n"
    open_details = head.count("<details>") - head.count("</details>")
    closers += "\n</details>\n" * max(open_details, 0)
    return head + closers + tail


def flatten_params(params: Any, prefix: str = "") -> dict[str, Any]:
    """Nested params as ``a.b.c`` keys, the shape ``dvc params diff`` shows."""
    if not isinstance(params, dict):
        return {prefix: params} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in params.items():
        flat.update(flatten_params(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
