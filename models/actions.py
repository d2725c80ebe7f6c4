"""What people record, as plain functions with typed results.

One implementation of each write action (complete, waive, reopen, reschedule, cancel,
record and review a return, start an incident clock, import the directory), called
alike by the command line (govcal/cli/records.py) and the Prefect forms
(flows/jobs.py). Each takes the caller's session, which is the unit of work: the caller
commits once when the function returns, and nothing is written when it raises
RecordError. Each returns a frozen dataclass; `summary` is the line a person reads, so
the command line prints it and the flow returns the result without computing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from govcal.models import queries, records
from govcal.models.evidence import EvidenceRefused, EvidenceStore
from govcal.models.records import Actor, Evidence, RecordError
from govcal.models.sync import SyncReport, follow_dependents, sync_all
from govcal.rules.model import Partnership
from govcal.rules.text import LONG, TextRefused, check_id, check_text

if TYPE_CHECKING:  # the directory import (CSV, email_validator) is imported by its two users
    from govcal.models.calendar import OccurrenceRow
    from govcal.models.directory_changes import EndedRole  # and directory changes by remove_person
    from govcal.models.directory_import import FileReport

ACTOR_FIELD = "--by or GOVCAL_ACTOR (who is acting)"


def _typed(occurrence: str | None, actor: Actor, *texts: tuple[str | None, str, int]) -> None:
    """Every typed text of an action is plain, one-line and short (rules/text.py), checked
    here so the command line and the forms refuse alike, before anything is looked up."""
    try:
        if occurrence is not None:
            check_id(occurrence)
        check_text(actor.name, ACTOR_FIELD)
        for value, field, limit in texts:
            check_text(value, field, limit)
    except TextRefused as exc:
        raise RecordError(str(exc)) from None


@dataclass(frozen=True)
class Completed:
    occurrence: str
    title: str
    completed_on: date
    completed_by: str
    evidence: str  # the link, or govcal's read-only copy of the file
    followed: tuple[str, ...] = ()  # dependent deadlines that moved with it

    @property
    def summary(self) -> str:
        return (
            f"{self.title} ({self.occurrence}) completed on {self.completed_on} by "
            f"{self.completed_by}"
        )


@dataclass(frozen=True)
class Waived:
    occurrence: str
    title: str
    reason: str
    statutory: bool = False

    @property
    def summary(self) -> str:
        return f"{self.title} ({self.occurrence}) waived: {self.reason}{_duty(self.statutory)}"


STATUTORY_REASON = 15  # characters: "dont care" or "x" is no account of dropping a duty


def _duty(statutory: bool) -> str:
    return (
        "; this is a statutory duty: the Lead Partners will see it in the audit trail"
        if statutory
        else ""
    )


@dataclass(frozen=True)
class Reopened:
    occurrence: str
    title: str
    due: date
    followed: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        return f"{self.title} ({self.occurrence}) is open again, due {self.due}"


@dataclass(frozen=True)
class Rescheduled:
    occurrence: str
    title: str
    due: date
    starts_at: datetime | None  # in the partnership's time zone, for meetings
    sequence: int
    location: str | None = None  # this meeting's own place, if moved elsewhere
    changed: bool = True  # False: it was already there, nothing was touched
    notes: tuple[str, ...] = ()  # a weekend, a bank holiday, a time the clocks repeat
    followed: tuple[str, ...] = ()  # dependent deadlines that moved with it

    @property
    def summary(self) -> str:
        moment = wall_time(self.starts_at) if self.starts_at else f"{self.due:%a %d %b %Y}"
        if not self.changed:
            return f"{self.title} ({self.occurrence}) is already at {moment}; nothing changed"
        moved = f"{self.title} ({self.occurrence}) moved to {moment}"
        if self.location:
            moved += f" at {self.location}"
        if self.starts_at is not None:
            moved += f" (invite version {self.sequence})"
        return "; ".join((moved, *self.notes))


def wall_time(moment: datetime) -> str:
    """'Tue 15 Dec 2026 09:30': the local time as people say it, never '+00:00'."""
    return f"{moment:%a %d %b %Y %H:%M}"


@dataclass(frozen=True)
class Cancelled:
    occurrence: str
    title: str
    reason: str
    sequence: int
    followed: tuple[str, ...] = ()
    statutory: bool = False

    @property
    def summary(self) -> str:
        duty = _duty(self.statutory)
        return f"{self.title} ({self.occurrence}) cancelled: {self.reason}{duty}"


@dataclass(frozen=True)
class Reviewed:
    occurrence: str
    rag: str
    follow_ups: int

    @property
    def summary(self) -> str:
        return f"{self.occurrence} reviewed: {self.rag}, {self.follow_ups} follow-up action(s)"


@dataclass(frozen=True)
class ReturnRecorded:
    completed: Completed
    review: Reviewed | None

    @property
    def summary(self) -> str:
        line = f"{self.completed.occurrence} returned on {self.completed.completed_on}"
        return f"{line}, rated {self.review.rag}" if self.review else line


@dataclass(frozen=True)
class IncidentStarted:
    partnership: str
    reference: str  # accepted as a case reference, so safe to show
    kind: str
    clocks: tuple[str, ...]  # the statutory deadlines created, by occurrence id
    synced: tuple[SyncReport, ...]

    @property
    def summary(self) -> str:
        return f"{self.kind} {self.reference}: clocks started: {', '.join(self.clocks)}"


@dataclass(frozen=True)
class Imported:
    partnership: str
    files: tuple[FileReport, ...]

    @property
    def rejected(self) -> int:
        return sum(len(f.problems) for f in self.files)

    @property
    def nothing_imported(self) -> bool:
        """Every file was refused whole (missing, unreadable, wrong columns)."""
        return all(f.refused for f in self.files)

    @property
    def ended(self) -> tuple[EndedRole, ...]:
        """Roles ended by --replace: people the authoritative file no longer lists."""
        return tuple(r for f in self.files for r in f.ended)

    @property
    def summary(self) -> str:
        return (
            f"{len(self.files)} file(s) imported into {self.partnership}, "
            f"{self.rejected} row(s) rejected"
        )


def _evidence(text: str, note: str | None, store: EvidenceStore | None) -> Evidence:
    link = records.parse_evidence(text, note)
    if link is not None:
        return link
    if store is None:
        raise RecordError(f"evidence '{text.strip()}' is not an http(s) link; give a link here")
    try:
        return Evidence(file=str(store.source(text.strip())), note=note)
    except EvidenceRefused as exc:
        raise RecordError(str(exc)) from None


def _kept(evidence: Evidence, store: EvidenceStore | None) -> tuple[Evidence, str | None]:
    """A file copied into the store; the copy, when new, to discard if the record fails."""
    if evidence.file is None or store is None:
        return evidence, None
    try:
        copy, created = store.add(evidence.file)
    except EvidenceRefused as exc:
        raise RecordError(str(exc)) from None
    return Evidence(file=copy, note=evidence.note), copy if created else None


def complete(
    session: Session,
    occurrence: str,
    evidence: str,
    actor: Actor,
    *,
    on: date,
    today: date,
    partnerships: Sequence[Partnership],
    by: str | None = None,
    note: str | None = None,
    store: EvidenceStore | None = None,
) -> Completed:
    """Record that an occurrence was done; a file named as evidence is copied into the
    store, and the copy discarded again if the record is refused. `partnerships`: the
    caller's rules, for the deadlines that hang on the item."""
    _typed(
        occurrence, actor, (evidence, "--evidence", LONG), (note, "--note", LONG), (by, "--by", 200)
    )
    proof, fresh = _kept(_evidence(evidence, note, store), store)
    try:
        row = records.complete(session, occurrence, proof, actor, on=on, today=today, by=by)
    except Exception:
        if fresh is not None and store is not None:
            store.discard(fresh)
        raise
    shown = proof.url or proof.file or ""
    followed = _follow(session, partnerships, row.public_id, today, actor)
    return Completed(row.public_id, row.title, on, row.completed_by or actor.name, shown, followed)


