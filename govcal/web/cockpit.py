"""The cockpit at a fixed address: /cockpit/<partnership>.<signature> shows the
partnership's summary and tables as of the moment it is opened, built from the database
the same way the daily run builds the artifacts (so it is never an old version, as a
bookmarked artifact in Prefect's UI is). The address is signed (models/cockpit_links.py);
markdown is rendered with raw HTML off and table cells escaped, so text people typed stays
text."""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from govcal.flows import dashboard
from govcal.flows.runtime import Runtime
from govcal.models.cockpit_links import checked_partnership
from govcal.models.db import session_scope
from govcal.models.settings import SettingsError

_render = MarkdownIt("js-default")  # CommonMark, raw HTML escaped, no unsafe link schemes


@dataclass(frozen=True)
class Table:
    caption: str
    heads: list[str]
    rows: list[list[Markup]]


@dataclass(frozen=True)
class Cockpit:
    name: str
    summary: Markup
    tables: list[Table] = field(default_factory=list)


def _table(caption: str, rows: list[dict[str, str]]) -> Table:
    """A table artifact's rows as HTML: each cell is plain text (rules.text.table_cell),
    so it is escaped, not rendered as markdown."""
    heads = list(rows[0]) if rows else []
    cells = [[escape(row[h]) for h in heads] for row in rows]
    return Table(caption, heads, cells)


async def cockpit(runtime: Runtime, secret: str, token: str) -> Cockpit | None:
    """The partnership's cockpit, or None for an address that is not ours or a
    partnership that is not configured."""
    pid = checked_partnership(secret, token)
    if pid is None:
        return None
    try:
        partnership = runtime.partnership(pid)
    except SettingsError:
        return None

    def build() -> dashboard.Dashboard:
        with session_scope(runtime.settings, checked=True) as session:
            return dashboard.build(session, partnership, runtime.today())

    board = await run_in_threadpool(build)
    tables = [_table("Open items, most urgent first", board.table())]
    tables += [_table(_render.renderInline(c.describe()), c.rows) for c in board.cycles]
    # rendered with raw HTML escaped: what people typed stays text
    return Cockpit(partnership.name, Markup(_render.render(board.markdown())), tables)
