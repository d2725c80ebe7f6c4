"""Group claimed ledger rows into messages: one digest per recipient, one invite email
per (meeting, version), with everything a reader needs in words (role names, owners,
sources, what changed). Pure apart from rendering: the caller reads the database and
passes a ComposeContext.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from govcal.notifications.ics import CalendarEntry
from govcal.notifications.render import (
    Digest,
    DigestLine,
    InviteMessage,
    Sender,
    day_text,
    in_words,
    render_digest,
    render_invite,
)
from govcal.rules.notify_plan import DEPUTY, Directory, Item, event_reference

BUSINESS_ROLES = frozenset({"business-team", "partnership-manager"})  # they run govcal


@dataclass(frozen=True)
class PartnershipInfo:
    name: str
    timezone: str  # IANA zone from the rule file: every time a message shows is in it
    role_names: dict[str, str] = field(default_factory=dict)
    mailbox: str | None = None  # the business team: ORGANIZER and Reply-To


@dataclass
class ComposeContext:
    """What the database knows that messages need, read once per batch."""

    partnerships: dict[str, PartnershipInfo]
    directory: Directory
    names: dict[str, str] = field(default_factory=dict)  # email -> person's name
    subject_names: dict[str, str] = field(default_factory=dict)  # agency/school code -> name
    round_totals: dict[str, int] = field(default_factory=dict)  # round id -> members
    reasons: dict[int, str | None] = field(default_factory=dict)
    previous: dict[int, dict] = field(default_factory=dict)  # occurrence -> before a change
    replaced: dict[int, Item] = field(default_factory=dict)  # successor -> orphaned meeting
    invited_before: set[int] = field(default_factory=set)  # meetings anyone had an invite to
    invitees: dict[int, set[str]] = field(default_factory=dict)  # meeting -> who had an invite
    reinstated: set[int] = field(default_factory=set)  # meetings last changed by a reopening
    feed_urls: dict[str, str] = field(default_factory=dict)  # email (lower) -> feed link
    act_url: str = ""
    cockpit_urls: dict[str, str] = field(default_factory=dict)  # partnership -> its summary
    acknowledge_url: str = ""  # the form a Lead Partner acknowledges an escalation with
    installation: str = ""
    failures: dict[str, str] = field(default_factory=dict)  # failure stage -> what happened
    # (reader, occurrence) -> (label, signed link) of what they can do from the email
    action_links: dict[tuple[str, int], tuple[tuple[str, str], ...]] = field(default_factory=dict)


@dataclass
class ComposedMessage:
    key: str
    kind: str
    rows: list  # the ledger rows it carries
    recipients: list[str]
    render: Callable[[], bytes]


def _key(prefix: str, rows: list, today: date) -> str:
    """Stable for the same rows on the same day; a message resent after an unanswered
    end of DATA keeps the key (so the Message-ID) it first went out with."""
    kept = {getattr(r, "message_key", "") for r in rows}
    if len(kept) == 1 and (only := kept.pop()):
        return only
    digest = hashlib.sha256(",".join(str(r.id) for r in rows).encode()).hexdigest()[:16]
    return f"{today:%Y%m%d}-{prefix}-{digest}"


def _info(ctx: ComposeContext, partnership: str) -> PartnershipInfo:
    """Every item comes from a loaded partnership (models.notify_inputs reads no other)."""
    return ctx.partnerships[partnership]


def _team(info: PartnershipInfo, sender: Sender) -> tuple[str, str]:
    return (f"{info.name} business team", info.mailbox or sender.email)


def _holders(
    item: Item, ctx: ComposeContext, roles: tuple[str, ...], *, deputies: bool = False
) -> list[tuple[str, str]]:
    """(name, address) of everyone holding these roles, once each, in the roles' order;
    with `deputies`, then the deputies of those who have one (invited with them)."""
    seen: dict[str, tuple[str, str]] = {}
    for role in roles:
        for contact in ctx.directory.of(item.partnership, role):
            seen.setdefault(contact.email.lower(), (contact.name, contact.email))
    if deputies:
        for _name, email in list(seen.values()):
            for deputy in ctx.directory.deputies_of(item.partnership, email):
                seen.setdefault(deputy.email.lower(), (deputy.name, deputy.email))
    return list(seen.values())


def deputy_for(row, item: Item, ctx: ComposeContext) -> str:
    """For a deputy's copy (role `deputy:<role>`): whom they stand in for, in words
    ('Chief Executive, ... (Lead Safeguarding Partners)'); '' for anyone else's."""
    role = getattr(row, "role", "") or ""
    if not role.startswith(DEPUTY):
        return ""
    lead_role = role.removeprefix(DEPUTY)
    leads = ctx.directory.leads_of(item.partnership, row.recipient, lead_role)
    words = _info(ctx, item.partnership).role_names.get(lead_role, lead_role)
    return f"{in_words([c.name or c.email for c in leads]) or 'a colleague'} ({words})"


