"""The append-only audit trail: every change of state, by whom, when, from where.

Rows are only ever inserted; database triggers (see the migrations) refuse UPDATE and
DELETE, so the trail stays trustworthy even against a careless script.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel

from govcal.models.types import UTCDateTime, utcnow


class Channel(StrEnum):
    CLI = "cli"
    PREFECT_UI = "prefect-ui"
    API = "api"
    EMAIL_LINK = "email-link"  # a signed link in an email, opened in the web app
    SYNC = "sync"
    SYSTEM = "system"


class TrailEntry(SQLModel, table=True):
    __tablename__ = "audit_trail"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str
    channel: str  # Channel
    action: str  # completed, waived, reopened, rescheduled, cancelled, synced, imported...
    entity: str  # occurrence, audit_return, incident, directory, partnership
    entity_id: str = Field(index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    reason: str | None = None


def record(
    session: Session,
    *,
    actor: str,
    channel: Channel | str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    session.add(
        TrailEntry(
            actor=actor,
            channel=str(channel),
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
            reason=reason,
        )
    )
