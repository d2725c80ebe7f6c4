"""Load partnership rule files, validate everything, and report every problem at once.

Loading is all or nothing: if any file has any problem, `load_partnerships` raises
`RuleFileError` listing each problem as `file:line: what is wrong; what to do`, and no
partnership is returned. A compiler-style report beats fixing one error per run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from pydantic import BaseModel, ValidationError

from rules.files import display_path, read_rule_file, rule_files
from rules.model import (
    DEFAULT_LADDER,
    Adjust,
    Anchor,
    Basis,
    DateList,
    DerivedDeadline,
    EscalationStep,
    EventDeadline,
    Kind,
    Ladder,
    Partnership,
    Per,
    Recurrence,
    Role,
    Rule,
    Schedule,
)
from rules.problems import Problem
from rules.schedule import (
    FIRST_YEAR,
    LAST_YEAR,
    ScheduleError,
    check_rrule,
    parse_every,
    parse_offset,
)
from rules.sources import compile_reference_pattern
from rules.spec import (
    ActiveSpec,
    EscalationSpec,
    ObligationSpec,
    PartnershipFile,
    PartnershipHeader,
    RoleSpec,
    ScheduleSpec,
)
from rules.yamlsource import Path as DataPath
from rules.yamlsource import YamlDocument, parse_yaml

RuleProblem = Problem  # the name callers have used

PARTNERSHIPS_DIR = Path(__file__).resolve().parent / "partnerships"
DEFAULT_PARTNERSHIP = "wfscp"

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DURATION = re.compile(r"^(?:(\d{1,4})\s*h(?:ours?)?)?\s*(?:(\d{1,5})\s*m(?:in(?:ute)?s?)?)?$")
_MAILBOX = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+$")
_URL = re.compile(r"^https?://[^\s<>\"]+$")
_DATE_HINT = "write YYYY-MM-DD, or YYYY-MM-DD HH:MM for a time in the partnership's time zone"


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
    try:
        spec = PartnershipFile.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(_shape_problems(exc, doc, label))
        spec = None
    obligations: list[ObligationSpec | None] = []
    raw = doc.data.get("obligations")
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            obligations.append(ObligationSpec.model_validate(item))
        except ValidationError as exc:
            problems.extend(_shape_problems(exc, doc, label, prefix=("obligations", index)))
            obligations.append(None)
    if spec is None:
        return None, problems
    builder = _Builder(label, doc, spec, obligations)
    partnership = builder.build()
    problems.extend(builder.problems)
    return (None if problems else partnership), problems


def _shape_problems(
    exc: ValidationError, doc: YamlDocument, label: str, prefix: DataPath = ()
) -> list[Problem]:
    out = []
    for error in exc.errors():
        loc: DataPath = (*prefix, *error["loc"])
        where = _describe(loc, doc.data)
        kind = error["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            allowed = _allowed_keys(loc[:-1])
            message = f"unknown key '{key}'{where}; expected one of: {allowed}"
        elif kind == "missing":
            field = loc[-1]
            extra = (
                ": every rule must cite where it comes from (a seed file and section, or a "
                "statute and paragraph)"
                if field == "source"
                else ""
            )
            message = f"'{field}' is missing{where}{extra}"
            loc = loc[:-1]
        else:
            field = ".".join(str(p) for p in loc)
            message = f"'{field}'{where}: {error['msg'].lower()} (got {error.get('input')!r})"
        out.append(Problem(label, doc.line_of(loc), message))
    return out


def _describe(loc: DataPath, data: Any) -> str:
    """' in obligation lsp-meeting' when the path is inside a named obligation."""
    if len(loc) >= 2 and loc[0] == "obligations" and isinstance(loc[1], int):
        try:
            ident = data["obligations"][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            ident = None
        return f" in obligation '{ident}'" if ident else f" in obligation #{loc[1] + 1}"
    return ""


def _allowed_keys(parent: DataPath) -> str:
    nested: dict[str, type[BaseModel]] = {
        "partnership": PartnershipHeader,
        "obligations": ObligationSpec,
        "schedule": ScheduleSpec,
        "escalation": EscalationSpec,
        "active": ActiveSpec,
        "roles": RoleSpec,
    }
    model: type[BaseModel] = PartnershipFile
    for name in parent:
        if isinstance(name, str) and name in nested:
            model = nested[name]
    keys = [f.alias or n for n, f in model.model_fields.items()]
    return ", ".join(sorted(keys))


def parse_local(text: str) -> tuple[datetime, bool]:
    """Parse a local date or date-time. Returns (naive datetime, had a time of day)."""
    raw = str(text).strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        reason = str(exc)
        hint = f" ({reason})" if "range" in reason or "must be in" in reason else ""
        raise ScheduleError(f"'{raw}' is not a real date{hint}; {_DATE_HINT}") from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ScheduleError(
            f"'{raw}' is outside the years {FIRST_YEAR} to {LAST_YEAR}; check the year"
        )
    if value.tzinfo is not None:
        raise ScheduleError(
            f"'{raw}' carries a UTC offset; give local wall-clock time, the partnership's "
            "time zone is applied for you"
        )
    return value, len(raw) > 10


class _Builder:
    """Turns a shape-valid file into a Partnership, collecting problems of meaning."""

    def __init__(
        self,
        label: str,
        doc: YamlDocument,
        spec: PartnershipFile,
        obligations: list[ObligationSpec | None],
    ):
        self.label = label
        self.doc = doc
        self.spec = spec
        self.obligations = obligations
        self.problems: list[Problem] = []

    def problem(self, path: DataPath, message: str) -> None:
        self.problems.append(Problem(self.label, self.doc.line_of(path), message))

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
        self._check_ids()
        self._check_references(built)
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
                        _shape_problems(exc, self.doc, self.label, prefix=("roles", key))
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
            location=" ".join((spec.location or "").split()),
            online_url=(spec.online_url or "").strip(),
            notes=spec.notes,
            line=self.doc.line_of(base),
        )

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
        given = {k for k, v in spec.model_dump(by_alias=True).items() if v is not None}
        try:
            if spec.event or spec.rule:
                return self._relative(spec, given, path)
            if spec.every or spec.rrule:
                return self._recurrence(spec, given, path)
            if spec.once or spec.dates:
                return self._dates(spec, given, path)
        except ScheduleError as exc:
            self.problem(path, str(exc))
            return None
        self.problem(
            path,
            "schedule needs one of: every (shorthand), rrule, once, dates, event (a deadline "
            "after an event) or rule (a deadline before or after another rule)",
        )
        return None

    def _reject(self, given: set[str], allowed: set[str], form: str) -> None:
        extra = sorted(given - allowed)
        if extra:
            raise ScheduleError(
                f"{', '.join(extra)} cannot be used in a schedule with {form}; "
                f"keys allowed there: {', '.join(sorted(allowed))}"
            )

    def _relative(self, spec: ScheduleSpec, given: set[str], path: DataPath) -> Schedule:
        if spec.event and spec.rule:
            raise ScheduleError("a schedule counts from an event or from a rule, not both")
        offsets = [k for k in ("within", "after", "before") if getattr(spec, k)]
        if len(offsets) != 1:
            raise ScheduleError(
                "give exactly one of within:, after: or before: with the offset, e.g. "
                "within: 5 working days"
            )
        offset = parse_offset(getattr(spec, offsets[0]))
        if spec.event:
            self._reject(given, {"event", "within", "after"}, "event:")
            if spec.event not in self.spec.events:
                declared = ", ".join(self.spec.events) or "none"
                raise ScheduleError(
                    f"event '{spec.event}' is not declared under events: (declared: {declared})"
                )
            return EventDeadline(spec.event, offset)
        self._reject(given, {"rule", "within", "after", "before", "basis"}, "rule:")
        basis = Basis(spec.basis) if spec.basis in ("due", "completion") else None
        if spec.basis and basis is None:
            raise ScheduleError(f"basis '{spec.basis}' is not one of: due, completion")
        return DerivedDeadline(
            str(spec.rule), offset, before=offsets[0] == "before", basis=basis or Basis.DUE
        )

    def _recurrence(self, spec: ScheduleSpec, given: set[str], path: DataPath) -> Recurrence:
        if spec.every and spec.rrule:
            raise ScheduleError("give either every: (shorthand) or rrule:, not both")
        self._reject(
            given, {"every", "rrule", "start", "until", "count", "from", "dates"}, "a recurrence"
        )
        if not spec.start:
            raise ScheduleError(
                "a recurring schedule needs start: (the first date, the DTSTART), e.g. "
                "start: 2025-05-14 10:00"
            )
        start, timed = parse_local(spec.start)
        anchor = Anchor(spec.anchor) if spec.anchor in ("fixed", "completion") else None
        if spec.anchor and anchor is None:
            raise ScheduleError(
                f"from: '{spec.anchor}' is not one of: fixed (the default), completion"
            )
        anchor = anchor or Anchor.FIXED
        step_months = step_days = 0
        if spec.every:
            cadence = parse_every(spec.every)
            text = cadence.rrule()
            if cadence.freq == "YEARLY" and cadence.by_month is None:
                text += f";BYMONTH={start.month}"
            if cadence.by_day is None and cadence.freq in ("MONTHLY", "YEARLY"):
                if (start + timedelta(days=1)).month != start.month:
                    text += ";BYMONTHDAY=-1"
                elif start.day > 28:
                    raise ScheduleError(
                        f"start {start.date()} is on day {start.day}, which some months lack; "
                        "start on day 1-28 or on the last day of a month"
                    )
            step_months, step_days = cadence.step()
            described = spec.every
        else:
            text = str(spec.rrule).strip().removeprefix("RRULE:")
            described = f"RRULE {text}"
            if "DTSTART" in text.upper():
                raise ScheduleError("put the first date in start:, not DTSTART inside rrule:")
            check_rrule(text)
            if anchor is Anchor.COMPLETION:
                raise ScheduleError(
                    "from: completion needs an every: interval (e.g. every: 2 years), not rrule:"
                )
        if spec.count is not None:
            if spec.count < 1:
                raise ScheduleError(f"count: {spec.count} makes no occurrences; use 1 or more")
            text += f";COUNT={spec.count}"
        if spec.until:
            until, _ = parse_local(spec.until)
            if until < start:
                raise ScheduleError(f"until: {spec.until} is before start: {spec.start}")
            if until.time() == datetime.min.time():
                until = until.replace(hour=23, minute=59, second=59)
            text += f";UNTIL={until:%Y%m%dT%H%M%S}"
        try:
            rule = rrulestr(f"RRULE:{text}", dtstart=start)
            produces = rule.between(start, start + relativedelta(years=20), inc=True)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ScheduleError(
                f"rrule '{text}' is not valid RFC 5545 ({exc}); e.g. FREQ=MONTHLY;INTERVAL=2"
            ) from None
        if not produces:
            raise ScheduleError(
                f"schedule '{described}' from {spec.start} never produces a date (for example "
                "30 February); check the month and day"
            )
        extra = tuple(parse_local(d)[0] for d in spec.dates or ())
        return Recurrence(
            rrule=text,
            start=start,
            timed=timed,
            anchor=anchor,
            step_months=step_months,
            step_days=step_days,
            extra_dates=extra,
            described_as=str(described),
        )

    def _dates(self, spec: ScheduleSpec, given: set[str], path: DataPath) -> DateList:
        if spec.once and spec.dates:
            raise ScheduleError("give once: (one date) or dates: (a list), not both")
        self._reject(given, {"once", "dates"}, "once:/dates:")
        raw = [spec.once] if spec.once else list(spec.dates or [])
        parsed = [parse_local(d) for d in raw]
        if len({d for d, _ in parsed}) != len(parsed):
            raise ScheduleError("dates: lists the same date twice")
        return DateList(tuple(sorted(d for d, _ in parsed)), timed=any(t for _, t in parsed))

    def _check_ids(self) -> None:
        first: dict[str, int] = {}
        for i, spec in enumerate(self.obligations):
            if spec is None:
                continue
            line = self.doc.line_of(("obligations", i, "id"))
            if spec.id in first:
                self.problem(
                    ("obligations", i, "id"),
                    f"rule id '{spec.id}' is used twice (first on line {first[spec.id]}); "
                    "rule ids must be unique within a partnership",
                )
            else:
                first[spec.id] = line

    def _check_references(self, rules: list[Rule]) -> None:
        by_id = {r.id: r for r in rules}
        index = {spec.id: i for i, spec in enumerate(self.obligations) if spec is not None}
        for rule in rules:
            schedule = rule.schedule
            if isinstance(schedule, DerivedDeadline) and schedule.rule not in by_id:
                self.problem(
                    ("obligations", index[rule.id], "schedule", "rule"),
                    f"rule '{rule.id}' counts from rule '{schedule.rule}', which does not exist "
                    "in this partnership (or has its own problems)",
                )
        for rule in rules:
            seen: list[str] = [rule.id]
            current = rule.schedule
            while isinstance(current, DerivedDeadline) and current.rule in by_id:
                if current.rule in seen:
                    cycle = " -> ".join([*seen[seen.index(current.rule) :], current.rule])
                    if seen[0] == current.rule:
                        self.problem(
                            ("obligations", index[rule.id], "schedule", "rule"),
                            f"circular reference: {cycle}; one of these must have its own dates",
                        )
                    break
                seen.append(current.rule)
                current = by_id[current.rule].schedule
