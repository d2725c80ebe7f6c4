"""Who is who: partnerships, agencies and schools (people, their roles and delegations:
models/people.py, which the everyday commands need not build)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from govcal.models.types import UTCDateTime, utcnow
from govcal.rules.model import DEFAULT_TIMEZONE


class AgencyType(StrEnum):
    STATUTORY_PARTNER = "statutory-partner"
    RELEVANT_AGENCY = "relevant-agency"


class SchoolPhase(StrEnum):
    NURSERY = "nursery"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    SPECIAL = "special"
    PRU = "pru"


class PartnershipRow(SQLModel, table=True):
    __tablename__ = "partnership"

    id: str = Field(primary_key=True, max_length=64)
    name: str
    timezone: str = DEFAULT_TIMEZONE
    rules_file: str = ""
    synced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Agency(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("partnership_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: str = Field(foreign_key="partnership.id", index=True)
    code: str = Field(max_length=64)
    name: str
    type: str  # AgencyType
    category: str = ""  # local-authority, police, health, education, justice, voluntary...
    lead_partner: str = ""  # code of the statutory partner whose DSP oversees this agency
    is_sample: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class School(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("partnership_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: str = Field(foreign_key="partnership.id", index=True)
    code: str = Field(max_length=64)  # e.g. the URN
    name: str
    phase: str  # SchoolPhase
    is_sample: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
