"""What a signed link in an email shows and records: the use cases behind `govcal web`.

Opening a link (a GET, which mail scanners make too) only reads: it says in words what
the button will record, or what a first click already recorded, when and by whom. Only
`answer` (a POST carrying the link's form key) records, through the same use cases as
the command line and the forms (models/actions.py), as the person ("NAME (role,
organisation)", channel email-link), and a trail row of the link's use (their address,
the client's address). A link that is forged, altered, unknown, revoked, expired, whose
holder has left, or whose item is closed raises LinkDead: one page for all, so nothing
can be learnt by trying tokens.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, and_, bindparam, func
from sqlalchemy import select as columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from govcal.models import action_links, actions, queries
from govcal.models.action_links import ActionLink, LinkAction
from govcal.models.audits import AuditReturn, FollowUpAction
from govcal.models.calendar import Lifecycle, OccurrenceRow
from govcal.models.people import Person, RoleAssignment
from govcal.models.records import Actor, AlreadyDone, RecordError
from govcal.models.trail import Channel, record_at_once
from govcal.rules.errors import Missing, Refused
from govcal.rules.model import DEFAULT_TIMEZONE, Partnership

if TYPE_CHECKING:
    from govcal.models.people import RoleAssignment


class LinkDead(Missing):
    """The link cannot be used (whatever the reason: the page never says which)."""


class FormRefused(Refused):
    """The POST did not come from the link's own page (no or a wrong form key)."""


@dataclass(frozen=True)
class Due:
    title: str
    due: date
    state: str  # "overdue", "open"


@dataclass(frozen=True)
class FollowUp:
    id: int
    description: str
    due: date
    done_on: date | None


@dataclass(frozen=True)
class Organisation:
    """One agency's or school's page: what is due, the last review and its actions."""

    name: str
    due: tuple[Due, ...]
    last_rag: str  # red, amber, green, or "" when never reviewed
    last_review: str  # which return was reviewed, in words
    follow_ups: tuple[FollowUp, ...]


@dataclass(frozen=True)
class View:
    """What a page shows for one link."""

    action: LinkAction
    person: str  # "Jo Smith (Lead Safeguarding Partner, Cumbria Constabulary)"
    email: str
    title: str  # the item in words
    due: date | None
    will_record: str  # the sentence the button makes true
    already: str = ""  # what a first click recorded, when, by whom ('' if unused)
    organisation: Organisation | None = None
    form_key: str = ""
    fields: tuple[str, ...] = field(default=())  # note, evidence, day, answer, deputy


@dataclass(frozen=True)
class Held:
    """A link as its page needs it, with its holder's name and roles in the link's
    partnership, read in one statement (a page is read far more often than answered)."""

    id: str
    email: str
    partnership_id: str
    item: str
    action: str
    used_at: datetime | None
    outcome: str | None
    person: str | None  # the holder's name; None once they left the directory
    roles: tuple[tuple[str, str, str], ...]  # (role, school_code, agency_code)


_HELD: Select[*tuple[Any, ...]] = (
    columns(
        col(ActionLink.id),
        col(ActionLink.email),
        col(ActionLink.partnership_id),
        col(ActionLink.item),
        col(ActionLink.action),
        col(ActionLink.expires_at),
        col(ActionLink.revoked_at),
        col(ActionLink.used_at),
        col(ActionLink.outcome),
        col(Person.id).label("person_id"),
        col(Person.name),
        col(RoleAssignment.role),
        col(RoleAssignment.school_code),
        col(RoleAssignment.agency_code),
    )
    .outerjoin(Person, func.lower(Person.email) == ActionLink.email)  # as typed, any case
    .outerjoin(
        RoleAssignment,
        and_(
            col(RoleAssignment.person_id) == Person.id,
            col(RoleAssignment.partnership_id) == ActionLink.partnership_id,
        ),
    )
    .where(col(ActionLink.id) == bindparam("link_id"))
    .order_by(col(Person.id), col(RoleAssignment.id))
)


