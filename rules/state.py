"""The state of an occurrence as of a given instant. Pure: "as of" is always a parameter.

Dates are compared in the partnership's time zone: at 23:30 UTC on 30 June the business
team in London is already living on 1 July, and that is the day that counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from govcal.rules.model import DEFAULT_TIMEZONE


class State(StrEnum):
    UPCOMING = "upcoming"
    DUE_SOON = "due_soon"
    DUE = "due"
    OVERDUE = "overdue"
    COMPLETED_ON_TIME = "completed_on_time"
    COMPLETED_LATE = "completed_late"
    WAIVED = "waived"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self in (State.UPCOMING, State.DUE_SOON, State.DUE, State.OVERDUE)

    @property
    def rag(self) -> str:
        """Red/Amber/Green as the business team reads a dashboard."""
        if self is State.OVERDUE:
            return "Red"
        if self in (State.DUE, State.DUE_SOON, State.COMPLETED_LATE):
            return "Amber"
        return "Green"


@dataclass(frozen=True, slots=True)
class Status:
    state: State
    days_overdue: int = 0  # days past due while open; days late once completed late
    days_until: int = 0  # days to go while upcoming or due soon

    def describe(self) -> str:
        if self.state is State.OVERDUE:
            return f"overdue by {self.days_overdue} day{'s' if self.days_overdue != 1 else ''}"
        if self.state is State.COMPLETED_LATE:
            return f"completed {self.days_overdue} day{'s' if self.days_overdue != 1 else ''} late"
        if self.state in (State.UPCOMING, State.DUE_SOON):
            return f"due in {self.days_until} day{'s' if self.days_until != 1 else ''}"
        return self.state.value.replace("_", " ")


# callers pass the partnership's zone (Partnership.tz); this is the rule files' default
_DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


def local_day(as_of: datetime | date, tz: ZoneInfo = _DEFAULT_ZONE) -> date:
    """The calendar day an instant falls on in `tz`, the partnership's time zone. Naive
    datetimes are taken as local."""
    if isinstance(as_of, datetime):
        return as_of.astimezone(tz).date() if as_of.tzinfo else as_of.date()
    return as_of


def evaluate(
    due: date,
    as_of: datetime | date,
    *,
    completed_on: date | None = None,
    waived: bool = False,
    cancelled: bool = False,
    due_soon_days: int = 14,
    tz: ZoneInfo = _DEFAULT_ZONE,
) -> Status:
    """Where an occurrence stands on the day `as_of` falls on.

    A completion recorded after `as_of` is ignored, so replaying a past day shows what
    the partnership saw that day.
    """
    today = local_day(as_of, tz)
    if cancelled:
        return Status(State.CANCELLED)
    if waived:
        return Status(State.WAIVED)
    if completed_on is not None and completed_on <= today:
        late = (completed_on - due).days
        if late > 0:
            return Status(State.COMPLETED_LATE, days_overdue=late)
        return Status(State.COMPLETED_ON_TIME)
    days = (due - today).days
    if days < 0:
        return Status(State.OVERDUE, days_overdue=-days)
    if days == 0:
        return Status(State.DUE)
    if days <= due_soon_days:
        return Status(State.DUE_SOON, days_until=days)
    return Status(State.UPCOMING, days_until=days)