def _chaired_by(chairs: list[tuple[str, str]]) -> str:
    names = in_words([name or email for name, email in chairs])
    return f" Chaired by {names}." if names else ""


def owner_text(item: Item, ctx: ComposeContext) -> str:
    """The person(s) who own it and where they work, then the role in words."""
    role = _info(ctx, item.partnership).role_names.get(item.owner_role, item.owner_role)
    holders = ctx.directory.holders.get((item.partnership, item.owner_role), [])
    if item.subject:
        holders = [h for h in holders if item.subject in (h[0], h[1])] or holders
    people = []
    for agency, school, contact in holders[:3]:
        where = ctx.subject_names.get(school or agency, "")
        name = contact.name or contact.email
        said = f"{name} {role}"  # the agency once: not when the name or role says it
        people.append(f"{name} ({where})" if where and where not in said else name)
    if not people:
        return f"{role} (nobody holds this role yet)"
    if len(holders) > 3:
        people.append(f"{len(holders) - 3} more")
    named = in_words(people)
    return named if _plain(role) in _plain(named) else f"{role}: {named}"


def _plain(text: str) -> str:
    """A name as compared for doubling: without '(sample)' and case."""
    return " ".join(text.replace("(sample)", "").split()).lower()


def _entry(item: Item, ctx: ComposeContext, sender: Sender, **changes) -> CalendarEntry:
    info = _info(ctx, item.partnership)
    chairs = _holders(item, ctx, item.chairs)
    values: dict[str, Any] = {
        "public_id": item.public_id,
        "uid": item.uid,
        "title": item.title,
        "description": f"{item.title}.{_chaired_by(chairs)} Why: {item.source}. "
        f"Done when: {item.evidence}.",
        "due": item.due,
        "starts_at": item.starts_at,
        "ends_at": item.ends_at,
        "sequence": item.sequence,
        "cancelled": item.cancelled,
        "organizer": _team(info, sender),
        "attendees": tuple(_holders(item, ctx, (item.owner_role, *item.attendees), deputies=True)),
        "chairs": frozenset(email.lower() for _, email in chairs),
        "location": item.location,
        "online_url": item.online_url,
        "timezone": info.timezone,
    }
    values.update(changes)
    return CalendarEntry(**values)


def _previous(item: Item, ctx: ComposeContext, sender: Sender) -> CalendarEntry | None:
    before = ctx.previous.get(item.ref)
    if not before or item.sequence == 0:
        return None

    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(before[key]) if before.get(key) else None

    attendees = {}
    if "attendees" in before:  # the invitees changed: who had it then, by name where known
        had = before["attendees"]
        attendees["attendees"] = tuple((ctx.names.get(email, ""), email) for email in had)
    return _entry(
        item,
        ctx,
        sender,
        due=date.fromisoformat(before["due"]) if before.get("due") else item.due,
        starts_at=when("starts_at") or item.starts_at,
        ends_at=when("ends_at") or item.ends_at,
        location=before.get("location") or item.location,
        **attendees,
    )


def lead_text(item: Item, ctx: ComposeContext) -> str:
    """Who answers for one member of a round: its own holders of the owner role by name
    ('Jo Bloggs (Kendal Primary School)'), or '' when the directory names nobody for it."""
    holders = ctx.directory.holders.get((item.partnership, item.owner_role), [])
    mine = [h for h in holders if item.subject in (h[0], h[1])]
    people = []
    for agency, school, contact in mine[:2]:
        where = ctx.subject_names.get(school or agency, "")
        name = contact.name or contact.email
        people.append(f"{name} ({where})" if where and where not in name else name)
    return in_words(people)


def _line(row, item: Item, ctx: ComposeContext) -> DigestLine:
    failure = ctx.failures.get(row.stage, "") if row.kind in ("failure", "quorum") else ""
    own = row.role == item.owner_role  # the recipient's own item (their school's return)
    grouped = item.subject and item.per and not failure and not own
    round_id = item.public_id.rsplit(":", 1)[0] if grouped else ""
    return DigestLine(
        public_id=item.public_id,
        title=item.title,
        reference=event_reference(item.public_id),
        due=item.due,
        state=item.status.state,
        state_text=item.status.describe(),
        kind=row.kind,
        stage=row.stage,
        role=row.role,
        source=item.source,
        evidence=item.evidence,
        starts_at=item.starts_at,
        subject_name=item.subject_name or item.subject,
        days_overdue=item.status.days_overdue,
        round_id=round_id,
        per=item.per,
        round_total=ctx.round_totals.get(round_id, 0),
        owner=owner_text(item, ctx) if not round_id else "",
        owner_role=item.owner_role,
        note=failure,
        lead=lead_text(item, ctx) if round_id else "",
        own=own,
        deputy_for=deputy_for(row, item, ctx),
        links=ctx.action_links.get((row.recipient.lower(), row.occurrence_id), ()),
    )