def _held(db: Connection, secret: str, token: str, now: datetime) -> Held:
    """The link `token` names, with its holder; LinkDead for a forged, unknown, revoked
    or expired one (all alike to the person)."""
    link_id = action_links.checked_id(secret, token)
    rows = db.execute(_HELD, {"link_id": link_id}).all() if link_id else []
    first = rows[0] if rows else None
    if first is None or first.revoked_at is not None:
        raise LinkDead(token)
    if first.used_at is None and first.expires_at <= now:
        raise LinkDead(token)
    roles = tuple(
        (r.role, r.school_code, r.agency_code)
        for r in rows
        if r.role is not None and r.person_id == first.person_id
    )
    return Held(
        first.id,
        first.email,
        first.partnership_id,
        first.item,
        first.action,
        first.used_at,
        first.outcome,
        first.name,
        roles,
    )


class _Names:
    """Organisations' names, each read once a request: a school's page names the
    school for its holder, its return and its organisation."""

    def __init__(self, db: Connection) -> None:
        self.db, self.known = db, dict[tuple[str, str], str]()

    def __call__(self, partnership_id: str, code: str) -> str:
        key = (partnership_id, code)
        if key not in self.known:
            self.known[key] = queries.subject_name(self.db, partnership_id, code)
        return self.known[key]


def _partnership_of(
    link: ActionLink | Held, partnerships: Sequence[Partnership]
) -> Partnership | None:
    return next((p for p in partnerships if p.id == link.partnership_id), None)


def _person(link: Held, partnerships: Sequence[Partnership], names: _Names) -> str:
    """The holder in words, or LinkDead once they hold no role in the partnership."""
    if link.person is None or not link.roles:
        raise LinkDead(link.id)
    chosen = _partnership_of(link, partnerships)
    subject = link.item.split(":")[3] if link.item.count(":") == 3 else ""

    def fits(held: tuple[str, str, str]) -> tuple[bool, bool]:  # the role sent for, first
        role, school, agency = held
        answering = link.action == LinkAction.ACKNOWLEDGE and role in ("lsp", "dsp")
        return (not answering, subject not in (school, agency) or not subject)

    role_id, school, agency = sorted(link.roles, key=fits)[0]
    defined = chosen.roles.get(role_id) if chosen else None
    role = (defined.display_name if defined else "") or role_id.replace("-", " ").capitalize()
    org = names(link.partnership_id, school or agency)
    return f"{link.person} ({role}, {org})" if org else f"{link.person} ({role})"


@dataclass(frozen=True)
class Item:
    """An occurrence as a link's page needs it."""

    id: int
    partnership_id: str
    subject: str
    title: str
    due: date
    starts_at: datetime | None
    lifecycle: str

    @classmethod
    def of(cls, row: OccurrenceRow) -> Item:
        return cls(
            row.id or 0,
            row.partnership_id,
            row.subject,
            row.title,
            row.due,
            row.starts_at,
            row.lifecycle,
        )


_ITEM = columns(
    col(OccurrenceRow.id),
    col(OccurrenceRow.partnership_id),
    col(OccurrenceRow.subject),
    col(OccurrenceRow.title),
    col(OccurrenceRow.due),
    col(OccurrenceRow.starts_at),
    col(OccurrenceRow.lifecycle),
).where(col(OccurrenceRow.public_id) == bindparam("public_id"))


def _item(session: Session, link: Held, names: _Names) -> tuple[str, date | None, list[Item]]:
    """The item in words, its due day and its occurrences: one occurrence, or a round's
    members (a round's id is no occurrence's: a per-subject rule's occurrences all carry
    their subject in theirs), so the occurrence is looked for first."""
    found = names.db.execute(_ITEM, {"public_id": link.item}).first()
    if found is not None:
        ident, partnership_id, subject, title, due, starts_at, lifecycle = found
        assert ident is not None  # a stored occurrence's key
        row = Item(ident, partnership_id, subject, title, due, starts_at, lifecycle)
        name = names(row.partnership_id, row.subject)
        return (f"{row.title} ({name})" if name else row.title), row.due, [row]
    members = queries.cycle_members(session, link.item)
    if not members:
        raise LinkDead(link.id)
    from govcal.models.audits import AuditCycle

    cycle = session.exec(select(AuditCycle).where(AuditCycle.public_id == link.item)).first()
    noun = "schools" if cycle is not None and cycle.per == "school" else "agencies"
    open_ = sum(1 for m in members if m.lifecycle == Lifecycle.OPEN.value)
    first = members[0]
    title = f"{first.title} {first.due.year} ({open_} of {len(members)} {noun} not returned)"
    return title, first.due, [Item.of(m) for m in members]


