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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from govcal.models import action_links, actions, queries
from govcal.models.action_links import ActionLink, LinkAction
from govcal.models.audits import AuditReturn, FollowUpAction
from govcal.models.calendar import Lifecycle, OccurrenceRow
from govcal.models.records import Actor, RecordError
from govcal.models.trail import Channel, record
from govcal.rules.errors import Missing, Refused
from govcal.rules.model import Partnership

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


def _link(session: Session, secret: str, token: str, now: datetime) -> ActionLink:
    link_id = action_links.checked_id(secret, token)
    link = action_links.find(session, link_id) if link_id else None
    if link is None or link.revoked_at is not None:
        raise LinkDead(token)
    if link.used_at is None and link.expires_at <= now:
        raise LinkDead(token)
    return link


def _person(session: Session, link: ActionLink, partnerships: Sequence[Partnership]) -> str:
    """The holder in words, or LinkDead once they hold no role in the partnership."""
    from govcal.models.directory_changes import person_roles

    person, roles = person_roles(session, link.email, link.partnership_id)
    if person is None or not roles:
        raise LinkDead(link.id)
    chosen = next((p for p in partnerships if p.id == link.partnership_id), None)
    names = {k: r.display_name for k, r in chosen.roles.items()} if chosen else {}
    subject = link.item.split(":")[3] if link.item.count(":") == 3 else ""

    def fits(role: RoleAssignment) -> tuple[bool, bool]:  # the role the link was sent for, first
        answering = link.action == LinkAction.ACKNOWLEDGE and role.role in ("lsp", "dsp")
        return (not answering, subject not in (role.school_code, role.agency_code) or not subject)

    first = sorted(roles, key=fits)[0]
    role = names.get(first.role) or first.role.replace("-", " ").capitalize()
    org = queries.subject_name(session, link.partnership_id, first.school_code or first.agency_code)
    return f"{person.name} ({role}, {org})" if org else f"{person.name} ({role})"


def _item(session: Session, link: ActionLink) -> tuple[str, date | None, list[OccurrenceRow]]:
    members = queries.cycle_members(session, link.item)
    if members:
        from govcal.models.audits import AuditCycle

        cycle = session.exec(select(AuditCycle).where(AuditCycle.public_id == link.item)).first()
        noun = "schools" if cycle is not None and cycle.per == "school" else "agencies"
        open_ = sum(1 for m in members if m.lifecycle == Lifecycle.OPEN.value)
        first = members[0]
        title = f"{first.title} {first.due.year} ({open_} of {len(members)} {noun} not returned)"
        return title, first.due, members
    try:
        row = queries.occurrence(session, link.item)
    except queries.NotFound:
        raise LinkDead(link.id) from None
    name = queries.subject_name(session, row.partnership_id, row.subject)
    return (f"{row.title} ({name})" if name else row.title), row.due, [row]


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
    link = _link(session, secret, token, now)
    action = LinkAction(link.action)
    if link.used_at is not None:
        return View(action, "", link.email, "", None, "", already=_already(link))
    person = _person(session, link, partnerships)
    title, due, rows = _item(session, link)
    if action is LinkAction.ACKNOWLEDGE:
        from govcal.models.escalations import escalations

        found = escalations(session, [r.id or 0 for r in rows])
        if not any(not e.acknowledged_at for e in found.values()):
            raise LinkDead(link.id)  # answered already (another Lead Partner), or not escalated
        return View(action, person, link.email, title, due,
                    f"that you, {person}, acknowledge the escalation of {title}, due "
                    f"{due:%-d %B %Y}. The business team's summary will say so.",
                    form_key="", fields=("note",))  # fmt: skip
    if any(r.lifecycle != Lifecycle.OPEN.value for r in rows):
        raise LinkDead(link.id)  # closed meanwhile (by the business team, say)
    if action is LinkAction.DONE:
        return View(action, person, link.email, title, due,
                    f"that {title}, due {due:%-d %B %Y}, was done, on the day you give, "
                    f"with the link you give as evidence; recorded as done by {person}.",
                    fields=("evidence", "day"))  # fmt: skip
    if action is LinkAction.ATTEND:
        when = f"{rows[0].starts_at:%-d %B %Y}" if rows[0].starts_at else f"{due:%-d %B %Y}"
        return View(action, person, link.email, title, due,
                    f"your answer to the invitation to {title} on {when}: that you will "
                    "attend, that you cannot, or who comes instead of you (a deputy, who "
                    "is then sent the invitation).",
                    fields=("answer", "deputy"))  # fmt: skip
    if action is LinkAction.RETURN:
        org = organisation(session, rows[0], today)
        return View(action, person, link.email, title, due,
                    f"that {org.name} submitted its {rows[0].title} return, due "
                    f"{due:%-d %B %Y}, on the day you give, at the link you give; recorded "
                    f"as submitted by {person}.",
                    organisation=org, fields=("evidence", "day"))  # fmt: skip
    raise LinkDead(link.id)


def _already(link: ActionLink) -> str:
    when = f"{link.used_at:%-d %B %Y at %H:%M} UTC" if link.used_at else ""
    return f"Already recorded on {when}: {link.outcome}"


