"""Dates that catch calendars out: leap days, month ends, and meetings at 01:30 on the
days the clocks change in London."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import vobject

from govcal.notifications.ics import CalendarEntry, invite
from govcal.rules.expand import expand
from govcal.rules.loader import load_partnerships
from tests.support.rules import VALID_HEADER

D = date.fromisoformat

EDGE_RULES = """\
  - id: leap-return
    title: Return due on the leap day
    kind: report
    owner: business-team
    schedule: {every: annually, start: 2028-02-29}
    evidence: Report
    source: test
  - id: month-end
    title: Month-end return
    kind: report
    owner: business-team
    schedule: {every: every month, start: 2027-01-31}
    evidence: Report
    source: test
  - id: clocks-back-meeting
    title: Meeting at 01:30 on the day the clocks go back
    kind: meeting
    owner: business-team
    attendees: [lsp]
    schedule: {once: 2026-10-25 01:30}
    evidence: Minutes
    source: test
  - id: clocks-forward-meeting
    title: Meeting at 01:30 on the day the clocks go forward
    kind: meeting
    owner: business-team
    attendees: [lsp]
    schedule: {once: 2027-03-28 01:30}
    evidence: Minutes
    source: test
"""


def occurrences(rule_file, rule: str, start: str, end: str):
    [partnership] = load_partnerships([rule_file(VALID_HEADER + EDGE_RULES)])
    return [o for o in expand(partnership, D(start), D(end)) if o.rule == rule]


def test_a_yearly_deadline_on_the_leap_day_falls_on_28_february_in_other_years(rule_file):
    dues = [o.due for o in occurrences(rule_file, "leap-return", "2028-01-01", "2032-12-31")]
    assert dues == [
        D("2028-02-29"),
        D("2029-02-28"),
        D("2030-02-28"),
        D("2031-02-28"),
        D("2032-02-29"),
    ]


def test_a_monthly_deadline_on_the_31st_keeps_to_the_last_day_of_short_months(rule_file):
    dues = [o.due for o in occurrences(rule_file, "month-end", "2027-01-01", "2028-04-30")]
    assert len(dues) == 16  # none skipped
    assert all((d + timedelta(days=1)).day == 1 for d in dues)
    assert D("2028-02-29") in dues and D("2027-02-28") in dues and D("2027-04-30") in dues


def test_a_meeting_at_0130_on_the_clocks_back_day_is_the_first_0130_in_summer_time(rule_file):
    [meeting] = occurrences(rule_file, "clocks-back-meeting", "2026-10-01", "2026-10-31")
    assert meeting.starts_at.strftime("%H:%M") == "01:30"
    assert meeting.starts_at.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    entry = CalendarEntry(
        meeting.id,
        "Meeting",
        "",
        meeting.due,
        meeting.starts_at,
        meeting.starts_at + timedelta(hours=1),
        organizer=("Business team", "bt@example.org"),
        attendees=(("Lead", "lsp@example.org"),),
        timezone="Europe/London",
    )
    event = vobject.readOne(invite(entry, meeting.starts_at).decode()).vevent
    start = event.dtstart.value
    assert (start.hour, start.minute) == (1, 30) and str(start.tzinfo) != "UTC"
    assert "TZID=Europe/London" in invite(entry, meeting.starts_at).decode()


def test_a_meeting_at_0130_on_the_clocks_forward_day_is_still_on_that_day(rule_file):
    # 01:30 does not exist that night; the meeting keeps its day and a real instant
    [meeting] = occurrences(rule_file, "clocks-forward-meeting", "2027-03-01", "2027-03-31")
    assert meeting.due == D("2027-03-28")
    instant = meeting.starts_at.astimezone(UTC)
    assert instant.date() == D("2027-03-28") and instant.hour in (0, 1)
