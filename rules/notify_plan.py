"""Which messages are due now: reminders, escalations, invites and scrutineer flags.

Pure: given the open items with their state as of a day and who holds which role, it
returns planned messages, each keyed (item, stage, recipient). The ledger's unique key
on that triple is what makes a rerun send nothing new.

Catching up after downtime: for each item only the latest stage reached is sent; every
earlier stage of the ladder that was never sent is planned as "skip" (recorded, not sent
late). Escalation emails are never overtaken by the day-28 flag, which is not an email.
A stage whose day is further back than the catch-up window (28 days by default) is not
sent at all: after a long outage, or on the first day govcal tracks a partnership with a
backlog, a Lead Partner gets the recent escalations, not every item since the arrangements
began; the old items are flagged on the dashboard instead, and only the flag is planned
for them (at national scale the skips of a backlog would be most of each day's plan).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache

from govcal.rules.model import REPLACES_WITHIN, Horizon, Ladder
from govcal.rules.state import State, Status
from govcal.rules.workdays import is_working_day, working_days_between


class MessageKind(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"
    FLAG = "flag"
    INVITE = "invite"
    CANCEL = "cancel"
    REQUEST = "request"  # an audit cycle opens: each agency or school is asked for its return


class Action(StrEnum):
    SEND = "send"
    SKIP = "skip"  # overtaken by a later stage, or older than the catch-up window: recorded
    FLAG = "flag"  # shown on the dashboard, never emailed


@dataclass(frozen=True, slots=True)
class Contact:
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class Item:
    """An occurrence as the planner needs it. `ref` is the database id."""

    ref: int
    public_id: str
    partnership: str
    rule: str
    title: str
    kind: str
    owner_role: str
    due: date
    status: Status
    source: str = ""
    evidence: str = ""
    subject: str = ""
    subject_name: str = ""
    owning_agency: str = ""  # code of the statutory partner answerable for it
    attendees: tuple[str, ...] = ()
    chairs: tuple[str, ...] = ()  # attendee roles that chair the meeting
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    sequence: int = 0
    cancelled: bool = False  # cancelled by a person, or orphaned by a rule change
    orphaned: bool = False  # the rule no longer produces it (its schedule changed)
    per: str = ""  # agency or school: the item is one member of a round
    location: str = ""
    online_url: str = ""
    lifecycle: str = "open"  # as recorded: open, completed, waived, cancelled
    changed: datetime | None = None  # when the occurrence last changed
    invite_horizon: Horizon | None = None  # meetings: its rule's first-invite horizon
    uid: str = ""  # its calendar UID (models.feed_tokens.UidForm); '' for the old form


DEPUTY = "deputy:"  # a recipient's role prefix: a copy for the deputy of that role's holder


@dataclass
class Directory:
    """Who holds which role: (partnership, role) -> [(agency, school, contact)]; and who
    acts for whom: (partnership, lead's address) -> their deputies."""

    holders: dict[tuple[str, str], list[tuple[str, str, Contact]]] = field(default_factory=dict)
    deputies: dict[tuple[str, str], list[Contact]] = field(default_factory=dict)

    def add(
        self, partnership: str, role: str, contact: Contact, agency: str = "", school: str = ""
    ) -> None:
        self.holders.setdefault((partnership, role), []).append((agency, school, contact))

    def add_deputy(self, partnership: str, lead_email: str, deputy: Contact) -> None:
        self.deputies.setdefault((partnership, lead_email.lower()), []).append(deputy)

    def deputies_of(self, partnership: str, email: str) -> list[Contact]:
        return self.deputies.get((partnership, email.lower()), [])

    def leads_of(self, partnership: str, deputy_email: str, role: str) -> list[Contact]:
        """Those holding `role` whom this deputy acts for."""
        mine = deputy_email.lower()
        return [
            c
            for c in self.of(partnership, role)
            if any(d.email.lower() == mine for d in self.deputies_of(partnership, c.email))
        ]

    def of(self, partnership: str, role: str, *, scope: str = "") -> list[Contact]:
        """Holders of a role; with `scope`, only those holding it for that agency or
        school (possibly nobody: the caller decides what to do then)."""
        everyone = self.holders.get((partnership, role), [])
        if scope:
            return _unique(c for a, s, c in everyone if scope in (a, s))
        return _unique(c for _a, _s, c in everyone)


def _unique(contacts: Iterable[Contact]) -> list[Contact]:
    seen: dict[str, Contact] = {}
    for contact in contacts:
        seen.setdefault(contact.email.lower(), contact)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class Planned:
    item: Item
    stage: str
    kind: MessageKind
    action: Action
    recipient: str  # an email address, or "flag:<role>" for a dashboard flag
    recipient_name: str = ""
    role: str = ""

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.item.ref, self.stage, self.recipient.lower())


