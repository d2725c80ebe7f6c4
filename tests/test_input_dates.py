"""Every date a person types is read the same way (ISO or UK) and checked against one
supported range; a date already stored outside it never crashes a later run."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from govcal.rules.dates import EARLIEST, LATEST, DateInputError, parse_day, parse_moment

runner = CliRunner()


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def occurrence_row(public_id: str) -> dict:
    from govcal.models.db import session_scope
    from govcal.models.queries import occurrence
    from govcal.models.records import _snapshot
    from govcal.models.settings import get_settings

    assert get_settings().uses_embedded_database
    with session_scope(get_settings()) as session:
        return _snapshot(occurrence(session, public_id))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-13", date(2026, 10, 13)),
        ("13/10/2026", date(2026, 10, 13)),
        ("1/2/2027", date(2027, 2, 1)),  # day first, as written in England
        (" 31/12/2098 ", LATEST),
        ("2000-01-01", EARLIEST),
    ],
)
def test_iso_and_uk_days_read_the_same(text, expected):
    assert parse_day(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0001-01-02", "outside the supported range 2000-01-01 to 2098-12-31"),
        ("31/12/1999", "outside the supported range"),
        ("9999-12-31", "outside the supported range"),
        ("31/02/2026", "is not a date; write YYYY-MM-DD or DD/MM/YYYY"),
        ("10/13/2026", "is not a date"),  # American order: month 13 does not exist
        ("next tuesday", "is not a date"),
    ],
)
def test_days_outside_the_range_or_unreadable_are_refused_naming_the_option(text, says):
    with pytest.raises(DateInputError) as caught:
        parse_day(text, "--on")
    assert str(caught.value).startswith("--on ") and says in str(caught.value)


def test_date_times_read_in_both_spellings_and_stay_naive_for_the_caller_to_place():
    assert parse_moment("08/12/2026 14:00").isoformat() == "2026-12-08T14:00:00"
    assert parse_moment("2026-12-08 14:00").isoformat() == "2026-12-08T14:00:00"
    with pytest.raises(DateInputError, match="--to 0001-01-02 00:30 is outside"):
        parse_moment("0001-01-02 00:30", "--to")


@pytest.fixture
def synced(migrated_data):
    result = govcal("sync", "--as-of", "2026-11-24", "-p", "wfscp")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["reschedule", "wfscp:annual-report:2026-09-30", "--to", "0001-01-02", "--reason", "x"],
        ["reschedule", "wfscp:lsp-meeting:2026-11-11", "--to", "0001-01-02 00:30", "--reason", "x"],
        [
            "complete",
            "wfscp:annual-report:2026-09-30",
            "--on",
            "0001-01-02",
            "--evidence",
            "https://example.org/report",
        ],
        ["incident", "SI-2026-014", "--aware", "31/12/1999"],
        [
            "review",
            "wfscp:annual-report:2026-09-30",
            "--rag",
            "red",
            "--action",
            "fix",
            "--action-due",
            "9999-12-31",
        ],
        ["status", "--as-of", "9999-12-31"],
        ["plan", "--from", "0001-01-02"],
        ["plan", "--to", "31/12/2101"],
        ["notify", "--as-of", "0001-01-02"],
    ],
)
def test_a_date_outside_the_range_is_refused_with_one_line_and_changes_nothing(synced, args):
    option = next(a for a in args if a.startswith("--") and a not in ("--reason", "--rag"))
    option = args[args.index("--action-due")] if "--action-due" in args else option
    before = occurrence_row("wfscp:annual-report:2026-09-30")
    result = govcal(*args)
    assert result.exit_code == 1  # bad input (README): 2 is for settings and options
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {option} ")
    assert "outside the supported range 2000-01-01 to 2098-12-31" in lines[0]
    assert result.stdout == ""
    assert occurrence_row("wfscp:annual-report:2026-09-30") == before


def test_uk_dates_are_accepted_by_the_commands(synced):
    done = govcal(
        "complete",
        "wfscp:annual-report:2026-09-30",
        "--on",
        "13/10/2026",
        "--evidence",
        "https://example.org/report",
    )
    assert done.exit_code == 0, done.stderr
    assert "completed on 2026-10-13" in " ".join(done.stdout.split())  # wrapped at 100
    moved = govcal(
        "reschedule", "wfscp:lsp-meeting:2026-11-11", "--to", "15/12/2026 09:30", "--reason", "room"
    )
    assert moved.exit_code == 0, moved.stderr
    assert occurrence_row("wfscp:lsp-meeting:2026-11-11")["starts_at"] == (
        "2026-12-15T09:30:00+00:00"  # London in winter is UTC
    )


def test_prefect_forms_and_flow_parameters_refuse_dates_outside_the_range():
    from govcal.flows.forms import IncidentForm

    with pytest.raises(ValidationError, match="outside the supported range"):
        IncidentForm(
            partnership="wfscp",
            reference="SI-2026-014",
            aware_on="0001-01-02",
            recorded_by="Business team",
        )
    from prefect.exceptions import ParameterTypeError

    from govcal.flows.jobs import publish_feeds

    with pytest.raises(ParameterTypeError, match=r"as_of: .*outside the supported range"):
        publish_feeds.validate_parameters({"as_of": "0001-01-02"})


def _store_out_of_range_rows() -> None:
    """What an older version let through: a due date and a completion in year 1."""
    from govcal.models.db import session_scope
    from govcal.models.queries import occurrence
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        occurrence(session, "wfscp:annual-report:2026-09-30").due = date(1, 1, 2)
        done = occurrence(session, "wfscp:lsp-meeting:2026-11-11")
        done.lifecycle, done.completed_at = "completed", date(1, 1, 2)


def test_a_stored_date_outside_the_range_is_skipped_with_a_warning_not_a_crash(synced, caplog):
    """Before the fix, every `govcal notify` after such a row crashed with OverflowError."""
    _store_out_of_range_rows()
    caplog.set_level(logging.WARNING, logger="govcal.data")
    for args in (
        ["notify", "--as-of", "2026-11-24"],
        ["status", "--as-of", "2026-11-24"],
        ["feeds", "--as-of", "2026-11-24"],
    ):
        caplog.clear()
        result = govcal(*args)
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        assert "OverflowError" not in result.stderr + result.stdout
        warned = [r.getMessage() for r in caplog.records if r.name == "govcal.data"]
        assert any("skipped wfscp:" in w and "0001-01-02" in w for w in warned), args
    # sync does no arithmetic on either row (a past, finished or overdue item is not
    # rebuilt from its rule): it runs and leaves them for a person to correct
    synced = govcal("sync", "--as-of", "2026-11-24", "-p", "wfscp")
    assert synced.exit_code == 0 and "Traceback" not in synced.stderr, synced.stderr
    from govcal.models.db import session_scope
    from govcal.models.queries import occurrence
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        assert occurrence(session, "wfscp:annual-report:2026-09-30").due == date(1, 1, 2)
        assert occurrence(session, "wfscp:lsp-meeting:2026-11-11").completed_at == date(1, 1, 2)
    status = govcal("status", "--json", "--as-of", "2026-11-24", "-p", "wfscp")
    ids = {r["id"] for r in json.loads(status.stdout)}
    assert "wfscp:annual-report:2026-09-30" not in ids  # left out, said in the warning
    assert "wfscp:sam-papers:2025-10-14" in ids  # the rest of the run proceeds


@pytest.mark.parametrize("edge", [EARLIEST.isoformat(), LATEST.isoformat()])
def test_sync_and_plan_work_at_both_ends_of_the_typed_range(edge):
    """The engine's range leaves room for the sync horizon and event-relative deadlines."""
    synced = govcal("sync", "--as-of", edge, "-p", "wfscp")
    assert synced.exit_code == 0, synced.stderr
    assert "Traceback" not in synced.stderr
    planned = govcal("plan", "-p", "wfscp", "--from", EARLIEST.isoformat(), "--to", edge)
    assert planned.exit_code == 0, planned.stderr
    assert "outside" not in planned.stderr and "Warning" not in synced.stderr + planned.stderr


def test_the_day_after_the_typed_range_is_refused_by_sync_and_plan():
    day_after = "2099-01-01"
    for args in (
        ["sync", "--as-of", day_after],
        ["plan", "--from", "2000-01-01", "--to", day_after],
    ):
        result = govcal(*args)
        assert result.exit_code == 1  # bad input (README)
        assert "outside the supported range 2000-01-01 to 2098-12-31" in result.stderr
