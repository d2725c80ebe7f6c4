"""Escalations to the Lead Safeguarding Partners, and their acknowledgement.

An escalation email is only useful if someone answers it: a Lead Partner (or their
delegate) acknowledges it, and the dashboard shows who did and when, or "no response"
once it has gone unanswered for a while.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select as select_columns
from sqlmodel import Field, Session, SQLModel, col

from govcal.models import queries
from govcal.models.chunks import chunks
from govcal.models.ledger import Delivery, LedgerEntry
from govcal.models.records import Actor, RecordError
from govcal.models.trail import record
from govcal.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from govcal.models.calendar import OccurrenceRow

LEAD_PARTNER_ROLE = "lsp"


class EscalationAck(SQLModel, table=True):
    """A Lead Partner acknowledged the escalation of one occurrence (one row per item)."""

    __tablename__ = "escalation_ack"

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", unique=True)
    acknowledged_by: str = Field(max_length=200)
    acknowledged_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    note: str = Field(default="", max_length=500)
    channel: str = Field(default="", max_length=16)  # the door it came through (trail.Channel)


@dataclass(frozen=True, slots=True)
class Escalation:
    """When an item was escalated to the Lead Partners, and who acknowledged it."""

    escalated_at: datetime
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    channel: str = ""  # how it was acknowledged: "email-link" is said on the summary


def escalations(session: Session, occurrence_ids: list[int]) -> dict[int, Escalation]:
    """Items escalated to the Lead Partners (an email sent to the `lsp` role), in one
    query per chunk, with their acknowledgement if any."""
    found: dict[int, Escalation] = {}
    for chunk in chunks(occurrence_ids):
        # the status is checked here, not in the WHERE: with it there SQLite reads every
        # sent row of every partnership through (status, next_attempt_at) for each chunk
        rows = session.execute(
            select_columns(
                col(LedgerEntry.occurrence_id),
                col(LedgerEntry.sent_at),
                col(LedgerEntry.status),
                col(EscalationAck.acknowledged_by),
                col(EscalationAck.acknowledged_at),
                col(EscalationAck.channel),
            )
            .outerjoin(
                EscalationAck, col(EscalationAck.occurrence_id) == col(LedgerEntry.occurrence_id)
            )
            .where(
                col(LedgerEntry.occurrence_id).in_(chunk),
                col(LedgerEntry.role) == LEAD_PARTNER_ROLE,
                col(LedgerEntry.kind) == "escalation",
            )
        ).all()
        for occurrence_id, sent_at, status, by, at, channel in rows:
            if status != Delivery.SENT.value or sent_at is None:
                continue
            known = found.get(occurrence_id)
            first = sent_at if known is None else min(known.escalated_at, sent_at)
            found[occurrence_id] = Escalation(first, by or "", at, channel or "")
    return found


def acknowledge(
    session: Session, public_id: str, actor: Actor, note: str = "", at: datetime | None = None
) -> tuple[str, datetime]:
    """Record that a Lead Partner has seen and taken up an escalation.

    Only an item actually escalated to the Lead Partners can be acknowledged, and only
    once: the first acknowledgement is what the dashboard shows. An audit round is one
    escalation ("3 of 20 agencies not returned", one email listing each agency's id):
    the cycle's id or any one agency's or school's id acknowledges every escalated
    return of the round."""
    members = queries.round_members(session, public_id)
    rows = members if members else [queries.occurrence(session, public_id)]
    by, when, _waiting = acknowledge_rows(session, public_id, rows, actor, note, at)
    return by, when


def acknowledge_rows(
    session: Session,
    public_id: str,
    rows: list[OccurrenceRow],
    actor: Actor,
    note: str = "",
    at: datetime | None = None,
) -> tuple[str, datetime, list[OccurrenceRow]]:
    """`acknowledge` for the occurrences `public_id` stands for, already read by the
    caller (who needs them too): who, when, and the rows acknowledged."""
    escalated = escalations(session, [r.id for r in rows if r.id is not None])
    if not escalated:
        raise RecordError(
            f"{public_id} has not been escalated to the Lead Partners; nothing to acknowledge"
        )
    waiting = [r for r in rows if r.id in escalated and escalated[r.id].acknowledged_at is None]
    if not waiting:
        first = min(escalated.values(), key=lambda e: e.acknowledged_at or e.escalated_at)
        raise RecordError(
            f"{public_id} was already acknowledged by {first.acknowledged_by} on "
            f"{first.acknowledged_at:%d %b %Y}"
        )
    when = at or utcnow()
    for row in waiting:
        session.add(
            EscalationAck(
                occurrence_id=row.id or 0,
                acknowledged_by=actor.name,
                acknowledged_at=when,
                note=note,
                channel=str(actor.channel),
            )
        )
        record(
            session,
            actor=actor.name,
            channel=actor.channel,
            action="escalation-acknowledged",
            entity="occurrence",
            entity_id=row.public_id,
            after={"acknowledged_by": actor.name, "note": note},
        )
    return actor.name, when, waiting
