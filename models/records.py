"""Recording what people did: completion with evidence, waivers, reopening, moving and
cancelling occurrences, reviewing audit returns, and starting incident clocks.

Each operation checks everything first and changes nothing when anything is wrong; each
change writes one audit-trail row saying who, when, from where, and what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from govcal.models import queries
from govcal.models.audits import AuditReturn, FollowUpAction, Rag
from govcal.models.calendar import Incident, Lifecycle, OccurrenceRow
from govcal.models.directory import PartnershipRow
from govcal.models.trail import Channel, record
from govcal.models.types import table_of, utcnow
from govcal.rules.dates import DateInputError, check_day
from govcal.rules.errors import Refused
from govcal.rules.model import DEFAULT_TIMEZONE, Partnership
from govcal.rules.references import ReferenceRefused, check_reference

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

# the earliest a deadline can be recorded as met, before its due day: early work is real,
# a completion years early (--on 2000-01-01 for a 2026 deadline) is a typing slip
EARLIEST_DONE = timedelta(days=366)


class RecordError(Refused):
    """The request cannot be recorded as asked; the message says why and what to do."""


class AlreadyDone(RecordError):
    """What was asked for is already recorded (by someone else, or a moment ago)."""


@dataclass(frozen=True)
class Actor:
    """Who is acting and through which door (CLI, Prefect UI, API)."""

    name: str
    channel: Channel = Channel.CLI


@dataclass(frozen=True)
class Evidence:
    url: str | None = None
    file: str | None = None
    note: str | None = None


def parse_evidence(text: str, note: str | None = None) -> Evidence | None:
    """An http(s) link as Evidence; None when the text names a file (the evidence store
    checks and copies files). Other schemes are refused, with the reason."""
    value = (text or "").strip()
    if not value:
        raise RecordError("evidence is required: give an https:// link or the path of a file")
    parsed = urlparse(value)
    if parsed.scheme in ("http", "https"):
        if not parsed.netloc:
            raise RecordError(f"evidence '{value}' is not a complete link; include the host")
        if "@" in parsed.netloc:  # user:password@host: every reader of the pack would see it
            raise RecordError(
                "the evidence link carries a name or password (before an @); give the link "
                "without them"
            )
        return Evidence(url=value, note=note)
    if parsed.scheme and len(parsed.scheme) > 1:
        raise RecordError(
            f"evidence '{value}' uses the '{parsed.scheme}:' scheme; only http and https links "
            "or files are accepted"
        )
    return None


def _snapshot(row: OccurrenceRow) -> dict[str, Any]:
    return {
        "lifecycle": row.lifecycle,
        "due": row.due.isoformat(),
        "starts_at": row.starts_at.isoformat() if row.starts_at else None,
        "ends_at": row.ends_at.isoformat() if row.ends_at else None,
        "location": row.location,
        "completed_at": row.completed_at.isoformat() if row.completed_at else None,
        "completed_by": row.completed_by,
        "evidence_url": row.evidence_url,
        "evidence_file": row.evidence_file,
        "evidence_note": row.evidence_note,
        "reason": row.reason,
    }


def _later_than(previous: datetime | None) -> datetime:
    """Now, but at least one whole second after the previous change. Feeds carry the change
    time as DTSTAMP, to the second: two changes within one second would look like none to a
    calendar comparing stamps."""
    now = utcnow()
    if previous is None:
        return now
    if previous.tzinfo is None:
        previous = previous.replace(tzinfo=UTC)
    return max(now, previous.replace(microsecond=0) + timedelta(seconds=1))


def _change(
    session: Session,
    row: OccurrenceRow,
    actor: Actor,
    action: str,
    before: dict[str, Any],
    reason: str | None = None,
) -> None:
    row.updated_at = _later_than(row.updated_at)
    record(
        session,
        actor=actor.name,
        channel=actor.channel,
        action=action,
        entity="occurrence",
        entity_id=row.public_id,
        before=before,
        after=_snapshot(row),
        reason=reason,
    )


def _in_range(day: date, what: str) -> date:
    """Days from any door (CLI, form, API) are checked here too: stored, they must never
    make a later run's date arithmetic overflow."""
    try:
        return check_day(day, what)
    except DateInputError as exc:
        raise RecordError(str(exc)) from None


