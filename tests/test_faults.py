"""Faults a real deployment meets: a process killed mid-run, two sweeps at once, a slow
relay. Each runs the real `govcal` command in its own process against a real SMTP server
on 127.0.0.1 and a real database, and checks that nothing is sent twice or lost."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from datetime import date
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import select

from govcal.models import LedgerEntry, OccurrenceRow
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.sync import sync_partnership
from govcal.rules.loader import load_partnerships
from tests.smtp_server import SmtpServer
from tests.support.paths import GOVCAL, SAMPLE_DIRECTORY

DAY = "2026-10-05"  # the S11 28-day reminders go to every agency lead: a batch of 20+


def prepared(url: str) -> str:
    """A migrated database given the sample directory and the calendar synced, ready to
    notify."""
    [wfscp] = [p for p in load_partnerships() if p.id == "wfscp"]
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, date.fromisoformat(DAY))
    return url


@pytest.fixture(scope="module")
def prepared_sqlite(tmp_path_factory, migrated_sqlite) -> Path:
    """One SQLite database prepared (`prepared`) for the module, closed; each SQLite
    test notifies from its own copy (`sqlite_copy`)."""
    from govcal.models.db import get_engine

    path = tmp_path_factory.mktemp("prepared") / "govcal.db"
    shutil.copyfile(migrated_sqlite, path)
    prepared(f"sqlite:///{path}")
    get_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def sqlite_copy(prepared_sqlite, tmp_path) -> str:
    """This test's own copy of the prepared SQLite database; its URL."""
    shutil.copyfile(prepared_sqlite, tmp_path / "govcal.db")
    return f"sqlite:///{tmp_path / 'govcal.db'}"


def env_for(url: str, server: SmtpServer) -> dict[str, str]:
    return {
        **os.environ,
        "GOVCAL_DATABASE_URL": url,
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_HOST": "127.0.0.1",
        "GOVCAL_SMTP_PORT": str(server.port),
        "GOVCAL_SMTP_SECURITY": "none",
    }


def notify(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*GOVCAL, "notify", "--as-of", DAY],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ledger(url: str) -> list[LedgerEntry]:
    with session_scope(url) as s:
        return list(s.exec(select(LedgerEntry)).all())


def assert_each_message_delivered_exactly_once(url: str, server: SmtpServer) -> None:
    ids = Counter(r.message["Message-ID"] for r in server.recorder.received)
    assert ids and max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    rows = [r for r in ledger(url) if r.status in ("sent", "sending", "pending")]
    assert rows and all(r.status == "sent" for r in rows)
    got = {
        (rcpt.lower(), r.message["Message-ID"])
        for r in server.recorder.received
        for rcpt in r.rcpt_tos
    }
    for row in rows:  # every row the ledger calls sent reached its recipient
        assert any(rcpt == row.recipient.lower() and row.message_key in mid for rcpt, mid in got)


def test_killed_mid_delivery_batch_rerun_sends_the_rest_once(sqlite_copy, smtp):
    url = sqlite_copy
    env = env_for(url, smtp)
    first = notify(env)
    smtp.recorder.victim, smtp.recorder.kill_at = first.pid, 5
    first.communicate(timeout=120)
    assert first.returncode == -signal.SIGKILL
    assert len(smtp.recorder.received) == 5
    left = Counter(r.status for r in ledger(url))
    assert left["sent"] and left["sending"]  # the dead run's claim is still on its rows

    rerun = notify(env)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "0 to retry, 0 refused" in out
    assert_each_message_delivered_exactly_once(url, smtp)
    assert len(smtp.recorder.received) > 20


