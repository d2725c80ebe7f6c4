"""The database commands as a user runs them, on the embedded SQLite default."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from govcal.models.db import head_revision
from tests.support.paths import GOVCAL


def run(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([*GOVCAL, *args], capture_output=True, text=True, check=False, env=env)


def in_process(*args: str) -> str:
    """A command run in this process (typer's CliRunner): for the steps that set a test
    up, and for output-only checks; the commands under test keep their own interpreter,
    the real entry point and exit code. Its standard output."""
    from typer.testing import CliRunner

    from govcal.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.slow  # `govcal run` starts Prefect's ephemeral server
def test_run_status_complete_and_returns_round_trip(tmp_path):
    first = run("run", "--as-of", "2026-11-24")
    assert first.returncode == 0, first.stderr
    assert "loaded the SAMPLE directory" in first.stdout
    loaded = "wfscp: loaded its SAMPLE history up to 2026-11-21 (1 cancel, 224 complete"
    assert loaded in first.stdout
    assert (tmp_path / "data" / "govcal.db").is_file()  # the embedded default, created on use

    # output-only reads run in this process; what changes the record keeps its interpreter
    rows = json.loads(
        in_process("status", "--json", "--as-of", "2026-11-24", "--partnership", "wfscp")
    )
    for row in rows:
        assert {"id", "partnership", "rule", "due", "state", "completed_at", "evidence"} <= set(row)
    meeting = next(r for r in rows if r["id"] == "wfscp:lsp-meeting:2026-11-11")
    assert meeting["state"] == "overdue" and meeting["completed_at"] is None

    minutes = tmp_path / "data" / "evidence-inbox" / "minutes.pdf"  # the evidence folder
    minutes.parent.mkdir(parents=True)
    minutes.write_bytes(b"%PDF-1.4")
    done = run(
        "complete", "wfscp:lsp-meeting:2026-11-11", "--evidence", str(minutes), "--on", "2026-11-11"
    )
    assert done.returncode == 0, done.stderr
    assert "completed on 2026-11-11 by test-user" in done.stdout

    again = run("complete", "wfscp:lsp-meeting:2026-11-11", "--evidence", str(minutes))
    assert again.returncode == 1
    assert (
        "already completed on 2026-11-11" in again.stderr and "Nothing was changed" in again.stderr
    )

    rows = json.loads(in_process("status", "--json", "--as-of", "2026-11-24"))
    meeting = next(r for r in rows if r["id"] == "wfscp:lsp-meeting:2026-11-11")
    assert meeting["state"] == "completed_on_time"
    copy = Path(meeting["evidence"])  # govcal's own read-only copy, by content
    assert copy.is_relative_to(tmp_path / "data" / "evidence") and copy.name == "minutes.pdf"
    assert copy.read_bytes() == b"%PDF-1.4" and not copy.stat().st_mode & 0o222

    overdue = json.loads(in_process("status", "--json", "--overdue", "--as-of", "2026-11-24"))
    assert overdue and {r["state"] for r in overdue} == {"overdue"}
    assert "wfscp:lsp-meeting:2026-11-11" not in {r["id"] for r in overdue}

    returns = in_process("returns", "wfscp:section-11-audit:2026-10-31", "--as-of", "2026-11-24")
    assert "North West Ambulance Service" in returns
    assert "17 of 20 returned" in returns  # the sample's history: 3 still to come
    assert (
        run(
            "complete",
            "wfscp:section-11-audit:2026-10-31:uhmb",
            "--evidence",
            "https://example.org/s11/uhmb",
            "--on",
            "2026-11-02",
        ).returncode
        == 0
    )
    cycles = in_process("returns", "--as-of", "2026-11-24", "--partnership", "wfscp")
    line = next(x for x in cycles.splitlines() if "section-11-audit:2026-10-31" in x)
    assert "18 of 20" in line  # the list of cycles counts the return just recorded


def test_unknown_occurrence_and_bad_evidence_are_clear_errors(tmp_path):
    in_process("sync", "--as-of", "2026-11-24")
    unknown = run("waive", "wfscp:no-such-rule:2026-01-01", "--reason", "x")
    assert unknown.returncode == 1 and "no occurrence 'wfscp:no-such-rule:2026-01-01'" in (
        unknown.stderr
    )
    bad = run("complete", "wfscp:lsp-meeting:2026-11-11", "--evidence", "ftp://example.org/x")
    assert bad.returncode == 1 and "only http and https" in bad.stderr


def test_database_that_cannot_be_reached_gives_a_clear_error_without_the_password():
    result = run(
        "status",
        env_extra={"GOVCAL_DATABASE_URL": "postgresql+psycopg://govcal:s3cret@127.0.0.1:1/x"},
    )
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert "s3cret" not in result.stderr and "***" in result.stderr
    assert "Traceback" not in result.stderr


def test_configured_database_without_schema_asks_for_db_upgrade(postgres_url):
    env = {"GOVCAL_DATABASE_URL": postgres_url}
    result = run("status", env_extra=env)
    assert result.returncode == 1 and "run `govcal db upgrade`" in result.stderr
    upgraded = run("db", "upgrade", env_extra=env)
    head = head_revision()
    assert upgraded.returncode == 0 and f"migrated from empty to {head}" in upgraded.stdout
    assert run("db", "upgrade", env_extra=env).stdout.strip().endswith(f"(revision {head}).")
    assert run("sync", "--as-of", "2026-11-24", env_extra=env).returncode == 0


def test_prefect_home_is_created_inside_a_data_folder_that_does_not_exist_yet(
    tmp_path, monkeypatch
):
    """Prefect makes its home without parents; on a fresh machine that failed the run."""
    import os

    from govcal.models.settings import get_settings
    from govcal.prefect_env import configure_prefect

    monkeypatch.setenv("GOVCAL_DATA_DIR", str(tmp_path / "fresh" / "data"))
    get_settings.cache_clear()
    configure_prefect()
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "fresh" / "data" / "prefect")
    assert (tmp_path / "fresh" / "data" / "prefect").is_dir()


def _listed(stdout: str) -> list[tuple[str, str]]:
    """(recipient, subject) pairs from `notify --dry-run` output."""
    found, recipient = [], ""
    for line in stdout.splitlines():
        if line and not line.startswith(" ") and line.endswith("):"):
            recipient = line.rsplit(" (", 1)[0]
        elif line.startswith("    ") and recipient:
            found.append((recipient, line.strip().split(": ", 1)[1]))
    return sorted(found)


def _sent(files) -> list[tuple[str, str]]:
    import email
    from email import policy

    found = []
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for address in message["To"].addresses:
            found.append((address.addr_spec, str(message["Subject"])))
    return sorted(found)


def test_notify_dry_run_lists_recipients_and_sends_nothing(tmp_path):
    from tests.support.paths import SAMPLE_DIRECTORY

    in_process("import", str(SAMPLE_DIRECTORY / "wfscp"))
    in_process("sync", "--as-of", "2026-10-05")
    dry = run("notify", "--as-of", "2026-10-05", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "safeguarding-nwas@example.org (1):" in dry.stdout
    assert "Dry run: nothing was sent or recorded." in dry.stdout
    assert not (tmp_path / "data" / "outbox").exists()

    real = run("notify", "--as-of", "2026-10-05")
    assert real.returncode == 0, real.stderr
    outbox = sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    assert outbox and f"Delivered {len(outbox)} message(s)" in real.stdout
    # the dry run listed exactly what the real run then sent: each recipient, each subject
    assert _listed(dry.stdout) == _sent(outbox)
    again = in_process("notify", "--as-of", "2026-10-05", "--dry-run")
    assert "the next run would send 0 message(s)" in again
    rerun = in_process("notify", "--as-of", "2026-10-05")
    assert "newly planned nothing new" in rerun and "Delivered 0 message(s)" in rerun


def test_import_reports_bad_rows_by_line_and_imports_the_rest(tmp_path):
    from tests.support.paths import SAMPLE_DIRECTORY

    good = in_process("import", str(SAMPLE_DIRECTORY / "wfscp"))
    assert "schools.csv: schools: 148 created" in good
    bad = tmp_path / "people.csv"
    bad.write_text(
        "name,email,role\nOk Person,ok@example.org,business-team\n"
        "Broken,not-an-email,business-team\n",
        encoding="utf-8",
    )
    result = run("import", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3: email 'not-an-email' is not valid" in result.stderr
    assert "1 created" in result.stdout and "1 rejected" in result.stdout


def test_acknowledge_records_who_took_up_an_escalation_once(tmp_path):
    """A Lead Partner's acknowledgement, as the business team types it on their behalf:
    pasted from the escalation email, shown back with who and when, and only once."""
    from govcal.models.db import session_scope
    from govcal.models.escalations import escalations
    from govcal.models.queries import occurrence
    from govcal.models.settings import get_settings
    from tests.support.paths import SAMPLE_DIRECTORY

    meeting = "wfscp:lsp-meeting:2026-11-11"  # 15 days overdue: the Lead Partners were told
    in_process("import", str(SAMPLE_DIRECTORY / "wfscp"))
    in_process("sync", "--as-of", "2026-11-26")
    in_process("notify", "--as-of", "2026-11-26")

    done = run("acknowledge", f"Id: {meeting}.", "--note", "Chair to call the DSPs")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith(f"{meeting} escalation acknowledged by test-user on ")
    assert line.endswith(" UTC.") and "\n" not in line

    again = run("acknowledge", meeting)
    assert again.returncode == 1
    assert again.stderr.splitlines() == [
        f"Error: {meeting} was already acknowledged by test-user on "
        + line.split(" on ", 1)[1][:11],
        "Nothing was changed.",
    ]
    with session_scope(get_settings()) as session:
        row = occurrence(session, meeting)
        [escalation] = escalations(session, [row.id]).values()
    assert escalation.acknowledged_by == "test-user"
