"""VTIMEZONE components (RFC 5545 section 3.6.5) derived from the system's zoneinfo.

icalendar 7's `Timezone.from_tzid` declares the UK's clocks going forward at 02:00 GMT;
they go forward at 01:00 GMT (01:00 UTC) and back at 02:00 BST (also 01:00 UTC). So the
instants of change are found in zoneinfo itself. Where they follow a yearly rule over the
span (the same month, weekday, week of the month and local time each year, as in Europe
and North America), the block is written in that form: one STANDARD and one DAYLIGHT,
each with an RRULE, as Google Calendar and Radicale write it, because Outlook reads only
one STANDARD component (MS-OXCICAL) and a parser that does not know the TZID must work
from the block alone. A zone whose changes follow no such rule (or that changes its rule
within the span) gets one observance per change instead. Each observance's DTSTART is
the local time, in the offset in force *before* the change, of the instant it happens.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

_STEP = timedelta(minutes=15)
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def transitions(tzid: str, first_year: int, last_year: int) -> list[datetime]:
    """UTC instants at which the zone's offset changes, first_year to last_year inclusive."""
    tz = ZoneInfo(tzid)
    found: list[datetime] = []
    day = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        nxt = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            instant = day
            before = day.astimezone(tz).utcoffset()
            while (instant + _STEP).astimezone(tz).utcoffset() == before:
                instant += _STEP
            found.append(instant + _STEP)
        day = nxt
    return found


@dataclass(frozen=True)
class _Change:
    """One change of offset: the local time it happens (in the offset before it)."""

    local: datetime
    before: timedelta
    after: timedelta
    name: str
    daylight: bool

    def shape(self) -> tuple:
        """What must be the same every year for a yearly rule to describe it."""
        return (
            self.local.month,
            self.local.weekday(),
            self.local.time(),
            self.before,
            self.after,
            self.name,
            self.daylight,
        )


def _changes(tzid: str, first_year: int, last_year: int) -> list[_Change]:
    tz = ZoneInfo(tzid)
    out = []
    for instant in transitions(tzid, first_year, last_year):
        before = (instant - timedelta(seconds=1)).astimezone(tz).utcoffset() or timedelta(0)
        after = instant.astimezone(tz)
        out.append(
            _Change(
                (instant + before).replace(tzinfo=None),
                before,
                after.utcoffset() or timedelta(0),
                after.tzname() or tzid,
                bool(after.dst()),
            )
        )
    return out


def _yearly_rule(changes: list[_Change], years: range) -> vRecur | None:
    """FREQ=YEARLY;BYMONTH=m;BYDAY=nDD when one change a year, every year of the span,
    falls on the same weekday of the same week of the month (counted from the start, or
    -1 for the last), at the same local time; else None."""
    if [c.local.year for c in changes] != list(years) or len({c.shape() for c in changes}) != 1:
        return None
    first = changes[0].local
    weeks = {(c.local.day - 1) // 7 + 1 for c in changes}
    lasts = {c.local.day + 7 > calendar.monthrange(c.local.year, c.local.month)[1] for c in changes}
    if lasts == {True}:
        week = -1
    elif len(weeks) == 1:
        week = weeks.pop()
    else:
        return None
    return vRecur(
        {"FREQ": "YEARLY", "BYMONTH": first.month, "BYDAY": f"{week}{_DAYS[first.weekday()]}"}
    )


_SINCE = 1970  # how far back a rule's first onset is looked for


def _rules_since(tzid: str, first_year: int, last_year: int) -> list[tuple[_Change, vRecur]]:
    """The daylight and standard onsets as yearly rules, if one pair of rules describes
    every change from first_year to last_year; each starts at the first onset of the
    unbroken run of years the rule has held (as far back as 1970), so that a reader
    comparing zones over past years (vobject looks at 2000-2020) sees the real zone."""
    changes = _changes(tzid, min(_SINCE, first_year), last_year)

    def rules(since: int) -> list[tuple[_Change, vRecur]] | None:
        years = range(since, last_year + 1)
        found = []
        for daylight in (True, False):
            group = [c for c in changes if c.daylight is daylight and c.local.year >= since]
            rule = _yearly_rule(group, years)
            if rule is None:
                return None
            found.append((group[0], rule))
        return found

    best = rules(first_year)
    if best is None:
        return []
    since = first_year
    while since > _SINCE and (earlier := rules(since - 1)) is not None:
        if [str(r.to_ical()) for _c, r in earlier] != [str(r.to_ical()) for _c, r in best]:
            break
        best, since = earlier, since - 1
    return best


def _observance(change: _Change, rule: vRecur | None = None):
    observance = TimezoneDaylight() if change.daylight else TimezoneStandard()
    observance.add("dtstart", change.local)
    observance.add("tzoffsetfrom", change.before)
    observance.add("tzoffsetto", change.after)
    observance.add("tzname", change.name)
    if rule is not None:
        observance.add("rrule", rule)
    return observance


def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for `tzid` valid from 1 January `first_year` to the end of `last_year`."""
    tz = ZoneInfo(tzid)
    component = Timezone()
    component.add("tzid", tzid)
    rules = _rules_since(tzid, first_year - 1, last_year)
    if rules:
        for change, rule in rules:
            component.add_component(_observance(change, rule))
        return component
    changes = _changes(tzid, first_year, last_year)
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    initial = start.astimezone(tz)
    offset = initial.utcoffset() or timedelta(0)
    first = TimezoneDaylight() if initial.dst() else TimezoneStandard()
    first.add("dtstart", initial.replace(tzinfo=None, hour=0, minute=0))
    first.add("tzoffsetfrom", offset)
    first.add("tzoffsetto", offset)
    first.add("tzname", initial.tzname() or tzid)
    component.add_component(first)
    for change in changes:
        component.add_component(_observance(change))
    return component
