"""Signed one-click links in emails: one person, one item, one action.

A link's token is a random id stored here, followed by an HMAC of it under the
installation's web secret (hmac, stdlib): a forged or altered token fails the signature
before any lookup, and one that was never issued is not found; both read alike to the
person. The stored row is what makes a link revocable and makes a second click say what
the first one recorded. A link is only ever reused for the same (person, item, action)
while it is live, so a year of digests does not mint thousands of rows per person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, Index, bindparam
from sqlmodel import Field, Session, SQLModel, col, select

from govcal.models.types import UTCDateTime, utcnow


class LinkAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"  # a Lead Partner or DSP acknowledges an escalation
    DONE = "done"  # the owner of a meeting, report or action: done, with evidence
    RETURN = "return"  # an agency lead or school DSL submits their S11/S175 return
    FOLLOW_UP = "follow-up"  # a review's follow-up action is done
    ATTEND = "attend"  # an invitee answers: attending, not attending, a deputy


class ActionLink(SQLModel, table=True):
    __tablename__ = "action_link"
    __table_args__ = (Index("ix_action_link_holder", "email", "item", "action"),)

    id: str = Field(primary_key=True, max_length=32)
    email: str = Field(max_length=254)  # lower case
    partnership_id: str = Field(max_length=64)
    item: str = Field(max_length=255)  # an occurrence id, a round id, or follow-up:N
    action: str = Field(max_length=16)  # LinkAction
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    used_from: str | None = Field(default=None, max_length=64)  # the client's address
    outcome: str | None = Field(default=None, max_length=1000)  # what was recorded


def _mac(secret: str, purpose: str, link_id: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}|{link_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")[:32]


def token_of(secret: str, link_id: str) -> str:
    return f"{link_id}.{_mac(secret, 'link', link_id)}"


def form_key(secret: str, link_id: str) -> str:
    """The CSRF value of this link's form: only the server can compute it, and it is
    good for this link alone."""
    return _mac(secret, "form", link_id)


def checked_id(secret: str, token: str) -> str | None:
    """The link id if `token` carries our signature, else None (nothing looked up)."""
    link_id, dot, mac = token.partition(".")
    if not dot or not link_id or len(token) > 80:
        return None
    return link_id if hmac.compare_digest(mac, _mac(secret, "link", link_id)) else None


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime


def issue(
    session: Session,
    secret: str,
    *,
    email: str,
    partnership_id: str,
    item: str,
    action: LinkAction,
    days: int,
    now: datetime | None = None,
) -> Issued:
    """A live link for this person, item and action: the one already issued if it is
    still good for at least a week, else a new one (joins the caller's unit of work)."""
    now = now or utcnow()
    address = email.strip().lower()
    live = session.exec(
        select(ActionLink).where(
            ActionLink.email == address,
            ActionLink.item == item,
            ActionLink.action == action.value,
            col(ActionLink.revoked_at).is_(None),
            col(ActionLink.used_at).is_(None),
            col(ActionLink.expires_at) > now + timedelta(days=min(7, days)),
        )
    ).first()
    if live is None:
        live = ActionLink(
            id=secrets.token_urlsafe(12),
            email=address,
            partnership_id=partnership_id,
            item=item,
            action=action.value,
            issued_at=now,
            expires_at=now + timedelta(days=days),
        )
        session.add(live)
        session.flush()
    return Issued(token_of(secret, live.id), live.expires_at)


def issue_all(
    session: Session,
    secret: str,
    wanted: list[tuple[str, str, str, LinkAction]],
    *,
    days: int,
    now: datetime | None = None,
) -> dict[tuple[str, str, str], Issued]:
    """Links for (email, partnership, item, action) rows, committed before returning:
    they are about to be written into messages, and a message must never carry a link
    the database then loses (as feed links, models/feed_tokens.py)."""
    found: dict[tuple[str, str, str], Issued] = {}
    for email, partnership_id, item, action in wanted:
        key = (email.strip().lower(), item, action.value)
        if key not in found:
            found[key] = issue(
                session,
                secret,
                email=email,
                partnership_id=partnership_id,
                item=item,
                action=action,
                days=days,
                now=now,
            )
    if found:
        session.commit()
    return found


def find(session: Session, link_id: str) -> ActionLink | None:
    return session.get(ActionLink, link_id)


_LINKS = ActionLink.__table__  # type: ignore[attr-defined]
# built once: every answer runs both, and a built statement keeps its cache key
_CLAIM = (
    _LINKS.update()
    .where(_LINKS.c.id == bindparam("link_id"), _LINKS.c.used_at.is_(None))
    .values(used_at=bindparam("at"), used_from=bindparam("client"))
)
_OUTCOME = (
    _LINKS.update().where(_LINKS.c.id == bindparam("link_id")).values(outcome=bindparam("outcome"))
)


def claim(db: Session | Connection, link_id: str, *, at: datetime, client: str) -> bool:
    """Take the link for the answer being recorded, or False when another answer took it
    first (a double click's second POST at the same instant): one conditional UPDATE,
    which the database's write lock settles, so one answer is recorded per link."""
    taken = db.execute(_CLAIM, {"link_id": link_id, "at": at, "client": client[:64]})
    return bool(getattr(taken, "rowcount", 0) == 1)


def record_outcome(db: Session | Connection, link_id: str, outcome: str) -> None:
    """What the claimed link recorded, as a second click is told."""
    db.execute(_OUTCOME, {"link_id": link_id, "outcome": outcome[:1000]})


def revoke_for(session: Session, *, email: str | None = None, item: str | None = None) -> int:
    """Revoke every live link of a person (they left) or of an item; returns how many."""
    query = select(ActionLink).where(
        col(ActionLink.revoked_at).is_(None), col(ActionLink.used_at).is_(None)
    )
    if email is not None:
        query = query.where(ActionLink.email == email.strip().lower())
    if item is not None:
        query = query.where(ActionLink.item == item)
    now = utcnow()
    count = 0
    for link in session.exec(query):
        link.revoked_at = now
        session.add(link)
        count += 1
    return count
