"""Load partnership rule files, validate everything, and report every problem at once.

Loading is all or nothing: if any file has any problem, `load_partnerships` raises
`RuleFileError` listing each problem as `file:line: what is wrong; what to do`, and no
partnership is returned. A compiler-style report beats fixing one error per run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from rules.baseline import Overlay, overlay
from rules.compile import compile_schedule, parse_local
from rules.dependencies import broken_references, duplicate_ids
from rules.files import display_path, read_rule_file, rule_files
from rules.model import (
    DEFAULT_LADDER,
    Adjust,
    EscalationStep,
    Kind,
    Ladder,
    Partnership,
    Per,
    Role,
    Rule,
    Schedule,
)
from rules.problems import Problem
from rules.schedule import MONTHS, ScheduleError
from rules.sources import compile_reference_pattern
from rules.spec import (
    EscalationSpec,
    ObligationSpec,
    PartnershipFile,
    PartnershipHeader,
    RoleSpec,
    ScheduleSpec,
)
from rules.translate import shape_problems
from rules.yamlsource import Path as DataPath
from rules.yamlsource import YamlDocument, parse_yaml

__all__ = ["display_path", "parse_local", "rule_files"]  # kept importable from here

RuleProblem = Problem  # the name callers have used

PARTNERSHIPS_DIR = Path(__file__).resolve().parent / "partnerships"
DEFAULT_PARTNERSHIP = "wfscp"

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DURATION = re.compile(r"^(?:(\d{1,4})\s*h(?:ours?)?)?\s*(?:(\d{1,5})\s*m(?:in(?:ute)?s?)?)?$")
_MAILBOX = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+$")
_URL = re.compile(r"^https?://[^\s<>\"]+$")


def _month_number(month: str | int) -> int | None:
    if isinstance(month, int):
        return month if 1 <= month <= 12 else None
    name = month.strip().lower()
    matches = [i for i, m in enumerate(MONTHS, start=1) if len(name) >= 3 and m.startswith(name)]
    return matches[0] if len(matches) == 1 else None


class RuleFileError(Exception):
    """One or more rule files are invalid; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the rule files; nothing was loaded"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))


def load_partnerships(paths: Iterable[Path] | None = None) -> list[Partnership]:
    """Load and validate rule files (default: the shipped partnerships)."""
    files = rule_files(paths if paths is not None else [PARTNERSHIPS_DIR])
    problems: list[Problem] = []
    loaded: list[Partnership] = []
    if not files:
        raise RuleFileError([Problem("(rules)", 0, "no *.yaml rule files found")])
    seen: dict[str, str] = {}
    for path in files:
        label = display_path(path)
        text, unreadable = read_rule_file(path, label)
        if text is None:
            problems.append(unreadable)  # type: ignore[arg-type]
            continue
        partnership, file_problems = _parse_once(text, label)
        problems.extend(file_problems)
        if partnership is None:
            continue
        if partnership.id in seen:
            problems.append(
                Problem(
                    label,
                    1,
                    f"partnership id '{partnership.id}' is already used by "
                    f"{seen[partnership.id]}; give each partnership its own id",
                )
            )
        seen[partnership.id] = label
        loaded.append(partnership)
    if problems:
        order = {label: i for i, label in enumerate(display_path(f) for f in files)}
        problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line))
        raise RuleFileError(problems)
    return loaded


def load_partnership(partnership_id: str, paths: Iterable[Path] | None = None) -> Partnership:
    for partnership in load_partnerships(paths):
        if partnership.id == partnership_id:
            return partnership
    known = ", ".join(p.id for p in load_partnerships(paths))
    raise KeyError(f"no partnership '{partnership_id}'; known partnerships: {known}")


@lru_cache(maxsize=512)
def _parse_once(text: str, label: str) -> tuple[Partnership | None, tuple[Problem, ...]]:
    """parse_partnership, remembered per process by the file's text: a flow reads the
    rule files in several tasks, and parsing (rrule validation) is most of their cost.
    Keyed by content, so an edited file is parsed again; the results are frozen."""
    partnership, problems = parse_partnership(text, label)
    return partnership, tuple(problems)


def parse_partnership(text: str, label: str) -> tuple[Partnership | None, list[Problem]]:
    """Parse one rule file's text. Returns the partnership, or None with its problems."""
    doc = parse_yaml(text)
    problems = [p.in_file(label) for p in doc.problems]
    if doc.data is None:
        return None, problems
    if not isinstance(doc.data, dict):
        problems.append(
            Problem(label, 1, "expected a mapping with partnership:, roles: and obligations:")
        )
        return None, problems
    layers = _layers(doc, label)
    problems.extend(layers.problems)
    if layers.failed:
        return None, problems
    doc = layers.doc
    try:
        spec = PartnershipFile.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(shape_problems(exc, doc, label))
        spec = None
    obligations: list[ObligationSpec | None] = []
    raw = doc.data.get("obligations")
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            obligations.append(ObligationSpec.model_validate(item))
        except ValidationError as exc:
            problems.extend(shape_problems(exc, doc, label, prefix=("obligations", index)))
            obligations.append(None)
    if spec is None:
        return None, problems
    builder = _Builder(label, doc, spec, obligations, layers)
    partnership = builder.build()
    problems.extend(builder.problems)
    return (None if problems else partnership), problems