def waive(
    session: Session,
    occurrence: str,
    reason: str,
    actor: Actor,
    *,
    partnerships: Sequence[Partnership],
) -> Waived:
    _typed(occurrence, actor, (reason, "--reason", LONG))
    statutory = _statutory_reason(partnerships, occurrence, reason, "waive")
    row = records.waive(session, occurrence, reason, actor)
    return Waived(row.public_id, row.title, row.reason or "", statutory)


def _statutory_reason(
    partnerships: Sequence[Partnership], public_id: str, reason: str | None, verb: str
) -> bool:
    """Whether the item is a statutory duty (a rule of the statutory baseline, or a clock an
    event started); dropping one needs a reason of some words, refused before any change."""
    from govcal.rules.model import EventDeadline

    parts = public_id.split(":")
    partnership = next((p for p in partnerships if p.id == parts[0]), None)
    rule = (
        next((r for r in partnership.rules if len(parts) > 1 and r.id == parts[1]), None)
        if partnership
        else None
    )
    if rule is None:
        return False
    statutory = rule.origin != "local" or isinstance(rule.schedule, EventDeadline)
    if statutory and len((reason or "").strip()) < STATUTORY_REASON:
        raise RecordError(
            f"{public_id} is a statutory duty: to {verb} it, give --reason of at least "
            f"{STATUTORY_REASON} characters saying why (the Lead Partners will see it)"
        )
    return statutory