def open_link(
    session: Session,
    secret: str,
    token: str,
    *,
    now: datetime,
    today: date,
    partnerships: Sequence[Partnership],
) -> View:
    """The page a link opens; records nothing. `partnerships`: the caller's rules (the
    roles' names, the deadlines that hang on an item)."""
    db = session.connection()  # plain reads: statements built once, rows as tuples
    link = _held(db, secret, token, now)
    return _view(session, db, link, today=today, partnerships=partnerships)


def _view(
    session: Session,
    db: Connection,
    link: Held,
    *,
    today: date,
    partnerships: Sequence[Partnership],
    whole: bool = True,
) -> View:
    """What `link` stands for. `whole`: with an organisation's page (what is due, its
    last review); an answer needs it to check a follow-up alone."""
    action = LinkAction(link.action)
    if link.used_at is not None:
        return View(action, "", link.email, "", None, "", already=_already(link, partnerships))
    names = _Names(db)
    person = _person(link, partnerships, names)
    title, due, rows = _item(session, link, names)
    if action is LinkAction.ACKNOWLEDGE:
        from govcal.models.escalations import escalations

        found = escalations(session, [r.id or 0 for r in rows])
        if not any(not e.acknowledged_at for e in found.values()):
            raise LinkDead(link.id)  # answered already (another Lead Partner), or not escalated
        return View(
            action,
            person,
            link.email,
            title,
            due,
            f"that you, {person}, acknowledge the escalation of {title}, due "
            f"{due:%-d %B %Y}. The business team's summary will say so.",
            form_key="",
            fields=("note",),
        )
    if any(r.lifecycle != Lifecycle.OPEN.value for r in rows):
        raise LinkDead(link.id)  # closed meanwhile (by the business team, say)
    if action is LinkAction.DONE:
        return View(
            action,
            person,
            link.email,
            title,
            due,
            f"that {title}, due {due:%-d %B %Y}, was done, on the day you give, "
            f"with the link you give as evidence; recorded as done by {person}.",
            fields=("evidence", "day"),
        )
    if action is LinkAction.ATTEND:
        when = f"{rows[0].starts_at:%-d %B %Y}" if rows[0].starts_at else f"{due:%-d %B %Y}"
        return View(
            action,
            person,
            link.email,
            title,
            due,
            f"your answer to the invitation to {title} on {when}: that you will "
            "attend, that you cannot, or who comes instead of you (a deputy, who "
            "is then sent the invitation).",
            fields=("answer", "deputy"),
        )
    if action is LinkAction.RETURN:
        row = rows[0]
        org = organisation(session, row, today, names) if whole else None
        named = org.name if org else names(row.partnership_id, row.subject) or row.subject
        return View(
            action,
            person,
            link.email,
            title,
            due,
            f"that {named} submitted its {rows[0].title} return, due "
            f"{due:%-d %B %Y}, on the day you give, at the link you give; recorded "
            f"as submitted by {person}.",
            organisation=org,
            fields=("evidence", "day"),
        )
    raise LinkDead(link.id)


def _already(link: ActionLink | Held, partnerships: Sequence[Partnership]) -> str:
    """What was recorded and when, in the partnership's own time (GMT or BST), as every
    date in its emails and pages is."""
    chosen = _partnership_of(link, partnerships)
    zone = ZoneInfo(chosen.timezone if chosen else DEFAULT_TIMEZONE)
    used = link.used_at.astimezone(zone) if link.used_at else None
    when = f"{used:%-d %B %Y at %H:%M %Z}" if used else ""
    return f"Already recorded on {when}: {link.outcome}"


_DUE = (
    columns(col(OccurrenceRow.title), col(OccurrenceRow.due))
    .where(
        col(OccurrenceRow.partnership_id) == bindparam("partnership_id"),
        col(OccurrenceRow.subject) == bindparam("code"),
        col(OccurrenceRow.lifecycle) == Lifecycle.OPEN.value,
    )
    .order_by(col(OccurrenceRow.due))
)

