"""The governance calendar as immutable values: partnerships, rules, schedules, occurrences.

Nothing here reads a file, a clock or a database; the loader builds these from YAML and
the engine turns them into dated occurrences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from govcal.rules.sources import reference_matches, source_in_words

# The zone of a rule file that names none. Every date and time of a partnership is in
# its own `timezone` (Partnership.tz); this is only the default a file falls back to.
DEFAULT_TIMEZONE = "Europe/London"
# A meeting a rule change moved by less than this takes over from the orphaned one: it
# keeps the orphan's place (sync) and its invitation names the meeting it replaces.
REPLACES_WITHIN = timedelta(days=45)


class Kind(StrEnum):
    MEETING = "meeting"
    AUDIT = "audit"
    PUBLICATION = "publication"
    REVIEW = "review"
    REPORT = "report"
    ACTION = "action"


class Per(StrEnum):
    """Obligations that fan out to one item per member of the directory."""

    AGENCY = "agency"
    SCHOOL = "school"


class Unit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"
    WORKING_DAYS = "working days"
    CLEAR_WORKING_DAYS = "clear working days"


class Adjust(StrEnum):
    NONE = "none"
    NEXT_WORKING_DAY = "next-working-day"
    PREVIOUS_WORKING_DAY = "previous-working-day"


class Anchor(StrEnum):
    FIXED = "fixed"
    COMPLETION = "completion"


class Basis(StrEnum):
    """What a derived deadline counts from: the other item's due date or its completion."""

    DUE = "due"
    COMPLETION = "completion"


@dataclass(frozen=True, slots=True)
class Offset:
    amount: int
    unit: Unit

    def __str__(self) -> str:
        unit = str(self.unit)
        return f"{self.amount} {unit[:-1] if self.amount == 1 else unit}"


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A repeating schedule: an RFC 5545 RRULE from a local DTSTART, or a completion chain.

    `rrule` never holds DTSTART; `start` is a naive local date-time (wall clock in the
    partnership's time zone), so a 10:00 meeting stays at 10:00 across clock changes.
    `timed` says whether the start carried a time of day (meetings) or just a date.
    """

    rrule: str
    start: datetime
    timed: bool
    anchor: Anchor = Anchor.FIXED
    step_months: int = 0  # for completion-anchored chains
    step_days: int = 0
    extra_dates: tuple[datetime, ...] = ()
    described_as: str = ""


@dataclass(frozen=True, slots=True)
class DateList:
    dates: tuple[datetime, ...]
    timed: bool


@dataclass(frozen=True, slots=True)
class EventDeadline:
    """A deadline that starts when an event (a serious incident notice...) happens."""

    event: str
    offset: Offset


@dataclass(frozen=True, slots=True)
class DerivedDeadline:
    """A deadline before or after each occurrence of another rule."""

    rule: str
    offset: Offset
    before: bool
    basis: Basis = Basis.DUE


Schedule = Recurrence | DateList | EventDeadline | DerivedDeadline


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """Who hears of an overdue item `day` days after its due date."""

    day: int
    to: tuple[str, ...] = ()
    flag: str | None = None  # e.g. "scrutineer": a dashboard flag, never an email


@dataclass(frozen=True, slots=True)
class Ladder:
    reminder_days: tuple[int, ...]
    escalations: tuple[EscalationStep, ...]


DEFAULT_LADDER = Ladder(
    reminder_days=(28, 14, 7, 1, 0),
    escalations=(
        EscalationStep(day=1, to=("owner", "business-team")),
        EscalationStep(day=7, to=("dsp",)),
        EscalationStep(day=14, to=("lsp",)),
        EscalationStep(day=28, flag="scrutineer"),
    ),
)


@dataclass(frozen=True, slots=True)
class Role:
    """A role: `title` as the file gives it, `name` in words for messages.

    `name` is the short display name ("Lead Safeguarding Partners"); when a file gives
    only a title, the loader takes the title without its parenthesised detail.
    """

    id: str
    title: str
    name: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.title


@dataclass(frozen=True, slots=True)
class Horizon:
    """How far ahead a meeting's first invites go: calendar months and days."""

    months: int = 0
    days: int = 0

    @property
    def longest_days(self) -> int:
        return self.months * 31 + self.days

    def reaches(self, today: date) -> date:
        """The last day it reaches from `today`."""
        return today + relativedelta(months=self.months, days=self.days)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    kind: Kind
    owner: str
    schedule: Schedule
    evidence: str
    source: str
    attendees: tuple[str, ...] = ()
    chairs: tuple[str, ...] = ()  # meetings: attendee roles that chair it
    quorum: tuple[str, ...] = ()  # meetings: attendee roles that must be present
    per: Per | None = None
    per_filter: tuple[str, ...] = ()  # agency types or school phases; empty: all
    adjust: Adjust = Adjust.NONE
    duration_minutes: int = 0
    ladder: Ladder | None = None
    extra_attendees: tuple[tuple[tuple[int, ...], tuple[str, ...]], ...] = ()  # (months, roles)
    origin: str = "local"  # inherited / overridden from the baseline, or local
    location: str = ""  # meetings only: where it is held ("" = not yet set)
    online_url: str = ""  # meetings only: the online-meeting link, if any
    invite_horizon: Horizon | None = None  # meetings: first invites this far ahead
    notes: str = ""
    line: int = 0

    def attendees_on(self, day: date) -> tuple[str, ...]:
        """Who is invited to the occurrence of `day` (its nominal date): the usual
        attendees plus any roles invited in that month only."""
        extra = [r for months, roles in self.extra_attendees if day.month in months for r in roles]
        return (*self.attendees, *(r for r in dict.fromkeys(extra) if r not in self.attendees))


@dataclass(frozen=True, slots=True)
class Partnership:
    id: str
    name: str
    timezone: str
    roles: dict[str, Role]
    events: dict[str, str]
    rules: tuple[Rule, ...]
    ladder: Ladder = DEFAULT_LADDER
    due_soon_days: int = 14
    source_file: str = ""
    notes: str = ""
    business_team_mailbox: str | None = None  # ORGANIZER / Reply-To of invites
    documents: dict[str, str] = field(default_factory=dict)  # source key -> title
    active_from: date | None = None  # first day in force (None: always was)
    active_until: date | None = None  # last day in force, inclusive (None: still is)
    incident_reference: str | None = None  # regex an incident reference must match
    baseline: str | None = None  # the statutory baseline the file builds on (wt2023...)
    baseline_name: str = ""
    opted_out: tuple[tuple[str, str, str], ...] = ()  # (rule id, title, reason)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_active(self, as_of: date) -> bool:
        """In force on `as_of`: superseded partnerships keep their history, create nothing."""
        if self.active_from is not None and as_of < self.active_from:
            return False
        return self.active_until is None or as_of <= self.active_until

    def source_in_words(self, rule: Rule) -> str:
        """The rule's source with document keys ("004") replaced by their titles."""
        return source_in_words(rule.source, self.documents)

    def incident_reference_ok(self, reference: str) -> bool:
        """Whether a typed incident reference fits this partnership's pattern (if any)."""
        return reference_matches(reference, self.incident_reference)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"partnership {self.id} has no rule '{rule_id}'")

    def ladder_for(self, rule: Rule) -> Ladder:
        return rule.ladder or self.ladder


