"""The fields other layers build on: venue, mailbox, documents, active period, references."""

from __future__ import annotations

import re
from datetime import date

import pytest

from govcal.rules.loader import load_partnership, load_partnerships
from govcal.rules.sources import source_in_words
from tests.support.rules import VALID_HEADER, VALID_RULE, problems_of

HEADER_EXTRAS = """\
  business_team_mailbox: partnership@example.org
  incident_reference: 'SI-\\d{4}-\\d{3}'
  active:
    from: 2025-04-01
    until: 2027-03-31
  documents:
    "004": Test partnership arrangements, 2025
"""


def header(extra: str = HEADER_EXTRAS) -> str:
    return VALID_HEADER.replace("roles:\n", extra + "roles:\n", 1)


def test_the_new_fields_load_with_their_values(rule_file):
    rule = VALID_RULE.replace(
        "    evidence: Minutes\n",
        "    location: Town Hall, Kendal\n    online_url: https://meet.example.org/lsp\n"
        "    evidence: Minutes\n",
    )
    [p] = load_partnerships([rule_file(header() + rule)])
    assert p.business_team_mailbox == "partnership@example.org"
    assert (p.active_from, p.active_until) == (date(2025, 4, 1), date(2027, 3, 31))
    assert p.documents == {"004": "Test partnership arrangements, 2025"}
    meeting = p.rule("lsp-meeting")
    assert (meeting.location, meeting.online_url) == (
        "Town Hall, Kendal",
        "https://meet.example.org/lsp",
    )
    assert p.incident_reference_ok("SI-2027-001")
    assert not p.incident_reference_ok("Jane Smith")
    assert not p.incident_reference_ok("SI-2027-0011")  # the whole reference must match


def test_the_new_fields_are_optional_with_defaults(rule_file):
    [p] = load_partnerships([rule_file(VALID_HEADER + VALID_RULE)])
    assert p.business_team_mailbox is None
    assert p.documents == {}
    assert p.is_active(date(1900, 1, 1)) and p.is_active(date(2200, 1, 1))
    assert p.incident_reference_ok("any-reference")
    assert (p.rule("lsp-meeting").location, p.rule("lsp-meeting").online_url) == ("", "")


def test_the_active_period_includes_both_ends(rule_file):
    [p] = load_partnerships([rule_file(header() + VALID_RULE)])
    assert [p.is_active(date(*d)) for d in [(2025, 3, 31), (2025, 4, 1), (2027, 3, 31)]] == [
        False,
        True,
        True,
    ]
    assert not p.is_active(date(2027, 4, 1))


@pytest.mark.parametrize(
    ("extra", "needle", "expected"),
    [
        (
            "  business_team_mailbox: not-an-address\n",
            "business_team_mailbox",
            "is not an email address",
        ),
        (
            '  business_team_mailbox: "a@b.org\\r\\nBcc: x@y.org"\n',
            "business_team_mailbox",
            "is not an email address",
        ),
        ("  incident_reference: 'SI-(\\d'\n", "incident_reference", "is not a valid pattern"),
        ("  incident_reference: '.*'\n", "incident_reference", "accepts an empty reference"),
        (
            "  active:\n    from: 2025-04-01\n    until: 2025-03-31\n",
            "active:",
            "is before active from",
        ),
        ("  active:\n    from: 2025-02-30\n", "from: 2025-02-30", "is not a real date"),
        ("  active:\n    since: 2025-04-01\n", "since:", "unknown key 'since'"),
    ],
)
def test_bad_header_fields_name_their_line(rule_file, extra, needle, expected):
    text = header(extra) + VALID_RULE
    problems = problems_of(rule_file(text))  # a line break is also refused as such
    line = next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)
    assert {p.line for p in problems} == {line}
    assert any(expected in p.message for p in problems)


def test_a_venue_on_a_deadline_or_a_bad_link_is_refused(rule_file):
    rule = VALID_RULE.replace("kind: meeting", "kind: action").replace(
        "    evidence: Minutes\n", "    location: Town Hall\n    evidence: Minutes\n"
    )
    [problem] = problems_of(rule_file(VALID_HEADER + rule))
    assert "location is for meetings" in problem.message
    rule = VALID_RULE.replace(
        "    evidence: Minutes\n", "    online_url: javascript:alert(1)\n    evidence: Minutes\n"
    )
    [problem] = problems_of(rule_file(VALID_HEADER + rule))
    assert "is not a web address" in problem.message


