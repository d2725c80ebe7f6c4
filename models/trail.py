"""The append-only audit trail: every change of state, by whom, when, from where.

Rows are only ever inserted; database triggers (see the migrations) refuse UPDATE and
DELETE, so the trail stays trustworthy even against a careless script.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Connection, insert
from sqlmodel import Field, Session, SQLModel, col, select

from govcal.models.types import UTCDateTime, utcnow


class Channel(StrEnum):
    CLI = "cli"
    PREFECT_UI = "prefect-ui"
    API = "api"
    EMAIL_LINK = "email-link"  # a signed link in an email, opened in the web app
    SYNC = "sync"
    SYSTEM = "system"


class TrailEntry(SQLModel, table=True):
    __tablename__ = "audit_trail"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str
    channel: str  # Channel
    action: str  # completed, waived, reopened, rescheduled, cancelled, synced, imported...
    entity: str  # occurrence, audit_return, incident, directory, partnership
    entity_id: str = Field(index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    reason: str | None = None


def record(
    session: Session,
    *,
    actor: str,
    channel: Channel | str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    session.add(
        TrailEntry(
            actor=actor,
            channel=str(channel),
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
            reason=reason,
        )
    )


_ROWS = TrailEntry.__table__  # type: ignore[attr-defined]
_INSERT = insert(_ROWS)  # built once: a hot path writes one per request


def record_at_once(
    db: Connection,
    *,
    actor: str,
    channel: Channel | str,
    action: str,
    entity: str,
    entity_id: str,
    after: dict[str, Any] | None = None,
) -> None:
    """`record` as one plain INSERT on the caller's connection, written at once: no ORM
    object and no key read back (an answer from an email link writes one per request).
    The caller flushes its session first, so rows keep the order they were recorded in."""
    db.execute(
        _INSERT,
        {
            "at": utcnow(),
            "actor": actor,
            "channel": str(channel),
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "before": None,
            "after": after,
            "reason": None,
        },
    )


def changes_since(
    session: Session, partnership_ids: Collection[str], first: date, last: date, keep: int = 8
) -> dict[str, tuple[list[TrailEntry], int]]:
    """Each partnership's changes recorded from day `first` to day `last` (UTC days),
    newest first: up to `keep` entries and how many there were in all. An entry belongs
    to a partnership by its id (the partnership's own, or an id it prefixes: every
    occurrence, return and incident); people's entries are keyed by address and left out."""
    wanted = set(partnership_ids)
    found: dict[str, tuple[list[TrailEntry], int]] = {pid: ([], 0) for pid in wanted}
    rows = session.exec(
        select(TrailEntry)
        .where(
            col(TrailEntry.at) >= datetime.combine(first, time(), UTC),
            col(TrailEntry.at) < datetime.combine(last + timedelta(days=1), time(), UTC),
        )
        .order_by(col(TrailEntry.at).desc(), col(TrailEntry.id).desc())
    )
    for entry in rows:
        pid = entry.entity_id.split(":", 1)[0]
        if pid not in wanted:
            continue
        shown, total = found[pid]
        if len(shown) < keep:
            shown.append(entry)
        found[pid] = (shown, total + 1)
    return found
