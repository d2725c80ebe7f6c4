"""Compile the schedule language: a validated `schedule:` block -> a Schedule value.

Pure: no file, no clock. Each form (every/rrule, once/dates, event, rule) has its own
function; every refusal is a ScheduleError whose message says what to write instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from govcal.rules.model import (
    Anchor,
    Basis,
    DateList,
    DerivedDeadline,
    EventDeadline,
    Recurrence,
    Schedule,
)
from govcal.rules.schedule import (
    FIRST_YEAR,
    LAST_YEAR,
    ScheduleError,
    check_rrule,
    parse_every,
    parse_offset,
)
from govcal.rules.spec import ScheduleSpec

_DATE_HINT = "write YYYY-MM-DD, or YYYY-MM-DD HH:MM for a time in the partnership's time zone"


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


def compile_schedule(spec: ScheduleSpec, events: Mapping[str, str]) -> Schedule:
    """The schedule a `schedule:` block means, or ScheduleError saying what is expected.

    One function per form, found by the key that names it (like dateutil's rrule keywords).
    """
    given = {k for k, v in spec.model_dump(by_alias=True).items() if v is not None}
    if spec.event or spec.rule:
        return _relative(spec, given, events)
    if spec.every or spec.rrule:
        return _recurrence(spec, given)
    if spec.once or spec.dates:
        return _dates(spec, given)
    raise ScheduleError(
        "schedule needs one of: every (shorthand), rrule, once, dates, event (a deadline "
        "after an event) or rule (a deadline before or after another rule)"
    )


def _reject(given: set[str], allowed: set[str], form: str) -> None:
    extra = sorted(given - allowed)
    if extra:
        raise ScheduleError(
            f"{', '.join(extra)} cannot be used in a schedule with {form}; "
            f"keys allowed there: {', '.join(sorted(allowed))}"
        )


def _relative(spec: ScheduleSpec, given: set[str], events: Mapping[str, str]) -> Schedule:
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
        _reject(given, {"event", "within", "after"}, "event:")
        if spec.event not in events:
            declared = ", ".join(events) or "none"
            raise ScheduleError(
                f"event '{spec.event}' is not declared under events: (declared: {declared})"
            )
        return EventDeadline(spec.event, offset)
    _reject(given, {"rule", "within", "after", "before", "basis"}, "rule:")
    basis = Basis(spec.basis) if spec.basis in ("due", "completion") else None
    if spec.basis and basis is None:
        raise ScheduleError(f"basis '{spec.basis}' is not one of: due, completion")
    return DerivedDeadline(
        str(spec.rule), offset, before=offsets[0] == "before", basis=basis or Basis.DUE
    )


def _recurrence(spec: ScheduleSpec, given: set[str]) -> Recurrence:
    if spec.every and spec.rrule:
        raise ScheduleError("give either every: (shorthand) or rrule:, not both")
    _reject(given, {"every", "rrule", "start", "until", "count", "from", "dates"}, "a recurrence")
    if not spec.start:
        raise ScheduleError(
            "a recurring schedule needs start: (the first date, the DTSTART), e.g. "
            "start: 2025-05-14 10:00"
        )
    start, timed = parse_local(spec.start)
    anchor = Anchor(spec.anchor) if spec.anchor in ("fixed", "completion") else None
    if spec.anchor and anchor is None:
        raise ScheduleError(f"from: '{spec.anchor}' is not one of: fixed (the default), completion")
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
        produces = _produces(text, start)
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


@lru_cache(maxsize=4096)
def _produces(text: str, start: datetime) -> bool:
    """Whether the rule makes a date within 20 years of its start, once per process for
    each text and start: a national day checks the same template schedules for 160
    partnerships. A refusal (ValueError...) is raised again each time, never cached."""
    rule = rrulestr(f"RRULE:{text}", dtstart=start)
    return bool(rule.between(start, start + relativedelta(years=20), inc=True))


def _dates(spec: ScheduleSpec, given: set[str]) -> DateList:
    if spec.once and spec.dates:
        raise ScheduleError("give once: (one date) or dates: (a list), not both")
    _reject(given, {"once", "dates"}, "once:/dates:")
    raw = [spec.once] if spec.once else list(spec.dates or [])
    parsed = [parse_local(d) for d in raw]
    if len({d for d, _ in parsed}) != len(parsed):
        raise ScheduleError("dates: lists the same date twice")
    return DateList(tuple(sorted(d for d, _ in parsed)), timed=any(t for _, t in parsed))
