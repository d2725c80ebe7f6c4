"""Numbers and days a person types into a command, bounded: each out-of-range value is
one line saying what is allowed, exit 1, and nothing changed (issue 21's low items)."""

from __future__ import annotations

from sqlmodel import func, select
from typer.testing import CliRunner

from govcal.models.calendar import OccurrenceRow
from govcal.models.db import session_scope
from govcal.models.settings import get_settings

runner = CliRunner()


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def rows() -> int:
    with session_scope(get_settings()) as session:
        return session.exec(select(func.count()).select_from(OccurrenceRow)).one()


def test_sync_months_outside_1_to_36_is_refused_in_one_line_and_syncs_nothing():
    """-18 exited 0 with a reversed window, 2400 gave a traceback, 300 made 4,452 rows
    up to 2051 (and doubled the overdue count for good)."""
    assert govcal("db", "upgrade").exit_code == 0
    for months in ("-18", "0", "37", "300", "2400"):
        result = govcal("sync", "--as-of", "2026-11-24", "--months", months)
        assert result.exit_code == 1, (months, result.stdout)
        [line] = result.stderr.strip().splitlines()
        assert line == (
            f"Error: --months must be from 1 to 36 (how far back and forward to sync); "
            f"{months} was given. Nothing was changed."
        )
        assert "Traceback" not in result.stdout + result.stderr
    assert rows() == 0
    done = govcal("sync", "--as-of", "2026-11-24", "--months", "36")
    assert done.exit_code == 0, done.stderr
    assert "(2023-11-24 to 2029-11-24)" in done.stdout


def _synced() -> None:
    assert govcal("db", "upgrade").exit_code == 0
    assert govcal("sync").exit_code == 0  # today's window: the ids below are in it


def _one_error_line(result) -> str:
    assert result.exit_code == 1, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    line, *rest = result.stderr.strip().splitlines()
    assert not rest or rest == ["Nothing was changed."], rest
    return line


def test_a_completion_years_before_the_deadline_is_refused_saying_why():
    """`complete --on 2000-01-01` was accepted for a 2026 deadline."""
    _synced()
    papers = "wfscp:lsp-meeting-papers:2026-11-11"  # due 3 Nov 2026
    result = govcal(
        "complete", papers, "--evidence", "https://example.org/p.pdf", "--on", "2000-01-01"
    )
    line = _one_error_line(result)
    assert "completion date 2000-01-01 is more than a year before" in line
    assert "(2026-11-03); give --on the day it was done" in line
    early = govcal(
        "complete", papers, "--evidence", "https://example.org/p.pdf", "--on", "2026-10-20"
    )
    assert early.exit_code == 0, early.stderr  # early work is real


def test_reschedule_to_takes_plain_digits_and_local_time_only():
    """--to accepted a UTC offset and full-width digits but refused Arabic-Indic ones:
    now every non-ASCII digit and every offset is refused the same way, in one line."""
    _synced()
    meeting = "wfscp:safeguarding-accountability-meeting:2026-12-08"
    for typed, says in (
        ("\uff12\uff10\uff12\uff17-01-12", "not plain ASCII"),  # full-width
        ("\u0662\u0660\u0662\u0667-01-12", "not plain ASCII"),  # Arabic-Indic
        ("2027-01-12T14:00+05:00", "gives a UTC offset"),
        ("2027-01-12T14:00Z", "gives a UTC offset"),
    ):
        result = govcal("reschedule", meeting, "--to", typed, "--reason", "Room unavailable")
        line = _one_error_line(result)
        assert line.startswith("Error: --to") and says in line, line
    done = govcal("reschedule", meeting, "--to", "2027-01-12 14:00", "--reason", "Room")
    assert done.exit_code == 0, done.stderr
