"""The cockpit's tables as CSV files: the open items and each audit round's returns.

Prefect has no CSV artifact, so the tables are built here as plain text by pure
functions over a board (flows/dashboard.py) that any edge can serve: `govcal tables`
prints them, and the web app serves them at `/cockpit/<partnership>/<table>.csv`, each
address signed with the web app's key (the summary links to them; an address nobody
signed is refused).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
from urllib.parse import quote

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


def signature(secret: str, partnership: str, table: str) -> str:
    """The key's signature of one table's address: it stays the same from day to day, so
    a bookmarked link always gives the latest rows."""
    message = f"cockpit-csv\n{partnership}\n{table}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def signed(secret: str, partnership: str, table: str, given: str) -> bool:
    return hmac.compare_digest(signature(secret, partnership, table), given)


def links(board: Dashboard, base_url: str, secret: str) -> list[tuple[str, str]]:
    """(label, address) of each of the board's tables as CSV, for the summary."""
    base = base_url.rstrip("/")
    labels = {OPEN_ITEMS: "Open items"}
    labels.update({f"{RETURNS}{c.rule_id}": c.title for c in board.cycles})
    return [
        (
            label,
            f"{base}/cockpit/{quote(board.partnership, safe='')}/{quote(name, safe='')}.csv"
            f"?sig={signature(secret, board.partnership, name)}",
        )
        for name, label in labels.items()
    ]
