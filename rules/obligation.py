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
from typing import Any

from rules.compile import compile_schedule
from rules.ladder import build_ladder
from rules.model import Adjust, Kind, Ladder, Per, Role, Rule, Schedule
from rules.report import SLUG, Report
from rules.schedule import MONTHS, ScheduleError
from rules.spec import ObligationSpec, ScheduleSpec
from rules.yamlsource import Path as DataPath

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
        notes=spec.notes,
        line=report.doc.line_of(base),
        origin=origin,
    )


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
