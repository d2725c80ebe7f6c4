"""The shipped calendars produce the dates the seeds promise."""

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from govcal.rules.expand import expand, expand_rule
from govcal.rules.loader import load_partnership, load_partnerships
from govcal.rules.model import Event, ExpansionContext, Per, Subject

D = date.fromisoformat
UTC = ZoneInfo("UTC")


@pytest.fixture(scope="module")
def wfscp():
    return load_partnership("wfscp")


def due_dates(partnership, rule_id, start, end, context=None):
    rule = partnership.rule(rule_id)
    found = expand_rule(partnership, rule, D(start), D(end), context or ExpansionContext())
    return [o.due for o in found]


def test_every_shipped_file_loads_and_every_rule_cites_a_source():
    partnerships = load_partnerships()
    assert {p.id for p in partnerships} == {"wfscp", "cscp-2019", "cscp-2023", "cumbria-lscb-2014"}
    for p in partnerships:
        for rule in p.rules:
            assert rule.source.strip(), f"{p.id}/{rule.id} has no source"


def test_wfscp_2026_has_four_lsp_meetings_and_six_accountability_meetings(wfscp):
    counts = Counter(o.rule for o in expand(wfscp, D("2026-01-01"), D("2026-12-31")))
    assert counts["lsp-meeting"] == 4
    assert counts["safeguarding-accountability-meeting"] == 6


def test_non_statutory_partners_attend_two_of_the_accountability_meetings(wfscp):
    # 004: "with attendance of ... representatives at senior/executive level across the
    # non-statutory partners (twice annually)": the same meeting, not a second one
    sam = wfscp.rule("safeguarding-accountability-meeting")
    days = due_dates(wfscp, sam.id, "2026-01-01", "2026-12-31")
    invited = [d for d in days if "non-statutory-partners" in sam.attendees_on(d)]
    assert invited == [D("2026-06-09"), D("2026-12-08")]
    assert "sam-non-statutory-partners" not in {r.id for r in wfscp.rules}
    meetings_at = Counter(
        o.starts_at for o in expand(wfscp, D("2026-01-01"), D("2026-12-31")) if o.starts_at
    )
    assert max(meetings_at.values()) == 1  # no two invites for the same hour


def test_arrangements_review_march_2025_december_2025_then_every_two_years(wfscp):
    # 004: "reviewed by the safeguarding partners in March 2025": the file records it, but
    # WFSCP is active from 1 April 2025, so it was never WFSCP's to owe (issue 20)
    assert D("2025-03-31") in {
        d.date() for d in wfscp.rule("arrangements-review").schedule.extra_dates
    }
    assert due_dates(wfscp, "arrangements-review", "2024-01-01", "2031-12-31") == [
        D("2025-12-31"),
        D("2027-12-31"),
        D("2029-12-31"),
        D("2031-12-31"),
    ]


def test_serious_incident_just_before_easter_has_its_deadline_after_the_bank_holidays(wfscp):
    incident = Event("serious-incident", "SI-2027-001", D("2027-03-24"))
    context = ExpansionContext(events=(incident,))
    found = {
        o.rule: o
        for o in expand(wfscp, D("2027-01-01"), D("2027-12-31"), context)
        if o.period == "SI-2027-001"
    }
    assert found["serious-incident-notification"].due == D("2027-04-02")
    # the rapid review counts 15 working days from the notification (its due date until done)
    assert found["rapid-review"].due == D("2027-04-23")


def test_rapid_review_counts_from_the_day_the_notification_was_actually_sent(wfscp):
    incident = Event("serious-incident", "SI-2027-002", D("2027-03-24"))
    notified = ("wfscp", "serious-incident-notification", "SI-2027-002", "")
    context = ExpansionContext(events=(incident,), completions={notified: D("2027-03-25")})
    assert due_dates(wfscp, "rapid-review", "2027-01-01", "2027-12-31", context) == [
        D("2027-04-19")  # Thu 25 March + 15 working days, Good Friday and Easter Monday skipped
    ]


def test_lcspr_is_published_within_six_months_and_sent_to_the_panel_seven_working_days_before(
    wfscp,
):
    decision = Event("lcspr-decision", "LCSPR-2026-01", D("2026-08-31"))
    context = ExpansionContext(events=(decision,))
    found = {o.rule: o.due for o in expand(wfscp, D("2026-01-01"), D("2027-12-31"), context)}
    assert found["lcspr-publication"] == D("2027-02-28")  # 31 Aug + 6 months, clamped
    assert found["lcspr-sent-to-panel"] == D("2027-02-18")  # Sun 28 Feb - 7 working days


def test_meetings_stay_at_ten_oclock_london_time_across_the_clock_change(wfscp):
    meetings = [
        o for o in expand(wfscp, D("2026-01-01"), D("2026-12-31")) if o.rule == "lsp-meeting"
    ]
    local_times = {o.starts_at.strftime("%H:%M") for o in meetings}
    assert local_times == {"10:00"}
    utc = {o.due.month: o.starts_at.astimezone(UTC).hour for o in meetings}
    assert utc[2] == 10 and utc[11] == 10  # GMT in winter
    assert utc[5] == 9 and utc[8] == 9  # BST in summer


