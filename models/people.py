"""People, the roles they hold and their delegations: tables of their own module, built
only by the commands that read or import the directory (notify, import, directory
changes), not by status, plan or the write commands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

import govcal.models.directory  # noqa: F401  the partnership table these refer to
from govcal.models.types import UTCDateTime, utcnow


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
