"""Section 11 and Section 175 audit cycles, tracked one return at a time."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from govcal.models.types import UTCDateTime, utcnow


class Rag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


class AuditCycle(SQLModel, table=True):
    """One round of an audit (e.g. S175 returns due 31 March 2026) for a partnership."""

    __tablename__ = "audit_cycle"
    __table_args__ = (UniqueConstraint("partnership_id", "rule_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(unique=True, max_length=255)  # wfscp:section-175-audit:2026-03-31
    partnership_id: str = Field(foreign_key="partnership.id")
    rule_id: str = Field(max_length=64)
    period: str = Field(max_length=64)
    title: str
    per: str  # agency or school
    due: date
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # requests sent


class AuditReturn(SQLModel, table=True):
    """One agency's or school's return in a cycle; it completes that subject's occurrence."""

    __tablename__ = "audit_return"
    __table_args__ = (UniqueConstraint("cycle_id", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="audit_cycle.id", index=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", unique=True)
    subject: str = Field(max_length=64)
    requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by: str | None = None
    rag: str | None = None  # Rag
    review_note: str | None = None


class FollowUpAction(SQLModel, table=True):
    """An action agreed when a return is reviewed, with its own due date."""

    __tablename__ = "follow_up_action"

    id: int | None = Field(default=None, primary_key=True)
    return_id: int = Field(foreign_key="audit_return.id", index=True)
    description: str
    due: date
    completed_at: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
