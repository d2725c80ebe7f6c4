"""The schedule language as a table, read like dateutil's and python-holidays' tests:
phrase -> the RFC 5545 rule it means -> the first dates it gives. Plus offsets, and
the phrases it refuses with what it says instead."""

from __future__ import annotations

from datetime import date

import pytest
from dateutil.rrule import rrulestr

from govcal.rules.compile import compile_schedule
from govcal.rules.model import Recurrence
from govcal.rules.schedule import ScheduleError, parse_offset, shift
from govcal.rules.spec import ScheduleSpec

D = date.fromisoformat

# phrase, start, the RRULE it compiles to, the first four dates
PHRASES = [
    (
        "monthly",
        "2026-01-15",
        "FREQ=MONTHLY",
        ["2026-01-15", "2026-02-15", "2026-03-15", "2026-04-15"],
    ),
    (
        "quarterly",
        "2026-01-31",
        "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1",  # month ends
        ["2026-01-31", "2026-04-30", "2026-07-31", "2026-10-31"],
    ),
    (
        "four times a year on the second Wednesday",
        "2025-05-14 10:00",
        "FREQ=MONTHLY;INTERVAL=3;BYDAY=2WE",
        ["2025-05-14", "2025-08-13", "2025-11-12", "2026-02-11"],
    ),
    (
        "every 2 months on the second Tuesday",
        "2025-04-08 14:00",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU",
        ["2025-04-08", "2025-06-10", "2025-08-12", "2025-10-14"],
    ),
    (
        "six times a year on the first Thursday",
        "2023-04-06 10:00",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TH",
        ["2023-04-06", "2023-06-01", "2023-08-03", "2023-10-05"],
    ),
    (
        "monthly on the last Friday",
        "2026-01-30",
        "FREQ=MONTHLY;BYDAY=-1FR",
        ["2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"],
    ),
    (
        "annually in March",
        "2026-03-31",
        "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=-1",
        ["2026-03-31", "2027-03-31", "2028-03-31", "2029-03-31"],
    ),
    (
        "twice a year",
        "2023-09-30",
        "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=-1",
        ["2023-09-30", "2024-03-31", "2024-09-30", "2025-03-31"],
    ),
    (
        "every year",
        "2024-02-29",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1",  # leap day: month end
        ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28"],
    ),
    (
        "every 12 months",
        "2026-09-30",
        "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=-1",
        ["2026-09-30", "2027-09-30", "2028-09-30", "2029-09-30"],
    ),
    (
        "biennially",
        "2025-12-31",
        "FREQ=YEARLY;INTERVAL=2;BYMONTH=12;BYMONTHDAY=-1",
        ["2025-12-31", "2027-12-31", "2029-12-31", "2031-12-31"],
    ),
    (
        "every two years",
        "2025-12-31",
        "FREQ=YEARLY;INTERVAL=2;BYMONTH=12;BYMONTHDAY=-1",
        ["2025-12-31", "2027-12-31", "2029-12-31", "2031-12-31"],
    ),
    (
        "fortnightly",
        "2026-01-05",
        "FREQ=WEEKLY;INTERVAL=2",
        ["2026-01-05", "2026-01-19", "2026-02-02", "2026-02-16"],
    ),
    (
        "every 3 weeks",
        "2026-01-06",
        "FREQ=WEEKLY;INTERVAL=3",
        ["2026-01-06", "2026-01-27", "2026-02-17", "2026-03-10"],
    ),
]


@pytest.mark.parametrize(("phrase", "start", "rrule", "first"), PHRASES)
def test_phrase_means_rule_and_gives_dates(phrase, start, rrule, first):
    schedule = compile_schedule(ScheduleSpec(every=phrase, start=start), {})
    assert isinstance(schedule, Recurrence)
    assert schedule.rrule == rrule
    assert schedule.described_as == phrase  # the plan shows the words it was given
    dates = rrulestr(f"RRULE:{schedule.rrule}", dtstart=schedule.start)
    assert [d.date() for d in dates[:4]] == [D(d) for d in first]


def test_the_rrule_form_is_the_same_engine():
    a = compile_schedule(
        ScheduleSpec(every="every 2 months on the second Tuesday", start="2025-04-08 14:00"), {}
    )
    b = compile_schedule(ScheduleSpec(rrule=a.rrule, start="2025-04-08 14:00"), {})
    assert (b.rrule, b.start, b.timed) == (a.rrule, a.start, True)


# offset, from, before?, due
OFFSETS = [
    ("5 working days", "2027-03-24", False, "2027-04-02"),  # Good Friday, Easter Monday
    ("15 working days", "2027-03-25", False, "2027-04-19"),
    ("5 clear working days", "2027-05-12", True, "2027-05-04"),  # five whole days between
    ("5 clear working days", "2026-04-14", True, "2026-04-02"),  # over Easter
    ("7 working days", "2027-02-28", True, "2027-02-18"),  # from a Sunday
    ("6 months", "2026-08-31", False, "2027-02-28"),  # clamped to the month's end
    ("7 days", "2026-10-15", False, "2026-10-22"),
    ("1 month", "2026-09-30", True, "2026-08-30"),
    ("two weeks", "2026-01-01", False, "2026-01-15"),
    ("1 year", "2024-02-29", False, "2025-02-28"),
]


@pytest.mark.parametrize(("phrase", "start", "before", "due"), OFFSETS)
def test_offset_moves_a_date(phrase, start, before, due):
    assert shift(D(start), parse_offset(phrase), before=before) == D(due)


REFUSED = [
    (ScheduleSpec(every="evry 2 months", start="2026-01-01"), "is not understood; expected"),
    (ScheduleSpec(every="every 0 months", start="2026-01-01"), "at least 1"),
    (ScheduleSpec(every="five times a year", start="2026-01-01"), "whole months"),
    (
        ScheduleSpec(every="weekly on the second Tuesday", start="2026-01-01"),
        "needs a monthly or yearly cadence",
    ),
    (ScheduleSpec(every="monthly", start="2026-01-30"), "which some months lack"),
    (ScheduleSpec(every="monthly"), "needs start:"),
    (ScheduleSpec(rrule="FREQ=HOURLY", start="2026-01-01"), "repeats within a day"),
    (ScheduleSpec(rrule="FREQ=DAILY;INTERVAL=0", start="2026-01-01"), "INTERVAL=0 must be"),
    (ScheduleSpec(rrule="FREQ=DAILY;BYHOUR=9", start="2026-01-01"), "comes from start:"),
    (
        ScheduleSpec(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", start="2026-01-01"),
        "never produces a date",
    ),
    (ScheduleSpec(once="2026-02-30"), "is not a real date"),
    (ScheduleSpec(once="2026-01-01T10:00+01:00"), "carries a UTC offset"),
    (ScheduleSpec(event="serious-incident", within="5 workin days"), "offset '5 workin days'"),
    (ScheduleSpec(event="flood", within="5 days"), "is not declared under events"),
    (ScheduleSpec(rule="x", within="5 days", start="2026-01-01"), "cannot be used"),
]


@pytest.mark.parametrize(("spec", "says"), REFUSED)
def test_refused_phrases_say_what_to_write(spec, says):
    with pytest.raises(ScheduleError) as caught:
        compile_schedule(spec, {"serious-incident": "x"})
    assert says in str(caught.value)