def reopen(
    session: Session,
    occurrence: str,
    actor: Actor,
    reason: str | None = None,
    *,
    today: date,
    partnerships: Sequence[Partnership],
) -> Reopened:
    _typed(occurrence, actor, (reason, "--reason", LONG))
    row = records.reopen(session, occurrence, actor, reason)
    followed = _follow(session, partnerships, row.public_id, today, actor)
    return Reopened(row.public_id, row.title, row.due, followed)


def reschedule(
    session: Session,
    occurrence: str,
    to: datetime | date | None,
    reason: str,
    actor: Actor,
    *,
    location: str | None = None,
    today: date,
    partnerships: Sequence[Partnership],
    allow_past: bool = False,
) -> Rescheduled:
    """Move one occurrence; the deadlines that hang on it (papers before a meeting) follow
    at once, whichever door (command, form) it came through."""
    _typed(occurrence, actor, (reason, "--reason", LONG), (location, "--location", 200))
    current = queries.occurrence(session, occurrence, for_update=True)  # as it is now
    zone = records.zone_of(session, current)
    if _already_there(current, to, location):
        starts = current.starts_at.astimezone(zone) if current.starts_at else None
        return Rescheduled(
            current.public_id,
            current.title,
            current.due,
            starts,
            current.sequence,
            current.location,
            changed=False,
        )
    row = records.reschedule(
        session,
        occurrence,
        to,
        reason,
        actor,
        location=location,
        today=today,
        allow_past=allow_past,
    )
    starts = row.starts_at.astimezone(zone) if row.starts_at else None
    followed = _follow(session, partnerships, row.public_id, today, actor)
    return Rescheduled(
        row.public_id,
        row.title,
        row.due,
        starts,
        row.sequence,
        row.location,
        notes=_day_notes(row.due, starts),
        followed=followed,
    )


def _already_there(row: OccurrenceRow, to: datetime | date | None, location: str | None) -> bool:
    if location is not None and " ".join(location.split()) != (row.location or ""):
        return False
    if to is None:
        return location is not None
    if isinstance(to, datetime):
        return row.starts_at is not None and row.starts_at == to
    return row.starts_at is None and row.due == to


def _day_notes(day: date, starts: datetime | None) -> tuple[str, ...]:
    """What a person should double-check about the day they chose: accepted, but said."""
    from govcal.rules.workdays import is_bank_holiday

    notes = []
    if day.weekday() >= 5:
        notes.append(f"note: {day:%A} {day} is a weekend day")
    elif is_bank_holiday(day):
        notes.append(f"note: {day} is a bank holiday")
    return tuple(notes)