def _require_reason(reason: str | None, what: str) -> str:
    if not reason or not reason.strip():
        raise RecordError(f"a reason is required to {what}; it goes into the audit trail")
    return reason.strip()


def complete(
    session: Session,
    public_id: str,
    evidence: Evidence,
    actor: Actor,
    *,
    on: date,
    today: date,
    by: str | None = None,
) -> OccurrenceRow:
    _in_range(on, "completion date")
    row = queries.occurrence(session, public_id, for_update=True)
    if on > today:
        raise RecordError(
            f"completion date {on} is in the future (today is {today}); record it on the day"
        )
    if row.lifecycle == Lifecycle.COMPLETED.value:
        raise RecordError(
            f"{public_id} was already completed on {row.completed_at} by {row.completed_by}; "
            "reopen it first if that record is wrong"
        )
    if row.lifecycle in (Lifecycle.WAIVED.value, Lifecycle.CANCELLED.value):
        raise RecordError(f"{public_id} is {row.lifecycle}; reopen it before completing it")
    if on < row.due - EARLIEST_DONE:  # early, but not a year early: a slip (2000 for 2026)
        raise RecordError(
            f"completion date {on} is more than a year before {public_id} was due "
            f"({row.due}); give --on the day it was done"
        )
    if row.starts_at is not None and on < row.due:  # a deadline may be met early; a meeting
        raise RecordError(  # cannot be held before the day it is set for
            f"{public_id} is a meeting on {row.due}; it cannot have been held on {on}: give "
            "--on the day it was held, or reschedule it first with --allow-past"
        )
    before = _snapshot(row)
    row.lifecycle = Lifecycle.COMPLETED.value
    row.completed_at = on
    row.completed_by = by or actor.name
    row.evidence_url, row.evidence_file, row.evidence_note = (
        evidence.url,
        evidence.file,
        evidence.note,
    )
    row.reason = None
    _change(session, row, actor, "completed", before)
    return row


def waive(session: Session, public_id: str, reason: str, actor: Actor) -> OccurrenceRow:
    reason = _require_reason(reason, "waive an occurrence")
    row = queries.occurrence(session, public_id, for_update=True)
    if row.lifecycle != Lifecycle.OPEN.value:
        raise RecordError(f"{public_id} is {row.lifecycle}, not open; only open items are waived")
    before = _snapshot(row)
    row.lifecycle = Lifecycle.WAIVED.value
    row.reason = reason
    if row.starts_at is not None:
        row.sequence += 1  # a meeting that will not be held: its cancellation is a new version
    _change(session, row, actor, "waived", before, reason)
    return row


def reopen(
    session: Session, public_id: str, actor: Actor, reason: str | None = None
) -> OccurrenceRow:
    row = queries.occurrence(session, public_id, for_update=True)
    if row.lifecycle == Lifecycle.OPEN.value:
        raise RecordError(f"{public_id} is already open")
    before = _snapshot(row)
    withdrawn = row.lifecycle == Lifecycle.CANCELLED.value or (
        row.lifecycle == Lifecycle.WAIVED.value and row.starts_at is not None
    )
    if withdrawn:
        row.sequence += 1  # a meeting that comes back to calendars is a new invite version
    row.lifecycle = Lifecycle.OPEN.value
    row.completed_at = row.completed_by = None
    row.evidence_url = row.evidence_file = row.evidence_note = None
    row.reason = reason
    _change(session, row, actor, "reopened", before, reason)
    return row


MAX_LOCATION = 200


