"""Read-only views of the database: status of occurrences and audit returns."""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from typing import Annotated

import typer
from rich.table import Table

from govcal.cli.common import (
    AsOfOption,
    PartnershipOption,
    database,
    err,
    load_rules,
    out,
    parse_day,
    today,
)
from models import queries
from models.status import StatusRow, status_of, status_rows
from rules.model import active_partnerships
from rules.state import State

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
    ahead: Annotated[int, typer.Option("--ahead", help="Days ahead to include.")] = 30,
) -> None:
    """What is overdue, due and coming up, and what was recently done."""
    day = parse_day(as_of, "--as-of") or today()
    with database() as session:
        # superseded partnerships keep their history but are not today's business,
        # unless asked for by name
        current = None if partnership else {p.id for p in active_partnerships(load_rules(), day)}
        rows = status_rows(
            session, day, partnership_id=partnership, overdue_only=overdue, ahead_days=ahead,
            partnership_ids=current,
        )  # fmt: skip
        names = {}
        for pid in {r.row.partnership_id for r in rows}:
            names.update(queries.subject_names(session, pid))
    if as_json:
        json.dump([r.as_json() for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = Table(title=f"Status as of {day}")
    for column in ("due", "id", "title", "owner", "state", "evidence"):
        table.add_column(column, overflow="fold")
    grouped: dict[tuple[str, str, str], list[StatusRow]] = defaultdict(list)
    for r in rows:
        if r.row.subject:
            grouped[(r.row.partnership_id, r.row.rule_id, r.row.period)].append(r)
            continue
        table.add_row(
            r.row.due.isoformat(), r.row.public_id, r.row.title, r.row.owner_role, styled(r),
            r.row.evidence_url or r.row.evidence_file or "",
        )  # fmt: skip
    for (pid, rule, period), members in grouped.items():
        counts = Counter(m.status.state for m in members)
        done = counts[State.COMPLETED_ON_TIME] + counts[State.COMPLETED_LATE]
        summary = ", ".join(f"{n} {s.value.replace('_', ' ')}" for s, n in counts.most_common())
        table.add_row(
            members[0].row.due.isoformat(), f"{pid}:{rule}:{period}",
            f"{members[0].row.title} ({done} of {len(members)} returned)",
            members[0].row.owner_role, summary, f"govcal returns {pid}:{rule}:{period}",
        )  # fmt: skip
    out.print(table)
    counts = Counter(r.status.state for r in rows)
    out.print(", ".join(f"{n} {s.value.replace('_', ' ')}" for s, n in counts.most_common()))


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
            table = Table(title="Audit cycles")
            for column in ("cycle", "title", "due", "returned"):
                table.add_column(column)
            counts = queries.return_counts(session, [c.id for c in cycles if c.id])
            for c in cycles:
                done, total = counts.get(c.id or 0, (0, 0))
                table.add_row(c.public_id, c.title, c.due.isoformat(), f"{done} of {total}")
            out.print(table)
            return
        found = queries.audit_cycle(session, cycle)
        members = queries.returns_of(session, found)
        names = queries.subject_names(session, found.partnership_id)
    table = Table(title=f"{found.title}: {found.public_id} (due {found.due}, as of {day})")
    for column in ("code", "name", "state", "submitted", "RAG", "reviewed"):
        table.add_column(column, overflow="fold")
    done = 0
    for audit_return, occ in members:
        state = status_of(occ, day)
        done += bool(occ.completed_at)
        table.add_row(
            audit_return.subject, names.get(audit_return.subject, ""),
            styled(StatusRow(occ, state)),
            occ.completed_at.isoformat() if occ.completed_at else "",
            audit_return.rag or "", audit_return.reviewed_by or "",
        )  # fmt: skip
    out.print(table)
    out.print(f"{done} of {len(members)} returned.")
