"""What the calendar produced and what people did about it: occurrences and incidents."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from govcal.models.types import UTCDateTime, utcnow


class Lifecycle(StrEnum):
    """What has been recorded. Upcoming/due/overdue are not stored: they depend on the day."""

    OPEN = "open"
    COMPLETED = "completed"
    WAIVED = "waived"
    CANCELLED = "cancelled"


class OccurrenceRow(SQLModel, table=True):
    __tablename__ = "occurrence"
    __table_args__ = (
        UniqueConstraint("partnership_id", "rule_id", "period", "subject"),
        Index("ix_occurrence_open_due", "lifecycle", "due"),
        Index("ix_occurrence_partnership_due", "partnership_id", "due"),
        Index("ix_occurrence_completed", "lifecycle", "completed_at"),  # status: recent news
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(unique=True, max_length=255)  # wfscp:lsp-meeting:2026-05-13
    partnership_id: str = Field(foreign_key="partnership.id")
    rule_id: str = Field(max_length=64)
    period: str = Field(max_length=64)
    subject: str = Field(default="", max_length=64)  # agency or school code, '' if none
    kind: str
    title: str
    owner_role: str
    due: date
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lifecycle: str = Field(default=Lifecycle.OPEN.value, max_length=16)
    completed_at: date | None = None
    completed_by: str | None = None
    evidence_url: str | None = None
    evidence_file: str | None = None
    evidence_note: str | None = None
    location: str | None = None  # where this one meeting is held, if not the rule's place
    reason: str | None = None  # why waived, cancelled, rescheduled or reopened
    rescheduled: bool = False  # a person moved it: sync keeps their date
    orphaned: bool = False  # the rule no longer produces it: kept, not deleted
    sequence: int = 0  # iCalendar SEQUENCE: bumped when the time changes or it is cancelled
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.partnership_id, self.rule_id, self.period, self.subject)


class Incident(SQLModel, table=True):
    """An event that starts statutory clocks. A reference only: never a child's details."""

    __table_args__ = (UniqueConstraint("partnership_id", "reference", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: str = Field(foreign_key="partnership.id", index=True)
    reference: str = Field(max_length=40)
    kind: str = Field(max_length=64)  # an event declared in the partnership's rule file
    occurred_on: date
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    recorded_by: str = ""
