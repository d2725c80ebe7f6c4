"""Working-day arithmetic for England and Wales.

A working day is Monday to Friday and not a bank holiday. Bank holidays come from the
`holidays` package (offline data shipped with it), never from a hand-kept list. When a
holiday falls on a weekend the package lists both the day itself and the substitute
("observed") weekday; the weekend day is excluded anyway, so membership of the set plus
the weekday test gives exactly the bank holidays people get off.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, timedelta
from functools import cache

from govcal.rules.dates import ENGINE_EARLIEST, ENGINE_LATEST

_FIRST_YEAR = ENGINE_EARLIEST.year
_LAST_YEAR = ENGINE_LATEST.year


_KNOWN: dict[int, frozenset[date]] = {}  # by year, worked out or remembered


def _england_and_wales(year: int) -> list[date]:
    """The package's bank holidays for England (and Wales: the same days) in `year`,
    through its public per-country lookup (imported on first use: 0.3-0.5 s, which the
    rule cache spares everyday commands)."""
    import holidays

    return list(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def _bank_holidays(year: int) -> frozenset[date]:
    found = _KNOWN.get(year)
    if found is None:
        found = _KNOWN[year] = frozenset(_england_and_wales(year))
    return found


def bank_holidays() -> dict[int, frozenset[date]]:
    """Every supported year's bank holidays, for the rule cache to keep (models/rule_cache.py):
    a command that finds them there need not import the package (0.03 s)."""
    return {year: _bank_holidays(year) for year in range(_FIRST_YEAR, _LAST_YEAR + 1)}


def remember(known: dict[int, frozenset[date]]) -> None:
    """Bank holidays worked out earlier with the same package (see bank_holidays)."""
    for year, days in known.items():
        _KNOWN.setdefault(year, frozenset(days))


def is_bank_holiday(day: date) -> bool:
    """True for an England and Wales bank holiday that falls on a weekday."""
    return day.weekday() < 5 and day in _bank_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


@cache
def _working_days(year: int) -> tuple[date, ...]:
    """Every working day of a year, in order: lets arithmetic use bisect, not day loops."""
    day = date(year, 1, 1)
    out: list[date] = []
    while day.year == year:
        if is_working_day(day):
            out.append(day)
        day += timedelta(days=1)
    return tuple(out)


def _check_year(year: int) -> None:
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(
            f"working-day arithmetic covers {_FIRST_YEAR}-{_LAST_YEAR}; {year} is outside it"
        )


def add_working_days(start: date, n: int) -> date:
    """The date `n` working days after `start` (before it when `n` is negative).

    Counting starts the day after `start`, so "within 5 working days of becoming aware on
    Wednesday" lands on the following Wednesday when there is no bank holiday between.
    `n == 0` returns `start` itself when it is a working day, else the next working day.
    """
    if n == 0:
        return start if is_working_day(start) else add_working_days(start, 1)
    year = start.year
    _check_year(year)
    days = _working_days(year)
    if n > 0:
        index = bisect_right(days, start) + n - 1
        while index >= len(days):
            index -= len(days)
            year += 1
            _check_year(year)
            days = _working_days(year)
        return days[index]
    index = bisect_left(days, start) + n
    while index < 0:
        year -= 1
        _check_year(year)
        days = _working_days(year)
        index += len(days)
    return days[index]


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, otherwise the first working day after it."""
    return add_working_days(day, 0)


def previous_working_day(day: date) -> date:
    """`day` itself when it is a working day, otherwise the last working day before it."""
    return day if is_working_day(day) else add_working_days(day, -1)


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (negative when end < start)."""
    if end < start:
        return -working_days_between(end, start)
    total = 0
    for year in range(start.year, end.year + 1):
        _check_year(year)
        days = _working_days(year)
        lo = bisect_right(days, start) if year == start.year else 0
        hi = bisect_right(days, end) if year == end.year else len(days)
        total += max(0, hi - lo)
    return total
