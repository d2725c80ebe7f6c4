"""The state of an occurrence as of a day, as the business team would read it."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from govcal.rules.state import State, evaluate

D = date.fromisoformat
DUE = D("2026-12-08")


@pytest.mark.parametrize(
    ("as_of", "completed", "state", "overdue", "until"),
    [
        ("2026-10-01", None, State.UPCOMING, 0, 68),
        ("2026-11-24", None, State.DUE_SOON, 0, 14),
        ("2026-12-08", None, State.DUE, 0, 0),
        ("2026-12-09", None, State.OVERDUE, 1, 0),
        ("2027-01-05", None, State.OVERDUE, 28, 0),
        ("2026-12-20", "2026-12-08", State.COMPLETED_ON_TIME, 0, 0),
        ("2026-12-20", "2026-12-01", State.COMPLETED_ON_TIME, 0, 0),
        ("2026-12-20", "2026-12-11", State.COMPLETED_LATE, 3, 0),
        # a completion after the as-of day is not yet known: replaying the past is honest
        ("2026-12-10", "2026-12-11", State.OVERDUE, 2, 0),
    ],
)
def test_state_as_of_a_day(as_of, completed, state, overdue, until):
    status = evaluate(DUE, D(as_of), completed_on=D(completed) if completed else None)
    assert (status.state, status.days_overdue, status.days_until) == (state, overdue, until)


def test_waived_and_cancelled_are_never_overdue():
    assert evaluate(DUE, D("2027-06-01"), waived=True).state is State.WAIVED
    assert evaluate(DUE, D("2027-06-01"), cancelled=True).state is State.CANCELLED


def test_the_day_is_read_in_london_not_utc():
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST)
    late_evening = datetime(2026, 6, 30, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert evaluate(D("2026-06-30"), late_evening).state is State.OVERDUE
    winter = datetime(2026, 12, 8, 23, 30, tzinfo=ZoneInfo("UTC"))  # GMT: still 8 December
    assert evaluate(DUE, winter).state is State.DUE


def test_descriptions_read_as_plain_english():
    assert evaluate(DUE, D("2026-12-11")).describe() == "overdue by 3 days"
    assert evaluate(DUE, D("2026-12-09")).describe() == "overdue by 1 day"
    assert evaluate(DUE, D("2026-12-07")).describe() == "due in 1 day"
    assert evaluate(DUE, D("2026-11-24")).describe() == "due in 14 days"
    assert evaluate(DUE, D("2026-12-20"), completed_on=D("2026-12-10")).describe() == (
        "completed 2 days late"
    )


def test_due_soon_window_is_configurable():
    assert evaluate(DUE, D("2026-11-24"), due_soon_days=7).state is State.UPCOMING
    assert evaluate(DUE, D("2026-12-01"), due_soon_days=7).state is State.DUE_SOON


def test_rag_rating():
    assert State.OVERDUE.rag == "Red"
    assert State.DUE_SOON.rag == "Amber"
    assert State.COMPLETED_ON_TIME.rag == "Green"
