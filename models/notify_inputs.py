"""Read what the notification planner needs: open items with their state, and who holds
which role. One query per kind of data, whatever the number of items."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement
from sqlalchemy import select as select_columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, or_, select

from govcal.models.calendar import Lifecycle, OccurrenceRow
from govcal.models.chunks import chunks
from govcal.models.directory import Agency
from govcal.models.feed_tokens import UidForm, uid_form
from govcal.models.people import Delegation, Person, RoleAssignment
from govcal.models.queries import subject_names, subject_names_of
from govcal.models.rows import named
from govcal.models.status import status_of
from govcal.models.stored_dates import usable
from govcal.rules.model import Partnership, Per
from govcal.rules.notify_plan import Contact, Directory, Item
from govcal.rules.text import shown

if TYPE_CHECKING:
    from govcal.models.ledger import LedgerEntry


def directory(session: Session, partnership_ids: list[str]) -> Directory:
    found = Directory()
    rows = session.execute(  # plain columns: tens of thousands of people nationally
        select_columns(
            col(RoleAssignment.partnership_id),
            col(RoleAssignment.role),
            col(RoleAssignment.agency_code),
            col(RoleAssignment.school_code),
            col(Person.email),
            col(Person.name),
        )
        .join(Person, col(RoleAssignment.person_id) == col(Person.id))
        .where(col(RoleAssignment.partnership_id).in_(partnership_ids))
    ).all()
    for partnership_id, role, agency, school, email, name in rows:
        # shown: a name stored before the text check existed may hold a control character
        found.add(partnership_id, role, Contact(email, shown(name)), agency=agency, school=school)
    lead = aliased(Person)
    delegations = session.exec(
        select(Delegation.partnership_id, lead.email, Person.email, Person.name)
        .join(Person, col(Delegation.delegate_id) == col(Person.id))
        .join(lead, col(Delegation.lead_id) == col(lead.id))
        .where(col(Delegation.partnership_id).in_(partnership_ids))
    ).all()
    for partnership_id, lead_email, email, name in delegations:
        found.add_deputy(partnership_id, lead_email, Contact(email, shown(name)))
    return found


def _lead_partners(
    session: Session, partnership_ids: list[str]
) -> dict[str, tuple[dict[str, str], str]]:
    """Per partnership: agency code -> the statutory partner answerable for it; and the
    local authority (the first one stored). Plain columns, one query for all."""
    rows = session.execute(
        select_columns(
            col(Agency.partnership_id),
            col(Agency.code),
            col(Agency.lead_partner),
            col(Agency.type),
            col(Agency.category),
        )
        .where(col(Agency.partnership_id).in_(partnership_ids))
        .order_by(col(Agency.partnership_id), col(Agency.id))
    ).all()
    found: dict[str, tuple[dict[str, str], str]] = {pid: ({}, "") for pid in partnership_ids}
    for pid, code, lead, kind, category in rows:
        leads, la = found[pid]
        leads[code] = lead or code
        if not la and kind == "statutory-partner" and category == "local-authority":
            found[pid] = (leads, code)
    return found


_ITEM_COLUMNS = tuple(
    getattr(OccurrenceRow, name)
    for name in (
        "id",
        "public_id",
        "partnership_id",
        "rule_id",
        "period",
        "subject",
        "kind",
        "title",
        "owner_role",
        "due",
        "starts_at",
        "ends_at",
        "lifecycle",
        "completed_at",
        "orphaned",
        "sequence",
        "location",
        "updated_at",
    )
)


def _items(
    session: Session,
    partnership: Partnership,
    today: date,
    conditions: list[Any],
    *,
    orphans: bool = False,
    by_id: bool = False,
) -> list[Item]:
    """Items matching `conditions`; with `orphans`, meetings a rule change orphaned too
    (as cancelled: those invited to them are sent a cancellation). With `by_id` the
    conditions name rows by id and the partnership is checked here, not in the WHERE:
    SQLite (no statistics) would otherwise read every occurrence of the partnership,
    ten years of them, for each 500 ids instead of going by the primary key."""
    mine = [] if by_id else [OccurrenceRow.partnership_id == partnership.id]
    # plain columns, not ORM objects: 36,000 open items in a national day
    rows = named(
        session.exec(select(*_ITEM_COLUMNS).where(*mine, _live(orphans), *conditions)).all()
    )
    rows = [r for r in rows if r.partnership_id == partnership.id]
    leads, la = _lead_partners(session, [partnership.id])[partnership.id]
    names = subject_names(session, partnership.id)
    return _shape(partnership, today, rows, names, leads, la, uid_form(session))


def _live(orphans: bool) -> ColumnElement[bool]:
    live = col(OccurrenceRow.orphaned) == False  # noqa: E712
    return or_(live, col(OccurrenceRow.kind) == "meeting") if orphans else live


def _shape(
    partnership: Partnership,
    today: date,
    rows: list[Any],
    names: dict[str, str],
    leads: dict[str, str],
    la: str,
    uids: UidForm,
) -> list[Item]:
    """One partnership's rows as the planner's items (rows with a date out of range are
    left out, said)."""
    rules = {r.id: r for r in partnership.rules}
    # each rule's source in words once, not once per item (35,000 items in a national day)
    sources = {r.id: partnership.source_in_words(r) for r in partnership.rules}
    attendees: dict[tuple[str, int], tuple[str, ...]] = {}  # (rule, month): by month only
    items: list[Item] = []
    for row in usable(rows):
        rule = rules.get(row.rule_id)
        if rule is None:
            continue
        if rule.per is Per.SCHOOL:
            owning = la
        elif rule.per is Per.AGENCY:
            owning = leads.get(row.subject, "")
        else:
            owning = ""
        month = _nominal_day(row).month
        invited = attendees.get((row.rule_id, month))
        if invited is None:
            invited = attendees[(row.rule_id, month)] = rule.attendees_on(_nominal_day(row))
        items.append(
            Item(
                ref=row.id or 0,
                public_id=row.public_id,
                uid=uids.uid(row.public_id, row.id or 0),
                partnership=partnership.id,
                rule=row.rule_id,
                title=row.title,
                kind=row.kind,
                owner_role=row.owner_role,
                due=row.due,
                status=status_of(row, today, partnership.due_soon_days, partnership.tz),
                source=sources[row.rule_id],
                evidence=rule.evidence,
                subject=row.subject,
                subject_name=names.get(row.subject, ""),
                owning_agency=owning,
                attendees=invited,
                chairs=rule.chairs,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                sequence=row.sequence,
                cancelled=row.lifecycle in _WITHDRAWN or row.orphaned,
                orphaned=row.orphaned,
                per=rule.per.value if rule.per else "",
                location=row.location or rule.location,
                online_url=rule.online_url,
                invite_horizon=rule.invite_horizon,
                lifecycle=row.lifecycle,
                changed=row.updated_at,
            )
        )
    return items


# recorded states in which a meeting will not be held: taken out of people's calendars
_WITHDRAWN = (Lifecycle.CANCELLED.value, Lifecycle.WAIVED.value)


def _followed() -> ColumnElement[bool]:
    """Rows a message may still be wanted for: open items, and withdrawn meetings."""
    return or_(
        col(OccurrenceRow.lifecycle).in_([Lifecycle.OPEN.value, Lifecycle.CANCELLED.value]),
        (col(OccurrenceRow.lifecycle) == Lifecycle.WAIVED.value)
        & (col(OccurrenceRow.kind) == "meeting"),
    )


def _nominal_day(row: OccurrenceRow) -> date:
    """The date a recurrence produced (the period), which a reschedule does not change."""
    try:
        return date.fromisoformat(row.period)
    except ValueError:  # event clocks are keyed by the event's reference
        return row.due


def open_items(
    session: Session,
    partnerships: list[Partnership],
    today: date,
    *,
    invite_window_days: int = 60,
) -> list[Item]:
    """Open items due within the longest reminder lead, every overdue item, and meetings
    (open or cancelled) in the invite window. One read of each kind of data for all the
    partnerships (the national plan: 160 partnerships, 36,000 items), by (lifecycle,
    due) when there are several, so neither ten years of closed history nor a query per
    partnership is paid; each partnership's own horizon is applied here."""
    if not partnerships:
        return []
    wanted = [p.id for p in partnerships]
    horizons = {p.id: today + timedelta(days=_reach(p, invite_window_days)) for p in partnerships}
    mine = [OccurrenceRow.partnership_id == wanted[0]] if len(wanted) == 1 else []
    rows = session.exec(
        select(*_ITEM_COLUMNS)
        .where(
            *mine,
            _live(orphans=True),
            # what the ladder needs, and every meeting still to come at any distance:
            # one invited long ago must follow a change made today
            or_(
                OccurrenceRow.due <= max(horizons.values()),
                (OccurrenceRow.kind == "meeting") & (OccurrenceRow.due >= today),
            ),
            _followed(),
        )
        .order_by(col(OccurrenceRow.due), col(OccurrenceRow.id))
    ).all()
    rows = named(rows)
    by_partnership: dict[str, list[Any]] = {pid: [] for pid in wanted}
    for row in rows:
        found = by_partnership.get(row.partnership_id)
        if found is not None and (
            row.due <= horizons[row.partnership_id] or (row.kind == "meeting" and row.due >= today)
        ):
            found.append(row)
    leads = _lead_partners(session, wanted)
    names = subject_names_of(session, wanted)
    uids = uid_form(session)
    items: list[Item] = []
    for partnership in partnerships:
        found = _shape(
            partnership,
            today,
            by_partnership[partnership.id],
            names[partnership.id],
            *leads[partnership.id],
            uids,
        )
        # an orphan only matters as a meeting to take back from people's calendars
        found = [i for i in found if not i.orphaned or (i.kind == "meeting" and i.due >= today)]
        items.extend(i for i in found if not (i.cancelled and i.starts_at is None))
    return items


