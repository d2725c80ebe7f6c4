"""Calendar invites (RFC 5546 iTIP) and subscribable feeds (RFC 5545), built with icalendar.

UIDs are stable (one per occurrence), so a moved meeting updates the event in people's
calendars (SEQUENCE goes up) instead of adding a second one, and a subscribed feed
refreshes in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration, vText

from govcal.notifications.vtimezone import vtimezone

PRODID = "-//govcal//governance calendar//EN"
FEED_REFRESH = timedelta(hours=1)  # feeds are rewritten hourly (publish-feeds)
SOURCE_PROPERTY = "X-GOVCAL-SOURCE"  # a feed's digest of what it was made from

# How each recorded lifecycle looks in a subscribed calendar: a summary prefix, a
# category clients can colour by, and whether the entry blocks time.
_LOOK = {
    "open": ("", "Open"),
    "completed": ("Done: ", "Completed"),
    "waived": ("Waived: ", "Waived"),
    "cancelled": ("Cancelled: ", "Cancelled"),
}


def uid_for(public_id: str) -> str:
    """The UID of an event that has none of its own: the form of the first installations."""
    return f"{public_id}@govcal"


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """A meeting (starts_at set) or a deadline (an all-day entry on its due date).

    `lifecycle` is what was recorded (open, completed, waived, cancelled); `changed` is
    when the occurrence last changed, used as DTSTAMP in feeds so an untouched entry
    keeps the same stamp from one rewrite to the next."""

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
    chairs: frozenset[str] = frozenset()  # lower-cased addresses of attendees who chair it
    timezone: str = field(kw_only=True)  # the partnership's IANA zone (TZID)
    location: str = ""
    online_url: str = ""
    lifecycle: str = "open"
    changed: datetime | None = None
    uid: str = ""  # stored form, with the installation's id; '' for uid_for(public_id)

    @property
    def status(self) -> str:
        if self.lifecycle == "waived":
            return "waived"  # not held, and said so in its own words
        return "cancelled" if self.cancelled else self.lifecycle


def _address(name: str, email: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def _alarm(entry: CalendarEntry) -> Alarm | None:
    """Open items only: a meeting the day before at its own time, a deadline at 09:00
    local the day before (an all-day entry starts at local midnight: -15 hours)."""
    if entry.status != "open":
        return None
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    if entry.starts_at is not None:
        alarm.add("description", f"Tomorrow: {entry.title}")
        alarm.add("trigger", timedelta(days=-1))
    else:
        alarm.add("description", f"Due tomorrow: {entry.title}")
        alarm.add("trigger", timedelta(hours=-15))
    return alarm


def _event(entry: CalendarEntry, stamp: datetime, *, feed: bool) -> Event:
    prefix, category = _LOOK.get(entry.status, ("", "Open"))
    event = Event()
    event.add("uid", entry.uid or uid_for(entry.public_id))
    event.add("dtstamp", (entry.changed or stamp) if feed else stamp)
    if entry.changed:
        event.add("last-modified", entry.changed)
    event.add("sequence", entry.sequence)
    event.add("summary", f"{prefix}{entry.title}" if feed else entry.title)
    description = entry.description
    if entry.online_url:
        description = f"{description}\n\nJoin online: {entry.online_url}".strip()
    event.add("description", description)
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
    busy = entry.starts_at is not None and entry.status == "open"
    event.add("transp", "OPAQUE" if busy else "TRANSPARENT")
    withdrawn = entry.status in ("cancelled", "waived")  # will not happen: out of calendars
    event.add("status", "CANCELLED" if withdrawn else "CONFIRMED")
    if feed:
        event.add("categories", [category])
    location = entry.location or ("Online" if entry.online_url else "")
    if location:
        event.add("location", location)
    if entry.online_url:
        event.add("url", entry.online_url)
        event.add("conference", entry.online_url, parameters={"VALUE": "URI"})
    if entry.organizer:
        event.add("organizer", _address(*entry.organizer))
    for name, email in entry.attendees:
        role = "CHAIR" if email.lower() in entry.chairs else "REQ-PARTICIPANT"
        event.add(
            "attendee",
            _address(name, email, ROLE=role, PARTSTAT="NEEDS-ACTION", RSVP="TRUE"),
        )
    alarm = _alarm(entry)
    if alarm is not None:
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
        cal.add("name", name)
        cal.add("x-wr-calname", name)
        cal.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", vDuration(FEED_REFRESH))
    return cal


def _timezones(entries: list[CalendarEntry]) -> bytes:
    """One VTIMEZONE per zone used, covering the years the calendar's meetings span."""
    timed = [(e.timezone, e.starts_at) for e in entries if e.starts_at is not None]
    zones = b""
    for tzid in sorted({zone for zone, _at in timed}):
        days = [at.date() for zone, at in timed if zone == tzid]
        zones += _vtimezone_ical(tzid, min(days).year - 1, max(days).year + 1)
    return zones