def compose(
    rows: list,
    items: dict[int, Item],
    ctx: ComposeContext,
    sender: Sender,
    today: date,
    stamp: datetime,
) -> list[ComposedMessage]:
    """Invites per (meeting, stage, new to it or not); everything else one digest per
    recipient. Whether a message is someone's first invitation to a meeting is theirs:
    a newcomer, or one whose first invite waited for a retry, is invited, not updated."""
    invites: dict[tuple[int, str, str, bool, str], list] = defaultdict(list)
    digests: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:  # a resend (message_key kept) goes alone, as it first went
        resend = getattr(row, "message_key", "") or ""
        if row.kind in ("invite", "cancel"):
            new = row.recipient.lower() not in ctx.invitees.get(row.occurrence_id, set())
            deputy = row.recipient if (row.role or "").startswith(DEPUTY) else ""
            # a personal link (the answer page) goes to its holder alone: never in an
            # email every invitee reads
            own = (
                row.recipient.lower()
                if (row.recipient.lower(), row.occurrence_id) in ctx.action_links
                else ""
            )
            invites[(row.occurrence_id, row.stage, resend + own, new, deputy)].append(row)
        else:
            digests[(row.recipient.lower(), resend)].append(row)
    messages: list[ComposedMessage] = []
    for (occurrence_id, _stage, _resend, new, _deputy), group in sorted(invites.items()):
        item = items[occurrence_id]
        info = _info(ctx, item.partnership)
        cancelling = group[0].kind == "cancel"
        uninvited = cancelling and not item.cancelled  # the meeting goes ahead without them
        orphan = ctx.replaced.get(item.ref)
        reason = ctx.reasons.get(occurrence_id)
        if item.orphaned:
            reason = "the partnership changed this meeting's schedule"
        recipients = [(ctx.names.get(r.recipient, ""), r.recipient) for r in group]
        withdrawn = {"attendees": tuple(recipients)} if uninvited else {}
        invitation = InviteMessage(
            key=_key(f"invite-{occurrence_id}", group, today),
            entry=_entry(item, ctx, sender, cancelled=cancelling or item.cancelled, **withdrawn),
            recipients=recipients,
            partnership_name=info.name,
            source=item.source,
            evidence=item.evidence,
            reason=None if uninvited else reason,
            reply_to=_team(info, sender),
            previous=None if new else _previous(item, ctx, sender),
            first_time=new,
            uninvited=uninvited,
            reinstated=item.ref in ctx.reinstated and not new,
            deputy_for=deputy_for(group[0], item, ctx),
            replaces=(
                day_text(orphan.starts_at.astimezone(ZoneInfo(info.timezone)).date())
                if orphan and orphan.starts_at
                else ""
            ),
            installation=ctx.installation,
            links=ctx.action_links.get((group[0].recipient.lower(), occurrence_id), ())
            if len(group) == 1
            else (),
        )
        messages.append(
            ComposedMessage(
                invitation.key,
                group[0].kind,
                group,
                [r.recipient for r in group],
                partial(render_invite, invitation, sender, stamp),
            )
        )
    for (recipient, _resend), group in sorted(digests.items()):
        first = items[group[0].occurrence_id]
        info = _info(ctx, first.partnership)
        roles = {r.role for r in group}
        role_names = dict(info.role_names)
        for row in group:  # "Sent to you as: deputy for ..." in the footer
            if (row.role or "").startswith(DEPUTY):
                role_names[row.role] = f"deputy for {deputy_for(row, first, ctx)}"
        business = bool(roles) and roles <= BUSINESS_ROLES
        digest = Digest(
            key=_key("digest", group, today),
            recipient=group[0].recipient,
            recipient_name=ctx.names.get(group[0].recipient, ""),
            partnership_name=info.name,
            lines=[_line(row, items[row.occurrence_id], ctx) for row in group],
            role_names=role_names,
            reply_to=_team(info, sender),
            act_url=ctx.act_url,
            acknowledge_url=ctx.acknowledge_url,
            feed_url=ctx.feed_urls.get(recipient, ""),
            for_business_team=business,
            cockpit_url=ctx.cockpit_urls.get(first.partnership, "") if business else "",
            installation=ctx.installation,
            timezone=info.timezone,
        )
        messages.append(
            ComposedMessage(
                digest.key,
                "digest",
                group,
                [group[0].recipient],
                partial(render_digest, digest, sender, stamp),
            )
        )
    return messages
