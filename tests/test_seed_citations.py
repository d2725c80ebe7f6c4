"""What each rule says a seed says, checked against the seed (shared/seeds/000-004, the
source of truth): quoted words are there, cited headings exist, and a claim no seed
makes is named local practice rather than attributed to a section."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from govcal.rules.expand import expand_rule
from govcal.rules.loader import load_partnership, load_partnerships
from govcal.rules.model import ExpansionContext

D = date.fromisoformat
SEEDS = Path("/work/shared/seeds")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
# `004 "Heading"`, then what the rule says that section says, in brackets
_CITE = re.compile(r'(?<![\w.])(00[0-4]) "([^"]+)"(?: \(([^()]*(?:\([^()]*\)[^()]*)*)\))?')


def _plain(text: str) -> str:
    return " ".join(text.translate(_QUOTES).split()).lower()


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    return {path.name[:3]: _plain(path.read_text()) for path in SEEDS.glob("*.txt")}


def test_every_quote_and_heading_a_rule_cites_is_in_its_seed(seeds):
    """A bracket after a cited heading is the seed's own words, in quotes: '004 "Joint
    Lead Safeguarding Partners Meeting" (business team supports the meeting)' put words
    in the seed's mouth."""
    wrong = []
    for partnership in load_partnerships():
        for rule in partnership.rules:
            for doc, heading, aside in _CITE.findall(" ".join(rule.source.split())):
                if not all(_plain(part) in seeds[doc] for part in heading.split(" - ")):
                    wrong.append(f"{partnership.id}/{rule.id}: no heading {doc} {heading!r}")
                if aside and '"' not in aside:
                    wrong.append(f"{partnership.id}/{rule.id}: {doc} does not say {aside!r}")
                for quote in re.findall(r'"([^"]+)"', aside):
                    for part in re.split(r"\s*\.\.\.\s*", quote):
                        if part and _plain(part) not in seeds[doc]:
                            wrong.append(f"{partnership.id}/{rule.id}: {doc} lacks {part!r}")
    assert wrong == []


def test_004_the_business_team_supports_the_partnership_and_papers_are_local_practice():
    """004 "Funding Arrangements": "There is a dedicated Business team to support the work
    of the partnership." Who circulates papers, and when, the seed does not say."""
    wfscp = load_partnership("wfscp")
    for rule_id in ("lsp-meeting-papers", "sam-papers"):
        rule = wfscp.rule(rule_id)
        assert '004 "Funding Arrangements" ("There is a dedicated Business team' in " ".join(
            rule.source.split()
        )
        assert "local practice" in rule.notes


def test_004_does_not_say_wfscp_publishes_the_cscp_report_with_cumberland():
    """004 "Background and Introduction": "the CSCP was replaced by the Westmorland and
    Furness Safeguarding Children Partnership (WFSCP) and the Cumberland Safeguarding
    Children Partnership": nothing on who publishes the CSCP's last report."""
    rule = load_partnership("wfscp").rule("cscp-final-annual-report")
    assert "jointly" not in rule.title and "Cumberland" not in rule.title
    assert "local practice" in rule.notes


def test_the_final_cscp_report_is_sent_on_within_7_days_of_publication():
    """WT2023 chapter 2, "Reporting": the yearly report goes to the Panel and the What
    Works Centre within 7 days of publication; the CSCP's last (a WFSCP item) too."""
    wfscp = load_partnership("wfscp")
    final = ("wfscp", "cscp-final-annual-report", "2025-09-30", "")
    context = ExpansionContext(completions={final: D("2025-10-03")})
    sent_on = [
        (o.rule, o.due)
        for rule in wfscp.rules
        if "What Works" in rule.title
        for o in expand_rule(wfscp, rule, D("2025-04-01"), D("2026-03-31"), context)
    ]
    assert ("cscp-final-annual-report-sent-on", D("2025-10-10")) in sent_on


def test_wt2023_care_leaver_deaths_are_notified_to_the_secretary_of_state_and_ofsted():
    """004: "the Local Authority will also submit serious incident notifications following
    the death of a care leaver up to the age of 24, as set out in Working Together 2023";
    WT2023 (baseline, verified_from) names the Secretary of State and Ofsted."""
    for partnership in (load_partnership("wfscp"),):
        rule = partnership.rule("care-leaver-death-notification")
        said = f"{rule.title} {rule.evidence}"
        assert "Secretary of State and Ofsted" in rule.title
        assert "Panel" not in said, said


def _dues(partnership, rule_id, start, end, context=None):
    rule = partnership.rule(rule_id)
    found = expand_rule(partnership, rule, D(start), D(end), context or ExpansionContext())
    return [o.due for o in found]


def test_001_the_cscp_board_is_its_appendix_a_members_reporting_to_the_lead_partners():
    """001 Appendix A "CSCP Board Membership" lists assistant directors, nurses, the police
    Chief Superintendent... and no Lead Safeguarding Partner; the Board "directly reports
    progress and any areas of concern to the CSCP Lead Safeguarding Partners meeting"."""
    board = load_partnership("cscp-2023").rule("board-meeting")
    assert "lsp" not in board.attendees and "lsp" not in board.chairs
    assert "reported to the Lead Safeguarding Partners" in board.evidence


def test_003_the_executive_group_is_chaired_by_the_independent_chair_and_the_conflict_kept():
    """003 para 22: "chaired by the existing independent chair for an interim period of six
    months"; para 23: "The Executive Group will meet on a quarterly basis"; 000: "The Lead
    Safeguarding Partners Group will meet three times a year"."""
    group = load_partnership("cscp-2019").rule("lsp-group")
    assert list(group.chairs) == ["independent-chair"]
    source = " ".join(group.source.split())
    assert "chaired by the existing independent chair" in source
    assert "on a quarterly basis" in source and "three times a year" in source
    assert "Conflict kept open" in group.notes