CATCH_UP_DAYS = 28  # a stage further back than this is recorded as skipped, not sent


def reminder_stage(days_before: int) -> str:
    return "due-today" if days_before == 0 else f"reminder-{days_before}"


def escalation_stage(day: int) -> str:
    return f"escalation-{day}"


def plan_messages(
    items: Iterable[Item],
    directory: Directory,
    ladders: dict[tuple[str, str], Ladder],
    today: date,
    *,
    invite_window_days: int = 60,
    invited: frozenset[tuple[int, str]] = frozenset(),
    holding: dict[int, set[str]] | None = None,
    catch_up_days: int = CATCH_UP_DAYS,
) -> list[Planned]:
    """Everything due to go out (or be recorded as skipped or flagged) on `today`.

    `invited` holds (item ref, email) pairs that were sent an invite: only they are sent
    a cancellation, and a meeting anyone was invited to follows every change at any
    distance. `holding` (calendar_holders) says who has each meeting in their calendar:
    one who no longer attends it is sent a cancellation of their own.
    """
    working = is_working_day(today)
    planned: list[Planned] = []
    items = list(items)
    invitees: dict[int, set[str]] = {}
    for ref, email in invited:
        invitees.setdefault(ref, set()).add(email.lower())
    taking_over = set(successors(items, invitees))
    for item in items:
        if item.kind == "meeting":
            planned.extend(
                _invites(item, directory, today, invite_window_days, invitees, taking_over)
            )
            planned.extend(_uninvites(item, directory, today, (holding or {}).get(item.ref)))
        if item.orphaned or not item.status.state.is_open:
            continue
        ladder = ladders[(item.partnership, item.rule)]
        if not working and item.status.state is not State.DUE:
            continue  # no mail at weekends or on bank holidays, except a deadline that day
        planned.extend(_ladder(item, ladder, directory, today, catch_up_days))
    return planned


def _ladder(
    item: Item, ladder: Ladder, directory: Directory, today: date, catch_up_days: int
) -> list[Planned]:
    out: list[Planned] = []
    for stage, kind, roles, flag, action in _schedule(
        ladder, (item.due - today).days, catch_up_days
    ):
        if action is Action.FLAG:
            out.append(Planned(item, stage, kind, Action.FLAG, f"flag:{flag}", role=str(flag)))
            continue
        found = _recipients(item, roles, directory)
        if kind is MessageKind.ESCALATION:
            found = with_deputies(item, found, directory)
        for role, contact in found:
            out.append(Planned(item, stage, kind, action, contact.email, contact.name, role))
    return out


@lru_cache(maxsize=65_536)
def _schedule(
    ladder: Ladder, days_to_go: int, catch_up_days: int
) -> tuple[tuple[str, MessageKind, tuple[str, ...], str | None, Action], ...]:
    """The stages of an item `days_to_go` from its due day (negative: overdue) and what
    each one does today. It depends on nothing else, so it is worked out once per ladder
    and distance, not for each of the 30,000 overdue items of a national day."""
    stages: list[tuple[str, MessageKind, tuple[str, ...], str | None, int]] = []
    # reminders, from the earliest (28 days before) to the due day; the last field is the
    # stage's day counted from today
    for days_before in sorted(ladder.reminder_days, reverse=True):
        if days_to_go <= days_before:
            on = days_to_go - days_before
            stages.append((reminder_stage(days_before), MessageKind.REMINDER, ("owner",), None, on))
    if days_to_go < 0:
        for step in ladder.escalations:
            if -days_to_go >= step.day:
                kind = MessageKind.FLAG if step.flag else MessageKind.ESCALATION
                on = days_to_go + step.day
                stages.append((escalation_stage(step.day), kind, step.to, step.flag, on))
    emails = [s for s in stages if s[1] is not MessageKind.FLAG]
    current = emails[-1][0] if emails and emails[-1][4] >= -catch_up_days else None
    backlog = bool(emails) and current is None  # every email stage is past the window
    out: list[tuple[str, MessageKind, tuple[str, ...], str | None, Action]] = []
    for stage, kind, roles, flag, _on in stages:
        if kind is MessageKind.FLAG:
            out.append((stage, kind, roles, flag, Action.FLAG))
        elif not backlog:  # a backlog's flag alone is recorded: re-planning skips is cost
            out.append((stage, kind, roles, flag, Action.SEND if stage == current else Action.SKIP))
    return tuple(out)


