"""Stored occurrences with their state as of a day: what `status` and the dashboard show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, and_, col, or_, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from govcal.models.calendar import Lifecycle, OccurrenceRow
from govcal.models.directory import PartnershipRow
from govcal.models.rows import named
from govcal.models.stored_dates import usable
from govcal.models.types import table_of
from govcal.rules.model import DEFAULT_TIMEZONE
from govcal.rules.state import State, Status, evaluate

# the rule files' default zone; callers pass each partnership's own (Partnership.tz)
DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


@dataclass(frozen=True, slots=True)
class StatusRow:
    row: OccurrenceRow  # or, from status_rows(plain=True), a read-only row of its columns
    status: Status
    zone: ZoneInfo  # the partnership's time zone: days are its days

    def closed(self) -> date | None:
        return closed_on(self.row, self.zone)

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
            "due": row.starts_at.astimezone(self.zone).isoformat()
            if row.starts_at
            else row.due.isoformat(),
            "state": self.status.state.value,
            "days_overdue": self.status.days_overdue,
            "completed_at": row.completed_at.isoformat() if row.completed_at else None,
            "closed_on": closed.isoformat() if (closed := self.closed()) else None,
            "completed_by": row.completed_by,
            "evidence": row.evidence_url or row.evidence_file,
            "evidence_note": row.evidence_note,
            "reason": row.reason,
            "rescheduled": row.rescheduled,
        }


def status_of(row: OccurrenceRow, as_of: date, due_soon_days: int, zone: ZoneInfo) -> Status:
    """The row's state as of the day, its days counted in the partnership's zone."""
    return evaluate(
        row.due,
        as_of,
        completed_on=row.completed_at if row.lifecycle == Lifecycle.COMPLETED.value else None,
        waived=row.lifecycle == Lifecycle.WAIVED.value,
        cancelled=row.lifecycle == Lifecycle.CANCELLED.value,
        due_soon_days=due_soon_days,
        tz=zone,
    )


def closed_on(row: OccurrenceRow, zone: ZoneInfo) -> date | None:
    """The day an item was closed: completed on, or the day it was waived or cancelled."""
    if row.lifecycle == Lifecycle.COMPLETED.value:
        return row.completed_at
    if row.lifecycle in (Lifecycle.WAIVED.value, Lifecycle.CANCELLED.value):
        return row.updated_at.astimezone(zone).date()
    return None


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
    zones: dict[str, ZoneInfo] | None = None,
    plain: bool = False,
) -> list[StatusRow]:
    """Everything open up to `ahead_days` from now (however old), and what was closed in
    the last `behind_days` by the day it was closed (an old item completed yesterday is
    recent news); orphaned occurrences are left out: no rule asks for them any more.
    With `partnership_ids` (e.g. those whose arrangements are in force that day), other
    partnerships' items are left out: a superseded partnership's old items are history,
    not "420 days overdue". `zones` gives each partnership's time zone (default: the
    zone its rule file named at the last sync), so a day closed is the partnership's.
    `plain`: rows of columns, not ORM objects, for readers that only read them (the daily
    boards: 32,000 rows nationally, loaded as objects in twice the time)."""
    query = status_query(
        as_of,
        partnership_id=partnership_id,
        overdue_only=overdue_only,
        ahead_days=ahead_days,
        behind_days=behind_days,
        partnership_ids=partnership_ids,
        plain=plain,
    )
    if isinstance(query, SelectOfScalar):
        rows = usable(session.exec(query))
    else:
        rows = usable(named(session.exec(query).all()))
    soon = due_soon_days or {}
    zone = (zones if zones is not None else stored_zones(session)).get
    recent = as_of - timedelta(days=behind_days)
    out = []
    for r in rows:
        tz = zone(r.partnership_id, DEFAULT_ZONE)
        closed = closed_on(r, tz) if r.lifecycle in _CLOSED_BY_HAND else None
        if closed is not None and not recent <= closed <= as_of:
            continue  # the query's window is a day wider each side: zones differ
        out.append(StatusRow(r, status_of(r, as_of, soon.get(r.partnership_id, 14), tz), tz))
    if overdue_only:
        out = [s for s in out if s.status.state is State.OVERDUE]
    return out


_CLOSED_BY_HAND = (Lifecycle.WAIVED.value, Lifecycle.CANCELLED.value)

STATUS_AHEAD_DAYS = 30  # `govcal status` lists what is open up to this many days ahead
STATUS_BEHIND_DAYS = 30  # and what was closed in this many days before


def in_status_window(row: StatusRow, as_of: date) -> bool:
    """Whether `govcal status` (its default window) lists the row: read with a longer
    `ahead_days`, a caller keeps the same rows and so gives the same counts."""
    return not row.status.state.is_open or row.row.due <= as_of + timedelta(STATUS_AHEAD_DAYS)


def counts_line(rows: Iterable[StatusRow]) -> str:
    """'6 overdue, 2 due soon, 12 upcoming, 3 completed on time': `govcal status`'s
    closing line and the cockpit's headline, most urgent first; each agency's or school's
    return counts on its own."""
    counts = Counter(r.status.state for r in rows)
    return (
        ", ".join(f"{counts[s]} {s.value.replace('_', ' ')}" for s in _URGENT_FIRST if counts[s])
        or "nothing open or recently closed"
    )


_URGENT_FIRST = (
    State.OVERDUE,
    State.DUE,
    State.DUE_SOON,
    State.UPCOMING,
    State.COMPLETED_LATE,
    State.COMPLETED_ON_TIME,
    State.WAIVED,
    State.CANCELLED,
)


def zone_of(session: Session, partnership_id: str) -> ZoneInfo:
    """The partnership's stored time zone; Europe/London (the rule files' default) only
    for a partnership synced before its zone was stored."""
    return stored_zones(session).get(partnership_id, DEFAULT_ZONE)


def stored_zones(session: Session) -> dict[str, ZoneInfo]:
    """Each synced partnership's time zone, as its rule file named it."""
    found = {}
    for partnership_id, name in session.exec(select(PartnershipRow.id, PartnershipRow.timezone)):
        try:
            found[partnership_id] = ZoneInfo(name)
        except (ValueError, KeyError):  # checked when the rule file was loaded
            continue
    return found


