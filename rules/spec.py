"""The shape of a partnership rule file, as pydantic models.

Only the shape lives here (keys, types, required fields); meaning (is the schedule
understood, does the owner role exist) is checked by the loader. Unknown keys are
errors: a misspelt `sourse:` must not silently drop the source.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govcal.rules.model import DEFAULT_TIMEZONE


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EscalationSpec(_Strict):
    day: int = Field(ge=1, le=366)
    to: list[str] = []
    flag: str | None = None


class ScheduleSpec(_Strict):
    # recurrences
    every: str | None = None
    rrule: str | None = None
    start: str | None = None
    until: str | None = None
    count: int | None = None
    anchor: str | None = Field(default=None, alias="from")
    dates: list[str] | None = None
    once: str | None = None
    # event-relative and derived deadlines
    event: str | None = None
    rule: str | None = None
    within: str | None = None
    after: str | None = None
    before: str | None = None
    basis: str | None = None


class ExtraAttendeesSpec(_Strict):
    """Roles invited to some occurrences of a meeting only (e.g. June and December)."""

    months: list[str | int]
    roles: list[str]


class ObligationSpec(_Strict):
    id: str
    title: str
    kind: str
    owner: str
    schedule: ScheduleSpec
    evidence: str | None = None  # required: checked by the loader, so that a missing
    source: str | None = None  # source does not hide the obligation's other problems
    attendees: list[str] = []
    chairs: list[str] = []  # meetings: the attendee roles that chair it (ROLE=CHAIR in invites)
    quorum: list[str] = []  # meetings: the attendee roles that must be present
    extra_attendees: list[ExtraAttendeesSpec] = []
    recipients: list[str] = []
    per: str | None = None
    only: list[str] = []
    adjust: str | None = None
    duration: str | None = None
    reminders: list[int] | None = None
    escalation: list[EscalationSpec] | None = None
    location: str | None = None
    online_url: str | None = None
    invite_horizon: str | None = None  # meetings: how far ahead first invites go ("12 months")
    notes: str = ""


class ActiveSpec(_Strict):
    """When a partnership is in force: `from` its first day, `until` its last (inclusive)."""

    start: str | None = Field(default=None, alias="from")
    until: str | None = None


class RoleSpec(_Strict):
    """A role written out: `name` in words for messages, `who` the people behind it."""

    name: str
    who: str = ""


class PartnershipHeader(_Strict):
    id: str
    name: str
    timezone: str = DEFAULT_TIMEZONE
    due_soon_days: int = Field(default=14, ge=0, le=366)
    reminders: list[int] | None = None
    escalation: list[EscalationSpec] | None = None
    baseline: str | None = None  # e.g. wt2023: the statutory duties this file builds on
    business_team_mailbox: str | None = None
    documents: dict[str, str] = {}
    active: ActiveSpec | None = None
    incident_reference: str | None = None
    notes: str = ""


class OptOutSpec(_Strict):
    """A baseline duty this partnership does not take on, and why (the reason is required)."""

    id: str
    reason: str


class BaselineHeader(_Strict):
    id: str
    name: str
    notes: str = ""


class BaselineFile(_Strict):
    """A statutory baseline: the duties of one edition of the guidance, written once."""

    baseline: BaselineHeader
    documents: dict[str, str] = {}  # source key -> title, for every partnership built on it
    roles: dict[str, Any]
    events: dict[str, str] = {}
    obligations: list[dict[str, Any]]


class PartnershipFile(_Strict):
    """The file's outline. Obligations are validated one by one (see the loader), so a
    broken obligation does not hide the problems of the others."""

    partnership: PartnershipHeader
    roles: dict[str, Any]  # a title, or a RoleSpec mapping: checked by the loader
    events: dict[str, str] = {}
    obligations: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []  # baseline duties changed by id
    opt_out: list[OptOutSpec] = []
