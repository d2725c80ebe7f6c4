"""Working-day arithmetic against real England and Wales bank holidays."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govcal.rules.workdays import (
    add_working_days,
    is_bank_holiday,
    is_working_day,
    next_working_day,
    previous_working_day,
    working_days_between,
)

D = date.fromisoformat


@pytest.mark.parametrize(
    ("story", "start", "n", "expected"),
    [
        (
            "aware Wed 24 March 2027, 5 working days over Easter -> Fri 2 April 2027",
            "2027-03-24",
            5,
            "2027-04-02",
        ),
        (
            "aware Mon 7 Dec 2026, 5 working days, no holiday -> Mon 14 Dec 2026",
            "2026-12-07",
            5,
            "2026-12-14",
        ),
        (
            "aware Wed 23 Dec 2026, 5 working days over Christmas and New Year -> Mon 4 Jan 2027",
            "2026-12-23",
            5,
            "2027-01-04",
        ),
        (
            "aware Thu 24 Dec 2026: Fri 25, Boxing Day substitute Mon 28 and Fri 1 Jan skipped",
            "2026-12-24",
            5,
            "2027-01-05",
        ),
        (
            "aware Fri 22 May 2026, 1 working day over the spring bank holiday -> Tue 26 May",
            "2026-05-22",
            1,
            "2026-05-26",
        ),
        (
            "aware Sat 2 May 2026, 1 working day: early May bank holiday Mon 4 May -> Tue 5 May",
            "2026-05-02",
            1,
            "2026-05-05",
        ),
        (
            "rapid review: notified Fri 2 April 2027, 15 working days -> Fri 23 April 2027",
            "2027-04-02",
            15,
            "2027-04-23",
        ),
        (
            "2022 state funeral Mon 19 Sept was a one-off bank holiday",
            "2022-09-16",
            1,
            "2022-09-20",
        ),
        (
            "leap day: aware Fri 27 Feb 2032, 1 working day -> Mon 1 March 2032",
            "2032-02-27",
            1,
            "2032-03-01",
        ),
        (
            "5 clear working days before Wed 10 June 2026 means circulating on Tue 2 June",
            "2026-06-10",
            -6,
            "2026-06-02",
        ),
        (
            "back over Easter: 2 working days before Tue 30 March 2027 -> Wed 24 March",
            "2027-03-30",
            -2,
            "2027-03-24",
        ),
    ],
)
def test_adding_working_days_matches_the_calendar(story, start, n, expected):
    assert add_working_days(D(start), n) == D(expected), story


def test_bank_holidays_come_from_the_holidays_package_not_a_hand_list():
    assert is_bank_holiday(D("2027-03-26"))  # Good Friday 2027
    assert is_bank_holiday(D("2027-03-29"))  # Easter Monday 2027
    assert is_bank_holiday(D("2026-12-28"))  # Boxing Day substitute (26th is a Saturday)
    assert not is_bank_holiday(D("2026-12-26"))  # the Saturday itself is a weekend, not a holiday
    assert not is_working_day(D("2026-12-26"))
    assert not is_bank_holiday(D("2026-03-17"))  # St Patrick's Day is Northern Ireland only


def test_zero_working_days_rolls_a_weekend_forward():
    assert add_working_days(D("2026-11-28"), 0) == D("2026-11-30")
    assert next_working_day(D("2026-11-27")) == D("2026-11-27")
    assert previous_working_day(D("2026-11-29")) == D("2026-11-27")


def test_working_days_between_counts_after_start_up_to_end():
    assert working_days_between(D("2027-03-24"), D("2027-04-02")) == 5
    assert working_days_between(D("2026-12-31"), D("2027-01-05")) == 2  # Fri 1 Jan is a holiday
    assert working_days_between(D("2027-04-02"), D("2027-03-24")) == -5


days = st.dates(min_value=D("2000-01-01"), max_value=D("2090-12-31"))
counts = st.integers(min_value=1, max_value=400)


@given(days, counts)
def test_adding_n_working_days_never_lands_on_a_weekend_or_bank_holiday(start, n):
    result = add_working_days(start, n)
    assert result.weekday() < 5
    assert not is_bank_holiday(result)


@given(days, counts)
def test_adding_working_days_counts_exactly_n(start, n):
    assert working_days_between(start, add_working_days(start, n)) == n


@given(days, counts, counts)
def test_adding_working_days_is_monotonic(start, a, b):
    low, high = sorted((a, b))
    assert add_working_days(start, low) <= add_working_days(start, high)
    assert add_working_days(start, low) > start


@given(days, days, st.integers(min_value=1, max_value=60))
def test_later_start_never_gives_an_earlier_deadline(a, b, n):
    first, second = sorted((a, b))
    assert add_working_days(first, n) <= add_working_days(second, n)


@given(days, counts)
def test_going_back_then_forward_returns_to_a_working_day(start, n):
    anchor = next_working_day(start)
    assert add_working_days(add_working_days(anchor, -n), n) == anchor


def test_arithmetic_refuses_dates_outside_the_holiday_data():
    with pytest.raises(ValueError, match="outside"):
        add_working_days(D("2100-12-30"), 5)


def test_ten_years_of_deadlines_is_fast_enough_to_not_loop_day_by_day():
    start = D("2026-01-01")
    assert add_working_days(start, 2520) > start + timedelta(days=365 * 9)
