"""Turn rules into dated occurrences over a window. Pure: the caller passes everything.

Each occurrence gets a stable key (partnership, rule, period, subject). The period is
the nominal date a recurrence produced (or the event reference for statutory clocks), so
a meeting that is later moved keeps its key, and reruns upsert instead of duplicating.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rruleset, rrulestr

from govcal.rules.model import (
    Anchor,
    Basis,
    DateList,
    DerivedDeadline,
    EventDeadline,
    ExpansionContext,
    Occurrence,
    Offset,
    Partnership,
    Recurrence,
    Rule,
    Subject,
    Unit,
)
from govcal.rules.schedule import FIRST_YEAR, LAST_YEAR, adjust, shift

_EMPTY = ExpansionContext()
_FIRST_DAY = date(FIRST_YEAR, 1, 1)
_LAST_DAY = date(LAST_YEAR, 12, 31)


@lru_cache(maxsize=4096)
def _compiled(text: str, start: datetime) -> rrule | rruleset:
    return rrulestr(f"RRULE:{text}", dtstart=start)


def _span_days(offset: Offset) -> int:
    """An upper bound, in calendar days, of how far an offset can move a date."""
    n = offset.amount
    return {
        Unit.DAYS: n,
        Unit.WEEKS: 7 * n,
        Unit.MONTHS: 31 * n,
        Unit.YEARS: 366 * n,
        Unit.WORKING_DAYS: 2 * n + 14,
        Unit.CLEAR_WORKING_DAYS: 2 * n + 16,
    }[offset.unit]


def expand(
    partnership: Partnership,
    start: date,
    end: date,
    context: ExpansionContext = _EMPTY,
    *,
    rule_ids: set[str] | None = None,
) -> list[Occurrence]:
    """Every occurrence of the partnership's rules due in [start, end], sorted by due date.

    Nothing is due before a partnership's first active day (`active_from`: what fell
    due earlier was its predecessor's) or after a superseded partnership's last one
    (`active_until`): its history stays, but it creates nothing once its successor has
    taken over.

    Per-agency and per-school rules fan out over `context.subjects`; when the directory
    has no members of that kind, one aggregate occurrence (subject None) stands for all.
    """
    start, end = _window(partnership, start, end)
    out: list[Occurrence] = []
    for rule in partnership.rules:
        if rule_ids is not None and rule.id not in rule_ids:
            continue
        out.extend(expand_rule(partnership, rule, start, end, context))
    out.sort(key=lambda o: (o.due, o.rule, o.subject or ""))
    return out


def expand_rule(
    partnership: Partnership,
    rule: Rule,
    start: date,
    end: date,
    context: ExpansionContext = _EMPTY,
) -> list[Occurrence]:
    start, end = _window(partnership, start, end)
    found = _occurrences(partnership, rule, start, end, context)
    return [o for o in found if start <= o.due <= end]


def _window(partnership: Partnership, start: date, end: date) -> tuple[date, date]:
    """[start, end] within the calendar's years and the partnership's active period.

    No rule produces a date outside FIRST_YEAR..LAST_YEAR, so clamping keeps a window
    typed as 0001-01-01 or 9999-12-31 from overflowing the date arithmetic; and nothing
    is due before a partnership's first day or after a superseded one's last.
    """
    end = min(end, _LAST_DAY)
    start = max(start, _FIRST_DAY)
    if partnership.active_until is not None:
        end = min(end, partnership.active_until)
    if partnership.active_from is not None:
        start = max(start, partnership.active_from)
    return start, end


def _occurrences(
    partnership: Partnership, rule: Rule, start: date, end: date, context: ExpansionContext
) -> Iterator[Occurrence]:
    schedule = rule.schedule
    if isinstance(schedule, EventDeadline):
        for event in context.events:
            if event.kind == schedule.event:
                due = adjust(shift(event.on, schedule.offset), rule.adjust)
                yield Occurrence(due, partnership.id, rule.id, event.ref)
        return
    if isinstance(schedule, DerivedDeadline):
        yield from _derived(partnership, rule, schedule, start, end, context)
        return
    subjects = _subjects(rule, context)
    if isinstance(schedule, Recurrence) and schedule.anchor is Anchor.COMPLETION:
        for subject in subjects:
            yield from _completion_chain(partnership, rule, schedule, end, context, subject)
        return
    slots = _fixed_slots(schedule, start, end)
    timed = schedule.timed
    for nominal in slots:
        base = _make(partnership, rule, nominal, timed, None)  # dated once, not per school
        for subject in subjects:
            if subject is None:
                yield base
            else:
                yield Occurrence(
                    base.due,
                    base.partnership,
                    base.rule,
                    base.period,
                    subject.id,
                    base.starts_at,
                    base.ends_at,
                )


def _subjects(rule: Rule, context: ExpansionContext) -> list[Subject | None]:
    if rule.per is None:
        return [None]
    members = context.subjects.get(rule.per, ())
    if rule.per_filter:
        wanted = set(rule.per_filter)
        members = tuple(m for m in members if m.category in wanted)
    return list(members) if members else [None]


@lru_cache(maxsize=4096)
def _between(text: str, start: datetime, lo: datetime, hi: datetime) -> tuple[datetime, ...]:
    """A recurrence's dates in [lo, hi], once per process for each schedule text and
    window: a national day expands the same template schedules for 160 partnerships."""
    return tuple(_compiled(text, start).between(lo, hi, inc=True))


def _fixed_slots(schedule: Recurrence | DateList, start: date, end: date) -> list[datetime]:
    lo = datetime.combine(start, time.min)
    hi = datetime.combine(end, time.max)
    if isinstance(schedule, DateList):
        return [d for d in schedule.dates if lo <= d <= hi]
    # widen by a week each side so "previous working day" adjustments near the edge count
    found = _between(schedule.rrule, schedule.start, lo - timedelta(days=7), hi + timedelta(7))
    extra = [d for d in schedule.extra_dates if lo - timedelta(days=7) <= d <= hi + timedelta(7)]
    return sorted(set(found) | set(extra))


def _completion_chain(
    partnership: Partnership,
    rule: Rule,
    schedule: Recurrence,
    end: date,
    context: ExpansionContext,
    subject: Subject | None,
) -> Iterator[Occurrence]:
    """start, then each next one `step` after the previous one was completed.

    The chain stops at the first uncompleted occurrence: its successor's date is not
    known until it is done ("12 months after the last review").
    """
    step = relativedelta(months=schedule.step_months, days=schedule.step_days)
    for nominal in sorted(schedule.extra_dates):
        yield _make(partnership, rule, nominal, schedule.timed, subject)
    nominal = schedule.start
    for _ in range(10_000):
        if nominal.date() > end:
            return
        occurrence = _make(partnership, rule, nominal, schedule.timed, subject)
        yield occurrence
        done = context.completions.get(occurrence.key)
        if done is None:
            return
        nominal = datetime.combine(done, nominal.time()) + step


def _derived(
    partnership: Partnership,
    rule: Rule,
    schedule: DerivedDeadline,
    start: date,
    end: date,
    context: ExpansionContext,
) -> Iterator[Occurrence]:
    parent = partnership.rule(schedule.rule)
    margin = timedelta(days=_span_days(schedule.offset) + 7)
    for base in _occurrences(partnership, parent, start - margin, end + margin, context):
        if base.key in context.cancelled:
            continue  # the item it hangs on was cancelled: the deadline goes with it
        if partnership.active_from is not None and base.due < partnership.active_from:
            continue  # it hangs on the predecessor's item, not this partnership's
        anchor = context.moved.get(base.key, base.due)
        if schedule.basis is Basis.COMPLETION:
            anchor = context.completions.get(base.key, anchor)
        due = adjust(shift(anchor, schedule.offset, before=schedule.before), rule.adjust)
        yield Occurrence(due, partnership.id, rule.id, base.period, base.subject)


def _make(
    partnership: Partnership,
    rule: Rule,
    nominal: datetime,
    timed: bool,
    subject: Subject | None,
) -> Occurrence:
    due = adjust(nominal.date(), rule.adjust)
    starts_at = ends_at = None
    if timed:
        starts_at = datetime.combine(due, nominal.time(), tzinfo=partnership.tz)
        ends_at = starts_at + timedelta(minutes=rule.duration_minutes or 60)
    return Occurrence(
        due=due,
        partnership=partnership.id,
        rule=rule.id,
        period=nominal.date().isoformat(),
        subject=subject.id if subject else None,
        starts_at=starts_at,
        ends_at=ends_at,
    )
