"""The schedule language: shorthand phrases, offsets, and the date arithmetic behind them.

Shorthand ("every 2 months", "four times a year", "annually in March", "monthly on the
second Tuesday") is translated to an RFC 5545 RRULE, so there is one recurrence engine
(dateutil's) and the plan can always show the exact rule it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from govcal.rules.errors import Refused
from govcal.rules.model import Adjust, Offset, Unit
from govcal.rules.workdays import add_working_days, next_working_day, previous_working_day

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_TIMES_A_YEAR = {"once": 1, "twice": 2}

EVERY_EXAMPLES = (
    "'every 2 months', 'every year', 'monthly', 'quarterly', 'four times a year', "
    "'annually in March', 'every 2 months on the second Wednesday'"
)
OFFSET_EXAMPLES = "'5 working days', '5 clear working days', '7 days', '6 months', '1 year'"


class ScheduleError(Refused):
    """A schedule phrase that cannot be understood; the message says what is expected."""


# A governance calendar repeats daily at most, and nothing in it is more than 20 years
# away: these bounds keep every date a rule can produce inside the calendar's range, so
# no rule file can make expansion loop, overflow or produce half a million items a year.
FIRST_YEAR, LAST_YEAR = 1900, 2200
MAX_STEP = {"DAILY": 3660, "WEEKLY": 520, "MONTHLY": 240, "YEARLY": 20}
_RRULE_KEYS = {
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYDAY",
    "BYSETPOS",
    "WKST",
}
_SUB_DAILY = {"SECONDLY", "MINUTELY", "HOURLY"}


def check_rrule(text: str) -> None:
    """Refuse RRULE parts that would make a rule hang or flood: INTERVAL=0, sub-daily
    frequencies, times of day inside the rule (the time comes from start:)."""
    parts: dict[str, str] = {}
    for part in text.upper().split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScheduleError(f"rrule '{text}': '{part}' is not NAME=VALUE")
        if key in ("BYHOUR", "BYMINUTE", "BYSECOND"):
            raise ScheduleError(
                f"rrule '{text}': {key} is not allowed; the time of day comes from start:"
            )
        if key not in _RRULE_KEYS:
            raise ScheduleError(
                f"rrule '{text}': {key} is not supported; use {', '.join(sorted(_RRULE_KEYS))}"
            )
        if key in parts:
            raise ScheduleError(f"rrule '{text}': {key} is given twice")
        parts[key] = value.strip()
    freq = parts.get("FREQ")
    if freq in _SUB_DAILY:
        raise ScheduleError(
            f"rrule '{text}': FREQ={freq} repeats within a day; a governance calendar "
            "repeats daily at most (DAILY, WEEKLY, MONTHLY, YEARLY)"
        )
    if freq not in MAX_STEP:
        raise ScheduleError(
            f"rrule '{text}' is not valid RFC 5545 for a calendar: FREQ must be DAILY, WEEKLY, "
            f"MONTHLY or YEARLY (got {freq or 'none'})"
        )
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or not 1 <= int(interval) <= MAX_STEP[freq]:
        raise ScheduleError(
            f"rrule '{text}': INTERVAL={interval} must be a whole number from 1 to "
            f"{MAX_STEP[freq]} for FREQ={freq}"
        )


@dataclass(frozen=True, slots=True)
class Cadence:
    """A parsed shorthand: the RRULE parts and the step it represents."""

    freq: str  # DAILY, WEEKLY, MONTHLY, YEARLY
    interval: int
    by_month: int | None = None
    by_day: str | None = None  # e.g. "2WE", "-1FR"

    def rrule(self) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.by_month:
            parts.append(f"BYMONTH={self.by_month}")
        if self.by_day:
            parts.append(f"BYDAY={self.by_day}")
        return ";".join(parts)

    def step(self) -> tuple[int, int]:
        """(months, days) one step of the cadence spans."""
        if self.freq == "YEARLY":
            return 12 * self.interval, 0
        if self.freq == "MONTHLY":
            return self.interval, 0
        if self.freq == "WEEKLY":
            return 0, 7 * self.interval
        return 0, self.interval


def _number(text: str) -> int:
    if text.isdigit() and len(text) > 6:
        raise ScheduleError(f"'{text[:12]}...' is far too large a number")
    if text.isdigit():
        return int(text)
    if text in _NUMBER_WORDS:
        return _NUMBER_WORDS[text]
    raise ScheduleError(f"'{text}' is not a number")


_SIMPLE = {
    "daily": ("DAILY", 1),
    "weekly": ("WEEKLY", 1),
    "fortnightly": ("WEEKLY", 2),
    "monthly": ("MONTHLY", 1),
    "bi-monthly": ("MONTHLY", 2),
    "bimonthly": ("MONTHLY", 2),
    "quarterly": ("MONTHLY", 3),
    "three-monthly": ("MONTHLY", 3),
    "six-monthly": ("MONTHLY", 6),
    "half-yearly": ("MONTHLY", 6),
    "twice-yearly": ("MONTHLY", 6),
    "annually": ("YEARLY", 1),
    "annual": ("YEARLY", 1),
    "yearly": ("YEARLY", 1),
    "biennially": ("YEARLY", 2),
}
_UNIT_FREQ = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}
_NUM = r"(\d+|" + "|".join(_NUMBER_WORDS) + r")"
_EVERY = re.compile(rf"^every(?:\s+{_NUM})?\s+(day|week|month|year)s?$")
_TIMES = re.compile(rf"^(once|twice|{_NUM}\s+times)\s+(?:a|per|each)\s+year$")
_IN_MONTH = re.compile(r"^(?:annually|yearly|every year)\s+in\s+(" + "|".join(MONTHS) + r")$")
_ON_DAY = re.compile(
    r"^(.*?)\s+on\s+the\s+(first|second|third|fourth|last)\s+(" + "|".join(WEEKDAYS) + r")$"
)


def parse_every(phrase: str) -> Cadence:
    """Translate a shorthand cadence into RRULE parts, or explain what is expected."""
    text = " ".join(str(phrase).lower().split())
    by_day = None
    on_day = _ON_DAY.match(text)
    if on_day:
        text = on_day.group(1)
        by_day = f"{_ORDINALS[on_day.group(2)]}{_RRULE_DAYS[WEEKDAYS.index(on_day.group(3))]}"
    cadence = _parse_cadence(text)
    if cadence is None:
        raise ScheduleError(
            f"schedule '{phrase}' is not understood; expected a phrase such as {EVERY_EXAMPLES}"
        )
    if by_day:
        if cadence.freq not in ("MONTHLY", "YEARLY"):
            raise ScheduleError(
                f"schedule '{phrase}': 'on the ... <weekday>' needs a monthly or yearly cadence"
            )
        cadence = Cadence(cadence.freq, cadence.interval, cadence.by_month, by_day)
    return cadence


def _parse_cadence(text: str) -> Cadence | None:
    if text in _SIMPLE:
        freq, interval = _SIMPLE[text]
        return Cadence(freq, interval)
    match = _EVERY.match(text)
    if match:
        interval = _number(match.group(1)) if match.group(1) else 1
        freq = _UNIT_FREQ[match.group(2)]
        if not 1 <= interval <= MAX_STEP[freq]:
            raise ScheduleError(
                f"schedule '{text}': the interval must be at least 1 and at most "
                f"{MAX_STEP[freq]} {match.group(2)}s"
            )
        return Cadence(freq, interval)
    match = _TIMES.match(text)
    if match:
        word = match.group(1)
        times = _TIMES_A_YEAR.get(word) or _number(match.group(2))
        if times < 1 or 12 % times:
            raise ScheduleError(
                f"schedule '{text}': {times} times a year does not divide the year into whole "
                "months; use 1, 2, 3, 4, 6 or 12, or give an RRULE"
            )
        return Cadence("MONTHLY", 12 // times) if times > 1 else Cadence("YEARLY", 1)
    match = _IN_MONTH.match(text)
    if match:
        return Cadence("YEARLY", 1, by_month=MONTHS.index(match.group(1)) + 1)
    return None


_OFFSET = re.compile(
    rf"^{_NUM}\s+(clear\s+working\s+day|working\s+day|calendar\s+day|day|week|month|year)s?$"
)
_OFFSET_UNITS = {
    "clear working day": Unit.CLEAR_WORKING_DAYS,
    "working day": Unit.WORKING_DAYS,
    "calendar day": Unit.DAYS,
    "day": Unit.DAYS,
    "week": Unit.WEEKS,
    "month": Unit.MONTHS,
    "year": Unit.YEARS,
}


_MAX_OFFSET = {
    Unit.DAYS: 3660,
    Unit.WEEKS: 520,
    Unit.MONTHS: 240,
    Unit.YEARS: 20,
    Unit.WORKING_DAYS: 2600,
    Unit.CLEAR_WORKING_DAYS: 2600,
}


def parse_offset(phrase: str) -> Offset:
    text = " ".join(str(phrase).lower().split())
    match = _OFFSET.match(text)
    if not match:
        raise ScheduleError(
            f"offset '{phrase}' is not understood; expected a phrase such as {OFFSET_EXAMPLES}"
        )
    amount = _number(match.group(1))
    unit = _OFFSET_UNITS[" ".join(match.group(2).split())]
    if amount < 1 and unit is not Unit.DAYS:
        raise ScheduleError(f"offset '{phrase}' must be at least 1")
    if amount > _MAX_OFFSET[unit]:
        raise ScheduleError(
            f"offset '{phrase}' is more than {_MAX_OFFSET[unit]} {unit}; nothing in a "
            "governance calendar is that far away"
        )
    return Offset(amount, unit)


def shift(day: date, offset: Offset, *, before: bool = False) -> date:
    """Move `day` by `offset`, forwards or (with `before`) backwards.

    "N clear working days" means N whole working days strictly between the two dates,
    the way committee papers are circulated before a meeting.
    """
    sign = -1 if before else 1
    n = offset.amount
    match offset.unit:
        case Unit.DAYS:
            return day + timedelta(days=sign * n)
        case Unit.WEEKS:
            return day + timedelta(weeks=sign * n)
        case Unit.MONTHS:
            return day + relativedelta(months=sign * n)
        case Unit.YEARS:
            return day + relativedelta(years=sign * n)
        case Unit.WORKING_DAYS:
            return add_working_days(day, sign * n)
        case Unit.CLEAR_WORKING_DAYS:
            return add_working_days(day, sign * (n + 1))
    raise AssertionError(offset.unit)  # pragma: no cover


def adjust(day: date, how: Adjust) -> date:
    if how is Adjust.NEXT_WORKING_DAY:
        return next_working_day(day)
    if how is Adjust.PREVIOUS_WORKING_DAY:
        return previous_working_day(day)
    return day