def test_roles_have_display_names_in_words(rule_file):
    text = VALID_HEADER.replace(
        "  lsp: Lead Safeguarding Partners\n",
        "  lsp: {name: Lead Safeguarding Partners, who: 'the council, police and ICB'}\n",
    ).replace("  dsp: Delegated Safeguarding Partners\n", "  dsp: DSPs (the delegates)\n")
    [p] = load_partnerships([rule_file(text + VALID_RULE)])
    assert p.roles["lsp"].display_name == "Lead Safeguarding Partners"
    assert p.roles["lsp"].title == "Lead Safeguarding Partners (the council, police and ICB)"
    assert p.roles["dsp"].display_name == "DSPs"


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("{title: LSPs}", "unknown key 'title'"),
        ("[a, b]", "needs a title in words"),
        ("''", "needs a title in words"),
    ],
)
def test_a_bad_role_names_its_line(rule_file, role, expected):
    text = VALID_HEADER.replace("  scrutineer: Independent Scrutineer\n", "") + VALID_RULE
    text = text.replace("  lsp: Lead Safeguarding Partners\n", f"  lsp: {role}\n")
    problems = problems_of(rule_file(text))
    assert any(expected in p.message and p.line == 6 for p in problems), problems


def test_wfscp_quotes_its_sources_in_words():
    wfscp = load_partnership("wfscp")
    assert wfscp.roles["lsp"].display_name == "Lead Safeguarding Partners"
    assert wfscp.source_in_words(wfscp.rule("sam-papers")) == (
        "Westmorland and Furness Safeguarding Children Partnership arrangements, 2025, "
        '"Funding Arrangements" ("There is a dedicated Business team to support the work of '
        'the partnership"); the meeting: Westmorland and Furness Safeguarding Children '
        'Partnership arrangements, 2025, "Safeguarding Accountability Meeting"'
    )
    assert wfscp.rule("lsp-meeting").location
    assert wfscp.business_team_mailbox


def test_source_in_words_leaves_statutes_and_unknown_keys_alone():
    docs = {"004": "The arrangements", "002": "The business plan"}
    assert source_in_words("Children Act 2004 s11; 004 (scrutiny); 002 action 2.3", docs) == (
        "Children Act 2004 s11; The arrangements, (scrutiny); The business plan action 2.3"
    )
    assert source_in_words("003 section 4", docs) == "003 section 4"
    assert source_in_words("WT2023 para 1.004", docs) == "WT2023 para 1.004"


def test_every_shipped_source_reads_in_words_without_keys_or_abbreviations():
    """Emails and the dashboard quote sources through source_in_words: no "WT2023
    chapter 2", no bare document number ("004"), in any rule of any shipped file."""
    from govcal.rules.loader import load_partnerships

    partnerships = load_partnerships()
    assert len(partnerships) >= 4
    for partnership in partnerships:
        for rule in partnership.rules:
            words = partnership.source_in_words(rule)
            where = f"{partnership.id}:{rule.id}: {words}"
            assert not re.search(r"\b[A-Z]{2,5}\d{2,4}\b", words), where  # WT2023, CA2004
            assert not re.search(r"(?<![\w.])\d{3}(?![\w.])", words), where  # "004"
    wfscp = next(p for p in partnerships if p.id == "wfscp")
    assert "Working Together to Safeguard Children 2023 chapter 2" in wfscp.source_in_words(
        wfscp.rule("section-11-audit")
    )


def test_chairs_load_and_a_chair_not_invited_or_on_a_deadline_is_refused(rule_file):
    rule = VALID_RULE.replace(
        "    attendees: [lsp, dsp]\n", "    attendees: [lsp, dsp]\n    chairs: [lsp]\n"
    )
    [p] = load_partnerships([rule_file(VALID_HEADER + rule)])
    assert p.rule("lsp-meeting").chairs == ("lsp",)
    stranger = rule.replace("chairs: [lsp]", "chairs: [scrutineer]")
    [problem] = problems_of(rule_file(VALID_HEADER + stranger))
    assert "chair role 'scrutineer' of rule 'lsp-meeting' is neither its owner nor among" in (
        problem.message
    )
    assert problem.line == 18  # the chairs line itself (the header is 12 lines)
    deadline = rule.replace("kind: meeting", "kind: action")
    [problem] = problems_of(rule_file(VALID_HEADER + deadline))
    assert "chairs is for meetings" in problem.message
