"""Starting an incident's clocks: twice (even at the same moment from two processes) gives
one line and changes nothing; an aware date whose deadlines are all long past is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

runner = CliRunner()
GOVCAL = str(Path(sys.executable).with_name("govcal"))


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def counts() -> tuple[int, int, int]:
    """Incidents, occurrences and audit entries: what a refused command must not change."""
    from sqlmodel import func, select

    from govcal.models.calendar import Incident, OccurrenceRow
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.trail import TrailEntry

    with session_scope(get_settings()) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Incident, OccurrenceRow, TrailEntry)
        )


@pytest.fixture
def synced(migrated_data):
    result = govcal("sync", "-p", "wfscp")
    assert result.exit_code == 0, result.stderr


def aware() -> str:
    return (date.today() - timedelta(days=2)).isoformat()


def test_an_incident_recorded_twice_is_refused_with_one_line(synced):
    first = govcal("incident", "SI-2026-077", "--aware", aware(), "-p", "wfscp")
    assert first.exit_code == 0, first.stderr
    before = counts()
    again = govcal("incident", "SI-2026-077", "--aware", aware(), "-p", "wfscp")
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == (
        f"Error: SI-2026-077 is already recorded (aware on {aware()}); "
        "its clocks are running (the compliance summary shows them)"
    )
    assert "Traceback" not in again.stderr and again.stdout == ""
    assert counts() == before


def test_two_processes_starting_the_same_incident_at_once_record_it_once(synced):
    command = [GOVCAL, "incident", "SI-2026-077", "--aware", aware(), "-p", "wfscp"]
    runs = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(2)
    ]
    outcomes = sorted((run.wait(timeout=120), *run.communicate()) for run in runs)
    (ok, ok_out, _), (refused, _, refused_err) = outcomes
    assert (ok, refused) == (0, 1), outcomes
    assert "clocks started: wfscp:" in ok_out
    assert refused_err.splitlines()[0] == (
        f"Error: SI-2026-077 is already recorded (aware on {aware()}); "
        "its clocks are running (the compliance summary shows them)"
    )
    assert "Traceback" not in refused_err
    assert counts()[0] == 1


@pytest.mark.parametrize("when", ["2000-01-01", "2020-06-30"])
def test_an_aware_date_whose_clocks_are_all_long_past_is_refused(synced, when):
    before = counts()
    result = govcal("incident", "SI-2026-098", "--aware", when, "-p", "wfscp")
    assert result.exit_code == 1
    line = result.stderr.splitlines()[0]
    assert line.startswith(f"Error: SI-2026-098 aware on {when} starts no clock inside the sync")
    assert line.endswith("its deadlines are long past; check the year of --aware")
    assert result.stdout == ""
    assert counts() == before


def test_an_aware_date_in_the_future_is_refused(synced):
    before = counts()
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    result = govcal("incident", "SI-2026-099", "--aware", tomorrow, "-p", "wfscp")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"Error: date {tomorrow} is in the future")
    assert counts() == before
