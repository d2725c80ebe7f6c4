"""The cockpit's tables as CSV files: the open items and each audit round's returns.

Prefect has no CSV artifact, so the tables are built here as plain text by pure
functions over a board (flows/dashboard.py) that any edge can serve: `govcal tables`
prints them, and a web route can return the same bytes.
"""

from __future__ import annotations

import csv
import io

from govcal.flows.dashboard import Dashboard, Item

OPEN_ITEMS = "open-items"
RETURNS = "returns-"  # + the audit rule's id


def tables(board: Dashboard) -> dict[str, list[dict[str, str]]]:
    """Each of the board's tables by name, as plain text cells, most urgent first."""
    found = {OPEN_ITEMS: [i.cells(board.as_of) for i in sorted(board.items, key=Item.urgency)]}
    for cycle in board.cycles:
        found[f"{RETURNS}{cycle.rule_id}"] = cycle.cells
    return found


_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula


def to_csv(rows: list[dict[str, str]]) -> str:
    """The rows as CSV with a header line. A cell a spreadsheet would take for a formula
    (a title typed as `=HYPERLINK(...)`) starts with an apostrophe, so it is shown as
    typed and never run."""
    out = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"'{v}" if v.startswith(_FORMULA) else v for k, v in row.items()})
    return out.getvalue()