def test_meeting_papers_go_out_five_clear_working_days_before_each_meeting(wfscp):
    meetings = due_dates(wfscp, "safeguarding-accountability-meeting", "2026-01-01", "2026-12-31")
    papers = due_dates(wfscp, "sam-papers", "2026-01-01", "2026-12-31")
    assert D("2026-06-09") in meetings and D("2026-06-01") in papers  # Tue 9 June <- Mon 1 June
    assert D("2026-04-14") in meetings and D("2026-04-02") in papers  # Easter Fri and Mon skipped


def test_yearly_report_is_due_twelve_months_after_the_last_one_was_published(wfscp):
    report = ("wfscp", "annual-report", "2026-09-30", "")
    late = ExpansionContext(completions={report: D("2026-11-16")})
    assert due_dates(wfscp, "annual-report", "2026-01-01", "2028-12-31", late) == [
        D("2026-09-30"),
        D("2027-11-16"),
    ]
    # until the first is published the next date is unknown, so only one is open
    assert due_dates(wfscp, "annual-report", "2026-01-01", "2028-12-31") == [D("2026-09-30")]


def test_the_yearly_report_is_sent_on_within_seven_days_of_publication(wfscp):
    report = ("wfscp", "annual-report", "2026-09-30", "")
    context = ExpansionContext(completions={report: D("2026-10-15")})
    assert due_dates(wfscp, "annual-report-sent-on", "2026-01-01", "2026-12-31", context) == [
        D("2026-10-22")
    ]


def test_section_175_expands_to_one_item_per_school_and_section_11_per_agency(wfscp):
    schools = tuple(Subject(f"school-{i:03d}", f"School {i}", "primary") for i in range(148))
    agencies = (Subject("nwas", "North West Ambulance Service", "relevant-agency"),)
    context = ExpansionContext(subjects={Per.SCHOOL: schools, Per.AGENCY: agencies})
    found = expand(wfscp, D("2026-01-01"), D("2026-12-31"), context)
    s175 = [o for o in found if o.rule == "section-175-audit"]
    assert len(s175) == 148 and len({o.id for o in s175}) == 148
    assert {o.due for o in s175} == {D("2026-03-31")}
    assert [o.subject for o in found if o.rule == "section-11-audit"] == ["nwas"]


def test_occurrence_ids_are_stable_and_readable(wfscp):
    first = expand(wfscp, D("2026-01-01"), D("2026-12-31"))
    again = expand(wfscp, D("2025-06-01"), D("2027-06-30"))
    assert {o.id for o in first} <= {o.id for o in again}
    assert "wfscp:lsp-meeting:2026-05-13" in {o.id for o in first}


def test_cumbria_2019_transition_milestones():
    cscp = load_partnership("cscp-2019")
    found = {(o.rule, o.due) for o in expand(cscp, D("2019-01-01"), D("2020-12-31"))}
    for rule, day in [
        ("arrangements-published", "2019-06-29"),
        ("arrangements-in-place", "2019-09-29"),
        ("locality-groups-established", "2019-12-31"),
        ("locality-groups-established", "2020-03-31"),
        ("locality-groups-established", "2020-06-30"),
        ("peer-review", "2020-11-30"),
        ("chairing-review", "2020-03-29"),
    ]:
        assert (rule, D(day)) in found, (rule, day)
    counts = Counter(o.rule for o in expand(cscp, D("2020-01-01"), D("2020-12-31")))
    assert counts["lsp-group"] == 3
    assert counts["board-meeting"] == 4


def test_cumbria_2023_cadences():
    cscp = load_partnership("cscp-2023")
    counts = Counter(o.rule for o in expand(cscp, D("2024-01-01"), D("2024-12-31")))
    assert counts["lsp-meeting"] == 6
    assert counts["met-group"] == 4
    assert counts["mace-meeting"] == 12
    assert counts["ce-newsletter"] == 2
    assert counts["new-arrangements-published"] == 1
    assert counts["cst-report-cumberland"] == 3  # from June 2024
    assert not expand(cscp, D("2025-04-01"), D("2025-08-31"))  # replaced in April 2025


def test_lscb_business_plan_actions_keep_their_owner_and_date():
    lscb = load_partnership("cumbria-lscb-2014")
    action = lscb.rule("action-3-3")
    assert action.owner == "triage-board"
    assert due_dates(lscb, "action-3-3", "2014-01-01", "2017-12-31") == [D("2014-10-31")]
    assert due_dates(lscb, "action-6-1", "2014-01-01", "2017-12-31") == [
        D("2014-07-17"),  # the Board meetings of the months the plan names
        D("2014-12-18"),
        D("2015-03-19"),
    ]
    assert len(due_dates(lscb, "cdop-update", "2015-01-01", "2015-12-31")) == 6
    assert due_dates(lscb, "multi-agency-audit-annual-report", "2015-01-01", "2015-12-31") == [
        D("2015-07-31")
    ]


def test_meeting_times_are_aware_datetimes_in_london(wfscp):
    meeting = expand(wfscp, D("2026-05-01"), D("2026-05-31"))[-1]
    assert meeting.starts_at == datetime(2026, 5, 13, 10, 0, tzinfo=ZoneInfo("Europe/London"))
    assert (meeting.ends_at - meeting.starts_at).total_seconds() == 2 * 3600
