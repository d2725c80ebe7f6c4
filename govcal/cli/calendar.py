"""Calendar commands: check the rule files and show the plan."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from dateutil.relativedelta import relativedelta
from rich.table import Table

from govcal.cli.common import (
    AsOfOption,
    PartnershipOption,
    RulesOption,
    err,
    load_rules,
    out,
    parse_day,
    pick,
    today,
)
from govcal.cli.tables import add_item, item_table, show
from models.settings import get_settings
from rules.expand import expand
from rules.model import Partnership
from rules.plan import PlanRow, build_plan
from rules.state import State

rules_app = typer.Typer(help="Check and inspect the rule files.", no_args_is_help=True)

_STATE_STYLE = {
    State.OVERDUE: "bold red",
    State.DUE: "bold yellow",
    State.DUE_SOON: "yellow",
    State.COMPLETED_LATE: "yellow",
    State.COMPLETED_ON_TIME: "green",
    State.WAIVED: "dim",
    State.CANCELLED: "dim",
}


@rules_app.command("check")
def rules_check(
    path: Annotated[Path | None, typer.Argument(help="Rule file or folder to check.")] = None,
    as_of: AsOfOption = None,
) -> None:
    """Validate rule files; summarise partnerships, rules and the next 12 months."""
    partnerships = load_rules(path)
    start = parse_day(as_of, "--as-of") or today()
    end = start + relativedelta(months=12)
    table = Table(title=f"Rule files OK: occurrences from {start} to {end}")
    for column in ("partnership", "name", "rules", "occurrences", "file"):
        table.add_column(column)
    for p in partnerships:
        count = len(expand(p, start, end))
        table.add_row(p.id, p.name, str(len(p.rules)), str(count), p.source_file)
    out.print(table)


def plan(
    partnership: PartnershipOption = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD or DD/MM/YYYY).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD or DD/MM/YYYY).")
    ] = None,
    as_of: AsOfOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    rules: RulesOption = None,
) -> None:
    """Show the occurrences in a window with due date, owner, kind, source and state."""
    chosen = pick(load_rules(rules), partnership)
    day = parse_day(as_of, "--as-of") or today()
    first = parse_day(start, "--from") or day
    last = parse_day(end, "--to") or first + relativedelta(months=12)
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}", param_hint="--to")
    rows = _recorded(chosen, first, last, day)
    if rows is None:
        rows = build_plan(chosen, first, last, day)
    if as_json:
        json.dump([row.as_json() for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = item_table()
    for row in rows:
        style = _STATE_STYLE.get(row.status.state, "")
        state = f"[{style}]{row.status.describe()}[/]" if style else row.status.describe()
        title = f"{row.rule.title} ({row.rule.kind.value})"
        add_item(table, row.due_display, state, title, row.occurrence.id, row.rule.owner)
    show(out, f"{chosen.name}: {first} to {last} (as of {day})", table)
    out.print(f"{len(rows)} occurrences. Sources of each rule: `govcal plan --json`.")


def _recorded(partnership: Partnership, first: date, last: date, day: date) -> list[PlanRow] | None:
    """The plan with the database's records over it, or None where there is no database
    (a fresh checkout, or one that cannot be reached: the rules alone are still useful)."""
    settings = get_settings()
    if settings.uses_embedded_database and not (settings.data_dir / "govcal.db").is_file():
        return None
    from models.db import DatabaseUnavailable, session_scope  # only with a database
    from models.recorded_plan import recorded_plan

    try:
        with session_scope() as session:
            return recorded_plan(session, partnership, first, last, day)
    except DatabaseUnavailable as exc:
        err.print(f"Note: {exc}; showing the rules without recorded state.", markup=False)
        return None
