"""The item table `plan` and `status` print: fits 100 columns, ids never broken.

Each item takes two lines: due, state and title on the first; owner and the id on the
second, the id never wrapped or cut, so it can be copied into `govcal complete` whole.
Long titles wrap at word boundaries inside their column.

The layout is computed here, not by a Rich Table: Rich measured and wrapped every cell
of the sample's 196-item plan in 0.1 to 0.3 s; this is a few milliseconds. Rich still
prints it, so colours appear on a terminal and nowhere else.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATE_WIDTH = 24  # the widest state ("completed 123 days late") and most owner roles
GAP = "   "


@dataclass
class ItemTable:
    """The rows of an item table, laid out when shown (at the console's width)."""

    first: str = "due"
    rows: list[tuple[str, Text, str, str, str]] = field(default_factory=list)


def item_table(first: str = "due") -> ItemTable:
    return ItemTable(first)


def add_item(table: ItemTable, day: str, state: str, title: str, item_id: str, owner: str) -> None:
    """One item; `state` may carry Rich markup (colour), the rest is shown as given."""
    table.rows.append((day, Text.from_markup(state), title, item_id, owner))


def lines(table: ItemTable, width: int) -> Text:
    """The table as text lines no wider than `width`, except an id longer than its column
    (it is never broken: the line is longer instead)."""
    first = max([len(table.first), *(len(day) for day, *_ in table.rows)])
    second = min(
        STATE_WIDTH,
        max([len("state / owner"), *(max(len(s.plain), len(o)) for _, s, _, _, o in table.rows)]),
    )
    left = 1 + first + len(GAP) + second + len(GAP)
    third = max(20, width - left - 1)
    text = Text()
    text.append(
        f" {table.first.ljust(first)}{GAP}{'state / owner'.ljust(second)}{GAP}what (id below)\n",
        style="bold",
    )
    text.append(" " + "─" * (first + len(GAP) + second + len(GAP) + third) + "\n")
    blank = " " * left
    for day, state, title, item_id, owner in table.rows:
        wrapped = [
            part
            for paragraph in title.splitlines() or [""]
            for part in textwrap.wrap(paragraph, third, break_on_hyphens=False) or [""]
        ]
        state = state.copy()
        state.truncate(second, overflow="ellipsis")
        text.append(f" {day.ljust(first)}{GAP}")
        text.append(state)
        text.append(" " * (second - len(state.plain)) + GAP + wrapped[0] + "\n")
        for more in wrapped[1:]:
            text.append(f"{blank}{more}\n")
        text.append(f" {' ' * first}{GAP}")
        shown = owner if len(owner) <= second else owner[: second - 1] + "…"
        text.append(shown.ljust(second), style="dim")
        text.append(GAP)
        text.append(item_id, style="cyan")
        text.append("\n")
    return text


def show(console: Console, heading: str, table: ItemTable | Table) -> None:
    """The heading on a line of its own (a Rich title wraps at the table's width), then
    the table: an item table at the console's width, a report table (returns, audit
    cycles) as `print_wide` lays it out, so a name piped to grep is never cut in two."""
    console.print(Text(heading, style="bold"))  # wrapped on a terminal, whole when piped
    if isinstance(table, ItemTable) and not table.rows:
        console.print(Text(" none\n", style="dim"))
    elif isinstance(table, ItemTable):
        console.print(lines(table, console.width), soft_wrap=True)
    else:
        print_wide(console, table)


def print_wide(console: Console, table: Table) -> None:
    """A report table of many columns (`rules check`): on a terminal at its width; piped,
    at the table's own width, so no cell is squeezed into a column of a few letters."""
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update_width(1000)).maximum
    Console(
        file=console.file, highlight=False, width=max(console.width, natural), color_system=None
    ).print(table)