def with_deputies(
    item: Item, found: list[tuple[str, Contact]], directory: Directory
) -> list[tuple[str, Contact]]:
    """`found` and, after them, the deputy of each (the directory's acts_for) who is not
    a recipient already, with the role `deputy:<the role they stand in for>`."""
    have = {c.email.lower() for _role, c in found}
    out = list(found)
    for role, contact in found:
        for deputy in directory.deputies_of(item.partnership, contact.email):
            if deputy.email.lower() not in have:
                have.add(deputy.email.lower())
                out.append((f"{DEPUTY}{role}", deputy))
    return out


def _recipients(
    item: Item, roles: tuple[str, ...], directory: Directory
) -> list[tuple[str, Contact]]:
    found: dict[str, tuple[str, Contact]] = {}
    for role in roles:
        resolved = item.owner_role if role == "owner" else role
        scope = ""
        if role == "owner" and item.subject:
            scope = item.subject  # the lead of that agency, the DSL of that school
        elif resolved == "dsp" and item.owning_agency:
            scope = item.owning_agency  # the DSP answerable for the owning agency
        contacts = directory.of(item.partnership, resolved, scope=scope) if scope else []
        if not contacts:  # nobody holds it for that scope: tell the role's holders at large
            contacts = directory.of(item.partnership, resolved)
        for contact in contacts:
            found.setdefault(contact.email.lower(), (resolved, contact))
    return list(found.values())


def _invites(
    item: Item,
    directory: Directory,
    today: date,
    window: int,
    invitees: dict[int, set[str]],
    successor_of_invited: set[int],
) -> list[Planned]:
    """Invites, updates and cancellations of one meeting.

    A first invite goes out once the meeting is within the window: its rule's
    invite_horizon, else the default (60 days). Once anyone
    has been invited, every change (moved, cancelled, reopened, rule change) goes to
    every attendee whatever the distance: each change bumps SEQUENCE, so the stage
    `invite-N` / `cancel-N` is new and the ledger lets it through exactly once. A meeting
    a rule change orphaned is cancelled to those who had it; its successor (same rule,
    within 45 days) counts as invited, so it is sent at once, not 60 days before.
    """
    if item.starts_at is None or item.starts_at.date() < today:
        return []
    invited = invitees.get(item.ref, set())
    if item.cancelled:
        if not invited:
            return []  # nobody has it in their calendar: nothing to take back
        known = _current_invitees(item, directory)
        out = []
        for email in sorted(invited):
            role, contact = known.get(email, ("", Contact(email, "")))
            out.append(
                Planned(
                    item,
                    f"cancel-{item.sequence}",
                    MessageKind.CANCEL,
                    Action.SEND,
                    contact.email,
                    contact.name,
                    role,
                )
            )
        return out
    if not item.status.state.is_open:
        return []  # held and minuted: nothing for a calendar to follow
    days_ahead = (item.starts_at.date() - today).days
    if item.invite_horizon is not None:
        window = (item.invite_horizon.reaches(today) - today).days
    if not (days_ahead <= window or invited or item.ref in successor_of_invited):
        return []
    return [
        Planned(
            item,
            f"invite-{item.sequence}",
            MessageKind.INVITE,
            Action.SEND,
            contact.email,
            contact.name,
            role,
        )
        for role, contact in _current_invitees(item, directory).values()
    ]


def _current_invitees(item: Item, directory: Directory) -> dict[str, tuple[str, Contact]]:
    """Who is invited to a meeting now, by address (lower case): its owner and attendees,
    and the deputies of those who have one."""
    found = _recipients(item, (item.owner_role, *item.attendees), directory)
    return {c.email.lower(): (role, c) for role, c in with_deputies(item, found, directory)}


def _ahead_and_open(item: Item, today: date) -> bool:
    return (
        item.kind == "meeting"
        and not item.cancelled
        and item.starts_at is not None
        and item.starts_at.date() >= today
        and item.status.state.is_open
    )


def _uninvites(
    item: Item, directory: Directory, today: date, holders: set[str] | None
) -> list[Planned]:
    """A cancellation of their own for each person who has this meeting in their calendar
    and is no longer invited (removed from the directory, or no longer in the role)."""
    if not holders or not _ahead_and_open(item, today):
        return []
    gone = holders - set(_current_invitees(item, directory))
    return [
        Planned(item, f"cancel-{item.sequence}", MessageKind.CANCEL, Action.SEND, email)
        for email in sorted(gone)
    ]


def _version(stage: str) -> tuple[str, int]:
    kind, _, number = stage.rpartition("-")
    return kind, int(number) if number.isdigit() else -1


