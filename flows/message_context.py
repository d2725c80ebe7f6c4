"""Read, once per batch, what messages need beyond the ledger rows: names in words,
round sizes, what changed, feed links and the installation's Message-ID part."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from govcal.flows.quorum import quorum_notes
from govcal.flows.ui_links import acknowledge_url, act_url
from govcal.models import ledger
from govcal.models.action_links import LinkAction, issue_all
from govcal.models.bounces import with_failing
from govcal.models.cockpit_links import cockpit_url
from govcal.models.feed_tokens import feed_tokens, installation_id
from govcal.models.notify_inputs import directory as load_directory
from govcal.models.notify_inputs import last_changes, round_sizes, versions_before
from govcal.models.queries import subject_names
from govcal.models.settings import Settings
from govcal.notifications.compose import ComposeContext, PartnershipInfo
from govcal.rules.model import Partnership
from govcal.rules.notify_plan import DEPUTY, Directory, Item, successors


def partnership_info(partnership: Partnership) -> PartnershipInfo:
    return PartnershipInfo(
        name=partnership.name,
        timezone=partnership.timezone,
        role_names={key: role.display_name for key, role in partnership.roles.items()},
        mailbox=partnership.business_team_mailbox,
    )


def feed_url(base: str, partnership_id: str, token: str) -> str:
    return f"{base.rstrip('/')}/{partnership_id}/people/{token}.ics"


def web_feed_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/feeds/{token}.ics"


@dataclass
class RunShared:
    """What does not change between the batches of one delivery run, read with its first
    batch: the directory and names in words, the Message-ID's installation part, the UI's
    addresses and the key that signs links."""

    people: Directory | None = None
    names: dict[str, str] = field(default_factory=dict)
    subjects: dict[str, str] = field(default_factory=dict)
    installation: str = ""
    act: str = ""
    acknowledge: str = ""
    web_secret: str | None = None


_LABELS = {
    LinkAction.ATTEND: "Answer: I'll attend, I can't, or I'm sending a deputy",
    LinkAction.ACKNOWLEDGE: "Acknowledge this escalation",
    LinkAction.DONE: "Record that this was done",
    LinkAction.RETURN: "Submit our return",
}
_ANSWERING = frozenset({"lsp", "dsp"})  # who acknowledges an escalation


def _wanted(row, item: Item) -> tuple[LinkAction, str] | None:
    """The one thing this reader can do about this item from the email, if any: a Lead
    Partner or DSP, or their deputy, acknowledges an escalation (a round's as a whole),
    an agency or school submits its return, the owner of anything else says it is done,
    an invitee answers."""
    if row.kind == "invite":
        return (LinkAction.ATTEND, item.public_id)
    role = (row.role or "").removeprefix(DEPUTY)  # a deputy acts for the role's holder
    if row.kind == "escalation" and role in _ANSWERING:
        whole = item.public_id.rsplit(":", 1)[0] if item.subject and item.per else item.public_id
        return LinkAction.ACKNOWLEDGE, whole
    if row.kind not in ("reminder", "escalation", "request") or row.role != item.owner_role:
        return None
    if item.subject and item.per:
        return LinkAction.RETURN, item.public_id
    return LinkAction.DONE, item.public_id


def _action_links(
    session: Session,
    settings: Settings,
    items: dict[int, Item],
    rows: list[Any],
    cache: RunShared,
    now: datetime | None,
    issue_links: bool,
) -> dict[tuple[str, int], tuple[tuple[str, str], ...]]:
    """(reader, occurrence) -> the signed links of their digest, when the web app is
    configured (GOVCAL_PUBLIC_URL) and a signing key is at hand; committed before the
    messages are built (models.action_links.issue_all)."""
    if not settings.public_url or not issue_links:
        return {}
    secret = _secret(settings, cache)
    if not secret:
        return {}
    base = settings.public_url.rstrip("/")
    wanted: dict[tuple[str, int], tuple[str, str, str, LinkAction]] = {}
    for row in rows:
        item = items.get(row.occurrence_id)
        chosen = _wanted(row, item) if item is not None else None
        if chosen is not None and item is not None:
            action, target = chosen
            wanted[(row.recipient.lower(), row.occurrence_id)] = (
                row.recipient,
                item.partnership,
                target,
                action,
            )
    issued = issue_all(session, secret, list(wanted.values()), days=settings.link_days, now=now)
    return {
        key: ((_LABELS[action], f"{base}/a/{issued[(email.lower(), target, action.value)].token}"),)
        for key, (email, _p, target, action) in wanted.items()
    }


def _cockpit_urls(
    settings: Settings, partnerships: list[Partnership], cache: RunShared
) -> dict[str, str]:
    """Partnership -> the fixed address of its summary on the web app (GOVCAL_PUBLIC_URL),
    for the top of the business team's digest; none without the app or a signing key."""
    if not settings.public_url:
        return {}
    secret = _secret(settings, cache)
    if not secret:
        return {}
    return {p.id: cockpit_url(settings.public_url, secret, p.id) for p in partnerships}


def _secret(settings: Settings, cache: RunShared) -> str:
    if cache.web_secret is None:
        from govcal.flows.runtime import web_secret

        cache.web_secret = web_secret(settings) or ""
    return cache.web_secret


def installation_part(session: Session) -> str:
    """The Message-ID's per-installation part: the random value stored in this database,
    mixed with where it runs (host and database address), so that a copy of the database
    (a restored backup, a test copy) never mints the ids the original mints, while one
    installation keeps the same ids across retries (receivers can drop a duplicate)."""
    where = f"{socket.gethostname()}|{session.get_bind().engine.url!s}"
    mixed = hashlib.sha256(f"{installation_id(session)}|{where}".encode()).hexdigest()
    return mixed[:12]


def message_context(
    session: Session,
    partnerships: list[Partnership],
    items: dict[int, Item],
    rows: list[Any],
    cache: RunShared | None = None,
    *,
    settings: Settings,
    now: datetime | None = None,
    issue_links: bool = True,
) -> ComposeContext:
    """`cache` keeps what does not change between batches of one run (the directory).
    `settings`: the run's, for the addresses links point at and the key that signs them.
    `issue_links=False` for a dry run: links are committed when issued, and a dry run
    changes nothing (its messages are never sent)."""
    cache = RunShared() if cache is None else cache
    if cache.people is None:
        cache.people = load_directory(session, [p.id for p in partnerships])
        cache.names = {
            c.email: c.name for holders in cache.people.holders.values() for _a, _s, c in holders
        }
        for partnership in partnerships:
            cache.subjects.update(subject_names(session, partnership.id))
        cache.installation = installation_part(session)
        cache.act = act_url(settings.ui_url)  # may ask the UI's API: once a run
        cache.acknowledge = acknowledge_url(settings.ui_url)
    people, names, subjects = cache.people, cache.names, cache.subjects
    rounds = {i.public_id.rsplit(":", 1)[0] for i in items.values() if i.subject and i.per}
    meetings = {i.ref: i.public_id for i in items.values() if i.kind == "meeting"}
    invited = ledger.invited_pairs(session, list(meetings))
    invitees: dict[int, set[str]] = {}
    for ref, email in invited:
        invitees.setdefault(ref, set()).add(email)
    changes = last_changes(session, meetings)
    feeds: dict[str, str] = {}
    if settings.public_url:  # the web app serves every feed from the database
        tokens = feed_tokens(session, {r.recipient.lower() for r in rows})
        feeds = {e: web_feed_url(settings.public_url, t) for e, t in tokens.items()}
    elif settings.feeds_url:
        recipients = {r.recipient.lower(): items[r.occurrence_id].partnership for r in rows}
        tokens = feed_tokens(session, recipients)
        feeds = {e: feed_url(settings.feeds_url, p, tokens[e]) for e, p in recipients.items()}
    return ComposeContext(
        partnerships={p.id: partnership_info(p) for p in partnerships},
        directory=people,
        names=names,
        subject_names=subjects,
        round_totals=round_sizes(session, rounds),
        reasons={ref: reason for ref, (_action, reason) in changes.items()},
        reinstated={ref for ref, (action, _reason) in changes.items() if action == "reopened"},
        previous=_with_rule_places(versions_before(session, meetings), items, partnerships),
        replaced=successors(list(items.values()), invitees),
        invited_before=set(invitees),
        invitees=invitees,
        feed_urls=feeds,
        act_url=cache.act,
        cockpit_urls=_cockpit_urls(settings, partnerships, cache),
        acknowledge_url=cache.acknowledge,
        installation=cache.installation,
        failures=with_failing(
            session, ledger.failure_notes(session, [r.stage for r in rows if r.kind == "failure"])
        )
        | quorum_notes(session, partnerships, people, [r for r in rows if r.kind == "quorum"]),
        action_links=_action_links(session, settings, items, rows, cache, now, issue_links),
    )


def _with_rule_places(
    previous: dict[int, dict], items: dict[int, Item], partnerships: list[Partnership]
) -> dict[int, dict]:
    """A snapshot without its own location was at the rule's place: say which."""
    rules = {(p.id, r.id): r for p in partnerships for r in p.rules}
    for ref, before in previous.items():
        item = items.get(ref)
        rule = rules.get((item.partnership, item.rule)) if item else None
        if "location" in before and not before["location"] and rule is not None:
            before["location"] = rule.location
    return previous
