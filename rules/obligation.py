"""One obligation of a rule file, turned into a Rule.

The shape is already valid (rules/spec.py); this checks what it means: an id, a cited
source and the evidence that proves it was done (a duty nobody can trace or prove is
not one), a known kind, roles that are declared, a duration a meeting can have, venue
keys only on meetings, and a schedule the compiler understands. A rule with any problem
is left out and its problems reported, so the whole file still reports at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dateutil.rrule import rrulestr

from govcal.rules.compile import compile_schedule
from govcal.rules.ladder import build_ladder
from govcal.rules.model import (
    Adjust,
    Anchor,
    DateList,
    Horizon,
    Kind,
    Ladder,
    Per,
    Recurrence,
    Role,
    Rule,
    Schedule,
)
from govcal.rules.report import SLUG, Report
from govcal.rules.schedule import MONTHS, ScheduleError
from govcal.rules.spec import ObligationSpec, ScheduleSpec
from govcal.rules.yamlsource import Path as DataPath

_DURATION = re.compile(r"^(?:(\d{1,4})\s*h(?:ours?)?)?\s*(?:(\d{1,5})\s*m(?:in(?:ute)?s?)?)?$")
_URL = re.compile(r"^https?://[^\s<>\"]+$")


def build_rule(
    index: int,
    spec: ObligationSpec,
    roles: dict[str, Role],
    ladder: Ladder,
    events: Mapping[str, str],
    origin: str,
    report: Report,
) -> Rule | None:
    """Obligation `index` as a Rule, or None when it has a problem (in `report`).
    `ladder` is the partnership's, `events` its named events, `origin` where the
    obligation came from (a baseline or "local")."""
    base: DataPath = ("obligations", index)
    before = len(report)
    _check_identity(spec, base, report)
    kind = _enum(Kind, spec.kind, (*base, "kind"), "kind", report)
    if spec.owner not in roles:
        report.add(
            (*base, "owner"),
            f"owner role '{spec.owner}' of rule '{spec.id}' is not declared under roles:; "
            f"declared roles: {', '.join(roles)}",
        )
    extra = _extra_attendees(spec, roles, kind, base, report)
    for field in ("attendees", "recipients"):
        for i, role in enumerate(getattr(spec, field)):
            if role not in roles:
                report.add(
                    (*base, field, i),
                    f"{field[:-1]} role '{role}' of rule '{spec.id}' is not declared under roles:",
                )
    _check_chairs(spec, kind, base, report)
    _check_quorum(spec, kind, base, report)
    per = _enum(Per, spec.per, (*base, "per"), "per", report) if spec.per else None
    if spec.only and per is None:
        report.add((*base, "only"), "'only' filters a per-agency or per-school rule: add per:")
    how = (
        _enum(Adjust, spec.adjust, (*base, "adjust"), "adjust", report)
        if spec.adjust
        else Adjust.NONE
    )
    duration = _duration(spec.duration, (*base, "duration"), report)
    if duration == 0 and kind is Kind.MEETING:
        duration = 120
    schedule = _schedule(spec.schedule, events, (*base, "schedule"), report)
    rule_ladder = (
        build_ladder(spec.reminders, spec.escalation, base, roles, ladder, report)
        if spec.reminders is not None or spec.escalation is not None
        else None
    )
    _check_venue(spec, kind, base, report)
    if per is not None and schedule is not None:
        _check_per_member_bound(spec.id, per, schedule, (*base, "schedule"), report)
    horizon = _invite_horizon(spec, kind, (*base, "invite_horizon"), report)
    if len(report) > before or kind is None or schedule is None:
        return None
    return Rule(
        id=spec.id,
        title=spec.title,
        kind=kind,
        owner=spec.owner,
        schedule=schedule,
        evidence=spec.evidence or "",
        source=spec.source or "",
        attendees=tuple(spec.attendees) + tuple(spec.recipients),
        chairs=tuple(spec.chairs),
        quorum=tuple(spec.quorum),
        per=per,
        per_filter=tuple(spec.only),
        adjust=how,
        duration_minutes=duration,
        ladder=rule_ladder,
        extra_attendees=extra,
        location=" ".join((spec.location or "").split()),
        online_url=(spec.online_url or "").strip(),
        invite_horizon=horizon,
        notes=spec.notes,
        line=report.doc.line_of(base),
        origin=origin,
    )


# A per-agency or per-school rule makes one item per member: daily over 1,000 schools was
# 1.1 million rows and 2 GB. Monthly at most keeps a partnership's year to 12 items a
# member a rule, whatever the size of its directory (which a rule file does not know).
PER_MEMBER_A_YEAR = 12
YEAR = timedelta(days=365)


def _check_per_member_bound(
    rule_id: str, per: Per, schedule: Schedule, path: DataPath, report: Report
) -> None:
    most = _most_in_a_year(schedule)
    if most > PER_MEMBER_A_YEAR:
        report.add(
            path,
            f"rule '{rule_id}' is per: {per.value} and falls due {most} times a year, for "
            f"every {per.value}; a per-{per.value} rule recurs at most monthly "
            f"({PER_MEMBER_A_YEAR} a year): make it less frequent, or drop per: and keep one "
            "item for the partnership",
        )


def _most_in_a_year(schedule: Schedule) -> int:
    """The most items the schedule makes in any year (365 days, the end excluded); an
    event's or another rule's deadline makes one per event, so it is not counted here."""
    if isinstance(schedule, DateList):
        return _densest(sorted(schedule.dates))
    if not isinstance(schedule, Recurrence):
        return 0
    if schedule.anchor is Anchor.COMPLETION:
        span = schedule.step_months * 30 + schedule.step_days
        return 365 // span if span else 0
    start = schedule.start
    year = rrulestr(f"RRULE:{schedule.rrule}", dtstart=start).between(
        start, start + YEAR - timedelta(seconds=1), inc=True
    )
    return max(len(year), _densest(sorted((*year, *schedule.extra_dates))))


def _densest(dates: list[datetime]) -> int:
    """The most of the sorted `dates` inside any year."""
    most, first = 0, 0
    for last, day in enumerate(dates):
        while day - dates[first] >= YEAR:
            first += 1
        most = max(most, last - first + 1)
    return most


def _check_identity(spec: ObligationSpec, base: DataPath, report: Report) -> None:
    """An id, where the duty comes from and what proves it was done."""
    if not SLUG.match(spec.id):
        report.add(
            (*base, "id"), f"rule id '{spec.id}' must be lowercase letters, digits and dashes"
        )
    if spec.source is None:
        report.add(
            base,
            f"'source' is missing in obligation '{spec.id}': every rule must cite where it "
            "comes from (a seed file and section, or a statute and paragraph)",
        )
    elif not spec.source.strip():
        report.add(
            (*base, "source"),
            f"rule '{spec.id}' has an empty source: cite the seed file and section, or the "
            "statute and paragraph",
        )
    if not (spec.evidence or "").strip():
        report.add(
            base,
            f"'evidence' is missing in obligation '{spec.id}': say what proves it was done "
            "(minutes, a link to the published report...)",
        )


def _month_number(month: str | int) -> int | None:
    if isinstance(month, int):
        return month if 1 <= month <= 12 else None
    name = month.strip().lower()
    matches = [i for i, m in enumerate(MONTHS, start=1) if len(name) >= 3 and m.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def _extra_attendees(
    spec: ObligationSpec,
    roles: dict[str, Role],
    kind: Kind | None,
    base: DataPath,
    report: Report,
) -> tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]:
    out = []
    if spec.extra_attendees and kind is not None and kind is not Kind.MEETING:
        report.add((*base, "extra_attendees"), "extra_attendees is for meetings")
    for i, group in enumerate(spec.extra_attendees):
        path = (*base, "extra_attendees", i)
        months = []
        for month in group.months:
            number = _month_number(month)
            if number is None:
                report.add(
                    (*path, "months"),
                    f"month '{month}' is not understood; write e.g. June or 6",
                )
            else:
                months.append(number)
        for role in group.roles:
            if role not in roles:
                report.add(
                    (*path, "roles"),
                    f"extra attendee role '{role}' of rule '{spec.id}' is not declared "
                    "under roles:",
                )
        out.append((tuple(sorted(set(months))), tuple(group.roles)))
    return tuple(out)


def _check_quorum(spec: ObligationSpec, kind: Kind | None, base: DataPath, report: Report) -> None:
    """Who must be present is among who is invited: their answers are what is counted."""
    if spec.quorum and kind is not None and kind is not Kind.MEETING:
        report.add((*base, "quorum"), f"quorum is for meetings; rule '{spec.id}' is a {kind}")
        return
    invited = {
        spec.owner,
        *spec.attendees,
        *(role for group in spec.extra_attendees for role in group.roles),
    }
    for i, role in enumerate(spec.quorum):
        if role not in invited:
            report.add(
                (*base, "quorum", i),
                f"quorum role '{role}' of rule '{spec.id}' is neither its owner nor among its "
                "attendees: add it to attendees",
            )


def _check_chairs(spec: ObligationSpec, kind: Kind | None, base: DataPath, report: Report) -> None:
    """A chair is one of the meeting's own attendee roles, so the invite can mark them."""
    if spec.chairs and kind is not None and kind is not Kind.MEETING:
        report.add((*base, "chairs"), f"chairs is for meetings; rule '{spec.id}' is a {kind}")
        return
    invited = {
        spec.owner,
        *spec.attendees,
        *(role for group in spec.extra_attendees for role in group.roles),
    }
    for i, role in enumerate(spec.chairs):
        if role not in invited:
            report.add(
                (*base, "chairs", i),
                f"chair role '{role}' of rule '{spec.id}' is neither its owner nor among its "
                "attendees: add it to attendees",
            )


