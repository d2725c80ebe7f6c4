"""Stored occurrences with their state as of a day: what `status` and the dashboard show."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, or_, select

from models.calendar import Lifecycle, OccurrenceRow
from models.stored_dates import usable
from rules.state import State, Status, evaluate


@dataclass(frozen=True, slots=True)
class StatusRow:
    row: OccurrenceRow
    status: Status

    def as_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "id": row.public_id,
            "partnership": row.partnership_id,
            "rule": row.rule_id,
            "title": row.title,
            "kind": row.kind,
            "subject": row.subject or None,
            "owner": row.owner_role,
            "due": row.starts_at.astimezone(_LONDON).isoformat()
            if row.starts_at
            else row.due.isoformat(),
            "state": self.status.state.value,
            "days_overdue": self.status.days_overdue,
            "completed_at": row.completed_at.isoformat() if row.completed_at else None,
            "completed_by": row.completed_by,
            "evidence": row.evidence_url or row.evidence_file,
            "evidence_note": row.evidence_note,
            "reason": row.reason,
            "rescheduled": row.rescheduled,
        }


_LONDON = ZoneInfo("Europe/London")


def status_of(row: OccurrenceRow, as_of: date, due_soon_days: int = 14) -> Status:
    return evaluate(
        row.due,
        as_of,
        completed_on=row.completed_at if row.lifecycle == Lifecycle.COMPLETED.value else None,
        waived=row.lifecycle == Lifecycle.WAIVED.value,
        cancelled=row.lifecycle == Lifecycle.CANCELLED.value,
        due_soon_days=due_soon_days,
    )


def status_rows(
    session: Session,
    as_of: date,
    *,
    partnership_id: str | None = None,
    overdue_only: bool = False,
    ahead_days: int = 30,
    behind_days: int = 30,
    due_soon_days: dict[str, int] | None = None,
    partnership_ids: Collection[str] | None = None,
) -> list[StatusRow]:
    """Everything open up to `ahead_days` from now (however old), and what was closed
    recently; orphaned occurrences are left out: no rule asks for them any more."""
    horizon = as_of + timedelta(days=ahead_days)
    recent = as_of - timedelta(days=behind_days)
    query = select(OccurrenceRow).where(
        OccurrenceRow.orphaned == False,  # noqa: E712
        OccurrenceRow.due <= horizon,
        or_(
            OccurrenceRow.lifecycle == Lifecycle.OPEN.value,
            col(OccurrenceRow.due) >= recent,
        ),
    )
    if partnership_id:
        query = query.where(OccurrenceRow.partnership_id == partnership_id)
    if partnership_ids is not None:  # e.g. only those in force today
        query = query.where(col(OccurrenceRow.partnership_id).in_(list(partnership_ids)))
    if overdue_only:
        query = query.where(
            OccurrenceRow.lifecycle == Lifecycle.OPEN.value, OccurrenceRow.due < as_of
        )
    rows = usable(session.exec(query.order_by(OccurrenceRow.due, OccurrenceRow.public_id)))
    soon = due_soon_days or {}
    out = [StatusRow(r, status_of(r, as_of, soon.get(r.partnership_id, 14))) for r in rows]
    if overdue_only:
        out = [s for s in out if s.status.state is State.OVERDUE]
    return out
