"""Evidence packs kept for download from govcal's web app (a Prefect run has no file to
hand over: the worker's disk is nobody's desk).

A pack is stored whole, HTML and CSV, under a random id; its download address carries
that id and an HMAC of it under the installation's web secret, so an address cannot be
guessed or altered, and it expires: a pack is a snapshot, made again when wanted.
Expired packs are deleted when the next one is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, Text
from sqlmodel import Field, Session, SQLModel, col, delete

from govcal.models.types import UTCDateTime, utcnow

KEPT_DAYS = 30


class PackFile(SQLModel, table=True):
    __tablename__ = "pack_file"

    id: str = Field(primary_key=True, max_length=32)
    partnership_id: str = Field(max_length=64)
    stem: str = Field(max_length=120)  # evidence-pack-wfscp-2025: the download's file name
    html: str = Field(sa_column=Column(Text, nullable=False))
    csv: str = Field(sa_column=Column(Text, nullable=False))
    made_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


def _mac(secret: str, pack_id: str) -> str:
    digest = hmac.new(secret.encode(), f"pack|{pack_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")[:32]


def keep(
    session: Session,
    secret: str,
    *,
    partnership_id: str,
    stem: str,
    html: str,
    csv: str,
    now: datetime | None = None,
) -> str:
    """Store a pack; returns its signed token (the download address's last part)."""
    now = now or utcnow()
    session.exec(delete(PackFile).where(col(PackFile.expires_at) <= now))
    pack_id = secrets.token_urlsafe(18)
    session.add(
        PackFile(
            id=pack_id,
            partnership_id=partnership_id,
            stem=stem,
            html=html,
            csv=csv,
            made_at=now,
            expires_at=now + timedelta(days=KEPT_DAYS),
        )
    )
    session.commit()
    return f"{pack_id}.{_mac(secret, pack_id)}"


def find(session: Session, secret: str, token: str, *, now: datetime) -> PackFile | None:
    """The live pack a token stands for, or None (forged, unknown or expired alike)."""
    pack_id, dot, mac = token.partition(".")
    if not dot or not pack_id or len(token) > 80:
        return None
    if not hmac.compare_digest(mac, _mac(secret, pack_id)):
        return None
    found = session.get(PackFile, pack_id)
    return found if found is not None and found.expires_at > now else None