def _check_venue(spec: ObligationSpec, kind: Kind | None, base: DataPath, report: Report) -> None:
    for key in ("location", "online_url"):
        if getattr(spec, key) is not None and kind is not None and kind is not Kind.MEETING:
            report.add(
                (*base, key),
                f"{key} is for meetings; rule '{spec.id}' is a {kind}: remove it",
            )
    if spec.online_url is not None and not _URL.match(spec.online_url.strip()):
        report.add(
            (*base, "online_url"),
            f"online_url '{spec.online_url}' of rule '{spec.id}' is not a web address; "
            "write the full https:// link of the online meeting",
        )


_HORIZON = re.compile(r"^(\d{1,3})\s*(day|week|month|year)s?$")
_HORIZON_UNITS = {"day": (0, 1), "week": (0, 7), "month": (1, 0), "year": (12, 0)}
MAX_INVITE_HORIZON_DAYS = 731  # two years


def _invite_horizon(
    spec: ObligationSpec, kind: Kind | None, path: DataPath, report: Report
) -> Horizon | None:
    """`invite_horizon: 12 months`: first invites to a meeting that far ahead (chief
    executives' diaries are booked a year ahead). None when not given."""
    text = spec.invite_horizon
    if text is None:
        return None
    if kind is not None and kind is not Kind.MEETING:
        report.add(path, f"invite_horizon is for meetings; rule '{spec.id}' is a {kind}: remove it")
        return None
    match = _HORIZON.match(" ".join(str(text).lower().split()))
    horizon = None
    if match:
        months, days = _HORIZON_UNITS[match.group(2)]
        horizon = Horizon(int(match.group(1)) * months, int(match.group(1)) * days)
    if horizon is None or not 1 <= horizon.longest_days <= MAX_INVITE_HORIZON_DAYS:
        report.add(
            path,
            f"invite_horizon '{text}' of rule '{spec.id}' is not understood; write a span "
            "from 1 day to 24 months, e.g. '12 months', '90 days' or '8 weeks'",
        )
        return None
    return horizon


def _enum(enum: Any, value: str, path: DataPath, name: str, report: Report) -> Any:
    try:
        return enum(value)
    except ValueError:
        options = ", ".join(e.value for e in enum)
        report.add(path, f"{name} '{value}' is not one of: {options}")
        return None


def _duration(text: str | None, path: DataPath, report: Report) -> int:
    if text is None:
        return 0
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or not match or not any(match.groups()):
        report.add(path, f"duration '{text}' is not understood; write e.g. '2h' or '90m'")
        return 0
    minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
    if minutes > 24 * 60:
        report.add(path, f"duration '{text}' is longer than a day; a meeting is at most 24h")
        return 0
    return minutes


def _schedule(
    spec: ScheduleSpec, events: Mapping[str, str], path: DataPath, report: Report
) -> Schedule | None:
    try:
        return compile_schedule(spec, events)
    except ScheduleError as exc:
        report.add(path, str(exc))
        return None