_LAST = (  # the last reviewed return of an organisation
    select(AuditReturn.id)
    .join(OccurrenceRow, col(OccurrenceRow.id) == col(AuditReturn.occurrence_id))
    .where(
        AuditReturn.subject == bindparam("code"),
        col(AuditReturn.rag).is_not(None),
        OccurrenceRow.partnership_id == bindparam("partnership_id"),
    )
    .order_by(col(AuditReturn.reviewed_at).desc())
    .limit(1)
    .scalar_subquery()
)
# that return and its follow-up actions, one row per action (one row if it has none)
_REVIEWED: Select[*tuple[Any, ...]] = (
    columns(
        col(AuditReturn.rag),
        col(OccurrenceRow.title),
        col(OccurrenceRow.due),
        col(FollowUpAction.id),
        col(FollowUpAction.description),
        col(FollowUpAction.due).label("action_due"),
        col(FollowUpAction.completed_at),
    )
    .join(OccurrenceRow, col(OccurrenceRow.id) == col(AuditReturn.occurrence_id))
    .outerjoin(FollowUpAction, col(FollowUpAction.return_id) == col(AuditReturn.id))
    .where(col(AuditReturn.id) == _LAST)
    .order_by(col(FollowUpAction.due))
)


def organisation(
    session: Session, row: Item, today: date, names: _Names | None = None
) -> Organisation:
    """An agency's or school's page, from one of its returns."""
    code = row.subject
    names = names or _Names(session.connection())
    name = names(row.partnership_id, code) or code
    where = {"partnership_id": row.partnership_id, "code": code}
    due_rows = names.db.execute(_DUE, where).all()
    reviewed = names.db.execute(_REVIEWED, where).all()
    follow: list[FollowUp] = []
    rag = last = ""
    if reviewed:
        first = reviewed[0]
        rag, last = first.rag or "", f"{first.title} due {first.due:%-d %B %Y}"
        follow = [
            FollowUp(r.id, r.description, r.action_due, r.completed_at)
            for r in reviewed
            if r.id is not None
        ]
    return Organisation(
        name,
        tuple(Due(r.title, r.due, "overdue" if r.due < today else "open") for r in due_rows),
        rag,
        last,
        tuple(follow),
    )


@dataclass(frozen=True)
class Answer:
    summary: str  # what was recorded, as the page says it
    partnership_id: str
    recorded: bool  # False: the link had already been used (nothing new recorded)


def answer(
    session: Session,
    secret: str,
    token: str,
    form: dict[str, str],
    *,
    now: datetime,
    today: date,
    partnerships: Sequence[Partnership],
    client: str,
) -> Answer:
    """Record what the link's page offered. Raises LinkDead (also for the second of two
    Lead Partners acknowledging one escalation at the same instant), FormRefused (no
    form key), or RecordError (what was typed cannot be recorded: nothing is)."""
    db = session.connection()
    link = _held(db, secret, token, now)
    if not hmac.compare_digest(form.get("form_key", ""), action_links.form_key(secret, link.id)):
        raise FormRefused(link.id)
    if link.used_at is not None:
        return Answer(_already(link, partnerships), link.partnership_id, recorded=False)
    try:
        return _answer(
            session, db, link, form, now=now, today=today, partnerships=partnerships, client=client
        )
    except (LinkDead, IntegrityError):  # the item answered meanwhile, or at the same instant
        session.rollback()  # nothing of this answer is kept
        again = action_links.find(session, link.id)
        if again is not None and again.used_at is not None:  # by this link: a double click
            return Answer(_already(again, partnerships), link.partnership_id, recorded=False)
        raise LinkDead(link.id) from None  # by another holder's link, as this one now is


def _answer(
    session: Session,
    db: Connection,
    link: Held,
    form: dict[str, str],
    *,
    now: datetime,
    today: date,
    partnerships: Sequence[Partnership],
    client: str,
) -> Answer:
    whole = "follow_up" in form  # the organisation's page, to check the action chosen
    view = _view(session, db, link, today=today, partnerships=partnerships, whole=whole)
    actor = Actor(name=view.person, channel=Channel.EMAIL_LINK)
    if whole and view.action is LinkAction.RETURN:
        return _follow_up(session, link, view, form, actor, today, client)
    day = _day(form.get("day", ""), today)
    if not action_links.claim(db, link.id, at=now, client=client):
        taken = action_links.find(session, link.id)  # the answer that took it, as the page says
        said = _already(taken, partnerships) if taken is not None else ""
        return Answer(said, link.partnership_id, recorded=False)
    if view.action is LinkAction.ACKNOWLEDGE:
        note = " ".join(form.get("note", "").split())  # a textarea's lines, as one line
        done = actions.acknowledge(session, link.item, actor, note, at=now)
        summary = f"{done.title}: escalation acknowledged by {view.person} on {done.at:%-d %B %Y}"
    elif view.action is LinkAction.ATTEND:
        summary = _attend(session, link, form, now)
    elif view.action is LinkAction.DONE:
        summary = actions.complete(
            session,
            link.item,
            form.get("evidence", ""),
            actor,
            on=day,
            today=today,
            partnerships=partnerships,
            by=view.person,
        ).summary
    else:
        summary = actions.record_return(
            session,
            link.item,
            form.get("evidence", ""),
            actor,
            submitted_on=day,
            today=today,
            partnerships=partnerships,
        ).summary
    action_links.record_outcome(db, link.id, summary)
    _trail(session, link, client, summary)  # flushes: a unique key's refusal raised here
    return Answer(summary, link.partnership_id, recorded=True)