def _reach(partnership: Partnership, invite_window_days: int) -> int:
    """How far ahead the partnership's plan looks: its longest reminder lead, or the
    invite window if longer."""
    leads = [*partnership.ladder.reminder_days]
    leads += [max(r.ladder.reminder_days, default=0) for r in partnership.rules if r.ladder]
    return max([*leads, invite_window_days])


def calendar_items(
    session: Session,
    partnership: Partnership,
    start: date,
    end: date,
    *,
    today: date | None = None,
    every_open: bool = False,
) -> list[Item]:
    """Everything in a window, whatever its state, as of `today` (default: `start`):
    what a calendar feed shows. With `every_open`, open items due before the window too:
    an item stays in people's calendars until it is done, however late."""
    since: ColumnElement[bool] = col(OccurrenceRow.due) >= start
    if every_open:
        since = or_(since, OccurrenceRow.lifecycle == Lifecycle.OPEN.value)
    return _items(session, partnership, today or start, [since, OccurrenceRow.due <= end])


def items_by_ids(
    session: Session, partnerships: list[Partnership], ids: list[int], today: date
) -> dict[int, Item]:
    """The claimed rows' items that still need a message: open, or cancelled meetings.

    The ids are grouped by partnership first, so each partnership's directory is read
    once and only for the partnerships that have claimed rows."""
    owner: dict[str, list[int | None]] = {}
    for chunk in chunks(ids):
        rows = session.exec(
            select(OccurrenceRow.id, OccurrenceRow.partnership_id).where(
                col(OccurrenceRow.id).in_(chunk)
            )
        ).all()
        for ref, partnership_id in rows:
            owner.setdefault(partnership_id, []).append(ref)
    found: dict[int, Item] = {}
    for partnership in partnerships:
        for theirs in chunks(owner.get(partnership.id, [])):
            for item in _items(
                session,
                partnership,
                today,
                [
                    col(OccurrenceRow.id).in_(theirs),
                    _followed(),
                ],
                orphans=True,
                by_id=True,
            ):
                if item.cancelled and item.starts_at is None:
                    continue
                found[item.ref] = item
    return found


