"""The steps of govcal's jobs as plain functions: sync, evaluate, notify, publish.

Prefect tasks wrap these (flows/tasks.py) and the CLI calls them directly, so the same
code runs with or without an orchestrator, and is tested without one. Each takes the
caller's session (one unit of work, models/db.py) and never commits or writes SQL itself:
the ledger commits each delivery step, and feed links are committed before they are
written out (models/ledger.py, models/feed_tokens.py).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from govcal.flows.collector import paused
from govcal.models import ledger, queries
from govcal.models.ledger import Delivery, LedgerEntry, LedgerRow
from govcal.models.notify_inputs import directory as load_directory
from govcal.models.notify_inputs import items_by_ids, open_items
from govcal.models.records import new_attendee_version
from govcal.models.settings import Settings
from govcal.models.types import utcnow
from govcal.notifications.deliver import DeliveryReport, compose, deliver
from govcal.notifications.feeds import FeedFile, write_feeds
from govcal.notifications.render import Sender
from govcal.notifications.transport import Transport
from govcal.rules.model import Partnership, active_partnerships
from govcal.rules.notify_plan import (
    Action,
    Item,
    Planned,
    attendees_changed,
    calendar_holders,
    plan_messages,
    still_wanted,
    waits_for_next_digest,
)
from govcal.rules.text import UNUSABLE_ADDRESS, address_problem

_STATUS = {
    Action.SEND: Delivery.PENDING,
    Action.SKIP: Delivery.SKIPPED,
    Action.FLAG: Delivery.FLAGGED,
}

if TYPE_CHECKING:  # imported by send(): the plan alone never loads the message context
    from govcal.flows.message_context import RunShared


@dataclass
class NotifyReport:
    planned: list[Planned] = field(default_factory=list)
    new: list[Planned] = field(default_factory=list)  # planned and not in the ledger before
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    dropped_rows: int = 0  # pending rows whose item was completed or withdrawn meanwhile

    def counts(self, *, new_only: bool = True) -> Counter[str]:
        """Messages by kind and action, e.g. {'reminder': 3, 'skip': 2}."""
        out: Counter[str] = Counter()
        for p in self.new if new_only else self.planned:
            out[p.kind.value if p.action is Action.SEND else p.action.value] += 1
        return out


def plan(
    session: Session,
    partnerships: list[Partnership],
    today: date,
    invite_window_days: int = 60,
    kinds: frozenset[str] | None = None,
    *,
    follow_attendees: bool = False,
) -> list[Planned]:
    """What is due today. With `follow_attendees` (a real run, not a preview), a meeting
    whose invitees changed since its last version went out gets a new version first."""
    with paused():  # 36,000 items and their messages nationally: see flows/collector.py
        return _plan(session, partnerships, today, invite_window_days, kinds, follow_attendees)


def _plan(
    session: Session,
    partnerships: list[Partnership],
    today: date,
    invite_window_days: int,
    kinds: frozenset[str] | None,
    follow_attendees: bool,
) -> list[Planned]:
    partnerships = active_partnerships(partnerships, today)
    items = open_items(session, partnerships, today, invite_window_days=invite_window_days)
    if kinds is not None and kinds <= {"invite", "cancel"}:
        items = [i for i in items if i.kind == "meeting"]
    people = load_directory(session, [p.id for p in partnerships])
    ladders = {(p.id, r.id): p.ladder_for(r) for p in partnerships for r in p.rules}
    meetings = [i.ref for i in items if i.kind == "meeting"]
    sent = ledger.calendar_rows(session, meetings)
    invited = frozenset(  # as ledger.invited_pairs, from the same read
        (ref, email)
        for ref, stage, email, status in sent
        if stage.startswith("invite-") and status == Delivery.SENT.value
    )
    holding = calendar_holders(sent)
    if follow_attendees:
        items = _new_versions(
            session, items, attendees_changed(items, people, sent, today), holding
        )
    planned = plan_messages(
        items,
        people,
        ladders,
        today,
        invite_window_days=invite_window_days,
        invited=invited,
        holding=holding,
    )
    if kinds is not None:
        planned = [p for p in planned if p.kind.value in kinds]
    return planned


def _new_versions(
    session: Session, items: list[Item], changed: list[Item], holding: dict[int, set[str]]
) -> list[Item]:
    """`items` with each changed meeting one version (SEQUENCE) on, as stored."""
    if not changed:
        return items
    new_attendee_version(session, {i.public_id: sorted(holding.get(i.ref, ())) for i in changed})
    bumped = {i.ref for i in changed}
    return [replace(i, sequence=i.sequence + 1) if i.ref in bumped else i for i in items]


def record(session: Session, planned: list[Planned]) -> list[Planned]:
    """Write planned messages to the ledger; returns those that were not there before."""
    rows = [
        LedgerRow(p.item.ref, p.stage, p.recipient, _STATUS[p.action], p.role, p.kind.value)
        for p in planned
    ]
    new = ledger.record_planned(session, rows)  # committed: durable before any claim
    return [p for p in planned if (p.item.ref, p.stage, p.recipient) in new]


DELIVERY_BUDGET = timedelta(minutes=20)  # keep claiming batches until none left, or this
CLAIM_LEASE = timedelta(minutes=15)  # GOVCAL_CLAIM_LEASE's default


def send(
    session: Session,
    partnerships: list[Partnership],
    today: date,
    transport: Transport,
    sender: Sender,
    *,
    settings: Settings,
    now: datetime | None = None,
    budget: timedelta = DELIVERY_BUDGET,
    lease: timedelta = CLAIM_LEASE,
    share: bool = False,
) -> tuple[DeliveryReport, int]:
    """Claim what is pending and deliver it, batch after batch until nothing is left (a
    national day is more than one claim) or the time budget is spent. Returns the report
    and rows dropped because their item no longer needs a message (completed, waived or
    withdrawn meanwhile). `share`: `partnerships` are one share of the national day, and
    only their rows are claimed (another share's are not this run's to render)."""
    now = now or utcnow()
    stop_at = time.monotonic() + budget.total_seconds()
    length = lease
    total, dropped = DeliveryReport(), 0
    from govcal.flows.message_context import RunShared

    context = RunShared()
    seconds = length.total_seconds()
    with ledger.Lease(session, seconds, until=stop_at + seconds) as held:
        while True:
            scope = [p.id for p in partnerships] if share else None
            _worker, claimed = ledger.claim(session, now, lease=held, partnerships=scope)
            if not claimed:
                break
            report, stale = _send_claimed(
                session,
                claimed,
                partnerships,
                today,
                transport,
                sender,
                settings,
                now,
                context,
                stop_at,
            )
            _add(total, report)
            dropped += stale
            server_down = report.rows_retry and not report.messages_sent
            if server_down or time.monotonic() >= stop_at:
                break
    tell_the_business_team(session, partnerships, total.failed_ids)
    return total, dropped


def tell_the_business_team(
    session: Session, partnerships: list[Partnership], failed_ids: list[int]
) -> None:
    """Each message refused for good becomes a line in the business team's next digest
    (a ledger row per reader, so it is told once). A notice that fails is not noticed."""
    if not failed_ids:
        return
    failed = ledger.with_partnership(session, failed_ids)
    people = load_directory(session, [p.id for p in partnerships])
    rows = [
        LedgerRow(
            row.occurrence_id,
            f"{ledger.FAILURE_STAGE}{row.id}",
            contact.email,
            Delivery.PENDING,
            "business-team",
            "failure",
        )
        for row, partnership_id in failed
        if row.kind != "failure"
        for contact in people.of(partnership_id, "business-team")
    ]
    ledger.record_planned(session, rows)


def _add(total: DeliveryReport, part: DeliveryReport) -> None:
    total.messages_sent += part.messages_sent
    total.rows_sent += part.rows_sent
    total.rows_retry += part.rows_retry
    total.rows_refused += part.rows_refused
    total.rows_uncertain += part.rows_uncertain
    total.failed_ids.extend(part.failed_ids)
    total.errors.extend(part.errors)
    for kind, n in part.by_kind.items():
        total.by_kind[kind] += n


def for_tomorrow(session: Session, rows: list, items: dict, today: date) -> list:
    """Rows for people who already had today's digest, that wait for tomorrow's."""
    had = ledger.digested_on(session, [r.recipient for r in rows], today)
    return [
        r
        for r in rows
        if r.recipient.lower() in had
        and waits_for_next_digest(r.kind, items.get(r.occurrence_id), today)
    ]


def _send_claimed(
    session: Session,
    claimed: list[LedgerEntry],
    partnerships: list[Partnership],
    today: date,
    transport: Transport,
    sender: Sender,
    settings: Settings,
    now: datetime,
    context: RunShared,
    stop_at: float | None = None,
) -> tuple[DeliveryReport, int]:
    """Deliver one claimed batch; `context` keeps the directory between batches."""
    items = items_by_ids(session, partnerships, sorted({r.occurrence_id for r in claimed}), today)

    def still_due(row: LedgerEntry) -> bool:
        return still_wanted(row.kind, row.stage, items.get(row.occurrence_id))

    live = [r for r in claimed if still_due(r)]
    stale = [r.id for r in claimed if not still_due(r) and r.id]
    if stale:
        ledger.skip(session, stale, "no longer due when sent")
    later = for_tomorrow(session, live, items, today)
    if later:  # one digest a day: these go in tomorrow's
        held = {r.id for r in later}
        ledger.wait(session, [i for i in held if i], "waits for the next day's digest", now)
        live = [r for r in live if r.id not in held]
    unusable = [r for r in live if address_problem(r.recipient)]
    refused = [r.id for r in unusable if r.id]
    if unusable:  # stored before the input checks: never in a message with others
        out = {id(r) for r in unusable}
        live = [r for r in live if id(r) not in out]
        ledger.mark_refused(session, refused, UNUSABLE_ADDRESS)
    from govcal.flows.message_context import message_context

    wording = message_context(
        session, partnerships, items, live, context, settings=settings, now=now
    )
    messages = compose(live, items, wording, sender, today, now)
    report = deliver(session, transport, messages, sender, now, deadline=stop_at)
    report.rows_refused += len(refused)
    report.failed_ids.extend(refused)
    report.errors += [f"{r.recipient!r}: {UNUSABLE_ADDRESS}" for r in unusable]
    return report, len(stale)


def notify(
    session: Session,
    partnerships: list[Partnership],
    today: date,
    transport: Transport,
    sender: Sender,
    *,
    settings: Settings,
    dry_run: bool = False,
    now: datetime | None = None,
    invite_window_days: int = 60,
    kinds: frozenset[str] | None = None,
    budget: timedelta = DELIVERY_BUDGET,
    share: bool = False,
    lease: timedelta = CLAIM_LEASE,
) -> NotifyReport:
    """Plan what is due today, record it in the ledger, then deliver everything pending.

    `kinds` limits what is planned (send-invites plans only invites and cancellations);
    delivery always drains everything pending, so nothing waits for another job. `share`:
    `partnerships` are one share of the national day; only their pending rows are sent."""
    planned = plan(
        session, partnerships, today, invite_window_days, kinds, follow_attendees=not dry_run
    )
    report = NotifyReport(planned=planned)
    if dry_run:
        return report
    report.new = record(session, planned)
    if kinds is None:
        from govcal.flows.quorum import warn_of_quorum

        warn_of_quorum(session, partnerships, today)
    report.delivery, report.dropped_rows = send(
        session,
        partnerships,
        today,
        transport,
        sender,
        settings=settings,
        now=now,
        budget=budget,
        lease=lease,
        share=share,
    )
    return report


def publish_feeds(
    session: Session,
    partnerships: list[Partnership],
    today: date,
    folder: Path,
    *,
    now: datetime | None = None,
) -> list[FeedFile]:
    """Rewrite every feed from the database: the past 90 days, the year ahead, and every
    open item however late. The files are readable by a web server (0644 in 0755 folders:
    their names are the secret), and every feed is kept in the database too, under its
    token, for `govcal web`: a person's there holds every partnership they have a role in,
    whichever run (share of the national day) wrote the others' parts."""
    from govcal.models.feed_tokens import issue_feed_tokens
    from govcal.models.notify_inputs import calendar_items
    from govcal.models.served_feeds import group_keys, store, store_parts

    partnerships = active_partnerships(partnerships, today)
    people = load_directory(session, [p.id for p in partnerships])
    emails = {c.email for holders in people.holders.values() for _a, _s, c in holders}
    names = {c.email.lower(): c.name for h in people.holders.values() for _a, _s, c in h}
    tokens = issue_feed_tokens(session, emails)  # committed before any file names them
    written: list[FeedFile] = []
    groups: dict[str, bytes] = {}
    changed: set[str] = set()
    for partnership in partnerships:
        start, end = today - timedelta(days=90), today + timedelta(days=400)
        items = calendar_items(session, partnership, start, end, today=today, every_open=True)
        role_names = {key: role.display_name for key, role in partnership.roles.items()}
        served: dict[str, bytes] = {}
        written.extend(
            write_feeds(
                folder,
                partnership.id,
                partnership.name,
                items,
                people,
                now or utcnow(),
                tokens=tokens,
                timezone=partnership.timezone,
                role_names=role_names,
                served=served,
            )
        )
        own = group_keys(served)
        groups.update({key: served[key] for key in own})
        mine = {key: content for key, content in served.items() if key not in own}
        changed |= store_parts(session, partnership.id, partnership.name, mine)
    issue_feed_tokens(session, group_keys(groups))  # each group feed its own token
    store(session, groups | _people_feeds(session, changed, names))
    return written  # committed with the caller's batch


