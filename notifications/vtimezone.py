"""VTIMEZONE components (RFC 5545 section 3.6.5) derived from the system's zoneinfo.

icalendar 7's `Timezone.from_tzid` declares the UK's clocks going forward at 02:00 GMT;
they go forward at 01:00 GMT (01:00 UTC) and back at 02:00 BST (also 01:00 UTC). Each
observance's DTSTART is the local time, in the offset in force *before* the change, of
the instant the change happens, so we find those instants in zoneinfo itself and write
one observance per transition (no RRULE to misread).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

_STEP = timedelta(minutes=15)


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


def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for `tzid` valid from 1 January `first_year` to the end of `last_year`."""
    tz = ZoneInfo(tzid)
    component = Timezone()
    component.add("tzid", tzid)
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    initial = start.astimezone(tz)
    offset = initial.utcoffset() or timedelta(0)
    first = TimezoneDaylight() if initial.dst() else TimezoneStandard()
    first.add("dtstart", initial.replace(tzinfo=None, hour=0, minute=0))
    first.add("tzoffsetfrom", offset)
    first.add("tzoffsetto", offset)
    first.add("tzname", initial.tzname() or tzid)
    component.add_component(first)
    for instant in transitions(tzid, first_year, last_year):
        before = (instant - timedelta(seconds=1)).astimezone(tz).utcoffset() or timedelta(0)
        after = instant.astimezone(tz)
        observance = TimezoneDaylight() if after.dst() else TimezoneStandard()
        observance.add("dtstart", (instant + before).replace(tzinfo=None))
        observance.add("tzoffsetfrom", before)
        observance.add("tzoffsetto", after.utcoffset() or timedelta(0))
        observance.add("tzname", after.tzname() or tzid)
        component.add_component(observance)
    return component
