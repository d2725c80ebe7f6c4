"""Calendar feeds kept in the database, for the web app to serve by token.

Each feed (a person's, the partnership's, a body's) is keyed as its feed token is
(models.feed_tokens: a person's address, or `group:PARTNERSHIP[/roles/NAME]`), so a
rotated token stops serving at once while the stored feed stays. Stored whole, with the
digest of its bytes (the ETag) and when those bytes last changed (Last-Modified): an
unchanged rewrite keeps both, so a polling client gets 304.

A person's feed holds every partnership they have a role in, while each partnership's
items are written by the run of its own share of the national day: each partnership's
part of a person's feed is kept on its own (`PersonFeedPart`), and the person's served
feed is made again from all their parts whenever one changes (`parts_of`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, LargeBinary, bindparam, insert, update
from sqlmodel import Field, Session, SQLModel, col, select

from govcal.models.chunks import chunks
from govcal.models.feed_tokens import FeedToken
from govcal.models.types import UTCDateTime, utcnow

GROUP = "group:"  # the key prefix of a feed that is not one person's


class ServedFeed(SQLModel, table=True):
    __tablename__ = "served_feed"

    key: str = Field(primary_key=True, max_length=254)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    etag: str = Field(max_length=64)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PersonFeedPart(SQLModel, table=True):
    """One partnership's part of a person's feed (keyed as their feed token is)."""

    __tablename__ = "person_feed_part"

    email: str = Field(primary_key=True, max_length=254)
    partnership_id: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=255)  # the partnership's name
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    etag: str = Field(max_length=64)


@dataclass(frozen=True)
class Feed:
    content: bytes
    etag: str
    changed_at: datetime


def group_key(partnership_id: str, path: str = "") -> str:
    """`group:wfscp` for the partnership's feed, `group:wfscp/roles/NAME` for a body's."""
    return f"{GROUP}{partnership_id}{'/' + path if path else ''}"


def group_keys(keys: Iterable[str]) -> list[str]:
    return [k for k in keys if k.startswith(GROUP)]


def store(session: Session, feeds: dict[str, bytes]) -> int:
    """Keep these feeds (key -> bytes); a feed whose bytes did not change is left as it
    is. Returns how many changed (joins the caller's unit of work). The stored digests
    are read 500 keys a query and the changes written in bulk: a national day keeps
    32,000 feeds, and a read per feed was most of the feeds step on PostgreSQL."""
    etags = {key: hashlib.sha256(content).hexdigest()[:32] for key, content in feeds.items()}
    known: dict[str, str] = {}
    for chunk in chunks(sorted(etags)):
        found = select(ServedFeed.key, ServedFeed.etag).where(col(ServedFeed.key).in_(chunk))
        known.update(session.exec(found).all())
    now = utcnow()
    rows = [
        {"key": key, "content": feeds[key], "etag": etag, "changed_at": now}
        for key, etag in etags.items()
        if known.get(key) != etag
    ]
    new = [row for row in rows if row["key"] not in known]
    changed = [row for row in rows if row["key"] in known]
    if new:
        session.execute(insert(ServedFeed), new)
    if changed:  # by primary key, in bulk
        session.execute(update(ServedFeed), changed)
    return len(rows)


_STAMP = (
    select(ServedFeed.key, ServedFeed.etag, ServedFeed.changed_at)
    .join(FeedToken, FeedToken.email == ServedFeed.key)  # type: ignore[arg-type]
    .where(FeedToken.token == bindparam("token"))
)  # built once: a poll only binds its token
_CONTENT = select(ServedFeed.content).where(ServedFeed.key == bindparam("key"))


def by_token(
    db: Session | Connection, token: str, unless: Callable[[Feed], bool] | None = None
) -> Feed | None:
    """The feed a token opens today, or None (unknown, rotated, or never written). A
    poll's check comes first, on the ETag and date alone: when `unless` holds, the
    feed's bytes are not read (a 304 reads one small row through two unique indexes).
    `db`: a session, or a bare connection (models.db.read_scope) for a server's polls."""
    stamp = db.execute(_STAMP, {"token": token}).first()
    if stamp is None:
        return None
    key, etag, changed_at = stamp
    feed = Feed(b"", etag, changed_at)
    if unless is not None and unless(feed):
        return feed
    content = db.execute(_CONTENT, {"key": key}).scalar_one()
    return Feed(content, etag, changed_at)


def store_parts(
    session: Session, partnership_id: str, title: str, parts: dict[str, bytes]
) -> set[str]:
    """Keep one partnership's part of each person's feed (email -> bytes); the parts of
    people not in `parts` (no role there, or nothing in it) are removed. Returns the
    addresses whose part changed (joins the caller's unit of work)."""
    kept = {
        row.email: row
        for row in session.exec(
            select(PersonFeedPart).where(PersonFeedPart.partnership_id == partnership_id)
        )
    }
    changed: set[str] = set()
    for email, content in parts.items():
        etag = _etag(content)
        row = kept.pop(email, None)
        if row is not None and row.etag == etag and row.title == title:
            continue
        row = row or PersonFeedPart(
            email=email, partnership_id=partnership_id, title=title, content=content, etag=etag
        )
        row.title, row.content, row.etag = title, content, etag
        session.add(row)
        changed.add(email)
    for email, row in kept.items():
        session.delete(row)
        changed.add(email)
    session.flush()
    return changed


def parts_of(session: Session, emails: list[str]) -> dict[str, list[PersonFeedPart]]:
    """Every partnership's part of these people's feeds, in partnership order. Their feed
    tokens' rows are locked first (in address order, on PostgreSQL), so two shares that
    write the same person's feed at once make it one after the other, the second from
    both parts, never each from the other's old part."""
    found: dict[str, list[PersonFeedPart]] = {}
    for chunk in chunks(sorted(emails)):
        session.exec(
            select(FeedToken.email)
            .where(col(FeedToken.email).in_(chunk))
            .order_by(FeedToken.email)
            .with_for_update()
        ).all()
        rows = session.exec(
            select(PersonFeedPart)
            .where(col(PersonFeedPart.email).in_(chunk))
            .order_by(PersonFeedPart.email, PersonFeedPart.partnership_id)
        )
        for row in rows:
            found.setdefault(row.email, []).append(row)
    return found


def _etag(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:32]