def calendar_holders(rows: Iterable[tuple[int, str, str, str]]) -> dict[int, set[str]]:
    """Meeting ref -> who has it in their calendar, or is about to: the latest version
    sent or waiting for them (not skipped, not refused) is an invite, not a cancellation.
    `rows` are the ledger's (occurrence, stage, recipient, status) of invites and
    cancellations."""
    latest: dict[tuple[int, str], tuple[int, bool]] = {}
    for ref, stage, email, status in rows:
        kind, number = _version(stage)
        if status in ("skipped", "failed") or number < 0:
            continue
        rank = (number, kind == "cancel")  # at one version a cancellation is the later word
        key = (ref, email.lower())
        latest[key] = max(latest.get(key, (-1, False)), rank)
    found: dict[int, set[str]] = {}
    for (ref, email), (_number, cancelled) in latest.items():
        if not cancelled:
            found.setdefault(ref, set()).add(email)
    return found


def attendees_changed(
    items: Iterable[Item],
    directory: Directory,
    rows: Iterable[tuple[int, str, str, str]],
    today: date,
) -> list[Item]:
    """Meetings ahead whose current version already went out and whose invitees changed
    since: someone new to invite, or someone holding it who no longer attends. Each needs
    a new version (SEQUENCE), so that every calendar gets the new list of attendees, the
    newcomer a first invitation and the leaver a cancellation."""
    rows = list(rows)
    holders = calendar_holders(rows)
    asked: dict[tuple[int, str], set[str]] = {}
    for ref, stage, email, _status in rows:
        asked.setdefault((ref, stage), set()).add(email.lower())
    changed = []
    for item in items:
        if not _ahead_and_open(item, today):
            continue
        went_out = asked.get((item.ref, f"invite-{item.sequence}"))
        if not went_out:
            continue  # this version goes to whoever is invited when it is first planned
        now = set(_current_invitees(item, directory))
        if now - went_out or holders.get(item.ref, set()) - now:
            changed.append(item)
    return changed


def successors(items: list[Item], invitees: dict[int, set[str]]) -> dict[int, Item]:
    """Live meetings that take over from an invited meeting a rule change orphaned:
    same partnership, rule and subject, starting within 45 days of it. -> the orphan."""
    orphans: dict[tuple[str, str, str], list[Item]] = {}
    for item in items:
        if item.orphaned and item.starts_at is not None and invitees.get(item.ref):
            orphans.setdefault((item.partnership, item.rule, item.subject), []).append(item)
    found: dict[int, Item] = {}
    if not orphans:
        return found
    for item in items:
        if item.orphaned or item.cancelled or item.starts_at is None:
            continue
        for orphan in orphans.get((item.partnership, item.rule, item.subject), []):
            if orphan.starts_at and abs(item.starts_at - orphan.starts_at) <= REPLACES_WITHIN:
                found[item.ref] = orphan
    return found


def plan_requests(items: Iterable[Item], directory: Directory) -> list[Planned]:
    """Ask each owner of an open return in a cycle for it (S11 agency leads, S175 DSLs)."""
    out: list[Planned] = []
    for item in items:
        if not item.status.state.is_open:
            continue
        for role, contact in _recipients(item, ("owner",), directory):
            out.append(
                Planned(
                    item,
                    "request",
                    MessageKind.REQUEST,
                    Action.SEND,
                    contact.email,
                    contact.name,
                    role,
                )
            )
    return out


def still_wanted(kind: str, stage: str, item: Item | None) -> bool:
    """Whether a pending ledger row should still go out when it is claimed.

    An invite or cancellation is overtaken by any later version of its meeting (a
    reschedule or cancellation while it waited for a retry): people get the latest
    version once, not each version in turn. Reminders and escalations of a cancelled
    item are dropped; delivery-failure notices always go."""
    if item is None:
        return False
    if kind in ("invite", "cancel"):
        version = stage.rpartition("-")[2]
        return not version.isdigit() or int(version) >= item.sequence
    return kind == "failure" or not item.cancelled


URGENT_WORKING_DAYS = 2  # a statutory clock this close does not wait for tomorrow's digest
# emails of their own (invites), or a refused-mail notice the business team must act on
_NEVER_WAIT = frozenset({"invite", "cancel", "failure", "quorum"})


def event_reference(public_id: str) -> str:
    """The incident reference an event clock is keyed by ('SI-2026-014'), or '' for a
    calendar item (whose period is a day)."""
    parts = public_id.split(":")
    if len(parts) < 3:
        return ""
    try:
        date.fromisoformat(parts[2])
    except ValueError:
        return parts[2]
    return ""


def waits_for_next_digest(kind: str, item: Item | None, today: date) -> bool:
    """One digest per recipient per day: a line planned after that day's digest went
    out waits for the next day's, unless it is a statutory clock (an incident's) due
    within URGENT_WORKING_DAYS working days, which cannot wait (nor can a notice that
    mail was refused)."""
    if kind in _NEVER_WAIT or item is None:
        return False
    if event_reference(item.public_id):
        return working_days_between(today, item.due) > URGENT_WORKING_DAYS
    return True
