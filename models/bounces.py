"""When each bounced message came back, and which addresses keep bouncing.

A ledger row says "bounced" and keeps the server's words; this table adds the day the
bounce was read, so the directory view and the cockpit can say when an address last
failed. An address is failing after FAILING_AFTER hard bounces of different messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Field, Session, SQLModel

from govcal.models.chunks import chunks
from govcal.models.ledger import FAILING_AFTER, Delivery, LedgerEntry
from govcal.models.types import UTCDateTime, table_of, utcnow


class LedgerBounce(SQLModel, table=True):
    """One bounced ledger row: when the bounce was read and what the server said."""

    __tablename__ = "ledger_bounce"

    ledger_id: int = Field(primary_key=True, foreign_key="notification_ledger.id")
    address: str = Field(max_length=254, index=True)  # lower-cased
    words: str = Field(default="", max_length=500)
    bounced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


_TABLE = table_of(LedgerBounce)
_LEDGER = table_of(LedgerEntry)


def record_bounces(
    session: Session, ledger_ids: Iterable[int], address: str, words: str, when: datetime
) -> None:
    """Rows just marked bounced (models.ledger.mark_bounced); not committed: the caller
    commits with the bounce message's own record."""
    values = [
        {"ledger_id": i, "address": address.lower()[:254], "words": words[:500], "bounced_at": when}
        for i in ledger_ids
    ]
    if values:
        session.connection().execute(_TABLE.insert(), values)


@dataclass(frozen=True, slots=True)
class FailingAddress:
    """An address whose mail keeps coming back: for the directory view and the cockpit."""

    address: str
    bounces: int  # hard bounces, counted by message
    last_bounced: datetime | None  # None: bounced before the date was kept
    words: str  # the remote server's words, the last time
    partnerships: tuple[str, ...]  # whose messages bounced

    def line(self) -> str:
        when = f"{self.last_bounced:%d/%m/%Y}" if self.last_bounced else "date not kept"
        return (
            f"{self.address}: {self.bounces} hard bounces, last {when}: "
            f"{self.words or 'no reason given'}"
        )


def failing_addresses(session: Session, at_least: int = FAILING_AFTER) -> list[FailingAddress]:
    """Addresses with at least `at_least` hard bounces (by message), most bounces first."""
    from govcal.models.calendar import OccurrenceRow

    occurrences = table_of(OccurrenceRow)
    address = func.lower(_LEDGER.c.recipient)
    counted = (
        session.connection()
        .execute(
            select(address, func.count(func.distinct(_LEDGER.c.message_key)))
            .where(_LEDGER.c.status == Delivery.BOUNCED.value)
            .group_by(address)
            .having(func.count(func.distinct(_LEDGER.c.message_key)) >= at_least)
        )
        .all()
    )
    if not counted:
        return []
    wanted = {a: n for a, n in counted}
    latest: dict[str, tuple[datetime | None, str]] = {}
    owners: dict[str, set[str]] = {a: set() for a in wanted}
    for chunk in chunks(sorted(wanted)):
        rows = (
            session.connection()
            .execute(
                select(
                    address,
                    _LEDGER.c.last_error,
                    _TABLE.c.bounced_at,
                    _TABLE.c.words,
                    occurrences.c.partnership_id,
                )
                .select_from(
                    _LEDGER.outerjoin(_TABLE, _TABLE.c.ledger_id == _LEDGER.c.id).join(
                        occurrences, occurrences.c.id == _LEDGER.c.occurrence_id
                    )
                )
                .where(_LEDGER.c.status == Delivery.BOUNCED.value, address.in_(chunk))
            )
            .all()
        )
        for who, error, when, words, partnership in rows:
            owners[who].add(partnership)
            said = words or (error or "").removeprefix("bounced: ")
            known = latest.get(who)
            if known is None or (when is not None and (known[0] is None or when > known[0])):
                latest[who] = (when, said)
    found = [
        FailingAddress(a, n, latest[a][0], latest[a][1], tuple(sorted(owners[a])))
        for a, n in wanted.items()
    ]
    return sorted(found, key=lambda f: (-f.bounces, f.address))


def with_failing(session: Session, notes: dict[str, str]) -> dict[str, str]:
    """Failure notices (stage "failed-<id>", models.ledger.failure_notes) whose address
    is now failing say so: the business team's digest then names it as the directory
    view does."""
    from govcal.models.ledger import FAILURE_STAGE

    ids = [int(s.removeprefix(FAILURE_STAGE)) for s in notes if s.startswith(FAILURE_STAGE)]
    if not ids:
        return notes
    failing = {f.address: f for f in failing_addresses(session)}
    if not failing:
        return notes
    said = dict(notes)
    for chunk in chunks(ids):
        rows = (
            session.connection()
            .execute(select(_LEDGER.c.id, _LEDGER.c.recipient).where(_LEDGER.c.id.in_(chunk)))
            .all()
        )
        for row_id, recipient in rows:
            found = failing.get(recipient.lower())
            stage = f"{FAILURE_STAGE}{row_id}"
            if found is not None and stage in said:
                said[stage] += (
                    f"; failing address: {found.bounces} hard bounces (govcal directory --failing)"
                )
    return said