@lru_cache(maxsize=64)
def _vtimezone_ical(tzid: str, first_year: int, last_year: int) -> bytes:
    """A zone's VTIMEZONE as written, once per process: a day's invites share the same
    zone and years, and building it (a day-by-day search for the clock changes, then
    icalendar) cost more than the rest of an invite."""
    return vtimezone(tzid, first_year, last_year).to_ical()


def _with_timezones(body: bytes, zones: bytes) -> bytes:
    """`body` with the VTIMEZONEs right after the calendar's own properties, before the
    first event: where adding them as the first components put them."""
    if not zones:
        return body
    at = body.find(b"\r\nBEGIN:", 1)
    at = body.rfind(b"END:VCALENDAR") if at < 0 else at + 2
    return body[:at] + zones + body[at:]


def method_of(entry: CalendarEntry) -> str:
    return "CANCEL" if entry.cancelled else "REQUEST"


def invite(entry: CalendarEntry, stamp: datetime) -> bytes:
    """A METHOD:REQUEST invite, or METHOD:CANCEL when the meeting is cancelled."""
    cal = _calendar(method_of(entry))
    cal.add_component(_event(entry, stamp.astimezone(UTC), feed=False))
    return _with_timezones(cal.to_ical(), _timezones([entry]))


def feed(
    name: str, entries: list[CalendarEntry], stamp: datetime, *, source: str | None = None
) -> bytes:
    """A subscribable calendar (no METHOD): meetings and deadlines, stable UIDs, status
    visible, and a refresh interval so clients poll about as often as it is rewritten.
    `source`, a digest of the inputs, lets the next rewrite skip an unchanged feed."""
    cal = _calendar(None, name)
    if source:
        cal.add(SOURCE_PROPERTY.lower(), source)
    for entry in entries:
        cal.add_component(_event(entry, stamp.astimezone(UTC), feed=True))
    return _with_timezones(cal.to_ical(), _timezones(entries))


def merged_feed(name: str, parts: list[bytes]) -> bytes:
    """One calendar with the events of several feeds (a person's feed in each partnership
    they have a role in): each event once by its UID, each zone once, covering the years
    of every part's meetings."""
    cal = _calendar(None, name)
    seen: set[str] = set()
    years: dict[str, list[int]] = {}
    for part in parts:
        for event in Calendar.from_ical(part).walk("VEVENT"):
            uid = str(event.get("uid", ""))
            if uid in seen:
                continue
            seen.add(uid)
            cal.add_component(event)
            start = event.get("dtstart")
            zone = start.params.get("TZID") if start is not None else None
            if zone and isinstance(start.dt, datetime):
                years.setdefault(str(zone), []).append(start.dt.year)
    zones = b"".join(
        _vtimezone_ical(tzid, min(found) - 1, max(found) + 1)
        for tzid, found in sorted(years.items())
    )
    return _with_timezones(cal.to_ical(), zones)