def reschedule(
    session: Session,
    public_id: str,
    to: datetime | date | None,
    reason: str,
    actor: Actor,
    *,
    location: str | None = None,
    today: date | None = None,
    allow_past: bool = False,
) -> OccurrenceRow:
    """Move one occurrence (a meeting moved, or held somewhere else) without touching
    its rule. Either or both of `to` and `location`. A day before `today` is refused
    unless `allow_past` (recording where it really happened): moved into the past, an
    item is overdue the moment it lands."""
    reason = _require_reason(reason, "reschedule")
    if to is None and location is None:
        raise RecordError("give --to (a new date or time), --location (a new place), or both")
    if to is not None:
        _in_range(to, "new date")
    row = queries.occurrence(session, public_id, for_update=True)
    if isinstance(to, datetime) and to.tzinfo is not None:
        _check_wall_time(to, zone_of(session, row))
    if to is not None and today is not None and not allow_past:
        day = to.astimezone(zone_of(session, row)).date() if isinstance(to, datetime) else to
        if day < today:
            raise RecordError(
                f"--to {day} is in the past (today is {today}); give a later date, or add "
                "--allow-past to record when it really happened"
            )
    if row.lifecycle != Lifecycle.OPEN.value:
        raise RecordError(f"{public_id} is {row.lifecycle}; only open items can be moved")
    before = _snapshot(row)
    if location is not None:
        place = " ".join(location.split())
        if row.starts_at is None:
            raise RecordError(f"{public_id} is a deadline, not a meeting; it has no place")
        if not place or len(place) > MAX_LOCATION or not place.isprintable():
            raise RecordError(
                f"--location must be one line of 1 to {MAX_LOCATION} printable characters, "
                "e.g. 'Barrow Town Hall, Committee Room 2'"
            )
        row.location = place
    if isinstance(to, datetime):
        if to.tzinfo is None:
            raise RecordError("give the new time with its zone, or as local London time")
        length = (row.ends_at - row.starts_at) if row.starts_at and row.ends_at else None
        row.starts_at = to
        row.ends_at = to + (length or timedelta(hours=1))
        _in_range(
            row.ends_at.astimezone(zone_of(session, row)).replace(tzinfo=None), "its end time"
        )
        row.due = to.astimezone(zone_of(session, row)).date()
    elif to is not None:
        if row.starts_at is not None:
            raise RecordError(
                f"{public_id} is a meeting with a time; give --to as 'YYYY-MM-DD HH:MM'"
            )
        row.due = to
    if to is not None:
        row.rescheduled = True  # sync keeps the person's date from now on
    row.reason = reason
    row.sequence += 1
    _change(session, row, actor, "rescheduled", before, reason)
    return row


def _check_wall_time(moment: datetime, zone: tzinfo) -> None:
    """A local time the clocks skip (01:30 on the last Sunday of March) is refused, and so
    is one they repeat (01:30 on the last Sunday of October): calendar programs do not
    agree which of the two it is (icalendar reads the first, ical.js, libical and vobject
    the second), so the person says which by giving a time outside the repeated hour."""
    from zoneinfo import ZoneInfo

    if not isinstance(moment.tzinfo, ZoneInfo):
        return
    there = moment.astimezone(UTC).astimezone(moment.tzinfo)
    if there.replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise RecordError(
            f"--to {moment:%Y-%m-%d %H:%M} does not exist in {moment.tzinfo.key}: the clocks "
            "go forward then; give a time an hour later"
        )
    first, second = moment.replace(fold=0), moment.replace(fold=1)
    if first.utcoffset() != second.utcoffset():
        start, end = _repeated_hour(first, second)
        raise RecordError(
            f"--to {moment:%Y-%m-%d %H:%M} happens twice in {moment.tzinfo.key}: at "
            f"{first.astimezone(UTC):%H:%M} UTC ({first.tzname()}) and at "
            f"{second.astimezone(UTC):%H:%M} UTC ({second.tzname()}), as the clocks go back; "
            f"give a time outside {start:%H:%M}-{end:%H:%M} that day"
        )


