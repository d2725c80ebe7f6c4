"""A plan with what the database recorded laid over the rules: `govcal plan` on a live system.

The rules say what should happen; the database says what did (completed, waived,
cancelled, a meeting moved) and what else started a clock (incidents). A plan that
ignored the database showed a completed meeting as overdue and a moved one at its old
time.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from govcal.models import queries
from govcal.models.calendar import OccurrenceRow
from govcal.models.status import status_of
from govcal.rules.model import ExpansionContext, Occurrence, Partnership, Rule
from govcal.rules.plan import PlanRow, build_plan
from govcal.rules.state import State, Status


def recorded_plan(
    session: Session, partnership: Partnership, start: date, end: date, as_of: date
) -> list[PlanRow]:
    """What falls in the window by its recorded date (a meeting moved into it is there, one
    moved out is not), each with its recorded state, plus what the rules place in it that
    was never synced. A deadline cancelled with the item it hangs on shows as cancelled,
    as `cancel` said."""
    moved, cancelled = queries.moved_and_cancelled(session, partnership.id)
    context = ExpansionContext(
        subjects=queries.subjects(session, partnership.id),
        events=queries.events(session, partnership.id),
        completions=queries.completions(session, partnership.id),
        moved=moved,
        cancelled=cancelled,
    )
    rules = {r.id: r for r in partnership.rules}
    stored = {
        r.public_id: r
        for r in queries.occurrences_between(session, partnership.id, start, end)
        if r.rule_id in rules
    }
    planned = [
        p
        for p in build_plan(partnership, start, end, as_of, context)
        if p.occurrence.id not in stored
    ]
    elsewhere = {  # recorded, but on a day outside the window
        r.public_id
        for r in queries.occurrences_by_keys(
            session, partnership.id, [p.occurrence.id for p in planned]
        )
    }
    out = [p for p in planned if p.occurrence.id not in elsewhere]
    out += [_as_recorded(row, rules[row.rule_id], partnership, as_of) for row in stored.values()]
    return sorted(out, key=lambda r: (r.occurrence.due, r.occurrence.id))


def _as_recorded(row: OccurrenceRow, rule: Rule, partnership: Partnership, as_of: date) -> PlanRow:
    tz = partnership.tz  # stored in UTC; shown in the partnership's wall-clock time
    occurrence = Occurrence(
        due=row.due,
        partnership=row.partnership_id,
        rule=row.rule_id,
        period=row.period,
        subject=row.subject or None,
        starts_at=row.starts_at.astimezone(tz) if row.starts_at else None,
        ends_at=row.ends_at.astimezone(tz) if row.ends_at else None,
    )
    if row.orphaned:  # no rule produces it any more: cancelled with what it hung on
        return PlanRow(occurrence, rule, Status(State.CANCELLED))
    return PlanRow(occurrence, rule, status_of(row, as_of, partnership.due_soon_days, tz))