def _follow(
    session: Session,
    partnerships: Sequence[Partnership],
    public_id: str,
    today: date,
    actor: Actor,
) -> tuple[str, ...]:
    """Bring the deadlines that hang on a changed item in line at once (follow_dependents)."""
    chosen = next((p for p in partnerships if p.id == public_id.split(":", 1)[0]), None)
    if chosen is None:
        return ()
    report = follow_dependents(
        session, chosen, public_id, today, actor=actor.name, channel=actor.channel
    )
    if report is None:
        return ()
    moved = [f"moved with it: {', '.join(report.changes)}"] if report.changes else []
    if report.orphaned:
        moved.append(f"{report.orphaned} deadline(s) that hung on it are cancelled with it")
    return tuple(moved)


def cancel(
    session: Session,
    occurrence: str,
    reason: str,
    actor: Actor,
    *,
    today: date,
    partnerships: Sequence[Partnership],
) -> Cancelled:
    _typed(occurrence, actor, (reason, "--reason", LONG))
    statutory = _statutory_reason(partnerships, occurrence, reason, "cancel")
    row = records.cancel(session, occurrence, reason, actor)
    followed = _follow(session, partnerships, row.public_id, today, actor)
    return Cancelled(row.public_id, row.title, row.reason or "", row.sequence, followed, statutory)


def review_return(
    session: Session,
    occurrence: str,
    rag: str,
    actor: Actor,
    *,
    note: str | None = None,
    follow_ups: list[tuple[str, date]] | None = None,
    on: date | None = None,
) -> Reviewed:
    actions = [(text, "--action", LONG) for text, _due in follow_ups or []]
    _typed(occurrence, actor, (note, "--note", LONG), *actions)
    done = records.review_return(
        session, occurrence, rag, actor, note=note, follow_ups=follow_ups, on=on
    )
    return Reviewed(occurrence, done.rag or rag.lower(), len(follow_ups or []))


def record_return(
    session: Session,
    occurrence: str,
    evidence: str,
    actor: Actor,
    *,
    submitted_on: date,
    today: date,
    partnerships: Sequence[Partnership],
    rag: str | None = None,
    note: str | None = None,
    follow_ups: list[tuple[str, date]] | None = None,
    store: EvidenceStore | None = None,
) -> ReturnRecorded:
    """An S11/S175 return submitted, and, when a rating is given, its review."""
    if not queries.is_audit_return(session, occurrence):
        raise RecordError(f"{occurrence} is not an S11 or S175 return; record its completion")
    done = complete(
        session,
        occurrence,
        evidence,
        actor,
        on=submitted_on,
        today=today,
        partnerships=partnerships,
        by=actor.name,
        store=store,
    )
    review = None
    if rag is not None:
        review = review_return(
            session, occurrence, rag, actor, note=note, follow_ups=follow_ups, on=today
        )
    return ReturnRecorded(done, review)


def start_incident_clock(
    session: Session,
    partnership: Partnership,
    reference: str,
    actor: Actor,
    *,
    aware_on: date,
    today: date,
    kind: str = "serious-incident",
) -> IncidentStarted:
    """Record an incident by reference and create its statutory deadlines at once."""
    _typed(None, actor)
    records.start_incident(session, partnership, reference, kind, aware_on, actor, today=today)
    synced = sync_all(session, [partnership], today, actor=actor.name, channel=actor.channel)
    clocks = sorted(
        o.public_id
        for o in queries.occurrences_between(session, partnership.id, aware_on, date.max)
        if o.period == reference
    )
    if not clocks:  # raising rolls the incident back: a record with no clock runs nothing
        start, end = synced[0].window if synced else (aware_on, aware_on)
        raise RecordError(
            f"{reference} aware on {aware_on} starts no clock inside the sync window "
            f"{start} to {end}: its deadlines are long past; check the year of --aware"
        )
    return IncidentStarted(partnership.id, reference, kind, tuple(clocks), tuple(synced))


