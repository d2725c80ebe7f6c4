"""Read-only views of the database: status of occurrences and audit returns."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from govcal.cli.common import (
    AsOfOption,
    PartnershipOption,
    database,
    err,
    in_force,
    out,
    parse_day,
    today,
    zones,
)
from govcal.cli.tables import add_item, item_table, show
from govcal.models import queries
from govcal.models.status import (
    STATUS_AHEAD_DAYS,
    STATUS_BEHIND_DAYS,
    StatusRow,
    counts_line,
    status_of,
    status_rows,
    zone_of,
)
from govcal.rules.state import State

STYLE = {
    State.OVERDUE: "bold red",
    State.DUE: "bold yellow",
    State.DUE_SOON: "yellow",
    State.COMPLETED_LATE: "yellow",
    State.COMPLETED_ON_TIME: "green",
}


def styled(row: StatusRow) -> str:
    style = STYLE.get(row.status.state)
    text = row.status.describe()
    return f"[{style}]{text}[/]" if style else text


def status(
    partnership: PartnershipOption = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only what is overdue.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    as_of: AsOfOption = None,
    ahead: Annotated[
        int, typer.Option("--ahead", help="Days ahead to include.")
    ] = STATUS_AHEAD_DAYS,
) -> None:
    """What is overdue, due and coming up, and what was recently done."""
    day = parse_day(as_of, "--as-of") or today()
    with database() as session:
        rows = status_rows(
            session,
            day,
            partnership_id=partnership,
            overdue_only=overdue,
            ahead_days=ahead,
            behind_days=BEHIND,
            partnership_ids=in_force(day, partnership),
            zones=zones(),
        )
        names = {}
        for pid in {r.row.partnership_id for r in rows}:
            names.update(queries.subject_names(session, pid))
    if as_json:
        json.dump([r.as_json() for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    open_rows = sorted((r for r in rows if r.status.state.is_open), key=_urgency)
    closed = sorted((r for r in rows if not r.status.state.is_open), key=_closed_key)
    table = item_table()
    for item in _grouped(open_rows):
        _add(table, item, item.rows[0].row.due.isoformat(), names)
    show(out, f"Open as of {day}: most urgent first", table)
    if closed:
        table = item_table("closed")
        for item in _grouped(closed, by_day=True):
            _add(table, item, str(item.rows[0].closed()), names)
        show(out, f"Closed in the {BEHIND} days to {day}, by the day closed", table)
    out.print(counts_line(rows), soft_wrap=True)


BEHIND = STATUS_BEHIND_DAYS


@dataclass
class _Item:
    """One line of the status: an item, or the returns of an audit cycle taken together."""

    rows: list[StatusRow]
    cycle: str | None = None


def _urgency(r: StatusRow) -> tuple[int, date, str]:
    rank = {State.OVERDUE: 0, State.DUE: 1, State.DUE_SOON: 2}.get(r.status.state, 3)
    return (rank, r.row.due, r.row.public_id)


def _closed_key(r: StatusRow) -> tuple[int, str]:
    day = r.closed()
    return (-(day.toordinal() if day else 0), r.row.public_id)


def _grouped(rows: list[StatusRow], *, by_day: bool = False) -> list[_Item]:
    """Audit returns of one cycle (and, when listing closures, one day) on one line."""
    items: list[_Item] = []
    cycles: dict[tuple[str, date | None], _Item] = {}
    for r in rows:
        if not r.row.subject:
            items.append(_Item([r]))
            continue
        cycle = f"{r.row.partnership_id}:{r.row.rule_id}:{r.row.period}"
        key = (cycle, r.closed() if by_day else None)
        if key not in cycles:
            cycles[key] = _Item([], cycle)
            items.append(cycles[key])
        cycles[key].rows.append(r)
    return items


def _add(table, item: _Item, day: str, names: dict[str, str]) -> None:
    first = item.rows[0]
    if item.cycle is None:
        title = first.row.title
        if first.row.rescheduled and first.status.state.is_open:
            title += f" (moved: {first.row.reason})"
        evidence = first.row.evidence_url or first.row.evidence_file
        if evidence:
            title += f"\nevidence: {evidence}"
        add_item(table, day, styled(first), title, first.row.public_id, first.row.owner_role)
        return
    counts = Counter(m.status.state for m in item.rows)
    summary = ", ".join(f"{n} {s.value.replace('_', ' ')}" for s, n in counts.most_common())
    who = ", ".join(names.get(m.row.subject, m.row.subject) for m in item.rows[:3])
    more = f" and {len(item.rows) - 3} more" if len(item.rows) > 3 else ""
    title = f"{first.row.title}: {summary} ({who}{more}); each one: `govcal returns ID`"
    add_item(table, day, styled(first), title, item.cycle, first.row.owner_role)


def returns(
    cycle: Annotated[
        str | None, typer.Argument(help="Audit cycle id; omit to list the cycles.")
    ] = None,
    as_of: AsOfOption = None,
    partnership: PartnershipOption = None,
) -> None:
    """One line per agency or school in an S11/S175 cycle: returned, late, reviewed."""
    day = parse_day(as_of, "--as-of") or today()
    with database() as session:
        if cycle is None:
            cycles = queries.audit_cycles(session, partnership)
            if not cycles:
                err.print("No audit cycles yet: run `govcal sync` after importing a directory.")
                raise typer.Exit(1)
            table = Table()
            table.add_column("cycle", no_wrap=True)  # an id to copy: never cut
            for column in ("title", "due", "returned"):
                table.add_column(column)
            counts = queries.return_counts(session, [c.id for c in cycles if c.id])
            for c in cycles:
                done, total = counts.get(c.id or 0, (0, 0))
                table.add_row(c.public_id, c.title, c.due.isoformat(), f"{done} of {total}")
            show(out, "Audit cycles", table)
            return
        if cycle.count(":") == 3 and queries.round_members(session, cycle):
            cycle = cycle.rsplit(":", 1)[0]  # one return's id, as the emails show it: its cycle
        found = queries.audit_cycle(session, cycle)
        members = queries.returns_of(session, found)
        names = queries.subject_names(session, found.partnership_id)
        zone = zone_of(session, found.partnership_id)
    table = Table()
    table.add_column("code", no_wrap=True)
    for column in ("name", "state", "submitted", "RAG", "reviewed"):
        table.add_column(column, overflow="fold")
    done, waiting = 0, []
    for audit_return, occ in members:
        state = status_of(occ, day, 14, zone)
        returned = state.state in (State.COMPLETED_ON_TIME, State.COMPLETED_LATE)
        done += returned
        if not returned:
            waiting.append(occ.public_id)
        table.add_row(
            audit_return.subject,
            names.get(audit_return.subject, ""),
            styled(StatusRow(occ, state, zone)),
            occ.completed_at.isoformat() if occ.completed_at else "",
            audit_return.rag or "",
            audit_return.reviewed_by or "",
        )
    show(out, f"{found.title}: {found.public_id} (due {found.due}, as of {day})", table)
    out.print(f"{done} of {len(members)} returned.")
    if waiting:  # the whole id of a return is the cycle's id and the code
        out.print(f"Record one: govcal complete {waiting[0]} --evidence LINK", soft_wrap=True)
