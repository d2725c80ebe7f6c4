"""Secrets that belong to one installation: each person's feed token, and the random
part of every Message-ID and of new events' calendar UIDs.

A feed file is named by a random token, not by anything computable from an address, so
a leaked link can be revoked (`govcal feeds --rotate EMAIL`) without changing anyone's
address; the token is stored once and reused so subscriptions keep working.

A token about to be given out (written into feed files, printed after a rotation) is
committed first (`issue_feed_tokens`, `rotate_feed_token`); one only read or minted for
an email joins the caller's unit of work.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from govcal.models.chunks import chunks
from govcal.models.types import UTCDateTime, table_of, utcnow


class FeedToken(SQLModel, table=True):
    __tablename__ = "feed_token"

    email: str = Field(primary_key=True, max_length=254)  # lower case
    token: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InstallationSetting(SQLModel, table=True):
    """Values minted once per database (e.g. the Message-ID random part)."""

    __tablename__ = "installation_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)


def _new_token() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits, 24 URL-safe characters


def feed_tokens(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """email (lower case) -> token, creating tokens for addresses that have none. Two runs
    minting a token for one address at once (a person in two shares of the national day)
    agree on the first one written: the insert leaves an address already there alone,
    waiting for the other's commit, and both read the tokens back."""
    wanted = sorted({e.strip().lower() for e in emails if e.strip()})
    found = _tokens_of(session, wanted)
    missing = [e for e in wanted if e not in found]
    if not missing:
        return found
    from sqlalchemy.dialects import postgresql, sqlite

    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    table = FeedToken.__table__  # type: ignore[attr-defined]
    for chunk in chunks(missing):
        connection.execute(
            dialect.insert(table).on_conflict_do_nothing(index_elements=["email"]),
            [{"email": e, "token": _new_token(), "created_at": utcnow()} for e in chunk],
        )
    return found | _tokens_of(session, missing)


def _tokens_of(session: Session, emails: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunks(emails):
        found.update(
            session.exec(
                select(FeedToken.email, FeedToken.token).where(col(FeedToken.email).in_(chunk))
            ).all()
        )
    return found


def issue_feed_tokens(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """As `feed_tokens`, committed before it returns: these links are about to be written
    into feed files, and a file must never name a token the database then loses."""
    found = feed_tokens(session, emails)
    session.commit()
    return found


def all_feed_tokens(session: Session) -> list[FeedToken]:
    return list(session.exec(select(FeedToken).order_by(FeedToken.email)).all())


def rotate_feed_token(session: Session, email: str) -> tuple[str, str] | None:
    """A new token for `email`; returns (old, new), or None if it has no feed. Committed
    before it returns: the new link is shown at once, and the old one must stop working."""
    row = session.get(FeedToken, email.strip().lower())
    if row is None:
        return None
    old = row.token
    row.token = _new_token()
    row.created_at = utcnow()
    session.commit()
    return old, row.token


UID_FORM_KEY = "uid-form-after-occurrence"  # written by migration 0009
OLD_UID_DOMAIN = "govcal"  # the UIDs of events that existed before it


@dataclass(frozen=True)
class UidForm:
    """How an occurrence's calendar UID is written: events created after `after` (an
    occurrence id) carry this installation's id; older ones keep the UID that calendars
    already hold."""

    domain: str
    after: int

    def uid(self, public_id: str, ref: int) -> str:
        return f"{public_id}@{self.domain if ref > self.after else OLD_UID_DOMAIN}"


def uid_form(session: Session) -> UidForm:
    """This database's UID form (read once per batch). The installation's id is committed
    the first time it is minted: a UID given out is never minted again differently."""
    if session.get(InstallationSetting, "message-id") is None:
        installation_id(session)
        session.commit()
    mark = session.get(InstallationSetting, UID_FORM_KEY)
    after = int(mark.value) if mark is not None else 2**62  # no mark: keep every old UID
    return UidForm(f"{installation_id(session)}.govcal", after)


def installation_id(session: Session) -> str:
    """A random id for this database, minted on first use and kept. Two runs minting it
    at once (two notifies on a new database) agree on the first one written: the insert
    ignores a key already there, waiting for the other's commit, and both read it back."""
    row = session.get(InstallationSetting, "message-id")
    if row is not None:
        return row.value
    from sqlalchemy.dialects import postgresql, sqlite

    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    table = table_of(InstallationSetting)
    connection.execute(
        dialect.insert(table)
        .values(key="message-id", value=secrets.token_hex(6))
        .on_conflict_do_nothing(index_elements=["key"])
    )
    kept = session.get(InstallationSetting, "message-id", populate_existing=True)
    assert kept is not None  # inserted above, or by the run that got there first
    return kept.value
