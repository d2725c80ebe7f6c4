"""Calendar feeds kept in the database, for the web app to serve by token.

Each feed (a person's, the partnership's, a body's) is keyed as its feed token is
(models.feed_tokens: a person's address, or `group:PARTNERSHIP[/roles/NAME]`), so a
rotated token stops serving at once while the stored feed stays. Stored whole, with the
digest of its bytes (the ETag) and when those bytes last changed (Last-Modified): an
unchanged rewrite keeps both, so a polling client gets 304.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, Session, SQLModel, col, select

from govcal.models.feed_tokens import FeedToken
from govcal.models.types import UTCDateTime, utcnow

GROUP = "group:"  # the key prefix of a feed that is not one person's


class ServedFeed(SQLModel, table=True):
    __tablename__ = "served_feed"

    key: str = Field(primary_key=True, max_length=254)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    etag: str = Field(max_length=64)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
    is. Returns how many changed (joins the caller's unit of work)."""
    changed = 0
    for key, content in feeds.items():
        etag = hashlib.sha256(content).hexdigest()[:32]
        row = session.get(ServedFeed, key)
        if row is not None and row.etag == etag:
            continue
        if row is None:
            row = ServedFeed(key=key, content=content, etag=etag)
        row.content, row.etag, row.changed_at = content, etag, utcnow()
        session.add(row)
        changed += 1
    return changed


def by_token(
    session: Session, token: str, unless: Callable[[Feed], bool] | None = None
) -> Feed | None:
    """The feed a token opens today, or None (unknown, rotated, or never written). A
    poll's check comes first, on the ETag and date alone: when `unless` holds, the
    feed's bytes are not read (a 304 reads one small row through two unique indexes)."""
    stamp = session.exec(
        select(ServedFeed.key, ServedFeed.etag, ServedFeed.changed_at)
        .join(FeedToken, col(FeedToken.email) == col(ServedFeed.key))
        .where(FeedToken.token == token)
    ).first()  # fmt: skip
    if stamp is None:
        return None
    key, etag, changed_at = stamp
    feed = Feed(b"", etag, changed_at)
    if unless is not None and unless(feed):
        return feed
    content = session.exec(select(ServedFeed.content).where(ServedFeed.key == key)).one()
    return Feed(content, etag, changed_at)
