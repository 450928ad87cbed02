"""Rendered output as a reader gets it: markdown through GitHub's own parser (cmark-gfm with
its extensions, raw HTML let through so that any that slipped in shows), then the tags, HTML
comments and text of the result."""

from __future__ import annotations

from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options


class Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.comments: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_comment(self, data):
        self.comments.append(data)

    def handle_data(self, data):
        self.text.append(data)

    @property
    def shown(self) -> str:
        """The text a reader sees, without the invisible spaces that stop @mentions."""
        return "".join(self.text).replace("\u200b", "")


def parse_html(html: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(html)
    return parsed


def render_markdown(markdown: str) -> Parsed:
    return parse_html(
        cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    )
