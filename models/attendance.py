"""Who answered a meeting's invite, and how: one record whatever the channel.

The mailbox (a calendar REPLY read back over IMAP) and a link in the email both land
here through `record_answer`. "No answer" is the absence of a row. An answer is kept
per version of the meeting (its iCalendar SEQUENCE): a reply to an invite sent before
the meeting moved is an answer to that version, not to the current time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint, true
from sqlmodel import Field, Session, SQLModel, col, func, select

from govcal.models.directory_import import normalise_email
from govcal.models.records import RecordError
from govcal.models.types import UTCDateTime, insert_on_conflict, table_of, utcnow
from govcal.rules.text import TextRefused, check_text


class Answer(StrEnum):
    """An invitee's answer (RFC 5546 PARTSTAT in words the business team uses)."""

    COMING = "coming"  # ACCEPTED
    NOT_COMING = "not-coming"  # DECLINED
    TENTATIVE = "tentative"  # TENTATIVE
    DEPUTY = "deputy"  # DELEGATED: someone else (the deputy) comes instead


# iCalendar PARTSTAT -> Answer (NEEDS-ACTION and anything else: no answer)
PARTSTAT = {
    "ACCEPTED": Answer.COMING,
    "DECLINED": Answer.NOT_COMING,
    "TENTATIVE": Answer.TENTATIVE,
    "DELEGATED": Answer.DEPUTY,
}


class AnswerSource(StrEnum):
    MAILBOX = "mailbox"  # a calendar reply read back by `govcal mailbox`
    LINK = "link"  # a link in the email (the web page)
    BUSINESS_TEAM = "business-team"  # typed in by the business team


