"""`plan` and `status` as a user reads them: recorded state, recent closures, 100 columns."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

MEETING = "wfscp:lsp-meeting:2026-05-13"
MOVED = "wfscp:safeguarding-accountability-meeting:2026-12-08"
OLD = "wfscp:lsp-meeting:2025-08-13"


@pytest.fixture(autouse=True)
def terminal_100_columns(monkeypatch):
    from govcal.cli import common

    monkeypatch.setattr(common.out, "width", 100)
    monkeypatch.setattr(common.out, "soft_wrap", False)  # a terminal wraps long lines


def ok(*args: str) -> str:
    """The command in-process, printing to a 100-column terminal."""
    from govcal.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def recorded() -> None:
    ok("sync", "--as-of", "2026-11-24")
    ok(
        "complete",
        MEETING,
        "--evidence",
        "https://example.org/minutes/may.pdf",
        "--on",
        "2026-05-13",
    )
    ok("complete", OLD, "--evidence", "https://example.org/minutes/aug.pdf", "--on", "2026-11-20")
    ok("reschedule", MOVED, "--to", "2026-12-15 10:00", "--reason", "Chair unavailable")


def fits(text: str, ids: list[str]) -> None:
    assert max(len(line) for line in text.splitlines()) <= 100
    whole(text, ids)


def whole(text: str, ids: list[str]) -> None:
    """Each id whole, on one line, so it can be copied."""
    lines = text.splitlines()
    for item_id in ids:
        assert any(re.search(rf"(^|\s){re.escape(item_id)}(\s|$)", line) for line in lines), item_id


def test_plan_shows_what_the_database_recorded(tmp_path):
    recorded()
    rows = json.loads(
        ok("plan", "--from", "2026-05-01", "--to", "2026-12-31", "--as-of", "2026-11-24", "--json")
    )
    by_id = {r["id"]: r for r in rows}
    assert by_id[MEETING]["state"] == "completed_on_time"
    assert by_id[MOVED]["due"] == "2026-12-15T10:00:00+00:00"
    assert by_id["wfscp:lsp-meeting:2026-08-12"]["state"] == "overdue"  # not recorded

    table = ok("plan", "--from", "2026-05-01", "--to", "2026-12-31", "--as-of", "2026-11-24")
    line = next(x for x in table.splitlines() if "2026-05-13 10:00" in x)
    assert "completed on time" in line
    lines = table.splitlines()
    at = next(i for i, x in enumerate(lines) if MOVED in x)
    assert lines[at - 1].startswith(" 2026-12-15 10:00")  # the meeting, at its new time
    fits(table, [MEETING, MOVED, "wfscp:safeguarding-accountability-meeting:2026-10-13"])


def test_plan_without_a_database_shows_the_rules_and_creates_nothing(tmp_path):
    table = ok("plan", "--as-of", "2026-11-24")
    assert "wfscp:lsp-meeting:2027-02-10" in table
    assert not (tmp_path / "data" / "govcal.db").exists()


def test_uk_dates_are_accepted_where_a_day_is_typed(tmp_path):
    uk = ok("plan", "--from", "13/10/2026", "--to", "31/12/2026", "--as-of", "24/11/2026")
    assert "2026-10-13 to 2026-12-31 (as of 2026-11-24)" in " ".join(uk.split())
    recorded()
    assert "Closed in the 30 days to 2026-11-24" in ok("status", "--as-of", "24/11/2026")


def test_returns_names_a_whole_id_to_copy(tmp_path):
    from tests.support.paths import SAMPLE_DIRECTORY

    ok("import", str(SAMPLE_DIRECTORY / "wfscp"))
    ok("sync", "--as-of", "2026-11-24")
    text = ok("returns", "wfscp:section-11-audit:2026-10-31", "--as-of", "13/11/2026")
    assert "0 of 20 returned." in text
    assert "Record one: govcal complete wfscp:section-11-audit:2026-10-31:active-cumbria" in text
    # a report table out of a terminal keeps its natural width, as `rules check` does:
    # every name whole on its line (grep finds it), every id whole to copy
    assert any("Sporting Organisations – Active Cumbria" in line for line in text.splitlines())
    whole(text, ["wfscp:section-11-audit:2026-10-31:active-cumbria"])
    cycles = ok("returns", "-p", "wfscp")
    whole(cycles, ["wfscp:section-175-audit:2026-03-31"])


def test_status_lists_what_was_closed_recently_by_the_day_it_was_closed(tmp_path):
    recorded()
    text = ok("status", "--as-of", "2026-11-24")
    opened, closed = text.split("Closed in the 30 days to 2026-11-24, by the day closed")
    assert OLD not in opened  # completed four days ago, due 15 months ago
    line = next(x for x in closed.splitlines() if x.startswith(" 2026-11-20"))
    assert "completed 464 days late" in line
    assert MEETING not in closed  # closed in May: not recent
    first = next(x for x in opened.splitlines() if re.match(r" \d{4}-\d\d-\d\d", x))
    assert "overdue by" in first  # most urgent first
    fits(text, [OLD, MOVED])
    rows = {r["id"]: r for r in json.loads(ok("status", "--json", "--as-of", "2026-11-24"))}
    assert rows[OLD]["closed_on"] == "2026-11-20" and MEETING not in rows


def piped(*args: str) -> str:
    """The command as `govcal ... | less` runs it: stdout is a pipe, not a terminal."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(
        [sys.executable, "-m", "govcal.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_piped_output_is_laid_out_for_100_columns_with_plain_lines_whole(tmp_path):
    """It used to be 200 columns of padded table; a heading or sentence is never cut in
    two (grep finds it whole), and every id is on a line of its own, whole."""
    recorded()
    status = piped("status", "--as-of", "2026-11-24")
    table_lines = [line for line in status.splitlines() if line.startswith(" ")]
    assert table_lines and max(len(line) for line in table_lines) <= 100
    assert all(line == line.rstrip() for line in status.splitlines())  # no padding
    fits(status, [OLD, MOVED, "wfscp:section-11-audit:2026-10-31"])
    heading = "Closed in the 30 days to 2026-11-24, by the day closed"
    assert heading in status.splitlines()

    plan = piped("plan", "--from", "2026-05-01", "--to", "2026-12-31", "--as-of", "2026-11-24")
    whole = (
        "Westmorland and Furness Safeguarding Children Partnership: 2026-05-01 to "
        "2026-12-31 (as of 2026-11-24)"
    )
    assert plan.splitlines()[0] == whole  # 102 characters, not wrapped
    assert max(len(line) for line in plan.splitlines()[1:]) <= 100
    assert "\x1b[" not in plan  # no colour codes in a file
    quiet = piped("status", "--overdue", "-p", "wfscp", "--as-of", "2000-01-01")
    assert quiet.splitlines()[:2] == ["Open as of 2000-01-01: most urgent first", " none"]


def test_status_of_a_partnership_nobody_defined_is_refused_in_one_line():
    """`status -p wfsc` (a typo) used to print an empty list, as if nothing were due."""
    from govcal.cli import app

    result = CliRunner().invoke(app, ["status", "-p", "wfsc", "--as-of", "2026-11-24"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "No partnership 'wfsc'. Known: cscp-2019, cscp-2023, cumbria-lscb-2014, wfscp."
    ]
    assert ok("status", "-p", "cscp-2019", "--as-of", "2026-11-24")  # superseded: shown
