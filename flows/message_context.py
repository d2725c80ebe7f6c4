"""Read, once per batch, what messages need beyond the ledger rows: names in words,
round sizes, what changed, feed links and the installation's Message-ID part."""

from __future__ import annotations

import hashlib
import socket

from sqlmodel import Session

from flows.ui_links import acknowledge_url, act_url
from models import ledger
from models.feed_tokens import feed_tokens, installation_id
from models.notify_inputs import directory as load_directory
from models.notify_inputs import round_sizes, versions_before
from models.queries import occurrence_reasons, subject_names
from models.settings import get_settings
from notifications.compose import ComposeContext, PartnershipInfo
from rules.model import Partnership
from rules.notify_plan import Item, successors


def partnership_info(partnership: Partnership) -> PartnershipInfo:
    return PartnershipInfo(
        name=partnership.name,
        timezone=partnership.timezone,
        role_names={key: role.display_name for key, role in partnership.roles.items()},
        mailbox=partnership.business_team_mailbox,
    )


def feed_url(base: str, partnership_id: str, token: str) -> str:
    return f"{base.rstrip('/')}/{partnership_id}/people/{token}.ics"


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
    rows: list,
    cache: dict[str, object] | None = None,
) -> ComposeContext:
    """`cache` keeps what does not change between batches of one run (the directory)."""
    settings = get_settings()
    cache = {} if cache is None else cache
    if "people" not in cache:
        people = load_directory(session, [p.id for p in partnerships])
        cache["people"] = people
        cache["names"] = {
            c.email: c.name for holders in people.holders.values() for _a, _s, c in holders
        }
        subjects: dict[str, str] = {}
        for partnership in partnerships:
            subjects.update(subject_names(session, partnership.id))
        cache["subjects"] = subjects
        cache["installation"] = installation_part(session)
        cache["act"] = act_url(settings.ui_url)  # may ask the UI's API: once a run
        cache["acknowledge"] = acknowledge_url(settings.ui_url)
    people = cache["people"]  # type: ignore[assignment]
    names: dict[str, str] = cache["names"]  # type: ignore[assignment]
    subjects = cache["subjects"]  # type: ignore[assignment]
    rounds = {i.public_id.rsplit(":", 1)[0] for i in items.values() if i.subject and i.per}
    meetings = {i.ref: i.public_id for i in items.values() if i.kind == "meeting"}
    invited = ledger.invited_pairs(session, list(meetings))
    invitees: dict[int, set[str]] = {}
    for ref, email in invited:
        invitees.setdefault(ref, set()).add(email)
    reasons = occurrence_reasons(session, items)
    feeds: dict[str, str] = {}
    if settings.feeds_url:
        recipients = {r.recipient.lower(): items[r.occurrence_id].partnership for r in rows}
        tokens = feed_tokens(session, recipients)
        feeds = {e: feed_url(settings.feeds_url, p, tokens[e]) for e, p in recipients.items()}
    return ComposeContext(
        partnerships={p.id: partnership_info(p) for p in partnerships},
        directory=people,
        names=names,
        subject_names=subjects,
        round_totals=round_sizes(session, rounds),
        reasons=reasons,
        previous=_with_rule_places(versions_before(session, meetings), items, partnerships),
        replaced=successors(list(items.values()), invitees),
        invited_before=set(invitees),
        feed_urls=feeds,
        act_url=str(cache["act"]),
        acknowledge_url=str(cache["acknowledge"]),
        installation=str(cache["installation"]),
        failures=ledger.failure_notes(session, [r.stage for r in rows if r.kind == "failure"]),
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
