"""The dates govcal accepts from people, and how it reads them. Pure: no clock, no I/O.

One supported range for every date a person types (command options, Prefect forms) and
every date read back from the database. A date far outside it (0001-01-02, 9999-12-31)
is almost always a typing slip, and arithmetic on it (reminder leads, working days,
iCalendar time zones) overflows Python's date type: refusing it at the door, and skipping
it with a warning when it is already stored, keeps one slip from crashing later runs.

Two spellings are read: ISO (2026-10-13) and the UK's day/month/year (13/10/2026).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from govcal.rules.errors import Refused

EARLIEST = date(2000, 1, 1)
LATEST = date(2098, 12, 31)
SUPPORTED = f"{EARLIEST.isoformat()} to {LATEST.isoformat()}"
# The engine's range is wider than the typed one on both sides: a sync as of the last typed
# day looks 18 months ahead and event-relative deadlines (working-day leads, a review's
# months) run past it; a sync as of the first looks 18 months back. The engine ends where
# the bank-holiday data of the `holidays` package ends (2100), so the typed range stops two
# years short of it.
ENGINE_EARLIEST = date(1990, 1, 1)
ENGINE_LATEST = date(2100, 12, 31)

_UK_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_FORMS = "YYYY-MM-DD or DD/MM/YYYY"


class DateInputError(Refused):
    """A typed date that cannot be read or lies outside the supported range."""


def in_range(day: date) -> bool:
    """Whether a date (or the day of a date-time) lies in the supported range."""
    if isinstance(day, datetime):
        day = day.date()
    return EARLIEST <= day <= LATEST


def in_engine_range(day: date) -> bool:
    """Whether a computed or stored date lies where the engine's arithmetic works."""
    if isinstance(day, datetime):
        day = day.date()
    return ENGINE_EARLIEST <= day <= ENGINE_LATEST


def check_day(day: date, what: str = "date") -> date:
    """The day itself, or DateInputError naming `what` when it is outside the range."""
    if not in_range(day):
        shown = day.isoformat(sep=" ", timespec="minutes") if isinstance(day, datetime) else day
        raise DateInputError(
            f"{what} {shown} is outside the supported range {SUPPORTED}; check the year"
        )
    return day


def _uk(text: str) -> date | None:
    match = _UK_DAY.match(text)
    if match is None:
        return None
    day, month, year = (int(g) for g in match.groups())
    return date(year, month, day)  # ValueError for 31/02/2026, caught by the caller


def _ascii_digits(value: str, what: str) -> None:
    """Digits are 0-9 only: Python reads full-width (２０２６) and Arabic-Indic digits as
    numbers in some places and not in others, so one rule for all: plain digits."""
    if not value.isascii():
        raise DateInputError(
            f"{what} has characters that are not plain ASCII (full-width or other digits?); "
            f"write it with the digits 0-9 as {_FORMS}"
        )


def parse_day(text: str, what: str = "date") -> date:
    """'2026-10-13' or '13/10/2026' -> date(2026, 10, 13), checked against the range."""
    value = (text or "").strip()
    _ascii_digits(value, what)
    try:
        day = _uk(value) or date.fromisoformat(value)
    except ValueError:
        raise DateInputError(f"{what} '{value}' is not a date; write {_FORMS}") from None
    return check_day(day, what)


def parse_moment(text: str, what: str = "date") -> date | datetime:
    """A day, or a day and a wall-clock time ('2026-12-08 14:00', '08/12/2026 14:00').

    A time without a zone is returned naive: the caller knows the partnership's zone.
    """
    value = (text or "").strip()
    _ascii_digits(value, what)
    day_part, _, time_part = value.partition(" ") if "/" in value else ("", "", "")
    try:
        if time_part:
            moment = datetime.combine(parse_day(day_part, what), _time(time_part))
        elif len(value) <= 10:
            return parse_day(value, what)
        else:
            moment = datetime.fromisoformat(value)
    except DateInputError:
        raise
    except ValueError:
        raise DateInputError(
            f"{what} '{value}' is not a date or date-time; write {_FORMS}, optionally "
            "followed by HH:MM"
        ) from None
    if moment.tzinfo is not None:
        raise DateInputError(
            f"{what} '{value}' gives a UTC offset; write the partnership's local time "
            "(YYYY-MM-DD HH:MM) without +HH:MM or Z"
        )
    check_day(moment, what)
    return moment


def _time(text: str) -> time:
    return datetime.strptime(text.strip(), "%H:%M").time()