def test_002_board_reports_fall_due_before_the_board_meeting_they_feed():
    """002 Reporting Planner: "Bi-monthly to LSCB" (case reviews); "Bi-monthly updates via
    CDOP sub group report to LSCB": each is in the papers of a Board meeting, not due two
    weeks after it."""
    lscb = load_partnership("cumbria-lscb-2014")
    boards = _dues(lscb, "board-meeting", "2014-04-01", "2017-03-31")
    for rule_id in ("case-review-report", "cdop-update"):
        reports = _dues(lscb, rule_id, "2014-04-01", "2017-03-31")
        assert len(reports) == len(boards)
        for report, board in zip(reports, boards, strict=True):
            assert 0 < (board - report).days <= 14, (rule_id, report, board)


def test_002_action_6_1_reports_are_presented_at_the_boards_the_plan_names():
    """002 action 6.1: "2011 annual report to be presented to the Board July 2014, 2012
    annual report to be presented to the Board December 2014 and the 2013 annual report
    to be presented to the Board in March 2015"."""
    lscb = load_partnership("cumbria-lscb-2014")
    boards = set(_dues(lscb, "board-meeting", "2014-04-01", "2015-12-31"))
    reports = _dues(lscb, "action-6-1", "2014-01-01", "2015-12-31")
    assert [(d.year, d.month) for d in reports] == [(2014, 7), (2014, 12), (2015, 3)]
    assert set(reports) <= boards  # each at a Board meeting, December 2014 included


def test_002_s11_action_plan_reports_are_a_rolling_annual_programme():
    """002 Reporting Planner, S.11 Audit: "Rolling annual programme of reports on Action
    Plans to LSCB by partner agencies over 3 year cycle": a programme each year, not one
    date for every agency."""
    lscb = load_partnership("cumbria-lscb-2014")
    rule = lscb.rule("s11-action-plan-reports")
    assert rule.per is None
    assert _dues(lscb, rule.id, "2014-01-01", "2017-12-31") == [
        D("2015-07-31"),
        D("2016-07-31"),
        D("2017-07-31"),
    ]


def test_004_lcspr_findings_are_explained_to_those_involved_before_publication():
    """004 "The Voice of Children and Families": "The findings from any reviews will be
    explained to those involved on completion of the review and prior to any
    publication"."""
    from govcal.rules.model import Event

    wfscp = load_partnership("wfscp")
    decision = ExpansionContext(events=(Event("lcspr-decision", "LCSPR-2026-01", D("2026-06-01")),))
    [published] = _dues(wfscp, "lcspr-publication", "2026-01-01", "2027-12-31", decision)
    [explained] = _dues(wfscp, "lcspr-findings-explained", "2026-01-01", "2027-12-31", decision)
    assert explained < published


def test_002_indicators_yearly_report_relevance_review_and_the_next_plan():
    """002 Reporting Planner, Indicators: "3 monthly progress and annual report to LSCB";
    action 2.1: "a review of the relevance of indicators annually"; "The Board produces a
    Three-Year Business Plan" (2014-2017): the next one follows it."""
    lscb = load_partnership("cumbria-lscb-2014")
    assert len(_dues(lscb, "performance-indicators-annual-report", "2014-04-01", "2017-12-31")) == 3
    assert len(_dues(lscb, "indicators-relevance-review", "2014-04-01", "2017-12-31")) == 3
    assert _dues(lscb, "next-business-plan", "2014-04-01", "2019-12-31") == [D("2017-03-31")]


def test_000_the_learning_lessons_briefing_is_read_and_deliberately_not_scheduled():
    """000: "For every review we will produce a 'Learning Lessons Briefing'" (no date)."""
    from govcal.rules.loader import PARTNERSHIPS_DIR

    text = (PARTNERSHIPS_DIR / "cumbria-2019.yaml").read_text(encoding="utf-8")
    block = text[text.index("deliberately not scheduled") :]
    assert "Learning Lessons Briefing" in block[: block.index("\n\n")]


@pytest.mark.parametrize(
    ("duty", "page"),
    [
        ("section-175-audit", "legislation.gov.uk/cy/ukpga/2002/32/section/175"),
        ("serious-incident-notification", "gov.uk/guidance/report-a-serious-child-safeguarding"),
        ("care-leaver-death-notification", "death-of-a-care-leaver-one-minute-guide"),
        ("annual-report", "safeguardingcambspeterborough.org.uk/home/about-the-partnership"),
    ],
)
def test_wt2023_duties_a_public_page_confirms_cite_it(duty, page):
    """Public pages quote these duties: s175 ("shall make arrangements for ensuring that
    ... safeguarding and promoting the welfare of children"), notification "within 5
    working days" to the Panel and the local safeguarding partners, care-leaver deaths to
    the Secretary of State and Ofsted, a report "in a 12-month period". Each duty says
    which page, and is no longer marked unverified."""
    from govcal.rules.baseline import STATUTORY_DIR, comments_above
    from govcal.rules.yamlsource import parse_yaml

    text = (STATUTORY_DIR / "wt2023.yaml").read_text(encoding="utf-8")
    doc = parse_yaml(text)
    [index] = [i for i, o in enumerate(doc.data["obligations"]) if o["id"] == duty]
    above = comments_above(text.splitlines(), doc.line_of(("obligations", index)))
    assert "# verified_from: http" in above and page in above, above
    assert "# unverified" not in above