def active_partnerships(partnerships: list[Partnership], as_of: date) -> list[Partnership]:
    """The partnerships in force on `as_of`: today's status, digests, feeds and dashboard
    leave superseded ones out (their history stays in the database)."""
    return [p for p in partnerships if p.is_active(as_of)]


@dataclass(frozen=True, slots=True)
class Subject:
    """A member of the directory an obligation fans out to (an agency or a school)."""

    id: str
    name: str
    category: str  # agency type or school phase


@dataclass(frozen=True, slots=True)
class Event:
    """Something that starts statutory clocks. `ref` is a reference, never a child's details."""

    kind: str
    ref: str
    on: date


@dataclass(frozen=True, slots=True, order=True)
class Occurrence:
    """One dated instance of a rule: the unit that is completed, reminded and escalated."""

    due: date
    partnership: str
    rule: str
    period: str
    subject: str | None = None
    starts_at: datetime | None = None  # aware, for timed meetings
    ends_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.partnership, self.rule, self.period, self.subject or "")

    @property
    def id(self) -> str:
        base = f"{self.partnership}:{self.rule}:{self.period}"
        return f"{base}:{self.subject}" if self.subject else base


@dataclass(frozen=True)
class ExpansionContext:
    """What expansion needs beyond the rules: the directory, events and past completions.

    `completions` maps an occurrence key to the day it was completed; it drives
    completion-anchored recurrences and deadlines counted from a completion. `moved`
    (the due date a person rescheduled an occurrence to) and `cancelled` make deadlines
    that hang on an occurrence follow what really happened: they move with it, or go
    with it.
    """

    subjects: dict[Per, tuple[Subject, ...]] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    completions: dict[tuple[str, str, str, str], date] = field(default_factory=dict)
    moved: dict[tuple[str, str, str, str], date] = field(default_factory=dict)
    cancelled: frozenset[tuple[str, str, str, str]] = frozenset()