def round_sizes(session: Session, round_ids: set[str]) -> dict[str, int]:
    """partnership:rule:period -> how many agencies or schools the round has."""
    keys = {tuple(r.split(":", 2)) for r in round_ids if r.count(":") >= 2}
    found: dict[str, int] = {}
    for partnership_id, rule_id, period in keys:
        count = session.exec(
            select(func.count()).where(
                OccurrenceRow.partnership_id == partnership_id,
                OccurrenceRow.rule_id == rule_id,
                OccurrenceRow.period == period,
                OccurrenceRow.subject != "",
                OccurrenceRow.orphaned == False,  # noqa: E712
            )
        ).one()
        found[f"{partnership_id}:{rule_id}:{period}"] = int(count)
    return found


_MOVES = ("rescheduled", "moved-by-rule", "attendees-changed")
# the changes an invite email can be about, and so whose reason it gives
_CHANGES = (*_MOVES, "cancelled", "waived", "reopened")


def last_changes(session: Session, occurrences: dict[int, str]) -> dict[int, tuple[str, str]]:
    """Meeting id -> (action, reason) of the last change recorded to it: what its next
    message is about, never an older change's reason left on the row."""
    from govcal.models.trail import TrailEntry

    by_public = {public_id: ref for ref, public_id in occurrences.items()}
    found: dict[int, tuple[str, str]] = {}
    for chunk in chunks(sorted(by_public)):
        rows = session.exec(
            select(TrailEntry.entity_id, TrailEntry.action, TrailEntry.reason)
            .where(
                TrailEntry.entity == "occurrence",
                col(TrailEntry.entity_id).in_(chunk),
                col(TrailEntry.action).in_(_CHANGES),
            )
            .order_by(col(TrailEntry.at), col(TrailEntry.id))
        ).all()
        for public_id, action, reason in rows:
            found[by_public[public_id]] = (action, reason or "")
    return found