class AttendanceAnswer(SQLModel, table=True):
    __tablename__ = "attendance_answer"
    __table_args__ = (UniqueConstraint("occurrence_id", "attendee", "sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    attendee: str = Field(max_length=254)  # lower-cased address the invite went to
    sequence: int  # the meeting's version answered (iCalendar SEQUENCE)
    answer: str = Field(max_length=16)
    deputy: str | None = Field(default=None, max_length=254)  # with Answer.DEPUTY
    source: str = Field(max_length=16)
    answered_at: datetime = Field(sa_type=UTCDateTime)  # when the person answered
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AnswerRefused(RecordError):
    """The answer cannot be recorded; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    """What `record_answer` did. `summary` is the line a person reads."""

    summary: str
    changed: bool  # False: the same or a newer answer was already recorded
    current: bool  # the answer is to the meeting's current version
    deputy_invited: str | None = None  # the deputy's address, when an invite was planned


def _deputy_address(typed: str, address: str) -> str:
    """The deputy's address as stored (lower case), or AnswerRefused: it goes into an
    invite's To: header, so it passes the same checks as a directory's addresses (no
    control character or direction override, a domain mail can reach)."""
    try:
        check_text(typed, "the deputy's email address")
        deputy = normalise_email(typed.strip()).lower()
    except TextRefused as exc:
        raise AnswerRefused(str(exc)) from None
    except ValueError:
        raise AnswerRefused(
            f"the deputy '{typed.strip()[:80]}' is not an email address; "
            "write it as name@example.org"
        ) from None
    if deputy == address:
        raise AnswerRefused("the deputy is your own address; name who comes instead of you")
    return deputy


def record_answer(
    session: Session,
    *,
    occurrence_id: int,
    attendee: str,
    answer: Answer,
    sequence: int,
    answered_at: datetime,
    source: AnswerSource,
    deputy: str | None = None,
) -> AnswerRecorded:
    """Record one invitee's answer to one version of a meeting; the caller commits.

    Args:
        occurrence_id: the meeting (OccurrenceRow.id).
        attendee: the address the invite was sent to (any case).
        answer: coming, not coming, tentative, or deputy (then `deputy` is required).
        sequence: the version answered (the invite's SEQUENCE, or the current one for
            a link followed now).
        answered_at: when the person answered (a reply's DTSTAMP; now for a link): a
            later answer replaces an earlier one for the same version, never the reverse.
        source: where the answer came from.
        deputy: who comes instead; an invite to them is planned (sent by the next
            notify run) unless they already have one.

    Raises AnswerRefused (nothing changed) when the meeting is unknown or not a
    meeting, the version was never sent, or the address was never sent an invite to
    it: an answer from someone govcal did not invite changes nothing.
    """
    from govcal.models import ledger
    from govcal.models.calendar import OccurrenceRow

    address = attendee.strip().lower()
    meeting = session.get(OccurrenceRow, occurrence_id)
    if meeting is None or meeting.kind != "meeting":
        raise AnswerRefused(f"no meeting with id {occurrence_id}; nothing was recorded")
    if sequence < 0 or sequence > meeting.sequence:
        raise AnswerRefused(
            f"{meeting.public_id} has no version {sequence} (its latest is "
            f"{meeting.sequence}); nothing was recorded"
        )
    if not ledger.was_invited(session, occurrence_id, address):
        raise AnswerRefused(
            f"{address} was never sent an invite to {meeting.public_id}; nothing was recorded"
        )
    if (answer is Answer.DEPUTY) != bool(deputy):
        raise AnswerRefused("a deputy is named with the answer 'deputy', and only with it")
    deputy = _deputy_address(deputy, address) if deputy else None
    changed = _upsert(
        session, occurrence_id, address, sequence, answer, deputy, source, answered_at
    )
    invited = None
    cancelled = meeting.lifecycle == "cancelled"
    invite = changed and not cancelled
    if (
        invite
        and deputy is not None
        and ledger.plan_deputy_invite(session, occurrence_id, meeting.sequence, deputy)
    ):
        invited = deputy
    current = sequence == meeting.sequence
    said = f"{address}: {answer.value}" + (f" ({deputy} instead)" if deputy else "")
    version = "" if current else f" (to version {sequence}, before the meeting changed)"
    verb = "recorded" if changed else "already recorded"
    return AnswerRecorded(f"{meeting.public_id}: {said}{version} {verb}", changed, current, invited)


def _upsert(
    session: Session,
    occurrence_id: int,
    address: str,
    sequence: int,
    answer: Answer,
    deputy: str | None,
    source: AnswerSource,
    answered_at: datetime,
) -> bool:
    """Insert, or replace an older answer to the same version, in one statement (two
    readers at once cannot both insert). True when the row was written."""
    table = table_of(AttendanceAnswer)
    connection = session.connection()
    values = {
        "occurrence_id": occurrence_id,
        "attendee": address,
        "sequence": sequence,
        "answer": answer.value,
        "deputy": deputy,
        "source": source.value,
        "answered_at": answered_at,
        "recorded_at": utcnow(),
    }
    statement = insert_on_conflict(connection.dialect.name, table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["occurrence_id", "attendee", "sequence"],
        set_={
            k: statement.excluded[k]
            for k in ("answer", "deputy", "source", "answered_at", "recorded_at")
        },
        where=(table.c.answered_at < statement.excluded.answered_at)
        & (
            (table.c.answer != statement.excluded.answer)
            | (func.coalesce(table.c.deputy, "") != func.coalesce(statement.excluded.deputy, ""))
        ),
    )
    # a row back only when written (rowcount is -1 on psycopg with RETURNING)
    return connection.execute(statement.returning(table.c.id)).first() is not None


@dataclass(frozen=True, slots=True)
class Answered:
    attendee: str
    answer: Answer
    sequence: int
    deputy: str | None
    answered_at: datetime


def answers(session: Session, occurrence_ids: list[int]) -> dict[int, dict[str, Answered]]:
    """Each meeting's latest answer per invitee (the highest version they answered)."""
    found: dict[int, dict[str, Answered]] = {}
    if not occurrence_ids:
        return found
    rows = session.exec(
        select(AttendanceAnswer)
        .where(col(AttendanceAnswer.occurrence_id).in_(occurrence_ids))
        .order_by(col(AttendanceAnswer.sequence), col(AttendanceAnswer.answered_at))
    ).all()
    for r in rows:
        found.setdefault(r.occurrence_id, {})[r.attendee] = Answered(
            r.attendee, Answer(r.answer), r.sequence, r.deputy, r.answered_at
        )
    return found


@dataclass(frozen=True, slots=True)
class MeetingAnswers:
    """A meeting, who was invited to it, and their latest answers (address -> answer)."""

    occurrence_id: int
    public_id: str
    partnership_id: str
    rule_id: str
    title: str
    starts_at: datetime | None
    due: date
    invited: tuple[str, ...]
    answers: dict[str, str]


def meetings_with_answers(
    session: Session,
    partnership_ids: list[str],
    start: date,
    end: date,
    *,
    only: set[int] | None = None,
) -> list[MeetingAnswers]:
    """Open meetings from `start` to `end` (their day) with their invitees' answers;
    `only`: just these meetings (by occurrence id)."""
    from govcal.models import ledger
    from govcal.models.calendar import Lifecycle, OccurrenceRow

    if not partnership_ids:
        return []
    rows = session.exec(
        select(OccurrenceRow)
        .where(
            col(OccurrenceRow.partnership_id).in_(partnership_ids),
            OccurrenceRow.kind == "meeting",
            OccurrenceRow.lifecycle == Lifecycle.OPEN.value,
            col(OccurrenceRow.due) >= start,
            col(OccurrenceRow.due) <= end,
            col(OccurrenceRow.id).in_(sorted(only)) if only is not None else true(),
        )
        .order_by(col(OccurrenceRow.due))
    ).all()
    ids = [r.id for r in rows if r.id is not None]
    invited = ledger.invitees(session, ids)
    given = answers(session, ids)
    return [
        MeetingAnswers(
            r.id or 0,
            r.public_id,
            r.partnership_id,
            r.rule_id,
            r.title,
            r.starts_at,
            r.due,
            tuple(invited.get(r.id or 0, [])),
            {a: v.answer.value for a, v in given.get(r.id or 0, {}).items()},
        )
        for r in rows
    ]


class Attended(SQLModel, table=True):
    """Who was at a meeting, recorded by the business team after it."""

    __tablename__ = "meeting_attended"
    __table_args__ = (UniqueConstraint("occurrence_id", "attendee"),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True)
    attendee: str = Field(max_length=254)  # lower-cased
    present: bool
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True, slots=True)
class Register:
    """A meeting's invitees with their answers and, once recorded, who attended."""

    public_id: str
    title: str
    due: date
    invited: tuple[str, ...]
    answers: dict[str, Answered]
    attended: dict[str, bool]

    def expected(self) -> list[str]:
        """Who the answers say will be there: those coming, and deputies named."""
        found = [
            a for a in self.invited if (x := self.answers.get(a)) and x.answer is Answer.COMING
        ]
        found += [x.deputy for x in self.answers.values() if x.answer is Answer.DEPUTY and x.deputy]
        return list(dict.fromkeys(found))


def register(session: Session, public_id: str) -> Register:
    """The meeting's register; AnswerRefused when the id names no meeting."""
    from govcal.models import ledger
    from govcal.models.calendar import OccurrenceRow

    row = session.exec(select(OccurrenceRow).where(OccurrenceRow.public_id == public_id)).first()
    if row is None or row.id is None or row.kind != "meeting":
        raise AnswerRefused(
            f"no meeting '{public_id}' (copy the id from the invitation or the compliance summary)"
        )
    recorded = session.exec(select(Attended).where(Attended.occurrence_id == row.id)).all()
    invited = tuple(ledger.invitees(session, [row.id]).get(row.id, []))
    given = answers(session, [row.id]).get(row.id, {})
    return Register(
        row.public_id, row.title, row.due, invited, given, {r.attendee: r.present for r in recorded}
    )


def record_attended(
    session: Session,
    public_id: str,
    present: list[str],
    *,
    by: str,
    today: date,
    channel: str = "cli",
) -> str:
    """Record who was at a meeting (everyone else invited: absent), with an audit-trail
    row; the caller commits. Refused before the meeting's day, or for an address neither
    invited nor a deputy (AnswerRefused: nothing recorded)."""
    table = register(session, public_id)
    if table.due > today:
        raise AnswerRefused(f"{public_id} is on {table.due:%d/%m/%Y}: record who attended after it")
    deputies = {x.deputy for x in table.answers.values() if x.deputy}
    people = list(dict.fromkeys(p.strip().lower() for p in present if p.strip()))
    strangers = [p for p in people if p not in table.invited and p not in deputies]
    if strangers:
        raise AnswerRefused(
            f"{', '.join(strangers)} neither had an invite to {public_id} nor was named as a deputy"
        )
    from govcal.models.calendar import OccurrenceRow

    occurrence = session.exec(
        select(OccurrenceRow.id).where(OccurrenceRow.public_id == public_id)
    ).one()
    assert occurrence is not None  # a stored row has its id
    everyone = list(dict.fromkeys([*table.invited, *people]))
    for old in session.exec(select(Attended).where(Attended.occurrence_id == occurrence)).all():
        session.delete(old)
    session.flush()
    for person in everyone:
        session.add(
            Attended(
                occurrence_id=occurrence,
                attendee=person,
                present=person in people,
                recorded_by=by[:200],
            )
        )
    from govcal.models import trail

    trail.record(
        session,
        actor=by[:200],
        channel=channel,
        action="attendance-recorded",
        entity="occurrence",
        entity_id=public_id,
        after={"present": people},
    )
    session.flush()
    return f"{public_id}: {len(people)} attended, {len(everyone) - len(people)} absent recorded"
