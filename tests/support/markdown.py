"""Artifacts as a person reads them in the Prefect UI: markdown rendered, tags dropped."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt


def as_shown(markdown: str) -> str:
    """The text a reader sees once the UI renders `markdown` (escapes and entities gone)."""
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))