def status_query(
    as_of: date,
    *,
    partnership_id: str | None = None,
    overdue_only: bool = False,
    ahead_days: int = 30,
    behind_days: int = 30,
    partnership_ids: Collection[str] | None = None,
    plain: bool = False,
) -> Select[*tuple[Any, ...]] | SelectOfScalar[OccurrenceRow]:
    """The SELECT behind status_rows (tests/test_query_plans.py reads its plan)."""
    horizon = as_of + timedelta(days=ahead_days)
    recent = as_of - timedelta(days=behind_days)
    # Three terms, each answerable from an index, so the database reads only the rows that
    # can matter (SQLite's multi-index OR, PostgreSQL's BitmapOr), never ten years of
    # history: open and due by the horizon (lifecycle, due); completed since `recent`
    # (lifecycle, completed_at): recent news, or still open on a replayed day; waived or
    # cancelled recently (lifecycle).
    completed_at = col(OccurrenceRow.completed_at)
    wanted = or_(
        and_(OccurrenceRow.lifecycle == Lifecycle.OPEN.value, OccurrenceRow.due <= horizon),
        and_(
            OccurrenceRow.lifecycle == Lifecycle.COMPLETED.value,
            completed_at >= recent,
            or_(and_(completed_at > as_of, OccurrenceRow.due <= horizon), completed_at <= as_of),
        ),
        and_(
            col(OccurrenceRow.lifecycle).in_(list(_CLOSED_BY_HAND)),
            # closed between `recent` and the day shown (a replayed day never lists a later
            # closure), in the partnership's days: a day wider each side here, since zones
            # run from UTC-12 to UTC+14; status_rows keeps the exact days
            col(OccurrenceRow.updated_at) >= datetime.combine(recent - timedelta(1), time(), UTC),
            col(OccurrenceRow.updated_at)
            < datetime.combine(as_of + timedelta(days=2), time(), UTC),
        ),
    )
    columns = table_of(OccurrenceRow).columns
    query = select(*columns) if plain else select(OccurrenceRow)
    query = query.where(
        OccurrenceRow.orphaned == False,  # noqa: E712
        wanted,
    )
    if partnership_id:
        query = query.where(OccurrenceRow.partnership_id == partnership_id)
    if partnership_ids is not None:  # e.g. only those in force today
        query = query.where(col(OccurrenceRow.partnership_id).in_(list(partnership_ids)))
    if overdue_only:
        query = query.where(
            OccurrenceRow.lifecycle == Lifecycle.OPEN.value, OccurrenceRow.due < as_of
        )
    return query.order_by(col(OccurrenceRow.due), col(OccurrenceRow.public_id))