def organisation(session: Session, row: OccurrenceRow, today: date) -> Organisation:
    """An agency's or school's page, from one of its returns."""
    code = row.subject
    name = queries.subject_name(session, row.partnership_id, code) or code
    due_rows = session.exec(
        select(OccurrenceRow)
        .where(OccurrenceRow.partnership_id == row.partnership_id,
               OccurrenceRow.subject == code,
               OccurrenceRow.lifecycle == Lifecycle.OPEN.value)
        .order_by(col(OccurrenceRow.due))
    ).all()  # fmt: skip
    reviewed = session.exec(
        select(AuditReturn, OccurrenceRow)
        .join(OccurrenceRow, col(OccurrenceRow.id) == col(AuditReturn.occurrence_id))
        .where(AuditReturn.subject == code, col(AuditReturn.rag).is_not(None),
               OccurrenceRow.partnership_id == row.partnership_id)
        .order_by(col(AuditReturn.reviewed_at).desc())
    ).first()  # fmt: skip
    follow: list[FollowUp] = []
    rag = last = ""
    if reviewed is not None:
        audit_return, returned = reviewed
        rag, last = audit_return.rag or "", f"{returned.title} due {returned.due:%-d %B %Y}"
        for action in session.exec(
            select(FollowUpAction).where(FollowUpAction.return_id == audit_return.id)
            .order_by(col(FollowUpAction.due))
        ):  # fmt: skip
            follow.append(FollowUp(action.id or 0, action.description, action.due,
                                   action.completed_at))  # fmt: skip
    return Organisation(
        name,
        tuple(Due(r.title, r.due, "overdue" if r.due < today else "open") for r in due_rows),
        rag, last, tuple(follow),
    )  # fmt: skip


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
    link = _link(session, secret, token, now)
    if form.get("form_key", "") != action_links.form_key(secret, link.id):
        raise FormRefused(link.id)
    if link.used_at is not None:
        return Answer(_already(link), link.partnership_id, recorded=False)
    try:
        return _answer(
            session,
            secret,
            token,
            link,
            form,
            now=now,
            today=today,
            partnerships=partnerships,
            client=client,
        )
    except (LinkDead, IntegrityError):  # the item answered meanwhile, or at the same instant
        session.rollback()  # nothing of this answer is kept
        again = action_links.find(session, link.id)
        if again is not None and again.used_at is not None:  # by this link: a double click
            return Answer(_already(again), link.partnership_id, recorded=False)
        raise LinkDead(link.id) from None  # by another holder's link, as this one now is


def _answer(
    session: Session,
    secret: str,
    token: str,
    link: ActionLink,
    form: dict[str, str],
    *,
    now: datetime,
    today: date,
    partnerships: Sequence[Partnership],
    client: str,
) -> Answer:
    view = open_link(session, secret, token, now=now, today=today, partnerships=partnerships)
    actor = Actor(name=view.person, channel=Channel.EMAIL_LINK)
    if "follow_up" in form and view.action is LinkAction.RETURN:
        return _follow_up(session, link, view, form, actor, today, client)
    day = _day(form.get("day", ""), today)
    if not action_links.claim(session, link, at=now, client=client):
        session.refresh(link)  # the answer that took it, as the page then says
        return Answer(_already(link), link.partnership_id, recorded=False)
    if view.action is LinkAction.ACKNOWLEDGE:
        note = " ".join(form.get("note", "").split())  # a textarea's lines, as one line
        done = actions.acknowledge(session, link.item, actor, note, at=now)
        summary = f"{done.title}: escalation acknowledged by {view.person} on {done.at:%-d %B %Y}"
    elif view.action is LinkAction.ATTEND:
        summary = _attend(session, link, form, now)
    elif view.action is LinkAction.DONE:
        summary = actions.complete(session, link.item, form.get("evidence", ""), actor, on=day,
                                   today=today, partnerships=partnerships,
                                   by=view.person).summary  # fmt: skip
    else:
        summary = actions.record_return(session, link.item, form.get("evidence", ""), actor,
                                        submitted_on=day, today=today,
                                        partnerships=partnerships).summary  # fmt: skip
    action_links.mark_used(session, link, at=now, client=client, outcome=summary)
    _trail(session, link, client, summary)
    session.flush()  # a unique key's refusal raised here, where it is understood
    return Answer(summary, link.partnership_id, recorded=True)


_ANSWERS = {"coming": "will attend", "not-coming": "cannot attend", "deputy": "sends a deputy"}


def _attend(session: Session, link: ActionLink, form: dict[str, str], now: datetime) -> str:
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
            session, occurrence_id=meeting.id or 0, attendee=link.email, answer=Answer(chosen),
            sequence=meeting.sequence, answered_at=now, source=AnswerSource.LINK,
            deputy=deputy or None,
        )  # fmt: skip
    except AnswerRefused as exc:
        raise RecordError(str(exc)) from None
    record(
        session, actor=link.email, channel=Channel.EMAIL_LINK, action="attendance-answered",
        entity="occurrence", entity_id=meeting.public_id,
        after={"answer": chosen, "deputy": deputy or None, "sequence": meeting.sequence},
    )  # fmt: skip
    said = f"{meeting.title}: {link.email} {_ANSWERS[chosen]}"
    if deputy:
        sent = ", who is sent the invitation" if recorded.deputy_invited else ""
        said += f" ({deputy} comes instead{sent})"
    return said


def _follow_up(
    session: Session,
    link: ActionLink,
    view: View,
    form: dict[str, str],
    actor: Actor,
    today: date,
    client: str,
) -> Answer:
    chosen = form.get("follow_up", "")
    wanted = {f.id for f in view.organisation.follow_ups if f.done_on is None} \
        if view.organisation else set()  # fmt: skip
    if not chosen.isdigit() or int(chosen) not in wanted:
        raise RecordError("that follow-up action is not one of this organisation's open ones")
    done = actions.follow_up_done(session, int(chosen), actor, on=_day(form.get("day", ""), today))
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


def _trail(session: Session, link: ActionLink, client: str, summary: str) -> None:
    record(
        session, actor=link.email, channel=Channel.EMAIL_LINK, action="email-link-used",
        entity="action_link", entity_id=link.item,
        after={"action": link.action, "by": link.email, "client": client[:64],
               "recorded": summary[:500]},
    )  # fmt: skip