def _layers(doc: YamlDocument, label: str) -> Overlay:
    """The file merged over its statutory baseline, or the file alone if it names none."""
    header = doc.data.get("partnership")
    baseline = header.get("baseline") if isinstance(header, dict) else None
    if isinstance(baseline, str) and baseline.strip():
        return overlay(doc, label, baseline.strip())
    result = Overlay(doc)
    for key in ("overrides", "opt_out"):
        if doc.data.get(key):
            result.problems.append(
                Problem(
                    label,
                    doc.line_of((key,)),
                    f"{key}: changes a statutory baseline; name it first, e.g. "
                    "partnership: {baseline: wt2023}",
                )
            )
    return result


class _Builder:
    """Turns a shape-valid file into a Partnership, collecting problems of meaning."""

    def __init__(
        self,
        label: str,
        doc: YamlDocument,
        spec: PartnershipFile,
        obligations: list[ObligationSpec | None],
        layers: Overlay,
    ):
        self.label = label
        self.doc = doc
        self.spec = spec
        self.obligations = obligations
        self.layers = layers
        self.problems: list[Problem] = []

    def problem(self, path: DataPath, message: str) -> None:
        file = self.doc.file_of(path) or self.label
        self.problems.append(Problem(file, self.doc.line_of(path), message))

    def build(self) -> Partnership:
        header = self.spec.partnership
        if not _SLUG.match(header.id):
            self.problem(
                ("partnership", "id"),
                f"partnership id '{header.id}' must be lowercase letters, digits and dashes",
            )
        try:
            ZoneInfo(header.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(
                ("partnership", "timezone"),
                f"time zone '{header.timezone}' is unknown; use an IANA name such as Europe/London",
            )
        roles = self._roles()
        for key in roles:
            if not _SLUG.match(key):
                self.problem(("roles", key), f"role id '{key}' must be lowercase with dashes")
        ladder = self._ladder(
            header.reminders, header.escalation, ("partnership",), roles, DEFAULT_LADDER
        )
        self._check_mailbox(header.business_team_mailbox)
        self._check_documents(header.documents)
        self._check_reference_pattern(header.incident_reference)
        active_from, active_until = self._active(header)
        rules = [
            self._rule(i, spec, roles, ladder)
            for i, spec in enumerate(self.obligations)
            if spec is not None
        ]
        built = [r for r in rules if r is not None]
        ids = [spec.id if spec is not None else None for spec in self.obligations]
        index = {rule_id: i for i, rule_id in enumerate(ids) if rule_id is not None}
        for path, message in [
            *duplicate_ids(ids, self._where),
            *broken_references(built, index),
        ]:
            self.problem(path, message)
        return Partnership(
            id=header.id,
            name=header.name,
            timezone=header.timezone,
            roles=roles,
            events=dict(self.spec.events),
            rules=tuple(built),
            ladder=ladder,
            due_soon_days=header.due_soon_days,
            source_file=self.label,
            notes=header.notes,
            business_team_mailbox=header.business_team_mailbox,
            documents=dict(header.documents),
            active_from=active_from,
            active_until=active_until,
            incident_reference=header.incident_reference,
            baseline=header.baseline,
            baseline_name=self.layers.baseline_name,
            opted_out=tuple((o.id, o.title, o.reason) for o in self.layers.opted_out),
        )

    def _roles(self) -> dict[str, Role]:
        roles: dict[str, Role] = {}
        for key, value in self.spec.roles.items():
            if isinstance(value, str) and value.strip():
                roles[key] = Role(key, value, value.split(" (", 1)[0].strip())
                continue
            if isinstance(value, dict):
                try:
                    spec = RoleSpec.model_validate(value)
                except ValidationError as exc:
                    self.problems.extend(
                        shape_problems(exc, self.doc, self.label, prefix=("roles", key))
                    )
                    continue
                who = spec.who.strip()
                roles[key] = Role(key, f"{spec.name} ({who})" if who else spec.name, spec.name)
                continue
            self.problem(
                ("roles", key),
                f"role '{key}' needs a title in words, e.g. 'lsp: Lead Safeguarding Partners' "
                "or 'lsp: {name: Lead Safeguarding Partners, who: ...}'",
            )
        return roles

    def _check_mailbox(self, mailbox: str | None) -> None:
        if mailbox is not None and not _MAILBOX.match(mailbox):
            self.problem(
                ("partnership", "business_team_mailbox"),
                f"business_team_mailbox '{mailbox}' is not an email address; write e.g. "
                "safeguarding.partnership@example.gov.uk",
            )

    def _check_documents(self, documents: dict[str, str]) -> None:
        for key, title in documents.items():
            if not key.strip() or not str(title).strip():
                self.problem(
                    ("partnership", "documents", key),
                    f"document '{key}' needs a key and a title in words, e.g. "
                    '"004": Westmorland and Furness Safeguarding Children Partnership '
                    "arrangements, 2025",
                )

    def _check_reference_pattern(self, pattern: str | None) -> None:
        if pattern is None:
            return
        try:
            compiled = compile_reference_pattern(pattern)
        except re.error as exc:
            self.problem(
                ("partnership", "incident_reference"),
                f"incident_reference '{pattern}' is not a valid pattern ({exc}); write a "
                r"regular expression such as 'SI-\d{4}-\d{3}'",
            )
            return
        if compiled.fullmatch(""):
            self.problem(
                ("partnership", "incident_reference"),
                f"incident_reference '{pattern}' accepts an empty reference; make it require "
                "at least one character",
            )

    def _active(self, header: PartnershipHeader) -> tuple[date | None, date | None]:
        if header.active is None:
            return None, None
        path: DataPath = ("partnership", "active")
        bounds: list[date | None] = []
        for key, text in (("from", header.active.start), ("until", header.active.until)):
            if text is None:
                bounds.append(None)
                continue
            try:
                value, timed = parse_local(text)
            except ScheduleError as exc:
                self.problem((*path, key), f"active {key}: {exc}")
                bounds.append(None)
                continue
            if timed:
                self.problem((*path, key), f"active {key}: '{text}' should be a date, no time")
            bounds.append(value.date())
        start, until = bounds
        if start is not None and until is not None and until < start:
            self.problem(path, f"active until {until} is before active from {start}")
        return start, until

    def _ladder(
        self,
        reminders: list[int] | None,
        escalation: list[EscalationSpec] | None,
        path: DataPath,
        roles: dict[str, Role],
        default: Ladder,
    ) -> Ladder:
        if reminders is not None and any(not 0 <= day <= 366 for day in reminders):
            self.problem(
                (*path, "reminders"),
                "reminder days count down to the due date: use 0 to 366",
            )
        steps = (
            tuple(EscalationStep(s.day, tuple(s.to), s.flag) for s in escalation)
            if escalation is not None
            else default.escalations
        )
        days = [s.day for s in steps]
        if days != sorted(set(days)):
            self.problem(
                (*path, "escalation"), "escalation steps must have distinct days in rising order"
            )
        for i, step in enumerate(steps):
            where = (*path, "escalation", i) if escalation is not None else path
            for role in step.to:
                if role != "owner" and role not in roles:
                    origin = "" if escalation is not None else " (the default escalation ladder)"
                    self.problem(
                        where,
                        f"escalation day {step.day}{origin} names role '{role}', which this "
                        f"partnership does not declare; add it under roles: or override "
                        f"escalation:",
                    )
            if step.flag is not None and step.flag not in roles:
                origin = "" if escalation is not None else " (the default escalation ladder)"
                self.problem(
                    where,
                    f"escalation day {step.day}{origin} flags role '{step.flag}', which this "
                    "partnership does not declare; add it under roles: or override escalation:",
                )
        chosen_reminders = (
            tuple(sorted(set(reminders), reverse=True))
            if reminders is not None
            else default.reminder_days
        )
        return Ladder(chosen_reminders, steps)

    def _rule(
        self, index: int, spec: ObligationSpec, roles: dict[str, Role], ladder: Ladder
    ) -> Rule | None:
        base: DataPath = ("obligations", index)
        before = len(self.problems)
        if not _SLUG.match(spec.id):
            self.problem(
                (*base, "id"), f"rule id '{spec.id}' must be lowercase letters, digits and dashes"
            )
        if spec.source is None:
            self.problem(
                base,
                f"'source' is missing in obligation '{spec.id}': every rule must cite where it "
                "comes from (a seed file and section, or a statute and paragraph)",
            )
        elif not spec.source.strip():
            self.problem(
                (*base, "source"),
                f"rule '{spec.id}' has an empty source: cite the seed file and section, or the "
                "statute and paragraph",
            )
        if not (spec.evidence or "").strip():
            self.problem(
                base,
                f"'evidence' is missing in obligation '{spec.id}': say what proves it was done "
                "(minutes, a link to the published report...)",
            )
        kind = self._enum(Kind, spec.kind, (*base, "kind"), "kind")
        if spec.owner not in roles:
            self.problem(
                (*base, "owner"),
                f"owner role '{spec.owner}' of rule '{spec.id}' is not declared under roles:; "
                f"declared roles: {', '.join(roles)}",
            )
        extra = self._extra_attendees(spec, roles, kind, base)
        for field in ("attendees", "recipients"):
            for i, role in enumerate(getattr(spec, field)):
                if role not in roles:
                    self.problem(
                        (*base, field, i),
                        f"{field[:-1]} role '{role}' of rule '{spec.id}' is not declared under "
                        "roles:",
                    )
        per = self._enum(Per, spec.per, (*base, "per"), "per") if spec.per else None
        if spec.only and per is None:
            self.problem(
                (*base, "only"), "'only' filters a per-agency or per-school rule: add per:"
            )
        how = (
            self._enum(Adjust, spec.adjust, (*base, "adjust"), "adjust")
            if spec.adjust
            else Adjust.NONE
        )
        duration = self._duration(spec.duration, (*base, "duration"))
        if duration == 0 and kind is Kind.MEETING:
            duration = 120
        schedule = self._schedule(spec.schedule, (*base, "schedule"))
        rule_ladder = (
            self._ladder(spec.reminders, spec.escalation, base, roles, ladder)
            if spec.reminders is not None or spec.escalation is not None
            else None
        )
        self._check_venue(spec, kind, base)
        if len(self.problems) > before or kind is None or schedule is None:
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
            per=per,
            per_filter=tuple(spec.only),
            adjust=how,
            duration_minutes=duration,
            ladder=rule_ladder,
            extra_attendees=extra,
            location=" ".join((spec.location or "").split()),
            online_url=(spec.online_url or "").strip(),
            notes=spec.notes,
            line=self.doc.line_of(base),
            origin=self.layers.origins.get(spec.id, "local"),
        )

    def _extra_attendees(
        self, spec: ObligationSpec, roles: dict[str, Role], kind: Kind | None, base: DataPath
    ) -> tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]:
        out = []
        if spec.extra_attendees and kind is not None and kind is not Kind.MEETING:
            self.problem((*base, "extra_attendees"), "extra_attendees is for meetings")
        for i, group in enumerate(spec.extra_attendees):
            path = (*base, "extra_attendees", i)
            months = []
            for month in group.months:
                number = _month_number(month)
                if number is None:
                    self.problem(
                        (*path, "months"),
                        f"month '{month}' is not understood; write e.g. June or 6",
                    )
                else:
                    months.append(number)
            for role in group.roles:
                if role not in roles:
                    self.problem(
                        (*path, "roles"),
                        f"extra attendee role '{role}' of rule '{spec.id}' is not declared "
                        "under roles:",
                    )
            out.append((tuple(sorted(set(months))), tuple(group.roles)))
        return tuple(out)

    def _check_venue(self, spec: ObligationSpec, kind: Kind | None, base: DataPath) -> None:
        for key in ("location", "online_url"):
            if getattr(spec, key) is not None and kind is not None and kind is not Kind.MEETING:
                self.problem(
                    (*base, key),
                    f"{key} is for meetings; rule '{spec.id}' is a {kind}: remove it",
                )
        if spec.online_url is not None and not _URL.match(spec.online_url.strip()):
            self.problem(
                (*base, "online_url"),
                f"online_url '{spec.online_url}' of rule '{spec.id}' is not a web address; "
                "write the full https:// link of the online meeting",
            )

    def _enum(self, enum: Any, value: str, path: DataPath, name: str) -> Any:
        try:
            return enum(value)
        except ValueError:
            options = ", ".join(e.value for e in enum)
            self.problem(path, f"{name} '{value}' is not one of: {options}")
            return None

    def _duration(self, text: str | None, path: DataPath) -> int:
        if text is None:
            return 0
        match = _DURATION.match(text.strip().lower())
        if not text.strip() or not match or not any(match.groups()):
            self.problem(path, f"duration '{text}' is not understood; write e.g. '2h' or '90m'")
            return 0
        minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
        if minutes > 24 * 60:
            self.problem(path, f"duration '{text}' is longer than a day; a meeting is at most 24h")
            return 0
        return minutes

    def _schedule(self, spec: ScheduleSpec, path: DataPath) -> Schedule | None:
        try:
            return compile_schedule(spec, self.spec.events)
        except ScheduleError as exc:
            self.problem(path, str(exc))
            return None

    def _where(self, path: DataPath) -> str:
        file = self.doc.file_of(path)
        line = self.doc.line_of(path)
        return f"{file}:{line}" if file else f"line {line}"
