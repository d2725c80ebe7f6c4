"""Who is who: partnerships, agencies, schools, people, their roles and delegations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow
from rules.model import DEFAULT_TIMEZONE


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


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=254)
    name: str
    is_sample: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RoleAssignment(SQLModel, table=True):
    """A person holds a role in a partnership, optionally for one agency or school."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("person_id", "partnership_id", "role", "agency_code", "school_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    partnership_id: str = Field(foreign_key="partnership.id", index=True)
    role: str = Field(max_length=64)
    agency_code: str = Field(default="", max_length=64)
    school_code: str = Field(default="", max_length=64)


class Delegation(SQLModel, table=True):
    """A Delegated Safeguarding Partner acting for a Lead Safeguarding Partner."""

    __table_args__ = (UniqueConstraint("partnership_id", "delegate_id", "lead_id"),)

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: str = Field(foreign_key="partnership.id", index=True)
    delegate_id: int = Field(foreign_key="person.id")
    lead_id: int = Field(foreign_key="person.id")
