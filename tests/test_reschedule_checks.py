"""Reschedule as a person types it: the past, weekends, bank holidays and clock changes,
the end of the range, moving to where it already is, and the papers following at once."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

runner = CliRunner()
MEETING = "wfscp:lsp-meeting:2026-11-11"
SAM = "wfscp:safeguarding-accountability-meeting:2026-12-08"


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def flat(text: str) -> str:
    """Output as one line: the console wraps long lines at 100 columns."""
    return " ".join(text.split())


def row(public_id: str) -> dict:
    from govcal.models.db import session_scope
    from govcal.models.queries import occurrence
    from govcal.models.records import _snapshot
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        return _snapshot(occurrence(session, public_id))


@pytest.fixture(autouse=True)
def synced(time_machine, migrated_data):
    time_machine.move_to("2026-11-02 10:00:00+00:00", tick=False)
    result = govcal("sync", "-p", "wfscp")
    assert result.exit_code == 0, result.stderr


def refused(args: list[str], line: str, public_id: str = MEETING) -> None:
    before = row(public_id)
    result = govcal("reschedule", public_id, *args, "--reason", "room booked")
    assert result.exit_code == 1, result.stdout
    assert result.stderr.splitlines() == [line, "Nothing was changed."]
    assert result.stdout == ""
    assert row(public_id) == before


def test_a_past_time_is_refused_unless_allow_past():
    refused(
        ["--to", "2026-10-01 09:30"],
        "Error: --to 2026-10-01 is in the past (today is "
        "2026-11-02); give a later date, or add --allow-past to record when it really "
        "happened",
    )
    done = govcal(
        "reschedule", MEETING, "--to", "2026-10-01 09:30", "--reason", "held early", "--allow-past"
    )
    assert done.exit_code == 0, done.stderr
    assert "moved to Thu 01 Oct 2026 09:30" in flat(done.stdout)


def test_a_time_the_clocks_skip_is_refused():
    refused(
        ["--to", "2027-03-28 01:30"],
        "Error: --to 2027-03-28 01:30 does not exist in "
        "Europe/London: the clocks go forward then; give a time an hour later",
    )


def test_a_time_the_clocks_repeat_is_refused_naming_both_instants():
    """Issue 20: 01:30 on 31 October 2027 happens twice; icalendar read the first, ical.js,
    libical and vobject the second: the meeting would be an hour apart in two calendars."""
    refused(
        ["--to", "2027-10-31 01:30"],
        "Error: --to 2027-10-31 01:30 happens twice in "
        "Europe/London: at 00:30 UTC (BST) and at 01:30 UTC (GMT), as the clocks go back; "
        "give a time outside 01:00-02:00 that day",
    )
    moved = govcal("reschedule", MEETING, "--to", "2027-10-31 02:00", "--reason", "room")
    assert moved.exit_code == 0, moved.stderr  # outside the repeated hour: accepted


def test_an_end_beyond_the_supported_range_is_refused():
    refused(
        ["--to", "2098-12-31 23:59", "--allow-past"],
        "Error: its end time 2099-01-01 01:59 is outside the supported range 2000-01-01 "
        "to 2098-12-31; check the year",
    )


@pytest.mark.parametrize(
    ("to", "note"),
    [
        ("2026-12-12 10:00", "note: Saturday 2026-12-12 is a weekend day"),
        ("2026-12-25 10:00", "note: 2026-12-25 is a bank holiday"),
    ],
)
def test_a_weekend_or_bank_holiday_is_accepted_with_a_note(to, note):
    result = govcal("reschedule", MEETING, "--to", to, "--reason", "room", "--allow-past")
    assert result.exit_code == 0, result.stderr
    assert note in " ".join(result.stdout.split())


def test_moving_to_the_time_it_already_has_changes_nothing():
    moved = govcal("reschedule", MEETING, "--to", "15/12/2026 09:30", "--reason", "room")
    assert moved.exit_code == 0, moved.stderr
    first = flat(moved.stdout)
    assert "moved to Tue 15 Dec 2026 09:30 (invite version 1)" in first and "+00:00" not in first
    before = row(MEETING)
    again = govcal("reschedule", MEETING, "--to", "2026-12-15 09:30", "--reason", "room")
    assert again.exit_code == 0
    assert "is already at Tue 15 Dec 2026 09:30; nothing changed" in flat(again.stdout)
    assert row(MEETING) == before


def test_a_deadline_moved_says_no_invite_version():
    result = govcal(
        "reschedule",
        "wfscp:annual-report:2026-09-30",
        "--to",
        "2026-12-01",
        "--reason",
        "late data",
    )
    assert result.exit_code == 0, result.stderr
    assert "moved to Tue 01 Dec 2026." in flat(result.stdout) and "invite" not in result.stdout


def test_papers_follow_a_moved_meeting_at_once_from_the_use_case():
    from govcal.models import actions
    from govcal.models.db import session_scope
    from govcal.models.records import Actor
    from govcal.models.settings import get_settings
    from govcal.models.trail import Channel
    from govcal.rules.dates import parse_moment
    from govcal.rules.loader import load_partnership

    papers_before = row("wfscp:sam-papers:2026-12-08")
    when = parse_moment("2026-12-15 09:30").replace(
        tzinfo=__import__("zoneinfo").ZoneInfo("Europe/London")
    )
    with session_scope(get_settings()) as session:
        result = actions.reschedule(
            session,
            SAM,
            when,
            "room",
            Actor("ui", Channel.PREFECT_UI),
            today=date(2026, 11, 2),
            partnerships=[load_partnership("wfscp")],
        )
    assert any("sam-papers" in line for line in result.followed)
    assert row("wfscp:sam-papers:2026-12-08")["due"] != papers_before["due"]


def test_a_meeting_cannot_be_completed_before_its_day_but_a_deadline_can():
    before = row(MEETING)
    held = govcal("complete", MEETING, "--on", "13/10/2026", "--evidence", "https://example.org/m")
    assert held.exit_code == 1
    assert held.stderr.splitlines()[0] == (
        f"Error: {MEETING} is a meeting on 2026-11-11; it cannot have been held on 2026-10-13: "
        "give --on the day it was held, or reschedule it first with --allow-past"
    )
    assert row(MEETING) == before
    early = govcal(
        "complete",
        "wfscp:cdop-annual-report:2027-09-30",
        "--on",
        "2026-11-01",
        "--evidence",
        "https://example.org/report",
    )
    assert early.exit_code == 0, early.stderr


def test_a_follow_up_due_before_the_review_day_is_refused():
    s11 = next_s11()
    before = row(s11)
    result = govcal(
        "review",
        s11,
        "--rag",
        "amber",
        "--action",
        "Refresh training",
        "--action-due",
        "2001-01-01",
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: --action-due 2001-01-01 is before the review day 2026-11-02; give a day from "
        "2026-11-02 on"
    )
    assert row(s11) == before


def next_s11() -> str:
    from govcal.models.db import session_scope
    from govcal.models.queries import occurrences_between
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        return next(
            o.public_id
            for o in occurrences_between(session, "wfscp", date(2026, 1, 1), date(2027, 12, 31))
            if ":section-11" in o.public_id
        )


def test_acknowledge_refuses_an_item_never_escalated_with_one_line():
    before = row(MEETING)
    result = govcal("acknowledge", MEETING, "--note", "seen")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: {MEETING} has not been escalated to the Lead Partners; nothing to acknowledge"
    )
    assert row(MEETING) == before


def audit_reasons(public_id: str) -> list[str]:
    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.trail import TrailEntry

    with session_scope(get_settings()) as session:
        entries = session.exec(select(TrailEntry).where(TrailEntry.entity_id == public_id)).all()
        return [str(e.reason) for e in entries if getattr(e, "reason", None)]


@pytest.mark.parametrize("verb", ["waive", "cancel"])
def test_a_statutory_item_needs_a_real_reason_and_says_the_lead_partners_see_it(verb):
    item = "wfscp:annual-report:2026-09-30"
    before = row(item)
    short = govcal(verb, item, "--reason", "dont care")
    assert short.exit_code == 1
    assert short.stderr.splitlines()[0] == (
        f"Error: {item} is a statutory duty: to {verb} it, give --reason of at least 15 "
        "characters saying why (the Lead Partners will see it)"
    )
    assert row(item) == before
    why = "Merged into the joint report with Cumberland"
    done = govcal(verb, item, "--reason", why)
    assert done.exit_code == 0, done.stderr
    assert "this is a statutory duty: the Lead Partners will see it" in flat(done.stdout)
    assert any(why in reason for reason in audit_reasons(item))


def test_a_local_item_is_waived_with_a_short_reason_and_no_duty_note():
    result = govcal("waive", "wfscp:sam-papers:2026-12-08", "--reason", "no papers")
    assert result.exit_code == 0, result.stderr
    assert "statutory" not in result.stdout