def _repeated_hour(first: datetime, second: datetime) -> tuple[datetime, datetime]:
    """The wall-clock span the clocks go through twice, around an ambiguous time."""
    zone = first.tzinfo
    low, high = first.astimezone(UTC), second.astimezone(UTC)
    while high - low > timedelta(minutes=1):  # the change is a minute between the two
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == first.utcoffset():
            low = middle
        else:
            high = middle
    change = high.replace(second=0, microsecond=0)
    after, before = change.astimezone(zone), (change - timedelta(seconds=1)).astimezone(zone)
    ends = (before + timedelta(seconds=1)).replace(tzinfo=None)
    return after.replace(tzinfo=None), ends


def cancel(session: Session, public_id: str, reason: str, actor: Actor) -> OccurrenceRow:
    reason = _require_reason(reason, "cancel")
    row = queries.occurrence(session, public_id, for_update=True)
    if row.lifecycle != Lifecycle.OPEN.value:
        raise RecordError(f"{public_id} is {row.lifecycle}; only open items can be cancelled")
    before = _snapshot(row)
    row.lifecycle = Lifecycle.CANCELLED.value
    row.reason = reason
    row.sequence += 1
    _change(session, row, actor, "cancelled", before, reason)
    return row


def new_attendee_version(session: Session, had: dict[str, list[str]]) -> None:
    """The invitees of these meetings changed since their last version went out: a new
    version (SEQUENCE), so every calendar gets the new list. `had` maps each meeting's
    public id to the addresses that held it, kept in the trail for the update's words."""
    for public_id, holders in sorted(had.items()):
        row = queries.occurrence(session, public_id, for_update=True)
        row.sequence += 1
        _change(
            session,
            row,
            Actor("govcal", Channel.SYSTEM),
            "attendees-changed",
            {"attendees": sorted(holders)},
        )


def zone_of(session: Session, row: OccurrenceRow) -> ZoneInfo:
    """The time zone of the occurrence's partnership."""
    from zoneinfo import ZoneInfo

    partnership = session.get(PartnershipRow, row.partnership_id)
    return ZoneInfo(partnership.timezone if partnership else DEFAULT_TIMEZONE)


def review_return(
    session: Session,
    public_id: str,
    rag: str,
    actor: Actor,
    *,
    note: str | None = None,
    follow_ups: list[tuple[str, date]] | None = None,
    on: date | None = None,
) -> AuditReturn:
    """Record the business team's review of a submitted S11/S175 return.

    `on` is the day of the review (the caller's day, or a replayed day); follow-up actions
    may not fall due before it. Without it, today."""
    try:
        rating = Rag(rag.lower())
    except ValueError:
        raise RecordError(f"RAG rating '{rag}' is not one of: red, amber, green") from None
    review_day = on or utcnow().date()
    for _description, due in follow_ups or []:
        _in_range(due, "follow-up due date")
        if due < review_day:  # an action due before it was agreed is overdue at birth
            raise RecordError(
                f"--action-due {due} is before the review day {review_day}; give a day from "
                f"{review_day} on"
            )
    row = queries.occurrence(session, public_id)
    audit_return = session.exec(
        select(AuditReturn).where(AuditReturn.occurrence_id == row.id)
    ).first()
    if audit_return is None:
        raise RecordError(f"{public_id} is not an audit return (S11 or S175)")
    if row.lifecycle != Lifecycle.COMPLETED.value:
        raise RecordError(f"{public_id} has not been submitted yet; record its completion first")
    before = {"rag": audit_return.rag, "review_note": audit_return.review_note}
    audit_return.rag = rating.value
    audit_return.review_note = note
    audit_return.reviewed_at = utcnow()
    audit_return.reviewed_by = actor.name
    assert audit_return.id is not None  # read from the database
    for description, due in follow_ups or []:
        session.add(FollowUpAction(return_id=audit_return.id, description=description, due=due))
    record(
        session,
        actor=actor.name,
        channel=actor.channel,
        action="reviewed",
        entity="audit_return",
        entity_id=public_id,
        before=before,
        after={
            "rag": rating.value,
            "review_note": note,
            "follow_ups": [[d, due.isoformat()] for d, due in follow_ups or []],
        },
    )
    return audit_return


