"""A per-agency or per-school rule makes one item per member of the directory: found, a
daily `per: school` rule over 1,000 schools made 1.1 million rows and 2 GB of memory.
Such a rule recurs at most monthly, refused at `rules check` with its file:line."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.paths import GOVCAL
from tests.support.rules import VALID_HEADER

PER_SCHOOL = """\
  - id: school-check
    title: School safeguarding check
    kind: audit
    owner: business-team
    per: school
    schedule:
{schedule}
    evidence: The school's return
    source: 004 "Schools"
"""


def check(rule_file, schedule: str) -> subprocess.CompletedProcess[str]:
    text = VALID_HEADER + PER_SCHOOL.format(schedule=schedule)
    path = rule_file(text)
    return subprocess.run(
        [*GOVCAL, "rules", "check", str(path)],
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("schedule", "times"),
    [
        ("      every: daily\n      start: 2026-01-05", 365),
        ('      rrule: "FREQ=WEEKLY;BYDAY=MO,TH"\n      start: 2026-01-05', 105),
        ("      every: every 2 weeks\n      start: 2026-01-05\n      from: completion", 26),
        (
            "      dates: [2026-01-05, 2026-02-05, 2026-03-05, 2026-04-05, 2026-05-05, "
            "2026-06-05, 2026-07-05, 2026-08-05, 2026-09-05, 2026-10-05, 2026-11-05, "
            "2026-12-05, 2026-12-20]",
            13,
        ),
    ],
)
def test_a_per_school_rule_more_often_than_monthly_is_one_file_line_problem(
    rule_file, schedule, times
):
    result = check(rule_file, schedule)
    assert result.returncode != 0
    lines = [
        line for line in (result.stdout + result.stderr).splitlines() if "school-check" in line
    ]
    assert len(lines) == 1, result.stdout + result.stderr
    assert f"test.yaml:{VALID_HEADER.count(chr(10)) + 6}:" in lines[0]  # its schedule:
    assert (
        f"rule 'school-check' is per: school and falls due {times} times a year, for every "
        "school; a per-school rule recurs at most monthly (12 a year)"
    ) in lines[0]


@pytest.mark.parametrize(
    "schedule",
    [
        "      every: monthly\n      start: 2026-01-05",
        "      every: annually\n      start: 2026-03-31",
    ],
)
def test_a_per_school_rule_at_most_monthly_is_accepted(rule_file, schedule):
    result = check(rule_file, schedule)
    assert result.returncode == 0, result.stdout + result.stderr