def test_killed_mid_sync_rerun_gives_the_same_calendar_as_a_clean_run(tmp_path):
    clean = tmp_path / "clean"
    killed = tmp_path / "killed"

    def sync(data: Path) -> subprocess.Popen[str]:
        env = {**os.environ, "GOVCAL_DATA_DIR": str(data)}
        return subprocess.Popen(
            [*GOVCAL, "sync", "--as-of", DAY],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    assert sync(clean).wait(timeout=120) == 0
    victim = sync(killed)
    database = killed / "govcal.db"
    while not database.exists() and victim.poll() is None:  # killed once it is writing
        time.sleep(0.001)  # a spin here took a core from the starting victim
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    rerun = sync(killed)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read() if rerun.stderr else ""

    def calendar(data: Path) -> list[tuple[str, str]]:
        with session_scope(f"sqlite:///{data / 'govcal.db'}") as s:
            return sorted((o.public_id, str(o.due)) for o in s.exec(select(OccurrenceRow)))

    assert calendar(killed) == calendar(clean)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_sweeps_at_once_send_each_message_once(tmp_path, smtp, database, request):
    if database == "sqlite":
        url = request.getfixturevalue("sqlite_copy")
    else:
        url = prepared(request.getfixturevalue("migrated_postgres_url"))
    env = env_for(url, smtp)
    runs = [notify(env), notify(env)]
    results = [r.communicate(timeout=180) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [err for _out, err in results]
    assert_each_message_delivered_exactly_once(url, smtp)
    assert len(smtp.recorder.received) > 20


ANOTHER_HOST = [
    "unshare",
    "--user",
    "--map-root-user",
    "--uts",
    "--",
    "sh",
    "-c",
    'hostname another-host && exec "$@"',
    "sh",
]


def _can_be_another_host() -> bool:
    probe = subprocess.run([*ANOTHER_HOST, "true"], capture_output=True, check=False)
    return shutil.which("unshare") is not None and probe.returncode == 0


@pytest.mark.parametrize("host", ["same host", "another host"])
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_run_still_sending_keeps_its_claim_past_the_lease(
    tmp_path, smtp, database, host, request
):
    """A run on a slow relay delivers for longer than a claim's lease (15 minutes by
    default; 3 s here, the clock the lease is measured by): a second notify started two
    lease lengths in, from this host or another one (its own hostname: the pid cannot be
    checked), must not take what the first still sends. Before leases were renewed it
    took every row not yet sent, and their recipients got each message twice."""
    if host == "another host" and not _can_be_another_host():
        pytest.skip("no user namespaces here to give a process another hostname")
    if database == "sqlite":
        url = request.getfixturevalue("sqlite_copy")
    else:
        url = prepared(request.getfixturevalue("migrated_postgres_url"))
    smtp.recorder.delay = 0.5  # a relay taking half a second a message: 20+ of them
    env = {**env_for(url, smtp), "GOVCAL_CLAIM_LEASE": "3"}
    first = notify(env)
    while len(smtp.recorder.received) < 12 and first.poll() is None:  # 6 s: 2 leases
        time.sleep(0.05)
    assert first.poll() is None, "the first run ended before the lease ran out twice"
    command = [*GOVCAL, "notify", "--as-of", DAY]
    if host == "another host":
        command = [*ANOTHER_HOST, *command]
    second = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    results = [first.communicate(timeout=180), second.communicate(timeout=180)]
    assert [first.returncode, second.returncode] == [0, 0], [err for _out, err in results]
    assert_each_message_delivered_exactly_once(url, smtp)
    assert len(smtp.recorder.received) > 20
    got = Counter(rcpt.lower() for r in smtp.recorder.received for rcpt in r.rcpt_tos)
    keys = {(r.recipient.lower(), r.message_key) for r in ledger(url) if r.status == "sent"}
    sent = Counter(recipient for recipient, _key in keys)
    assert got == sent  # nobody got a message the ledger does not record once


FULL_OUTBOX = [
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--",
    "sh",
    "-c",
    'mount -t tmpfs -o size=40k tmpfs "$GOVCAL_OUTBOX_DIR" || exit 99; "$@"; '
    'echo "exit $?"; ls -A "$GOVCAL_OUTBOX_DIR"',
    "sh",
]


def test_a_full_outbox_leaves_no_half_written_files_and_the_mail_waits(sqlite_copy, tmp_path):
    """Found: an outbox on a full disk kept a zero-byte `.tmp-*.eml` for every message
    it could not write, run after run. The outbox here is a real 40 KB file system
    (tmpfs, in a mount namespace of the notify process's own)."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    env = {
        **os.environ,
        "GOVCAL_DATABASE_URL": sqlite_copy,
        "GOVCAL_TRANSPORT": "outbox",
        "GOVCAL_OUTBOX_DIR": str(outbox),
    }
    done = subprocess.run(
        [*FULL_OUTBOX, *GOVCAL, "notify", "--as-of", DAY],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode == 99 or "exit " not in done.stdout:
        pytest.skip(f"no mount namespace for a small file system here: {done.stderr[-200:]}")
    lines = done.stdout.splitlines()
    exit_line = next(i for i, line in enumerate(lines) if line.startswith("exit "))
    files = lines[exit_line + 1 :]
    assert lines[exit_line] == "exit 3", done.stdout  # what did not fit waits for a retry
    assert "No space left on device" in done.stdout
    assert files and all(f.endswith(".eml") for f in files)  # some fitted
    assert not [f for f in files if f.startswith(".tmp-")], files
    written = {f.removesuffix(".eml") for f in files}
    sent = {r.message_key for r in ledger(sqlite_copy) if r.status == "sent"}
    assert sent == written  # the ledger says sent exactly what is in the outbox


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _both_blocked(url: str, runs: list[subprocess.Popen[str]]) -> bool:
    """Both notify processes wait for the test's lock on the ledger (PostgreSQL: in
    pg_stat_activity; SQLite: their CPU time stands still for a second)."""
    if url.startswith("sqlite"):
        before = [_cpu_ticks(r.pid) for r in runs]
        time.sleep(1)
        return before == [_cpu_ticks(r.pid) for r in runs]
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row) and row[0] >= len(runs)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_runs_at_once_report_only_what_each_planned(smtp, database, request):
    """Found: two notifies at once both said "newly planned 1000" for the same rows.
    Both have read the ledger before either writes (the test holds the write until
    then); each reports what it inserted, so the two reports add up to the ledger."""
    if database == "sqlite":
        url = request.getfixturevalue("sqlite_copy")
    else:
        url = prepared(request.getfixturevalue("migrated_postgres_url"))
    env = {**env_for(url, smtp), "GOVCAL_DB_LOCK_TIMEOUT": "300"}
    if database == "sqlite":
        holder = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    else:
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        holder = psycopg.connect(plain)
        holder.execute("LOCK TABLE notification_ledger IN EXCLUSIVE MODE")  # reads still go
    try:
        runs = [notify(env), notify(env)]
        started = time.monotonic()
        while not _both_blocked(url, runs) and time.monotonic() - started < 120:
            time.sleep(0.2)
    finally:
        holder.rollback() if database != "sqlite" else holder.execute("ROLLBACK")
        holder.close()
    results = [r.communicate(timeout=180) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [err for _out, err in results]
    reported: Counter[str] = Counter()
    for out, _err in results:
        [line] = [x for x in out.splitlines() if "newly planned" in x]
        for count, kind in re.findall(r"(\d+) (\w+)", line.partition("newly planned")[2]):
            reported[kind] += int(count)
    word = {"skipped": "skip", "flagged": "flag"}
    in_ledger = Counter(word.get(r.status, r.kind) for r in ledger(url) if r.kind != "failure")
    assert reported == in_ledger


def test_a_slow_relay_still_gets_every_message_once(sqlite_copy, smtp):
    url = sqlite_copy
    smtp.recorder.delay = 0.2  # a relay that takes 200 ms to accept each message
    run = notify(env_for(url, smtp))
    out, err = run.communicate(timeout=180)
    assert run.returncode == 0, err
    assert "0 to retry" in out
    assert_each_message_delivered_exactly_once(url, smtp)


def test_a_database_locked_by_another_writer_is_a_clear_error_and_writes_nothing(
    tmp_path, migrated_data
):
    data = tmp_path / "data"  # its govcal.db migrated already (a copy: migrated_data)
    env = {**os.environ, "GOVCAL_DATA_DIR": str(data), "GOVCAL_DB_LOCK_TIMEOUT": "1"}
    holder = sqlite3.connect(data / "govcal.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process mid-write
    try:
        locked = subprocess.run(
            [*GOVCAL, "sync", "--as-of", DAY],
            env=env,
            text=True,
            capture_output=True,
            check=False,
            timeout=120,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert locked.returncode == 1
    assert "another govcal process holds a write lock" in locked.stderr
    assert "Traceback" not in locked.stderr
    with sqlite3.connect(data / "govcal.db") as db:
        assert db.execute("select count(*) from occurrence").fetchone() == (0,)
    after = subprocess.run([*GOVCAL, "sync", "--as-of", DAY], env=env, check=False)
    assert after.returncode == 0  # once the lock is gone, the same command just works


@pytest.mark.parametrize("delay_ms", [0, 10, 20, 40])
def test_killed_mid_migration_the_next_run_migrates_cleanly(tmp_path, delay_ms):
    """Python's sqlite3 commits before each CREATE TABLE: a first run killed while it
    built the schema used to leave half of it, and every later run failed."""
    env = {**os.environ, "GOVCAL_DATA_DIR": str(tmp_path)}
    victim = subprocess.Popen(
        [*GOVCAL, "db", "upgrade"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    database = tmp_path / "govcal.db"
    while not database.exists() and victim.poll() is None:
        time.sleep(0.001)  # a spin here took a core from the starting victim
    started = time.monotonic()
    while time.monotonic() - started < delay_ms / 1000:  # somewhere inside the migration
        pass
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    rerun = subprocess.run(
        [*GOVCAL, "sync", "--as-of", DAY],
        env=env,
        text=True,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