def import_people(
    session: Session,
    path: Path,
    partnership: Partnership,
    actor: Actor,
    *,
    label: str | None = None,
    replace: bool = False,
) -> Imported:
    """Import agencies, schools, people and roles from CSV; bad rows are reported by line
    and the good rows imported. With `replace`, the people file is authoritative."""
    from govcal.models.directory_import import import_directory

    _typed(None, actor)
    reports = import_directory(
        session,
        path,
        partnership,
        actor=actor.name,
        channel=actor.channel,
        label=label,
        replace=replace,
    )
    return Imported(partnership.id, tuple(reports))


@dataclass(frozen=True)
class PersonRemoved:
    email: str
    ended: tuple[EndedRole, ...]
    removed_from_directory: bool  # no role left anywhere: the person is gone too

    @property
    def summary(self) -> str:
        roles = "; ".join(str(r) for r in self.ended)
        gone = " and removed from the directory" if self.removed_from_directory else ""
        return f"{self.email}: ended {roles}{gone}; they receive nothing for these roles"


def remove_person(
    session: Session,
    email: str,
    actor: Actor,
    *,
    reason: str,
    partnership: str | None = None,
) -> PersonRemoved:
    """End every role a person holds (in one partnership, or everywhere); mail still
    pending for those roles is skipped, and the audit trail records it."""
    _typed(None, actor, (email, "the email", 320), (reason, "--reason", LONG))
    if not reason or not reason.strip():
        raise RecordError("a reason is required to remove a person; it goes into the audit trail")
    from govcal.models.directory_changes import (
        delete_person_if_roleless,
        end_assignments,
        person_roles,
    )
    from govcal.models.directory_import import normalise_email

    try:
        address = normalise_email(email.strip())
    except ValueError as exc:
        raise RecordError(str(exc)) from None
    person, assignments = person_roles(session, address, partnership)
    if person is None:
        raise RecordError(f"no person with the address {address} in the directory")
    address = person.email
    if not assignments:
        where = f" in {partnership}" if partnership else ""
        raise RecordError(f"{address} holds no role{where}; nothing to remove")
    ended = end_assignments(
        session,
        assignments,
        reason=reason.strip(),
        actor=actor.name,
        channel=actor.channel,
        action="person-removed",
    )
    gone = delete_person_if_roleless(session, person)
    return PersonRemoved(address, tuple(ended), gone)


@dataclass(frozen=True)
class Acknowledged:
    item: str  # an occurrence, or a whole per-agency or per-school round
    title: str
    by: str
    at: datetime
    items: tuple[str, ...]  # the escalated occurrences acknowledged

    @property
    def summary(self) -> str:
        count = f" ({len(self.items)} items)" if len(self.items) > 1 else ""
        return f"{self.title}{count}: escalation acknowledged by {self.by} on {self.at:%d %b %Y}"


def acknowledge(
    session: Session, item: str, actor: Actor, note: str = "", *, at: datetime | None = None
) -> Acknowledged:
    """A Lead Partner (or DSP) acknowledges an escalated item, or every escalated and
    unanswered member of a round (an S11 round escalated as one entry of a digest)."""
    from govcal.models.escalations import acknowledge_rows

    _typed(None, actor, (item, "the item", 300), (note, "--note", 500))
    members = queries.round_members(session, item)
    if not members:  # one occurrence: its own checks say what is wrong
        row = queries.occurrence(session, item)
        by, when, _rows = acknowledge_rows(session, item, [row], actor, note, at)
        return Acknowledged(item, row.title, by, when, (item,))
    # the round is one escalation: its id, or any member's, answers every escalated return
    by, when, waiting = acknowledge_rows(session, item, members, actor, note, at)
    return Acknowledged(item, members[0].title, by, when, tuple(m.public_id for m in waiting))


@dataclass(frozen=True)
class FollowUpDone:
    description: str
    return_id: str
    done_on: date

    @property
    def summary(self) -> str:
        return f"follow-up action '{self.description}' ({self.return_id}) done on {self.done_on}"


def follow_up_done(session: Session, follow_up_id: int, actor: Actor, *, on: date) -> FollowUpDone:
    """A review's follow-up action is done (the agency or school says so)."""
    _typed(None, actor)
    action, return_id = records.follow_up_done(session, follow_up_id, actor, on=on)
    return FollowUpDone(action.description, return_id, on)
