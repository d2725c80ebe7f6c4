"""Each seed sentence the calendar was found to miss or misread, quoted, with the
occurrences it implies. The seeds (shared/seeds/000-004) are the source of truth."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from govcal.rules.baseline import Origin
from govcal.rules.expand import expand, expand_rule
from govcal.rules.loader import PARTNERSHIPS_DIR, load_partnership
from govcal.rules.model import Event, ExpansionContext

D = date.fromisoformat


@pytest.fixture(scope="module")
def wfscp():
    return load_partnership("wfscp")


@pytest.fixture(scope="module")
def cscp_2019():
    return load_partnership("cscp-2019")


@pytest.fixture(scope="module")
def cscp_2023():
    return load_partnership("cscp-2023")


@pytest.fixture(scope="module")
def lscb():
    return load_partnership("cumbria-lscb-2014")


def dues(partnership, rule_id, start, end, context=None):
    rule = partnership.rule(rule_id)
    return [
        o.due
        for o in expand_rule(partnership, rule, D(start), D(end), context or ExpansionContext())
    ]


# --- 004 WFSCP -------------------------------------------------------------------------


def test_004_care_leaver_death_is_notified(wfscp):
    """004: "the Local Authority will also submit serious incident notifications following
    the death of a care leaver up to the age of 24, as set out in Working Together 2023"."""
    rule = wfscp.rule("care-leaver-death-notification")
    assert "up to the age of 24" in rule.title and rule.owner == "la"
    death = Event("care-leaver-death", "CL-2026-001", D("2026-12-23"))
    found = dues(wfscp, rule.id, "2026-12-01", "2027-01-31", ExpansionContext(events=(death,)))
    assert found == [D("2027-01-04")]  # 5 working days, Christmas and Boxing Day skipped
    assert not any("looked-after" in r.id for r in wfscp.rules)  # not in 004


def test_004_section_11_is_the_statutory_duty_not_a_borrowed_citation(wfscp):
    """S11 is not in 004: it comes from the baseline (Children Act 2004 s11), cadence in notes."""
    s11 = wfscp.rule("section-11-audit")
    assert s11.origin == Origin.INHERITED
    assert s11.source.startswith("Children Act 2004 s11") and "002" not in s11.source
    assert "cadence" in s11.notes
    assert dues(wfscp, s11.id, "2026-01-01", "2027-12-31") == [D("2026-10-31"), D("2027-10-31")]


def test_004_the_scrutineer_evaluates_before_the_report_and_the_review(wfscp):
    """004: the Independent Scrutineer will "Evaluate and contribute to multi-agency
    safeguarding published arrangements and the annual report"."""
    report = dues(wfscp, "annual-report", "2026-01-01", "2026-12-31")
    evaluation = dues(wfscp, "scrutineer-evaluation", "2026-01-01", "2026-12-31")
    assert report == [D("2026-09-30")] and evaluation == [D("2026-08-30")]
    reviews = dues(wfscp, "arrangements-review", "2025-06-01", "2027-12-31")
    before = dues(wfscp, "scrutineer-arrangements-evaluation", "2025-06-01", "2027-12-31")
    assert reviews == [D("2025-12-31"), D("2027-12-31")]
    assert before == [D("2025-11-30"), D("2027-11-30")]


def test_004_the_joint_lsp_meeting_is_co_chaired_and_attended_by_both_managers(wfscp):
    """004: "This joint meeting is chaired by the Chief Executives for each Local Authority
    and attended by the Delegated Safeguarding Partner, Independent Scrutineer and the
    Partnership Managers"; it "meets four times per year"."""
    meeting = wfscp.rule("lsp-meeting")
    assert set(meeting.attendees) == {
        "co-chairs",
        "lsp",
        "dsp",
        "scrutineer",
        "partnership-manager",
        "cumberland-partnership-manager",
    }
    chairs = wfscp.roles["co-chairs"].title
    assert "Westmorland and Furness Council" in chairs and "Cumberland Council" in chairs
    assert "Cumberland" in wfscp.roles["cumberland-partnership-manager"].title
    assert "Co-chaired by the chief executives" in meeting.notes
    assert "chaired by the Chief Executives for each Local Authority" in meeting.source
    assert len(dues(wfscp, meeting.id, "2026-01-01", "2026-12-31")) == 4


