"""The figures of an evidence pack: how a partnership kept its calendar over a year.

Pure: given the year's items as recorded and the day the pack is drawn up, it says what
was done on time, late or missed, what was escalated, and each audit cycle's return
rate. The annual report quotes these figures, so each is defined once, here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Outcome(StrEnum):
    ON_TIME = "on time"
    LATE = "late"
    MISSED = "missed"  # past due and still not done on the day of the pack
    NOT_YET_DUE = "not yet due"
    WAIVED = "waived"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PackItem:
    """One obligation of the year as recorded (an audit return is one item per subject)."""

    id: str
    title: str
    kind: str
    owner: str
    due: date
    lifecycle: str = "open"  # open, completed, waived, cancelled
    completed_on: date | None = None
    completed_by: str | None = None
    evidence: str | None = None
    reason: str | None = None
    escalations: tuple[int, ...] = ()  # escalation days raised (sent), e.g. (1, 7, 14)
    cycle: str | None = None  # the audit cycle's id, for an S11/S175 return
    subject_name: str = ""
    rag: str | None = None  # the review of a return: red, amber, green

    def outcome(self, as_of: date) -> Outcome:
        if self.lifecycle == "waived":
            return Outcome.WAIVED
        if self.lifecycle == "cancelled":
            return Outcome.CANCELLED
        if self.completed_on is not None and self.completed_on <= as_of:
            return Outcome.LATE if self.completed_on > self.due else Outcome.ON_TIME
        return Outcome.MISSED if self.due < as_of else Outcome.NOT_YET_DUE

    def days_late(self, as_of: date) -> int:
        """Days after the due date it was done (late), or has been waiting (missed)."""
        outcome = self.outcome(as_of)
        if outcome is Outcome.LATE and self.completed_on:
            return (self.completed_on - self.due).days
        if outcome is Outcome.MISSED:
            return (as_of - self.due).days
        return 0


LEAD_PARTNERS_DAY = 14  # the default ladder's day for the Lead Safeguarding Partners


@dataclass
class CycleFigures:
    """One S11 or S175 round: who returned, when, and how the returns were rated."""

    cycle: str
    title: str
    due: date
    total: int = 0
    on_time: int = 0
    late: int = 0
    outstanding: int = 0
    rag: Counter[str] = field(default_factory=Counter)

    @property
    def returned(self) -> int:
        return self.on_time + self.late

    @property
    def return_rate(self) -> float:
        return self.returned / self.total if self.total else 0.0

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.total if self.total else 0.0


@dataclass
class PackFigures:
    """The year in figures. Rates are over the items that fell due (waived, cancelled
    and not-yet-due items are counted but not in the denominator)."""

    outcomes: Counter[Outcome] = field(default_factory=Counter)
    escalated: int = 0  # items that reached any escalation stage
    escalated_to_lead_partners: int = 0
    cycles: list[CycleFigures] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def fell_due(self) -> int:
        return sum(self.outcomes[o] for o in (Outcome.ON_TIME, Outcome.LATE, Outcome.MISSED))

    @property
    def on_time_rate(self) -> float:
        return self.outcomes[Outcome.ON_TIME] / self.fell_due if self.fell_due else 0.0

    @property
    def done_rate(self) -> float:
        done = self.outcomes[Outcome.ON_TIME] + self.outcomes[Outcome.LATE]
        return done / self.fell_due if self.fell_due else 0.0


def figures(
    items: list[PackItem], as_of: date, titles: dict[str, str] | None = None
) -> PackFigures:
    """The pack's figures. Audit returns count once in the totals and again, per cycle,
    in the return rates; `titles` names each cycle (default: its first return's title)."""
    out = PackFigures()
    cycles: dict[str, CycleFigures] = {}
    for item in items:
        outcome = item.outcome(as_of)
        out.outcomes[outcome] += 1
        if item.escalations:
            out.escalated += 1
            out.escalated_to_lead_partners += max(item.escalations) >= LEAD_PARTNERS_DAY
        if item.cycle is None:
            continue
        title = (titles or {}).get(item.cycle, item.title)
        cycle = cycles.setdefault(item.cycle, CycleFigures(item.cycle, title, item.due))
        cycle.due = min(cycle.due, item.due)
        if outcome in (Outcome.WAIVED, Outcome.CANCELLED):
            continue
        cycle.total += 1
        if outcome is Outcome.ON_TIME:
            cycle.on_time += 1
        elif outcome is Outcome.LATE:
            cycle.late += 1
        else:
            cycle.outstanding += 1
        if item.rag and outcome in (Outcome.ON_TIME, Outcome.LATE):
            cycle.rag[item.rag] += 1
    out.cycles = sorted(cycles.values(), key=lambda c: (c.due, c.cycle))
    return out


def percent(rate: float) -> str:
    """A rate as the annual report prints it: whole percent, rounded half up."""
    return f"{int(rate * 100 + 0.5)}%"


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    """One invitee of one meeting, as the business team recorded the meeting."""

    meeting: str  # the meeting's title and day, as the pack shows it
    organisation: str
    present: bool


@dataclass(frozen=True, slots=True)
class Attendance:
    """(present, recorded) per meeting and per organisation: the figure annual reports
    publish (e.g. "the police attended 4 of 4 meetings")."""

    by_meeting: dict[str, tuple[int, int]]
    by_organisation: dict[str, tuple[int, int]]


def attendance(rows: list[AttendanceRow]) -> Attendance:
    """An organisation counts as present at a meeting when anyone from it was there."""
    meetings: dict[str, list[int]] = {}
    organisations: dict[str, dict[str, bool]] = {}
    for row in rows:
        tally = meetings.setdefault(row.meeting, [0, 0])
        tally[0] += row.present
        tally[1] += 1
        seen = organisations.setdefault(row.organisation, {})
        seen[row.meeting] = seen.get(row.meeting, False) or row.present
    return Attendance(
        {m: (a, b) for m, (a, b) in meetings.items()},
        {o: (sum(seen.values()), len(seen)) for o, seen in sorted(organisations.items())},
    )