def versions_before(session: Session, occurrences: dict[int, str]) -> dict[int, dict[str, Any]]:
    """What people were last sent for each meeting (id -> {due, starts_at, ends_at,
    location, attendees}): each as it was before the first change of it recorded after
    the meeting's last invite."""
    from govcal.models.ledger import Delivery, LedgerEntry
    from govcal.models.trail import TrailEntry

    if not occurrences:
        return {}
    last_sent = dict(
        session.exec(
            select(LedgerEntry.occurrence_id, func.max(LedgerEntry.sent_at))
            .where(
                col(LedgerEntry.occurrence_id).in_(list(occurrences)),
                col(LedgerEntry.stage).startswith("invite-"),
                LedgerEntry.status == Delivery.SENT.value,
            )
            .group_by(col(LedgerEntry.occurrence_id))
        ).all()
    )
    by_public = {public_id: ref for ref, public_id in occurrences.items()}
    trail = session.exec(
        select(TrailEntry.entity_id, TrailEntry.at, TrailEntry.before)
        .where(
            TrailEntry.entity == "occurrence",
            col(TrailEntry.entity_id).in_(list(by_public)),
            col(TrailEntry.action).in_(_MOVES),
        )
        .order_by(col(TrailEntry.at), col(TrailEntry.id))
    ).all()
    found: dict[int, dict[str, Any]] = {}
    for public_id, at, before in trail:
        ref = by_public[public_id]
        sent = last_sent.get(ref)
        if not before or (sent is not None and at < sent):
            continue
        earliest = found.setdefault(ref, {})
        for key, value in before.items():
            earliest.setdefault(key, value)
    return found


def sendable_rows(session: Session, now: datetime, lease: timedelta) -> list[LedgerEntry]:
    """Ledger rows the next delivery would claim: pending (or uncertain) and due for an
    attempt, or held by a claim whose `lease` ran out (as models.ledger.claim)."""
    from govcal.models.ledger import Delivery, LedgerEntry

    lapsed = now - lease

    ready = or_(col(LedgerEntry.next_attempt_at).is_(None), col(LedgerEntry.next_attempt_at) <= now)
    waiting = [Delivery.PENDING.value, Delivery.UNCERTAIN.value]
    claimable = or_(
        col(LedgerEntry.status).in_(waiting) & ready,
        (col(LedgerEntry.status) == Delivery.SENDING.value)
        & (col(LedgerEntry.claimed_at) < lapsed),
    )
    return list(session.exec(select(LedgerEntry).where(claimable).order_by(col(LedgerEntry.id))))


def existing_keys(session: Session, occurrence_ids: set[int]) -> set[tuple[int, str, str]]:
    """(occurrence, stage, recipient) keys already in the ledger."""
    from govcal.models.ledger import existing_keys as in_ledger

    return in_ledger(session, occurrence_ids)
