"""Incident references: case references are accepted; anything that reads as a child's
name, initials or date of birth is refused, and never echoed back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from govcal.rules.references import ReferenceRefused, check_reference

runner = CliRunner()

ACCEPTED = ["SI-2026-014", "WF/LCSPR/26/003", "SCR_2027_12", "RR-26-7", "SAR-2026-1", "CS/123456"]
REFUSED = {
    "J.S.": "initials with dots",
    "J.S.-2015": "initials with dots",
    "js.2015": "initials with dots",
    "john-smith-2015": "a word or name",
    "JOHN-SMITH": "a word or name",
    "JohnSmith2015": "a word or name",
    "Smith-J": "a word or name",
    "SI-BCD": "letters only",
    "SI-ABC": "a word or name",
    "TOM-2026-01": "a word or name",  # a three-letter first name
    "ANN-2015-0304": "a word or name",
    "SI-2015-0304": "read as a date",  # YYYY-MMDD
    "SI-2015-0403": "read as a date",  # YYYY-DDMM
    "WF-0304-2015": "read as a date",
    "JS-01-02-2015": "read as a date",
    "JS-1/2/15": "read as a date",
    "JS-2015-02-01": "read as a date",
    "JS010215": "read as a date",
    "JS-01022015": "read as a date",
    "SI-20150201": "read as a date",
    "02-13-2015": "read as a date",  # American order
    "Jane Smith": "no spaces",
    "x" * 41: "2 to 40 characters",
}


@pytest.mark.parametrize("reference", ACCEPTED)
def test_case_references_are_accepted(reference):
    check_reference(reference)


@pytest.mark.parametrize(("reference", "why"), REFUSED.items())
def test_names_initials_and_dates_of_birth_are_refused_without_repeating_them(reference, why):
    with pytest.raises(ReferenceRefused) as caught:
        check_reference(reference)
    message = str(caught.value)
    assert why in message and "(not shown here)" in message
    assert reference not in message and reference.lower() not in message.lower()


def test_a_local_prefix_is_accepted_when_the_partnerships_pattern_names_it():
    check_reference("TOR-2026-014", r"TOR-\d{4}-\d{3}")
    with pytest.raises(ReferenceRefused, match="a word or name"):
        check_reference("TOM-2026-014", r"[A-Z]{2,6}-\d{4}-\d{2,4}")  # a class names none
    with pytest.raises(ReferenceRefused, match="read as a date"):
        check_reference("TOR-2015-0304", r"TOR-\d{4}-\d{4}")  # dates stay refused


def test_the_partnerships_own_format_is_enforced(rule_file):
    from govcal.rules.loader import load_partnerships
    from tests.support.rules import VALID_HEADER, VALID_RULE

    header = VALID_HEADER.replace(
        "  timezone: Europe/London\n",
        "  timezone: Europe/London\n  incident_reference: 'TS-\\d{4}-\\d{3}'\n",
    )
    (partnership,) = load_partnerships([rule_file(header + VALID_RULE)])
    assert partnership.incident_reference_ok("TS-2026-014")
    assert not partnership.incident_reference_ok("SI-2026-014")
    check_reference("TS-2026-014", partnership.incident_reference)
    with pytest.raises(ReferenceRefused, match=r"does not follow .* format TS-\\d\{4\}"):
        check_reference("SI-2026-014", partnership.incident_reference)


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def test_the_command_refuses_a_name_says_why_in_one_line_and_records_nothing(rule_file):
    from tests.support.rules import VALID_HEADER

    header = VALID_HEADER.replace(
        "  timezone: Europe/London\n",
        "  timezone: Europe/London\n  incident_reference: 'TS-\\d{4}-\\d{3}'\n",
    )
    rules = rule_file(header + CLOCK_RULE)
    assert govcal("sync", "--rules", str(rules), "-p", "testscp").exit_code == 0
    for reference, why in [
        ("john-smith-2015", "a word or name"),
        ("TS-01-02-2015", "read as a date"),
        ("SI-2026-014", "does not follow the partnership's"),
    ]:
        result = govcal(
            "incident", reference, "--aware", "2026-11-02", "--rules", str(rules), "-p", "testscp"
        )
        assert result.exit_code == 1
        assert reference not in result.stdout + result.stderr
        first, *rest = result.stderr.strip().splitlines()
        assert first.startswith("Error: the incident reference given is not accepted")
        assert why in first and rest == ["Nothing was changed."]
    assert incidents() == []
    ok = govcal(
        "incident", "TS-2026-014", "--aware", "2026-11-02", "--rules", str(rules), "-p", "testscp"
    )
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.startswith(
        "serious-incident TS-2026-014: clocks started: testscp:incident-notification:TS-2026-014."
    )
    assert incidents() == ["TS-2026-014"]


def test_the_prefect_form_refuses_a_name_without_storing_it_in_the_error():
    from govcal.flows.forms import IncidentForm

    with pytest.raises(ValidationError) as caught:
        IncidentForm(
            partnership="wfscp",
            reference="john-smith-2015",
            aware_on="2026-11-02",
            recorded_by="LA duty manager",
        )
    assert "a word or name" in str(caught.value) and "john" not in str(caught.value).lower()


def incidents() -> list[str]:
    from sqlmodel import select

    from govcal.models.calendar import Incident
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        return [i.reference for i in session.exec(select(Incident))]


CLOCK_RULE = """\
  - id: incident-notification
    title: Notify the panel
    kind: action
    owner: business-team
    schedule:
      event: serious-incident
      within: 5 working days
    evidence: The notification
    source: Working Together 2023
"""


def test_the_testers_names_and_dates_are_refused_by_the_real_partnership():
    """Finding 1: `ANN-2015-0304`, `SI-2015-0304`, `TOM-2026-01` started clocks."""
    assert govcal("sync", "-p", "wfscp").exit_code == 0
    for reference, why in [
        ("ANN-2015-0304", "a word or name"),
        ("SI-2015-0304", "read as a date"),
        ("TOM-2026-01", "a word or name"),
    ]:
        result = govcal("incident", reference, "--aware", "2026-11-20", "-p", "wfscp")
        assert result.exit_code == 1
        first, *rest = result.stderr.strip().splitlines()
        assert why in first and reference not in result.stdout + result.stderr
        assert rest == ["Nothing was changed."]
    assert incidents() == []
    assert govcal("incident", "SI-2026-014", "--aware", "2026-11-20", "-p", "wfscp").exit_code == 0
    assert incidents() == ["SI-2026-014"]


def test_the_shipped_format_refuses_references_that_encode_a_child():
    """The shipped partnership's own format is the first defence: a free letter group let
    initials through (JNSMTH, JHN, BRN) and a free four-digit group a birth year or date
    (SI-1503-04, LA-2015-311, CDOP-2015-04), all past the heuristics behind it."""
    assert govcal("sync", "--as-of", "2026-11-02").exit_code == 0
    for reference in (
        "JNSMTH-2026-01",
        "JHN-2026-014",
        "BRN-2026-14",
        "SI-1503-04",
        "LA-2015-311",
        "CDOP-2015-04",
    ):
        result = govcal("incident", reference, "--aware", "2026-11-02")
        assert result.exit_code == 1, reference
        assert reference not in result.stdout + result.stderr
        assert "does not follow the partnership's reference format" in result.stderr
    assert incidents() == []
    ok = govcal("incident", "SI-2026-014", "--aware", "2026-11-02")
    assert ok.exit_code == 0, ok.stderr
    assert incidents() == ["SI-2026-014"]
