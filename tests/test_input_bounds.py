"""Numbers and days a person types into a command, bounded: each out-of-range value is
one line saying what is allowed, exit 1, and nothing changed (issue 21's low items)."""

from __future__ import annotations

from sqlmodel import func, select
from typer.testing import CliRunner

from models.calendar import OccurrenceRow
from models.db import session_scope

runner = CliRunner()


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def rows() -> int:
    with session_scope() as session:
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
