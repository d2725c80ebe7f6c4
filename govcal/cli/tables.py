"""The item table `plan` and `status` print: fits 100 columns, ids never broken.

Each item takes two lines: due, state and title on the first; owner and the id on the
second, the id never wrapped or cut, so it can be copied into `govcal complete` whole.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def item_table(first: str = "due") -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(first, no_wrap=True)
    table.add_column("state / owner", no_wrap=True, max_width=24)
    table.add_column("what (id below)", ratio=1, overflow="fold")
    return table


def add_item(table: Table, day: str, state: str, title: str, item_id: str, owner: str) -> None:
    """One item; `state` may carry Rich markup (colour), the rest is shown as given."""
    what = table.columns[2]
    what.min_width = max(what.min_width or 0, len(item_id))
    table.add_row(day, Text.from_markup(state), Text(title))
    table.add_row("", Text(owner, style="dim"), Text(item_id, style="cyan", no_wrap=True))


def show(console: Console, heading: str, table: Table) -> None:
    """The heading on a line of its own: a Rich title wraps at the table's width."""
    console.print(Text(heading, style="bold"))
    console.print(table)
