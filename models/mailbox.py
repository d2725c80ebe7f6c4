"""What govcal read back from its mailbox: one row per message, by Message-ID.

The unique key is what makes reading idempotent and safe with two readers at once: a
reader first inserts the message's key; only the reader whose insert took records what
the message says, in the same transaction (models/attendance.py, models/ledger.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Field, Session, SQLModel, col, select

from govcal.models.types import UTCDateTime, insert_on_conflict, table_of, utcnow


class Read(StrEnum):
    """What a message read back was."""

    REPLY = "reply"  # an iTIP REPLY: an invitee's answer
    COUNTER = "counter"  # an iTIP COUNTER: another time proposed
    BOUNCE = "bounce"  # a delivery status notification or a mail server's bounce
    AUTO_REPLY = "auto-reply"  # out of office and the like: recorded, never answered
    UNREADABLE = "unreadable"  # malformed or too large: counted once, left in place


class MailboxMessage(SQLModel, table=True):
    __tablename__ = "mailbox_message"

    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(unique=True, max_length=64)  # sha256 of the Message-ID
    message_id: str = Field(default="", max_length=255)  # as read, for people
    kind: str = Field(max_length=16)
    sender: str = Field(default="", max_length=254)
    occurrence_id: int | None = Field(default=None, foreign_key="occurrence.id", index=True)
    outcome: str = Field(default="", max_length=500)  # what govcal did, in one line
    read_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def key_of(message_id: str, raw: bytes) -> str:
    """A message's key: its Message-ID, or (without one) its bytes."""
    basis = message_id.strip().encode("utf-8", "replace") if message_id.strip() else raw
    return hashlib.sha256(basis).hexdigest()


def already_read(session: Session, keys: list[str]) -> set[str]:
    """Keys recorded before (by this reader or another)."""
    if not keys:
        return set()
    return set(
        session.exec(
            select(MailboxMessage.message_key).where(col(MailboxMessage.message_key).in_(keys))
        ).all()
    )


def take(session: Session, key: str, message_id: str, kind: Read, sender: str) -> bool:
    """Claim a message for this reader: True when the insert took (nobody recorded it
    before); False when another reader did (it then waits for that reader's commit)."""
    connection = session.connection()
    table = table_of(MailboxMessage)
    statement = (
        insert_on_conflict(connection.dialect.name, table)
        .values(
            message_key=key,
            message_id=message_id[:255],
            kind=kind.value,
            sender=sender[:254],
            outcome="",
            read_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["message_key"])
        .returning(table.c.id)  # a row back only when inserted (rowcount is -1 on psycopg)
    )
    return connection.execute(statement).first() is not None


MOVED_BY_ITS_READER = timedelta(minutes=15)  # after this, a recorded message left is moved


def read_recently(session: Session, key: str) -> bool:
    """Whether the message was recorded in the last MOVED_BY_ITS_READER: its reader is
    then still moving it, and a second reader moving it too would copy it twice (two
    MOVEs of one message at once can both copy it, on maildir storage)."""
    read_at = session.exec(
        select(MailboxMessage.read_at).where(MailboxMessage.message_key == key)
    ).first()
    return read_at is not None and utcnow() - read_at < MOVED_BY_ITS_READER


def settle(session: Session, key: str, outcome: str, occurrence_id: int | None = None) -> None:
    """What was done with a taken message; commits it with everything it recorded."""
    table = table_of(MailboxMessage)
    session.connection().execute(
        table.update()
        .where(table.c.message_key == key)
        .values(outcome=outcome[:500], occurrence_id=occurrence_id)
    )
    session.commit()


def give_up(session: Session) -> None:
    """A message could not be recorded: nothing of it is kept (read again next time)."""
    session.rollback()


@dataclass(frozen=True, slots=True)
class Proposal:
    occurrence_id: int | None
    sender: str
    outcome: str
    read_at: datetime


def counter_proposals(session: Session, since: datetime) -> list[Proposal]:
    """Other times proposed (iTIP COUNTER) read since `since`, newest first."""
    rows = session.exec(
        select(MailboxMessage)
        .where(MailboxMessage.kind == Read.COUNTER.value, col(MailboxMessage.read_at) >= since)
        .order_by(col(MailboxMessage.read_at).desc())
    ).all()
    return [Proposal(r.occurrence_id, r.sender, r.outcome, r.read_at) for r in rows]


def meeting_of(session: Session, public_id: str) -> tuple[int, str, int] | None:
    """(id, title, current SEQUENCE) of the meeting an invite's UID names, if any."""
    from govcal.models.calendar import OccurrenceRow

    row = session.exec(
        select(OccurrenceRow.id, OccurrenceRow.title, OccurrenceRow.sequence).where(
            OccurrenceRow.public_id == public_id, OccurrenceRow.kind == "meeting"
        )
    ).first()
    return (row[0] or 0, row[1], row[2]) if row else None