_ANSWERS = {"coming": "will attend", "not-coming": "cannot attend", "deputy": "sends a deputy"}


def _attend(session: Session, link: Held, form: dict[str, str], now: datetime) -> str:
    """The invitee's answer, kept where a calendar reply keeps it (models/attendance.py,
    one record whatever the path)."""
    from govcal.models.attendance import Answer, AnswerRefused, AnswerSource, record_answer

    chosen = form.get("answer", "")
    if chosen not in _ANSWERS:
        raise RecordError("choose one answer: you will attend, you cannot, or a deputy comes")
    deputy = form.get("deputy", "").strip() if chosen == "deputy" else ""
    if chosen == "deputy" and not deputy:
        raise RecordError("give the email address of the deputy who comes instead of you")
    meeting = queries.occurrence(session, link.item)
    try:
        recorded = record_answer(
            session,
            occurrence_id=meeting.id or 0,
            attendee=link.email,
            answer=Answer(chosen),
            sequence=meeting.sequence,
            answered_at=now,
            source=AnswerSource.LINK,
            deputy=deputy or None,
        )
    except AnswerRefused as exc:
        raise RecordError(str(exc)) from None
    session.flush()  # the answer's rows first, as recorded
    record_at_once(
        session.connection(),
        actor=link.email,
        channel=Channel.EMAIL_LINK,
        action="attendance-answered",
        entity="occurrence",
        entity_id=meeting.public_id,
        after={"answer": chosen, "deputy": deputy or None, "sequence": meeting.sequence},
    )
    said = f"{meeting.title}: {link.email} {_ANSWERS[chosen]}"
    if deputy:
        sent = ", who is sent the invitation" if recorded.deputy_invited else ""
        said += f" ({deputy} comes instead{sent})"
    return said


def _follow_up(
    session: Session,
    link: Held,
    view: View,
    form: dict[str, str],
    actor: Actor,
    today: date,
    client: str,
) -> Answer:
    chosen = form.get("follow_up", "")
    theirs = {f.id for f in view.organisation.follow_ups} if view.organisation else set()
    if not chosen.isdigit() or int(chosen) not in theirs:
        raise RecordError("that follow-up action is not one of this organisation's open ones")
    try:
        done = actions.follow_up_done(
            session, int(chosen), actor, on=_day(form.get("day", ""), today)
        )
    except AlreadyDone as exc:  # a second click, or someone else first: their page shows it
        return Answer(str(exc), link.partnership_id, recorded=False)
    _trail(session, link, client, done.summary)
    return Answer(done.summary, link.partnership_id, recorded=True)


def _day(text: str, today: date) -> date:
    from govcal.rules.dates import DateInputError, parse_day

    if not text.strip():
        return today
    try:
        day = parse_day(text, "the day")
    except DateInputError as exc:
        raise RecordError(str(exc)) from None
    if day > today:
        raise RecordError(f"{day:%-d %B %Y} is after today; give the day it was done")
    return day


def _trail(session: Session, link: Held, client: str, summary: str) -> None:
    """The link's use, after what it recorded (the session flushed first, so a unique
    key's refusal is raised here, where it is understood)."""
    session.flush()
    record_at_once(
        session.connection(),
        actor=link.email,
        channel=Channel.EMAIL_LINK,
        action="email-link-used",
        entity="action_link",
        entity_id=link.item,
        after={
            "action": link.action,
            "by": link.email,
            "client": client[:64],
            "recorded": summary[:500],
        },
    )