def follow_up_done(
    session: Session, follow_up_id: int, actor: Actor, *, on: date
) -> tuple[FollowUpAction, str]:
    """Mark a review's follow-up action done on `on`; returns it and its return's id.
    The action is claimed by one conditional UPDATE, so two people marking it at the same
    instant (a double click, the page and the command line) record it once: the other
    is told it was already done."""
    action = session.get(FollowUpAction, follow_up_id)
    audit_return = session.get(AuditReturn, action.return_id) if action else None
    row = session.get(OccurrenceRow, audit_return.occurrence_id) if audit_return else None
    if action is None or row is None:
        raise RecordError(f"there is no follow-up action {follow_up_id}")
    if action.completed_at is None:
        _in_range(on, "the day it was done")
    claimed = session.connection().execute(
        _CLAIM_FOLLOW_UP, {"follow_up_id": follow_up_id, "done_on": on}
    )
    session.expire(action, ["completed_at"])  # read again: ours, or the one that won
    if claimed.rowcount == 0:
        raise AlreadyDone(
            f"the follow-up action '{action.description}' was already marked done on "
            f"{action.completed_at:%d %b %Y}"
        )
    record(
        session,
        actor=actor.name,
        channel=actor.channel,
        action="follow-up-done",
        entity="audit_return",
        entity_id=row.public_id,
        after={"follow_up": action.description, "done_on": on.isoformat()},
    )
    return action, row.public_id


_FOLLOW_UPS = table_of(FollowUpAction)
_CLAIM_FOLLOW_UP = (  # built once; changes nothing when the action is already done
    _FOLLOW_UPS.update()
    .where(_FOLLOW_UPS.c.id == bindparam("follow_up_id"), _FOLLOW_UPS.c.completed_at.is_(None))
    .values(completed_at=bindparam("done_on"))
)


def _incident(session: Session, partnership_id: str, reference: str, kind: str) -> Incident | None:
    return session.exec(
        select(Incident).where(
            Incident.partnership_id == partnership_id,
            Incident.reference == reference,
            Incident.kind == kind,
        )
    ).first()


def _already_recorded(existing: Incident) -> RecordError:
    return RecordError(
        f"{existing.reference} is already recorded (aware on {existing.occurred_on}); "
        "its clocks are running (the compliance summary shows them)"
    )


def start_incident(
    session: Session,
    partnership: Partnership,
    reference: str,
    kind: str,
    occurred_on: date,
    actor: Actor,
    *,
    today: date,
) -> Incident:
    """Record that an event happened, by reference only, so its statutory clocks start."""
    partnership_id, known_kinds = partnership.id, partnership.events
    try:  # the value is never repeated: it may identify a child
        check_reference(reference, partnership.incident_reference)
    except ReferenceRefused as exc:
        raise RecordError(str(exc)) from None
    if kind not in known_kinds:
        raise RecordError(
            f"event kind '{kind}' is not declared for {partnership_id}; known: "
            f"{', '.join(known_kinds)}"
        )
    _in_range(occurred_on, "incident date")
    if occurred_on > today:
        raise RecordError(f"date {occurred_on} is in the future (today is {today})")
    existing = _incident(session, partnership_id, reference, kind)
    if existing is not None:
        raise _already_recorded(existing)
    if session.get(PartnershipRow, partnership_id) is None:
        raise RecordError(f"partnership '{partnership_id}' is not in the database; run sync first")
    incident = Incident(
        partnership_id=partnership_id,
        reference=reference,
        kind=kind,
        occurred_on=occurred_on,
        recorded_by=actor.name,
    )
    session.add(incident)
    try:  # the unique key settles a race with another process recording it at the same time
        session.flush()
    except IntegrityError:
        session.rollback()  # the incident is this use case's first write: nothing else is lost
        winner = _incident(session, partnership_id, reference, kind)
        if winner is None:
            raise
        raise _already_recorded(winner) from None
    record(
        session,
        actor=actor.name,
        channel=actor.channel,
        action="incident-recorded",
        entity="incident",
        entity_id=f"{partnership_id}:{reference}",
        after={"kind": kind, "occurred_on": occurred_on.isoformat()},
    )
    return incident