def _people_feeds(session: Session, emails: set[str], names: dict[str, str]) -> dict[str, bytes]:
    """The feeds of these people, each made from every partnership's part of it: one part
    as written, several in one calendar named for the person and partnerships."""
    from govcal.models.served_feeds import parts_of
    from govcal.notifications.ics import merged_feed

    feeds: dict[str, bytes] = {}
    for email, parts in parts_of(session, sorted(emails)).items():
        if len(parts) == 1:
            feeds[email] = parts[0].content
            continue
        titles = [p.title for p in parts]
        where = f"{', '.join(titles[:-1])} and {titles[-1]}"
        feeds[email] = merged_feed(
            f"{names.get(email, 'Your calendar')}: {where}", [p.content for p in parts]
        )
    return feeds


def request_returns(
    session: Session,
    partnership: Partnership,
    cycle_id: str,
    today: date,
    transport: Transport,
    sender: Sender,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> NotifyReport:
    """Open an audit cycle: one request per agency or school, then deliver."""
    from govcal.rules.notify_plan import plan_requests

    cycle = queries.audit_cycle(session, cycle_id)
    members = {o.id for _r, o in queries.returns_of(session, cycle)}
    items = [
        i
        for i in open_items(session, [partnership], today, invite_window_days=0)
        if i.ref in members
    ]
    if len(items) < len(members):  # returns due later than the reminder horizon
        from govcal.models.notify_inputs import calendar_items

        items = [
            i
            for i in calendar_items(session, partnership, cycle.due, cycle.due)
            if i.ref in members
        ]
    people = load_directory(session, [partnership.id])
    planned = plan_requests(items, people)
    report = NotifyReport(planned=planned)
    queries.mark_cycle_opened(session, cycle, utcnow())
    report.new = record(session, planned)  # the requests and the opened cycle, one commit
    report.delivery, report.dropped_rows = send(
        session, [partnership], today, transport, sender, settings=settings, now=now
    )
    return report
