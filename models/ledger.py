"""The notification ledger: one row per (occurrence, stage, recipient), unique.

A message is written here before it is sent; the unique key is what stops a rerun, a
retry or a second concurrent run from sending it twice.

Commits: every write here commits before it returns. This is the one deliberate
exception to "the caller commits once per batch" (models/db.py): a planned row must be
durable before it is claimed, a claim before the message leaves (so a second run cannot
send it too), and a message's mark right after it left (so a crash a minute later
cannot send it again). Holding them in the caller's transaction would keep a lock for
the whole delivery and lose what was already sent on any later error.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Engine, Index, UniqueConstraint, bindparam, func, update
from sqlalchemy import select as select_columns
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Field, Session, SQLModel, col, or_, select

from govcal.models.chunks import chunks
from govcal.models.types import UTCDateTime, insert_on_conflict, table_of, utcnow

_log = logging.getLogger(__name__)


class Delivery(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"  # overtaken by a later stage: recorded, never sent late
    FLAGGED = "flagged"  # a dashboard flag (the scrutineer), never an email
    FAILED = "failed"  # refused for good (a bad address): reported, not retried
    # the end of DATA went out and no answer came: the relay may hold it. Resent on a
    # later run (never the same one) under the same Message-ID, kept in message_key
    UNCERTAIN = "uncertain"
    # accepted by the relay, then returned by a mail server (a bounce read back from the
    # mailbox): reported like a refusal, not retried
    BOUNCED = "bounced"


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "notification_ledger"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "stage", "recipient"),
        Index("ix_ledger_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id")
    stage: str = Field(max_length=64)  # reminder-14, escalation-7, invite-3, cancel...
    recipient: str = Field(max_length=254)
    role: str = Field(default="", max_length=64)  # why this person: the role they hold
    kind: str = Field(default="", max_length=16)  # reminder, escalation, flag, invite, cancel
    status: str = Field(default=Delivery.PENDING.value, max_length=16)
    message_key: str = Field(default="", max_length=255)  # the digest it went out in
    attempts: int = 0
    last_error: str | None = None
    server_response: str | None = None
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = None
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- operations ---------------------------------------------------------------------


# how long a run on another host may go without renewing its claims before they are taken
DEFAULT_LEASE = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """A planned message as the ledger stores it (built from rules.notify_plan.Planned)."""

    occurrence_id: int
    stage: str
    recipient: str
    status: Delivery
    role: str = ""
    kind: str = ""


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after each failure, never more than six hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _insert_ignoring_duplicates(dialect: str) -> ReturningInsert[int, str, str]:
    """INSERT ... ON CONFLICT DO NOTHING on the ledger's key, RETURNING the keys it
    inserted, built once per dialect."""
    if dialect not in _INSERTS:
        _INSERTS[dialect] = (
            insert_on_conflict(dialect, _TABLE)
            .on_conflict_do_nothing(index_elements=["occurrence_id", "stage", "recipient"])
            .returning(_TABLE.c.occurrence_id, _TABLE.c.stage, _TABLE.c.recipient)
        )
    return _INSERTS[dialect]


_TABLE = table_of(LedgerEntry)
_INSERTS: dict[str, ReturningInsert[int, str, str]] = {}
# One statement, many parameter sets (executemany): compiled once, not per batch.
_SKIP_OVERTAKEN = (
    _TABLE.update()
    .where(
        _TABLE.c.status == Delivery.PENDING.value,
        _TABLE.c.occurrence_id == bindparam("o"),
        _TABLE.c.stage == bindparam("s"),
        _TABLE.c.recipient == bindparam("r"),
    )
    .values(status=Delivery.SKIPPED.value, last_error="overtaken by a later stage")
)


def record_planned(session: Session, rows: Sequence[LedgerRow]) -> set[tuple[int, str, str]]:
    """Insert planned rows; a row whose key exists is left alone (that is the dedupe).

    Pending rows of stages now overtaken become skipped: they are not sent late.
    Returns the keys this call inserted (a concurrent run's are not counted twice). Both
    writes are one executemany each through Core, so no ORM bookkeeping and one compiled
    statement however many rows. Committed (with whatever the caller's batch holds)
    before it returns, even when nothing is new: what was planned is durable before
    anything is claimed.
    """
    if not rows:
        session.commit()
        return set()
    connection = session.connection()
    now = utcnow()
    existing = existing_keys(session, {r.occurrence_id for r in rows})
    values = [
        {
            "occurrence_id": r.occurrence_id,
            "stage": r.stage,
            "recipient": r.recipient,
            "status": r.status.value,
            "role": r.role,
            "kind": r.kind,
            "attempts": 0,
            "message_key": "",
            "created_at": now,
        }
        for r in rows
        if (r.occurrence_id, r.stage, r.recipient) not in existing
    ]
    inserted: set[tuple[int, str, str]] = set()
    if values:  # RETURNING names only the rows this run wrote: not those a run beside it did
        insert = _insert_ignoring_duplicates(connection.dialect.name)
        inserted = {(o, s, r) for o, s, r in connection.execute(insert, values)}
    overtaken = [  # rows inserted meanwhile by a concurrent run are included
        {"o": r.occurrence_id, "s": r.stage, "r": r.recipient}
        for r in rows
        if r.status is Delivery.SKIPPED
    ]
    if overtaken:
        connection.execute(_SKIP_OVERTAKEN, overtaken)
    session.commit()
    return inserted


def existing_keys(session: Session, occurrence_ids: set[int]) -> set[tuple[int, str, str]]:
    """(occurrence, stage, recipient) keys already in the ledger."""
    found: set[tuple[int, str, str]] = set()
    for chunk in chunks(sorted(occurrence_ids)):
        found.update(
            session.exec(
                select(LedgerEntry.occurrence_id, LedgerEntry.stage, LedgerEntry.recipient).where(
                    col(LedgerEntry.occurrence_id).in_(chunk)
                )
            ).all()
        )
    return found


def _process_start(pid: int) -> str:
    """When the process started (clock ticks since boot, Linux), or "" where unknown: with
    the pid it names one process, so a pid reused after a crash is not taken for it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        return fields[19].decode("ascii")  # field 22 of proc(5), counted after "(comm)"
    except (OSError, IndexError, UnicodeDecodeError):
        return ""


def claimant() -> str:
    """Who claims: host, process (pid and its start time) and a random part, so a claim
    left by a dead process on this host can be told from one held by a living run."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}:{uuid.uuid4().hex[:12]}"


def _holder(name: str) -> tuple[str, int | None, str]:
    """(host, pid, start) of a claimant; pid None when unreadable. Claims written before
    the start time was recorded read as host:pid:random (start "")."""
    parts = name.split(":")
    host = parts[0]
    pid = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    start = parts[2] if len(parts) > 3 else ""
    return host, pid, start


def _process_is_gone(pid: int, start: str = "") -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        pass
    return bool(start) and _process_start(pid) not in (start, "")


def release_dead_claims(session: Session) -> int:
    """Put back rows claimed by a process on this host that no longer exists.

    A run killed mid-delivery leaves its rows "sending"; this releases them at once. A
    claim held by a living run is renewed (`Lease`), so it is never taken, however long
    the run delivers. Claims from other hosts cannot be checked here: they are taken only
    once their lease ran out (`claim`), i.e. their run stopped renewing it.
    """
    host = socket.gethostname()
    claimants = session.exec(
        select(LedgerEntry.claimed_by)
        .where(LedgerEntry.status == Delivery.SENDING.value)
        .distinct()
    ).all()
    dead = []
    for name in claimants:
        claim_host, pid, start = _holder(name or "")
        if claim_host == host and pid is not None and _process_is_gone(pid, start):
            dead.append(name)
    if not dead:
        return 0
    result = session.exec(
        update(LedgerEntry)
        .where(
            col(LedgerEntry.status) == Delivery.SENDING.value, col(LedgerEntry.claimed_by).in_(dead)
        )
        .values(status=Delivery.PENDING.value, claimed_by=None, claimed_at=None)
    )
    session.commit()
    return result.rowcount or 0


class Lease:
    """A run's hold on the rows it claimed: `claimed_at` is renewed every third of the
    lease, from a thread of its own (so a message that waits minutes for the relay's
    answer does not let the lease lapse), until the run ends or `until` (a monotonic
    time: a run stuck past its budget stops holding rows). Another run takes the rows
    only after `seconds` without a renewal, or at once when the process is gone from
    this host. On leaving, whatever this run still holds goes back to pending: a run
    that raised in a long-lived worker process does not hold its rows."""

    def __init__(self, session: Session, seconds: float, until: float | None = None):
        self.session = session
        self.engine: Engine = session.get_bind().engine
        self.until = until
        self.length = timedelta(seconds=seconds)
        self.workers: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def new_worker(self) -> str:
        worker = claimant()
        self.workers.append(worker)
        return worker

    def renew(self) -> None:
        """One UPDATE: every row this run still holds gets a fresh `claimed_at`."""
        workers = list(self.workers)
        if not workers:
            return
        with self.engine.begin() as connection:
            connection.execute(
                _TABLE.update()
                .where(_TABLE.c.status == Delivery.SENDING.value, _TABLE.c.claimed_by.in_(workers))
                .values(claimed_at=utcnow())
            )

    def _beat(self) -> None:
        every = self.length.total_seconds() / 3
        while not self._stop.wait(every):
            if self.until is not None and time.monotonic() > self.until:
                return
            try:
                self.renew()
            except SQLAlchemyError as exc:  # a busy database: the next beat tries again
                _log.warning("could not renew this run's claims: %s", type(exc).__name__)

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(target=self._beat, name="govcal-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, failed: type[BaseException] | None, *_exc: object) -> None:
        self._stop.set()
        if failed is not None:  # what the run left unsaved goes; what it holds goes back
            self.session.rollback()
        if self._thread is not None:
            self._thread.join()
        if not self.workers:
            return
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    _TABLE.update()
                    .where(
                        _TABLE.c.status == Delivery.SENDING.value,
                        _TABLE.c.claimed_by.in_(self.workers),
                    )
                    .values(status=Delivery.PENDING.value, claimed_by=None)
                )
        except SQLAlchemyError as exc:  # the lease lapses instead: taken after its length
            _log.warning("could not release this run's claims: %s", type(exc).__name__)


def _version(stage: str) -> int:
    """invite-3 / cancel-3 -> 3: the meeting's SEQUENCE when the row was planned."""
    number = stage.rpartition("-")[2]
    return int(number) if number.isdigit() else -1


def supersede_invites(session: Session) -> int:
    """An invite or cancellation still waiting (pending, or uncertain) is skipped when a
    later version of the same meeting is planned for the same person: they get one
    message, the latest SEQUENCE. An invite still waiting when its meeting is cancelled
    is skipped too (nobody is sent an invite to a cancelled meeting). Returns the count."""
    from govcal.models.calendar import Lifecycle, OccurrenceRow

    waiting = session.execute(
        select_columns(
            col(LedgerEntry.id),
            col(LedgerEntry.occurrence_id),
            col(LedgerEntry.recipient),
            col(LedgerEntry.stage),
            col(LedgerEntry.kind),
            col(OccurrenceRow.lifecycle),
        )
        .join(OccurrenceRow, col(OccurrenceRow.id) == LedgerEntry.occurrence_id)
        .where(
            col(LedgerEntry.kind).in_(["invite", "cancel"]),
            col(LedgerEntry.status).in_([Delivery.PENDING.value, Delivery.UNCERTAIN.value]),
        )
    ).all()
    if not waiting:
        return 0
    latest: dict[tuple[int, str], int] = {}
    for chunk in chunks(sorted({w[1] for w in waiting})):
        for occurrence, recipient, stage in session.exec(
            select(LedgerEntry.occurrence_id, LedgerEntry.recipient, LedgerEntry.stage).where(
                col(LedgerEntry.occurrence_id).in_(chunk),
                col(LedgerEntry.kind).in_(["invite", "cancel"]),
            )
        ):
            key = (occurrence, recipient.lower())
            latest[key] = max(latest.get(key, -1), _version(stage))
    superseded = [
        i
        for i, occurrence, recipient, stage, kind, lifecycle in waiting
        if _version(stage) < latest[(occurrence, recipient.lower())]
        or (kind == "invite" and lifecycle in (Lifecycle.CANCELLED.value, Lifecycle.WAIVED.value))
    ]
    for chunk in chunks(superseded):
        session.connection().execute(
            _TABLE.update()
            .where(
                _TABLE.c.id.in_(chunk),
                _TABLE.c.status.in_([Delivery.PENDING.value, Delivery.UNCERTAIN.value]),
            )
            .values(
                status=Delivery.SKIPPED.value,
                last_error="superseded by a later version of the meeting",
            )
        )
    session.commit()
    return len(superseded)


def _lapsed(session: Session, lease: timedelta) -> tuple[list[str], datetime]:
    """Claimants whose lease ran out (no renewal for `lease`: their run ended without
    settling, or is stuck past its budget), and the cut-off their rows' `claimed_at` must
    still be before when they are taken."""
    cutoff = utcnow() - lease
    names = session.exec(
        select(LedgerEntry.claimed_by)
        .where(LedgerEntry.status == Delivery.SENDING.value, col(LedgerEntry.claimed_at) < cutoff)
        .distinct()
    ).all()
    return [n for n in names if n], cutoff


def claim(
    session: Session,
    now: datetime,
    limit: int = 5000,
    *,
    lease: Lease | None = None,
    lease_length: timedelta = DEFAULT_LEASE,
    partnerships: Sequence[str] | None = None,
) -> tuple[str, list[LedgerEntry]]:
    """Claim pending rows that are due, and rows whose holder is known to be gone: a
    process gone from this host (at once), or any run whose lease ran out (the only sign
    a process on another host can give). `partnerships`: only their rows (one share of
    the national day; the other shares claim theirs).

    The conditional UPDATE is atomic, so two runs at once never claim the same row.
    Waiting invites overtaken by a later version of their meeting are skipped first.
    `claimed_at` is this machine's clock (the lease's), not the run's `now`.
    """
    release_dead_claims(session)
    supersede_invites(session)
    worker = lease.new_worker() if lease is not None else claimant()
    length = lease.length if lease is not None else lease_length
    ready = or_(
        col(LedgerEntry.next_attempt_at).is_(None),
        col(LedgerEntry.next_attempt_at) <= now,
    )
    waiting = col(LedgerEntry.status).in_([Delivery.PENDING.value, Delivery.UNCERTAIN.value])
    claimable: ColumnElement[bool] = waiting & ready
    lapsed, cutoff = _lapsed(session, length)
    if lapsed:
        claimable = or_(
            claimable,
            (col(LedgerEntry.status) == Delivery.SENDING.value)
            & col(LedgerEntry.claimed_by).in_(lapsed)
            & (col(LedgerEntry.claimed_at) < cutoff),
        )
    if partnerships is not None:
        from govcal.models.calendar import OccurrenceRow

        theirs = select(OccurrenceRow.id).where(col(OccurrenceRow.partnership_id).in_(partnerships))
        claimable = claimable & col(LedgerEntry.occurrence_id).in_(theirs)
    ids = session.exec(
        select(LedgerEntry.id).where(claimable).order_by(col(LedgerEntry.id)).limit(limit)
    ).all()
    if not ids:
        return worker, []
    stamp = utcnow()
    for chunk in chunks(ids):
        session.exec(
            update(LedgerEntry)
            .where(col(LedgerEntry.id).in_(chunk), claimable)
            .values(status=Delivery.SENDING.value, claimed_by=worker, claimed_at=stamp)
        )
    session.commit()
    rows = session.exec(
        select(LedgerEntry)
        .where(LedgerEntry.claimed_by == worker, LedgerEntry.status == Delivery.SENDING.value)
        .order_by(col(LedgerEntry.id))
    ).all()
    return worker, list(rows)


def mark_sent(
    session: Session, ids: Iterable[int], message_key: str, response: str, *, commit: bool = True
) -> None:
    """One UPDATE for the message's rows, through Core: the ORM would otherwise scan every
    loaded row to synchronise the session after each message (most of a big day's cost).
    Rows loaded by `claim` keep their claimed values in memory; the database is the truth.
    `commit=False`: the caller commits a batch of messages at once."""
    session.connection().execute(
        _TABLE.update()
        .where(_TABLE.c.id.in_(list(ids)))
        .values(
            status=Delivery.SENT.value,
            message_key=message_key,
            server_response=response[:500],
            sent_at=utcnow(),
            attempts=_TABLE.c.attempts + 1,
            last_error=None,
        )
    )
    if commit:
        session.commit()


def commit_batch(session: Session) -> None:
    """Make a flushed batch's marks durable together: the file outbox writes a batch,
    syncs it, then marks it here in one commit (rows marked with `commit=False`)."""
    session.commit()


_RETRY = (
    _TABLE.update()
    .where(_TABLE.c.id == bindparam("i"))
    .values(
        attempts=bindparam("n"),
        status=Delivery.PENDING.value,
        last_error=bindparam("e"),
        next_attempt_at=bindparam("t"),
        claimed_by=None,
    )
)


def mark_retry(session: Session, ids: Iterable[int], error: str, now: datetime) -> None:
    """A temporary failure: back to pending, with the error and the next attempt time."""
    connection = session.connection()
    attempts: list[tuple[int, int]] = []
    for chunk in chunks(list(ids)):
        attempts.extend(
            connection.execute(
                select(_TABLE.c.id, _TABLE.c.attempts).where(_TABLE.c.id.in_(chunk))
            ).all()
        )
    if attempts:
        retries = [
            {"i": i, "n": n + 1, "e": error[:500], "t": now + backoff(n + 1)} for i, n in attempts
        ]
        connection.execute(_RETRY, retries)
    session.commit()


def mark_uncertain(
    session: Session, ids: Iterable[int], message_key: str, error: str, now: datetime
) -> None:
    """Sent without an answer: resent on a later run with the same key (so the same
    Message-ID, which lets the receiving side drop a second copy)."""
    ids = list(ids)
    mark_retry(session, ids, error, now)
    session.connection().execute(
        _TABLE.update()
        .where(_TABLE.c.id.in_(ids))
        .values(status=Delivery.UNCERTAIN.value, message_key=message_key)
    )
    session.commit()


def release(session: Session, ids: Iterable[int], note: str) -> None:
    """Claimed rows this run did not get to (its time budget ran out): due again at once,
    no attempt counted."""
    for chunk in chunks(list(ids)):
        session.connection().execute(
            _TABLE.update()
            .where(_TABLE.c.id.in_(chunk), _TABLE.c.status == Delivery.SENDING.value)
            .values(status=Delivery.PENDING.value, claimed_by=None, last_error=note[:500])
        )
    session.commit()


def skip(session: Session, ids: Iterable[int], reason: str) -> None:
    """Claimed rows whose item no longer needs a message: skipped, committed at once."""
    for chunk in chunks(list(ids)):
        session.connection().execute(
            _TABLE.update()
            .where(_TABLE.c.id.in_(chunk))
            .values(status=Delivery.SKIPPED.value, last_error=reason)
        )
    session.commit()


def wait(session: Session, ids: Iterable[int], note: str, now: datetime) -> None:
    """Claimed rows held back (for the next day's digest): pending again, no attempt
    counted, not claimable again in this run (which claims with this `now`)."""
    later = now + timedelta(microseconds=1)
    for chunk in chunks(list(ids)):
        session.connection().execute(
            _TABLE.update()
            .where(_TABLE.c.id.in_(chunk), _TABLE.c.status == Delivery.SENDING.value)
            .values(
                status=Delivery.PENDING.value,
                claimed_by=None,
                last_error=note[:500],
                next_attempt_at=later,
            )
        )
    session.commit()


def waiting_for_retry(
    session: Session, now: datetime, partnerships: Sequence[str] | None = None
) -> tuple[int, datetime | None]:
    """Rows a temporary failure (or an unanswered end of DATA) put off until after `now`
    (of these partnerships only, if given): how many, and when the first is due again. A
    rerun inside that wait sends nothing, but the mail has not gone: its caller must not
    say all is well."""
    waiting = (
        col(LedgerEntry.status).in_([Delivery.PENDING.value, Delivery.UNCERTAIN.value])
        & (col(LedgerEntry.next_attempt_at) > now)
        & (LedgerEntry.attempts > 0)
    )
    if partnerships is not None:
        from govcal.models.calendar import OccurrenceRow

        theirs = select(OccurrenceRow.id).where(col(OccurrenceRow.partnership_id).in_(partnerships))
        waiting = waiting & col(LedgerEntry.occurrence_id).in_(theirs)
    count, first = session.exec(
        select(func.count(), func.min(LedgerEntry.next_attempt_at)).where(waiting)
    ).one()
    if first is not None and first.tzinfo is None:  # SQLite keeps no zone: stored as UTC
        first = first.replace(tzinfo=UTC)
    return count, first


def last_mailed_day(session: Session) -> date | None:
    """The latest day mail went out for: a sent message's key starts with its run's day
    (YYYYMMDD-...), whatever clock the run was started at."""
    latest = session.exec(
        select(func.max(func.substr(LedgerEntry.message_key, 1, 8))).where(
            LedgerEntry.status == Delivery.SENT.value, LedgerEntry.message_key != ""
        )
    ).one()
    if not latest or len(latest) != 8 or not latest.isdigit():
        return None
    return date(int(latest[:4]), int(latest[4:6]), int(latest[6:]))


def digested_on(session: Session, recipients: Iterable[str], day: date) -> set[str]:
    """Who (lower-case) already had that day's digest: its key starts with the day."""
    wanted = sorted({r.lower() for r in recipients})
    found: set[str] = set()
    for chunk in chunks(wanted):
        found.update(
            r.lower()
            for r in session.exec(
                select(LedgerEntry.recipient)
                .where(
                    func.lower(LedgerEntry.recipient).in_(chunk),
                    LedgerEntry.status == Delivery.SENT.value,
                    col(LedgerEntry.message_key).like(f"{day:%Y%m%d}-digest-%"),
                )
                .distinct()
            ).all()
        )
    return found


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A message refused for good, with the relay's answer: for the dashboard and the
    business team's digest."""

    id: int
    occurrence_id: int
    recipient: str
    stage: str
    kind: str
    answer: str
    attempted_at: datetime | None


_UNDELIVERED = [Delivery.FAILED.value, Delivery.BOUNCED.value]


def recent_failures(session: Session, since: datetime) -> list[FailedDelivery]:
    """Permanent failures (refused, or bounced later) of messages last attempted since
    `since`, newest first."""
    rows = session.exec(
        select(LedgerEntry)
        .where(col(LedgerEntry.status).in_(_UNDELIVERED), col(LedgerEntry.claimed_at) >= since)
        .order_by(col(LedgerEntry.claimed_at).desc(), col(LedgerEntry.id))
    ).all()
    return [
        FailedDelivery(
            r.id or 0,
            r.occurrence_id,
            r.recipient,
            r.stage,
            r.kind,
            r.last_error or "",
            r.claimed_at,
        )
        for r in rows
    ]


FAILURE_STAGE = "failed-"  # + the failed row's id: one notice per failure and reader


def with_partnership(session: Session, ids: list[int]) -> list[tuple[LedgerEntry, str]]:
    """Ledger rows with the partnership of their occurrence."""
    from govcal.models.calendar import OccurrenceRow

    found: list[tuple[LedgerEntry, str]] = []
    for chunk in chunks(ids):
        found.extend(
            session.exec(
                select(LedgerEntry, OccurrenceRow.partnership_id)
                .join(OccurrenceRow, col(OccurrenceRow.id) == LedgerEntry.occurrence_id)
                .where(col(LedgerEntry.id).in_(chunk))
            ).all()
        )
    return found


def failure_notes(session: Session, stages: Iterable[str]) -> dict[str, str]:
    """For failure notices (stage "failed-<id>"): what failed, to whom, and the relay's
    answer, in words for the business team's digest."""
    ids = [int(s.removeprefix(FAILURE_STAGE)) for s in stages if s.startswith(FAILURE_STAGE)]
    notes: dict[str, str] = {}
    for chunk in chunks(ids):
        for row in session.exec(select(LedgerEntry).where(col(LedgerEntry.id).in_(chunk))):
            said = (
                "the relay took it, then a mail server returned it"
                if row.status == Delivery.BOUNCED.value
                else "the relay answered"
            )
            notes[f"{FAILURE_STAGE}{row.id}"] = (
                f"the {row.kind or 'message'} ({row.stage}) to {row.recipient}; "
                f"{said}: {row.last_error or 'no reason given'}"
            )
    return notes


def mark_refused(session: Session, ids: Iterable[int], error: str) -> None:
    """A permanent refusal (a bad address): reported and not retried."""
    session.connection().execute(
        _TABLE.update()
        .where(_TABLE.c.id.in_(list(ids)))
        .values(
            status=Delivery.FAILED.value,
            last_error=error[:500],
            attempts=_TABLE.c.attempts + 1,
        )
    )
    session.commit()


# _BY_OCCURRENCE: queries by occurrence ids read through the unique key's index
# (occurrence_id, stage, recipient) and check the status in Python. With the status in the
# WHERE, SQLite (no statistics) prefers (status, next_attempt_at) and reads every sent row
# of every partnership for each partnership's dashboard: quadratic in a national day.


def invited_pairs(session: Session, occurrence_ids: Iterable[int]) -> frozenset[tuple[int, str]]:
    ids = list(occurrence_ids)
    found: set[tuple[int, str]] = set()
    for chunk in chunks(ids):
        rows = session.exec(  # the status is checked here: see _BY_OCCURRENCE
            select(LedgerEntry.occurrence_id, LedgerEntry.recipient, LedgerEntry.status).where(
                col(LedgerEntry.occurrence_id).in_(chunk),
                col(LedgerEntry.stage).startswith("invite-"),
            )
        ).all()
        found.update((o, r.lower()) for o, r, status in rows if status == Delivery.SENT.value)
    return frozenset(found)


def calendar_rows(
    session: Session, occurrence_ids: Iterable[int]
) -> list[tuple[int, str, str, str]]:
    """(occurrence, stage, recipient, status) of every invite and cancellation of these
    meetings: what each person was sent, or is about to be, version by version. A deputy
    named in a calendar answer (DELEGATED-TO, `plan_deputy_invite`) is left out: they hold
    the invite in someone's place, not as one of the directory's invitees, so a change of
    the meeting's invitees never sends them a "no longer invited"."""
    found: list[tuple[int, str, str, str]] = []
    for chunk in chunks(list(occurrence_ids)):
        rows = session.exec(
            select(
                LedgerEntry.occurrence_id,
                LedgerEntry.stage,
                LedgerEntry.recipient,
                LedgerEntry.status,
            ).where(
                col(LedgerEntry.occurrence_id).in_(chunk),
                col(LedgerEntry.kind).in_(["invite", "cancel"]),
                col(LedgerEntry.role) != DELEGATE_ROLE,
            )
        ).all()
        found.extend((o, stage, r.lower(), status) for o, stage, r, status in rows)
    return found


def flagged(session: Session, occurrence_ids: Iterable[int]) -> set[int]:
    """For the dashboard: which occurrences are flagged for a human (a flag row, only
    ever recorded as flagged: the board reads 30,000 of them nationally, nothing else)."""
    flags: set[int] = set()
    for chunk in chunks(list(occurrence_ids)):
        rows = session.exec(
            select(LedgerEntry.occurrence_id, LedgerEntry.status).where(
                col(LedgerEntry.occurrence_id).in_(chunk), LedgerEntry.kind == "flag"
            )
        ).all()
        # the status is checked here: see _BY_OCCURRENCE
        flags.update(o for o, status in rows if status == Delivery.FLAGGED.value)
    return flags


# --- what the mailbox reads back (flows/mailbox.py) ------------------------------------


def was_invited(session: Session, occurrence_id: int, address: str) -> bool:
    """Whether an invite to this meeting went to this address (any version)."""
    rows = session.exec(
        select(LedgerEntry.recipient, LedgerEntry.status).where(
            LedgerEntry.occurrence_id == occurrence_id,
            col(LedgerEntry.stage).startswith("invite-"),
        )
    ).all()
    wanted = address.lower()
    sent = (Delivery.SENT.value, Delivery.BOUNCED.value)
    return any(r.lower() == wanted and status in sent for r, status in rows)


DELEGATE_ROLE = "deputy"  # the ledger role of an invite to a deputy named in an answer


def plan_deputy_invite(session: Session, occurrence_id: int, sequence: int, deputy: str) -> bool:
    """An invite to the deputy named in a delegation, sent by the next notify run; not
    committed here (the caller commits it with the answer). True when it is new."""
    connection = session.connection()
    statement = _insert_ignoring_duplicates(connection.dialect.name).values(
        occurrence_id=occurrence_id,
        stage=f"invite-{sequence}",
        recipient=deputy,
        status=Delivery.PENDING.value,
        role=DELEGATE_ROLE,
        kind="invite",
        attempts=0,
        message_key="",
        created_at=utcnow(),
    )
    # a row back only when inserted (rowcount is -1 on psycopg with RETURNING)
    return connection.execute(statement.returning(_TABLE.c.id)).first() is not None


def rows_of_message(session: Session, message_key: str, address: str) -> list[LedgerEntry]:
    """The rows a sent message (by its key, from the Message-ID) carried to `address`."""
    rows = session.exec(select(LedgerEntry).where(LedgerEntry.message_key == message_key)).all()
    wanted = address.lower()
    return [r for r in rows if r.recipient.lower() == wanted]


def occurrences_of_message(session: Session, message_key: str) -> list[int]:
    """The occurrences a sent message was about (an auto-reply names it)."""
    rows = session.exec(
        select(LedgerEntry.occurrence_id).where(LedgerEntry.message_key == message_key).distinct()
    ).all()
    return sorted(rows)


def mark_bounced(session: Session, ids: Iterable[int], words: str) -> list[int]:
    """Rows of a message a mail server returned after the relay took it: "bounced",
    with the server's words. Returns the ids changed now (a second copy of the same
    bounce changes nothing). Not committed: the caller commits with its record of the
    bounce message."""
    ids = list(ids)
    result = session.connection().execute(
        _TABLE.update()
        .where(_TABLE.c.id.in_(ids), _TABLE.c.status != Delivery.BOUNCED.value)
        .values(status=Delivery.BOUNCED.value, last_error=f"bounced: {words}"[:500])
        .returning(_TABLE.c.id)
    )
    return [row[0] for row in result]


FAILING_AFTER = 2  # hard bounces of different messages before an address is failing


def failing_addresses(session: Session, at_least: int = FAILING_AFTER) -> dict[str, int]:
    """Addresses whose mail bounced for good at least `at_least` times (by message)."""
    rows = session.exec(
        select(
            func.lower(LedgerEntry.recipient), func.count(func.distinct(LedgerEntry.message_key))
        )
        .where(LedgerEntry.status == Delivery.BOUNCED.value)
        .group_by(func.lower(LedgerEntry.recipient))
    ).all()
    return {address: n for address, n in rows if n >= at_least}


def invitees(session: Session, occurrence_ids: list[int]) -> dict[int, list[str]]:
    """Who was sent an invite to each meeting (any version), lower-cased, in order."""
    found: dict[int, list[str]] = {}
    sent = (Delivery.SENT.value, Delivery.BOUNCED.value)
    for chunk in chunks(sorted(occurrence_ids)):
        rows = session.exec(  # the status is checked here: see _BY_OCCURRENCE
            select(LedgerEntry.occurrence_id, LedgerEntry.recipient, LedgerEntry.status)
            .where(
                col(LedgerEntry.occurrence_id).in_(chunk),
                col(LedgerEntry.stage).startswith("invite-"),
            )
            .order_by(col(LedgerEntry.id))
        ).all()
        for occurrence, recipient, status in rows:
            people = found.setdefault(occurrence, [])
            if status in sent and recipient.lower() not in people:
                people.append(recipient.lower())
    return found
