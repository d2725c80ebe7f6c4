"""Calendar invites and feeds, built with icalendar.

UIDs are stable (one per occurrence), so a moved meeting updates the event in people's
calendars (SEQUENCE goes up) instead of adding a second one, and a subscribed feed
refreshes in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vText

PRODID = "-//govcal//governance calendar//EN"


def uid_for(public_id: str) -> str:
    return f"{public_id}@govcal"


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """A meeting (starts_at set) or a deadline (an all-day entry on its due date)."""

    public_id: str
    title: str
    description: str
    due: date
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    sequence: int = 0
    cancelled: bool = False
    organizer: tuple[str, str] | None = None  # (name, email)
    attendees: tuple[tuple[str, str], ...] = ()
    timezone: str = "Europe/London"


def _address(name: str, email: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def _event(entry: CalendarEntry, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid_for(entry.public_id))
    event.add("dtstamp", stamp)
    event.add("sequence", entry.sequence)
    event.add("summary", entry.title)
    event.add("description", entry.description)
    if entry.starts_at is not None:
        # local wall-clock time with a VTIMEZONE, as calendar clients expect for meetings
        tz = ZoneInfo(entry.timezone)
        starts = entry.starts_at.astimezone(tz)
        ends = (entry.ends_at or entry.starts_at + timedelta(hours=1)).astimezone(tz)
        event.add("dtstart", starts)
        event.add("dtend", ends)
    else:
        event.add("dtstart", entry.due)
        event.add("dtend", entry.due + timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    if entry.organizer:
        event.add("organizer", _address(*entry.organizer))
    for name, email in entry.attendees:
        event.add(
            "attendee",
            _address(name, email, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE"),
        )
    if not entry.cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Tomorrow: {entry.title}")
        alarm.add("trigger", timedelta(days=-1))
        event.add_component(alarm)
    return event


def _calendar(method: str | None, name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    return cal


def _add_timezones(cal: Calendar, entries: list[CalendarEntry]) -> None:
    """One VTIMEZONE per zone used, covering only the years the calendar spans.

    icalendar's default span (1970-2038) starts with the UK's 1968-71 all-year BST and
    lists decades of transitions; some readers (dateutil, hence vobject) then get the
    offset wrong. A span around the entries keeps the definition short and unambiguous.
    """
    timed = [e for e in entries if e.starts_at is not None]
    for tzid in sorted({e.timezone for e in timed}):
        days = [e.starts_at.date() for e in timed if e.timezone == tzid]  # type: ignore[union-attr]
        first = date(min(days).year - 1, 1, 1)
        last = date(max(days).year + 2, 1, 1)
        cal.add_component(Timezone.from_tzid(tzid, first_date=first, last_date=last))


def invite(entry: CalendarEntry, stamp: datetime) -> bytes:
    """A METHOD:REQUEST invite, or METHOD:CANCEL when the meeting is cancelled."""
    cal = _calendar("CANCEL" if entry.cancelled else "REQUEST")
    _add_timezones(cal, [entry])
    cal.add_component(_event(entry, stamp))
    return cal.to_ical()


def feed(name: str, entries: list[CalendarEntry], stamp: datetime) -> bytes:
    """A subscribable calendar (no METHOD): meetings and deadlines, stable UIDs."""
    cal = _calendar(None, name)
    _add_timezones(cal, entries)
    for entry in entries:
        cal.add_component(_event(entry, stamp))
    return cal.to_ical()
