"""Nothing that could identify a child, and no secret, reaches an email, an invite, a
feed, a log line, the database or a Prefect artifact. The whole embedded job runs as a
user runs it; then every byte it produced is scanned."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import GOVCAL, SAMPLE_DIRECTORY

SMTP_PASSWORD = "smtp-Pa55word-must-never-show"
PG_PASSWORD = "pg-Pa55word-must-never-show"
CHILD = "Jane Doe DOB 02/03/2015"  # what a hurried user might type as a reference
REFERENCE = "SI-2026-0042"


def govcal(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GOVCAL, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def everything_written(data: Path) -> str:
    """Every file under the data folder as text; SQLite files (ours and Prefect's, with
    its logs, flow runs and artifacts) dumped row by row."""
    parts = []
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        if path.suffix == ".db":
            with sqlite3.connect(path) as db:
                parts.extend(db.iterdump())
        elif path.suffix not in (".db-wal", ".db-shm"):
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.mark.slow  # `govcal run` starts Prefect's ephemeral server
def test_no_child_detail_or_secret_in_any_email_invite_feed_log_or_artifact(tmp_path, smtp):
    data = tmp_path / "data"
    printed = []

    def step(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = govcal(*args, GOVCAL_SMTP_PASSWORD=SMTP_PASSWORD, **env)
        printed.extend([result.stdout, result.stderr])
        return result

    assert step("import", str(SAMPLE_DIRECTORY / "wfscp")).returncode == 0
    refused = step("incident", CHILD, "--aware", "2026-11-16")
    assert refused.returncode == 1 and "never a child's name" in refused.stderr
    assert step("incident", REFERENCE, "--aware", "2026-11-16").returncode == 0
    run = step("run", "--as-of", "2026-11-24")  # the flow, its logs and its artifacts
    assert run.returncode == 0, run.stderr
    # a login over a connection without TLS is refused before anything is sent...
    relay = {
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_HOST": "127.0.0.1",
        "GOVCAL_SMTP_PORT": str(smtp.port),
        "GOVCAL_SMTP_SECURITY": "none",
        "GOVCAL_SMTP_USERNAME": "govcal",
    }
    in_clear = step("notify", "--as-of", "2026-11-25", **relay)
    assert in_clear.returncode == 2 and "GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH" in in_clear.stderr
    assert not smtp.recorder.received
    # ...and when the operator allows it, the relay asks for no login, so the login with
    # the password fails: the error is reported, the messages wait for a retry (exit 3),
    # the password is nowhere
    failed_login = step(
        "notify", "--as-of", "2026-11-25", **relay, GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH="true"
    )
    assert failed_login.returncode == 3, failed_login.stderr
    assert "to retry" in failed_login.stdout and "AUTH" in failed_login.stdout
    unreachable = step(
        "status",
        GOVCAL_DATABASE_URL=(f"postgresql+psycopg://govcal:{PG_PASSWORD}@127.0.0.1:1/govcal"),
    )
    assert unreachable.returncode != 0 and "***" in unreachable.stderr

    produced = everything_written(data) + "\n".join(printed)
    assert list(data.glob("outbox/*.eml")) and list(data.glob("feeds/**/*.ics"))
    assert (data / "prefect" / "prefect.db").is_file()
    assert REFERENCE in produced  # the scan does see the incident, by its reference
    for secret in (SMTP_PASSWORD, PG_PASSWORD):
        assert secret not in produced
    for detail in ("Jane Doe", "02/03/2015", CHILD):
        assert detail not in produced