def test_004_the_sample_directory_seats_both_chief_executives_and_both_managers():
    """004: the joint meeting of "The two partnerships (WFSCP and Cumberland Safeguarding
    Children Partnership)" is "chaired by the Chief Executives for each Local Authority";
    the sample directory names someone for each seat (invite: test_joint_lsp_invite.py)."""
    import csv

    from tests.support.paths import SAMPLE_DIRECTORY

    with open(SAMPLE_DIRECTORY / "wfscp" / "people.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    holders = {r["role"]: set() for r in rows}
    for r in rows:
        holders[r["role"]].add(r["email"])
    assert holders["co-chairs"] == {
        "lsp-wfc@example.org",
        "chief-executive-cumberland@example.org",
    }
    assert holders["cumberland-partnership-manager"] == {
        "partnership-manager-cumberland@example.org"
    }
    assert all(r["email"].endswith("@example.org") and r["sample"] == "yes" for r in rows)


def test_004_the_core_training_offer_is_agreed_for_the_year_in_advance(wfscp):
    """004: "a joint core training offer agreed for the year in advance"."""
    assert dues(wfscp, "core-training-offer", "2026-01-01", "2027-12-31") == [
        D("2026-03-31"),
        D("2027-03-31"),
    ]


def test_004_the_cdop_report_is_cited_from_the_law_not_from_004(wfscp):
    """The CDOP annual report is not in 004: it is the child death review partners' duty."""
    cdop = wfscp.rule("cdop-annual-report")
    assert cdop.source.startswith("Children Act 2004 s16M")
    assert "names the CDOP" in cdop.source and "not its report" in cdop.source


# --- 001 CSCP 2023-24 ------------------------------------------------------------------


def test_001_serious_incident_rapid_review_and_lcspr_clocks(cscp_2023):
    """001 (LCSPRs): "During 2023/24, two Rapid Review Meetings were held"."""
    incident = Event("serious-incident", "SI-2024-001", D("2024-05-01"))
    decision = Event("lcspr-decision", "LCSPR-2024-01", D("2024-06-14"))
    context = ExpansionContext(events=(incident, decision))
    found = {
        o.rule: o.due
        for o in expand(cscp_2023, D("2024-01-01"), D("2025-03-31"), context)
        if o.period in ("SI-2024-001", "LCSPR-2024-01")
    }
    assert found == {
        "serious-incident-notification": D("2024-05-09"),  # May Day bank holiday skipped
        "rapid-review": D("2024-05-31"),  # 27 May bank holiday skipped
        "lcspr-publication": D("2024-12-14"),
        "lcspr-sent-to-panel": D("2024-12-05"),
    }


def test_001_the_cscp_board(cscp_2023):
    """001: "The CSCP Board develops, implements and monitors an Annual Business Plan";
    "In my role as Independent Scrutineer, I chair the CSCP Board, which focusses on
    assurance and directly reports progress and any areas of concern to the CSCP Lead
    Safeguarding Partners meeting"."""
    board = cscp_2023.rule("board-meeting")
    assert {"board", "scrutineer"} <= set(board.attendees)  # Appendix A: no LSP
    assert "I chair the CSCP Board" in " ".join(board.source.split())
    assert board.notes.startswith("Chaired by the Independent Scrutineer")
    assert "reported to the Lead Safeguarding Partners" in board.evidence
    assert len(dues(cscp_2023, board.id, "2024-01-01", "2024-12-31")) == 4


def test_001_annual_reports_for_2022_23_and_2023_24(cscp_2023):
    """001 is the 2023-24 report; the 2022/23 report was due in September 2023."""
    assert dues(cscp_2023, "annual-report", "2023-01-01", "2025-03-31") == [
        D("2023-09-30"),
        D("2024-09-30"),
    ]


def test_001_the_leo_review_is_published_in_2024_25(cscp_2023):
    """001: "The previous LSCPR, Child Leo, has not yet been published, due to parallel
    criminal proceedings. It is anticipated that they will be published during the 2024/25
    reporting period"."""
    assert dues(cscp_2023, "leo-review-publication", "2024-04-01", "2025-03-31") == [
        D("2025-03-31")
    ]


def test_001_the_cdop_annual_report(cscp_2023):
    """001: "the 2023/24 report had not been signed off at the time of this Annual Report's
    publication"."""
    assert dues(cscp_2023, "cdop-annual-report", "2023-01-01", "2026-12-31") == [
        D("2023-09-30"),
        D("2024-09-30"),
    ]  # and nothing after the partnership's end


# --- 000/003 CSCP 2019 -----------------------------------------------------------------


def test_000_locality_groups_are_chaired_by_a_partner_with_senior_local_officers(cscp_2019):
    """000: "The locality groups will be chaired by a safeguarding partner and be formed of
    key senior officers from that local area with decision making responsibility"."""
    for n in (1, 2, 3):
        group = cscp_2019.rule(f"locality-group-{n}")
        assert group.attendees == ("locality-officers",)
        assert "safeguarding partner" in cscp_2019.roles[group.owner].title
    assert "senior officers" in cscp_2019.roles["locality-officers"].title


def test_000_and_003_disagree_on_locality_go_live_and_the_file_says_so(cscp_2019):
    """000: "Locality Safeguarding Group implementation February 2020 onwards"; 003 para 32:
    "31 December 2019 - Locality 1 ... 31 March 2020 - Locality 2 ... 30 June 2020"."""
    notes = cscp_2019.rule("locality-groups-established").notes
    assert "February 2020" in notes and "31 December 2019" in notes and "disagree" in notes
    assert dues(cscp_2019, "locality-groups-established", "2019-01-01", "2020-12-31") == [
        D("2019-12-31"),
        D("2020-03-31"),
        D("2020-06-30"),
    ]


def test_000_the_section_11_system(cscp_2019):
    """000: "A system of Section 11 Safeguarding Audits ensures that the Partnership
    receives assurance from each organisation about their safeguarding children
    arrangements"."""
    s11 = cscp_2019.rule("section-11-audit")
    assert "A system of Section 11 Safeguarding Audits" in s11.source
    assert dues(cscp_2019, s11.id, "2019-01-01", "2021-12-31") == [
        D("2019-10-31"),
        D("2020-10-31"),
        D("2021-10-31"),
    ]


def test_000_the_september_2019_safeguarding_fortnight(cscp_2019):
    """000: "wider consultation as part of our 'safeguarding fortnight' in September 2019"."""
    assert dues(cscp_2019, "safeguarding-fortnight", "2019-01-01", "2019-12-31") == [
        D("2019-09-30")
    ]


# --- 002 LSCB 2014-17 ------------------------------------------------------------------


def test_002_action_1_9_is_two_six_monthly_sessions(lscb):
    """002 action 1.9: "Hold 2 six-monthly development sessions"."""
    assert dues(lscb, "action-1-9", "2014-01-01", "2017-12-31") == [
        D("2014-09-30"),
        D("2015-03-31"),
    ]


def test_002_the_lscb_annual_report_and_board_meetings(lscb):
    """002: "The Board produces a Three-Year Business Plan and an Annual Report"; "Progress
    reported at each LSCB meeting"."""
    assert dues(lscb, "lscb-annual-report", "2014-01-01", "2017-12-31") == [
        D("2014-09-30"),
        D("2015-09-30"),
        D("2016-09-30"),
    ]
    counts = Counter(o.rule for o in expand(lscb, D("2015-01-01"), D("2015-12-31")))
    assert counts["board-meeting"] == 6
    assert counts["cdop-update"] == 6  # one bi-monthly CDOP update per Board


def test_002_cdop_reports_continue_after_march_2015(lscb):
    """002: "Annual full report to LSCB" (Child Death Review Data)."""
    assert dues(lscb, "cdop-full-annual-report", "2015-04-01", "2017-12-31") == [
        D("2016-03-31"),
        D("2017-03-31"),
    ]


def test_002_rolling_three_year_s11_follow_up_reports(lscb):
    """002: "Rolling annual programme of reports on Action Plans to LSCB by partner agencies
    over 3 year cycle"."""
    rule = lscb.rule("s11-action-plan-reports")
    assert "3 year cycle" in rule.source  # each year's programme: tests/test_seed_citations.py
    assert dues(lscb, rule.id, "2014-01-01", "2017-12-31") == [
        D("2015-07-31"),
        D("2016-07-31"),
        D("2017-07-31"),
    ]


# --- known and undated -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "items"),
    [
        (
            "westmorland-furness.yaml",
            ["business plan", "MOU", "quality assurance group", "Family Advisory Board"],
        ),
        ("cumbria-2023.yaml", ["Business Plan", "Quality Assurance and Scrutiny Framework"]),
        ("cumbria-2019.yaml", ["Business Plan", "Publication of Annual Report"]),
        ("cumbria-lscb-2014.yaml", ["action 1.10", "multi-agency audit programme"]),
    ],
)
def test_each_file_lists_what_it_read_but_could_not_date(file, items):
    text = (PARTNERSHIPS_DIR / file).read_text(encoding="utf-8")
    block = text[text.index("deliberately not scheduled") :]
    block = block[: block.index("\n\n")]
    for item in items:
        assert item in block, (file, item)
