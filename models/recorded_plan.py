"""A plan with what the database recorded laid over the rules: `govcal plan` on a live system.

The rules say what should happen; the database says what did (completed, waived,
cancelled, a meeting moved) and what else started a clock (incidents). A plan that
ignored the database showed a completed meeting as overdue and a moved one at its old
time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlmodel import Session

from models import queries
from models.status import status_of
from rules.model import ExpansionContext, Partnership
from rules.plan import PlanRow, build_plan


def recorded_plan(
    session: Session, partnership: Partnership, start: date, end: date, as_of: date
) -> list[PlanRow]:
    """The rules' plan for the window, each row replaced by its recorded state if any."""
    context = ExpansionContext(
        subjects=queries.subjects(session, partnership.id),
        events=queries.events(session, partnership.id),
        completions=queries.completions(session, partnership.id),
    )
    rows = build_plan(partnership, start, end, as_of, context)
    stored = {
        r.public_id: r
        for r in queries.occurrences_by_keys(
            session, partnership.id, [p.occurrence.id for p in rows]
        )
    }
    out = []
    for plan_row in rows:
        found = stored.get(plan_row.occurrence.id)
        if found is None:
            out.append(plan_row)
            continue
        tz = partnership.tz  # stored in UTC; shown in the partnership's wall-clock time
        moved = replace(
            plan_row.occurrence,
            due=found.due,
            starts_at=found.starts_at.astimezone(tz) if found.starts_at else None,
            ends_at=found.ends_at.astimezone(tz) if found.ends_at else None,
        )
        status = status_of(found, as_of, partnership.due_soon_days, tz)
        out.append(PlanRow(moved, plan_row.rule, status))
    return sorted(out, key=lambda r: (r.occurrence.due, r.occurrence.id))
