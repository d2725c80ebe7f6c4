"""`govcal tables`: the cockpit's tables as CSV (Prefect's UI shows them, but has no
download): the open items and each audit round's returns, as the summary builds them."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from govcal.cli.common import (
    AsOfOption,
    PartnershipOption,
    database,
    err,
    load_rules,
    out,
    parse_day,
    pick,
    today,
)
from govcal.flows import cockpit_csv, dashboard


def tables(
    partnership: PartnershipOption = None,
    csv: Annotated[
        str | None,
        typer.Option("--csv", help="Print this table as CSV: open-items or returns-RULE."),
    ] = None,
    as_of: AsOfOption = None,
) -> None:
    """The cockpit's tables: name them, or print one as CSV for a spreadsheet."""
    day = parse_day(as_of, "--as-of") or today()
    chosen = pick(load_rules(), partnership)
    with database() as session:
        board = dashboard.build(session, chosen, day)
    found = cockpit_csv.tables(board)
    if csv is None:
        for name, rows in found.items():
            out.print(f"{name}: {len(rows)} rows", markup=False)
        return
    if csv not in found:
        err.print(
            f"Error: {chosen.id} has no table '{csv}'; its tables: "
            f"{', '.join(found)}. Nothing was changed.",
            markup=False,
        )
        raise typer.Exit(1)
    sys.stdout.write(cockpit_csv.to_csv(found[csv]))
