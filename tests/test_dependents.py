"""Deadlines that hang on another item follow what really happened to it: a meeting
moved, a report published late, a meeting cancelled, already-past-due ones included."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from govcal.models import queries
from govcal.models.db import session_scope
from govcal.models.records import Actor, Evidence, cancel, complete, reopen, reschedule
from govcal.models.status import status_of
from govcal.models.sync import follow_dependents, sync_partnership
from govcal.rules.loader import load_partnership
from govcal.rules.state import State

D = date.fromisoformat
ME = Actor("test-user")
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def wfscp():
    return load_partnership("wfscp")


@pytest.fixture
def calendar(tmp_path, wfscp, migrated_copy):
    url = migrated_copy(tmp_path / "dependents.db")
    with session_scope(url) as s:
        sync_partnership(s, wfscp, D("2026-11-01"))
    return url


def due(url: str, public_id: str) -> date:
    with session_scope(url) as s:
        return queries.occurrence(s, public_id).due


def test_rescheduling_the_lsp_meeting_moves_its_papers_from_the_command_line(calendar):
    """The issue's example: `govcal reschedule wfscp:lsp-meeting:2027-05-12 --to "2027-05-19
    10:00"` left the papers due 2027-05-04."""
    papers = "wfscp:lsp-meeting-papers:2027-05-12"
    assert due(calendar, papers) == D("2027-05-04")  # 5 clear working days before Wed 12th
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "govcal.cli",
            "reschedule",
            "wfscp:lsp-meeting:2027-05-12",
            "--to",
            "2027-05-19 10:00",
            "--reason",
            "Chief executives unavailable",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GOVCAL_DATABASE_URL": calendar},
    )
    assert result.returncode == 0, result.stderr
    assert f"Moved with it: {papers}" in result.stdout
    assert due(calendar, papers) == D("2027-05-11")  # 5 clear working days before the 19th


def test_papers_already_past_due_move_with_the_meeting(calendar, wfscp):
    papers = "wfscp:sam-papers:2026-12-08"
    assert due(calendar, papers) == D("2026-11-30")
    today = D("2026-12-03")  # the papers are three days overdue, the meeting is moved
    with session_scope(calendar) as s:
        reschedule(
            s,
            "wfscp:safeguarding-accountability-meeting:2026-12-08",
            datetime(2026, 12, 15, 14, tzinfo=LONDON),
            "Room lost",
            ME,
        )
        follow_dependents(s, wfscp, "wfscp:safeguarding-accountability-meeting:2026-12-08", today)
    assert due(calendar, papers) == D("2026-12-07")
    with session_scope(calendar) as s:
        row = queries.occurrence(s, papers)
        assert status_of(row, today, 14, LONDON).state is not State.OVERDUE


def test_a_late_report_moves_its_sending_on(calendar, wfscp):
    """A yearly report published late: "sent on within 7 days" counts from publication."""
    sent_on = "wfscp:annual-report-sent-on:2026-09-30"
    assert due(calendar, sent_on) == D("2026-10-07")
    today = D("2026-11-20")
    with session_scope(calendar) as s:
        assert status_of(queries.occurrence(s, sent_on), today, 14, LONDON).state is State.OVERDUE
        complete(
            s,
            "wfscp:annual-report:2026-09-30",
            Evidence(url="https://example.org/ar"),
            ME,
            on=D("2026-11-16"),
            today=today,
        )
        follow_dependents(s, wfscp, "wfscp:annual-report:2026-09-30", today)
    assert due(calendar, sent_on) == D("2026-11-23")
    with session_scope(calendar) as s:  # no longer overdue: no escalation to the LSPs
        assert (
            status_of(queries.occurrence(s, sent_on), today, 14, LONDON).state is not State.OVERDUE
        )
        reopen(s, "wfscp:annual-report:2026-09-30", ME, "Wrong report linked")
        follow_dependents(s, wfscp, "wfscp:annual-report:2026-09-30", today)
    assert due(calendar, sent_on) == D("2026-10-07")  # back to counting from the due date


def test_an_extended_report_moves_the_scrutineers_evaluation(calendar, wfscp):
    evaluation = "wfscp:scrutineer-evaluation:2026-09-30"
    assert due(calendar, evaluation) == D("2026-08-30")
    with session_scope(calendar) as s:
        reschedule(
            s, "wfscp:annual-report:2026-09-30", D("2026-12-15"), "Extension agreed by the LSPs", ME
        )
        follow_dependents(s, wfscp, "wfscp:annual-report:2026-09-30", D("2026-11-01"))
    assert due(calendar, evaluation) == D("2026-11-15")


def test_cancelling_a_meeting_cancels_its_papers(calendar, wfscp):
    papers = "wfscp:sam-papers:2027-02-09"
    with session_scope(calendar) as s:
        cancel(s, "wfscp:safeguarding-accountability-meeting:2027-02-09", "Merged with March", ME)
        report = follow_dependents(
            s, wfscp, "wfscp:safeguarding-accountability-meeting:2027-02-09", D("2026-11-01")
        )
        assert report is not None and report.orphaned == 1
        assert queries.occurrence(s, papers).orphaned
        assert follow_dependents(s, wfscp, "wfscp:sam-papers:2027-02-09", D("2026-11-01")) is None
