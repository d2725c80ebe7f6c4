"""Changes to one item from several people at once: each is applied on top of the one
before it, never on a copy read before another change landed. Real `govcal` processes,
a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from govcal.models.calendar import OccurrenceRow
from govcal.models.db import session_scope
from govcal.models.trail import TrailEntry
from tests.support.paths import GOVCAL

MOVES = 5


def _meeting(url: str) -> tuple[str, int]:
    """A meeting a month or more ahead: its public id and its SEQUENCE."""
    soon = date.today() + timedelta(days=30)
    with session_scope(url) as s:
        row = s.exec(
            select(OccurrenceRow)
            .where(col(OccurrenceRow.starts_at).is_not(None), OccurrenceRow.due >= soon)
            .order_by(OccurrenceRow.due)
        ).first()
        assert row is not None
        return row.public_id, row.sequence


def _opened_the_database(pid: int, database: Path) -> bool:
    try:
        return any(
            Path(os.readlink(f"/proc/{pid}/fd/{fd}")) == database
            for fd in os.listdir(f"/proc/{pid}/fd")
        )
    except OSError:
        return False


class _Writer:
    """Another writer holding the row (PostgreSQL) or the file (SQLite) while the five
    processes start, so that all five have read the item before any of them may write."""

    def __init__(self, url: str, public_id: str):
        self.url, self.public_id = url, public_id

    def __enter__(self) -> _Writer:
        if self.url.startswith("sqlite"):
            self.path = Path(make_url(self.url).database or "").resolve()
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("BEGIN IMMEDIATE")
        else:
            plain = make_url(self.url).set(drivername="postgresql")
            self.db = psycopg.connect(plain.render_as_string(hide_password=False))
            self.db.execute(
                "SELECT 1 FROM occurrence WHERE public_id = %s FOR UPDATE", (self.public_id,)
            )
        return self

    def all_waiting(self, runs: list[subprocess.Popen[str]]) -> bool:
        if self.url.startswith("sqlite"):
            return all(_opened_the_database(r.pid, self.path) for r in runs)
        with psycopg.connect(
            make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
        ) as probe:
            waiting = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            ).fetchone()
        return bool(waiting) and waiting[0] >= len(runs)

    def __exit__(self, *_exc: object) -> None:
        if self.url.startswith("sqlite"):
            self.db.execute("ROLLBACK")
        else:
            self.db.rollback()
        self.db.close()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_five_people_moving_one_meeting_at_once_get_five_invite_versions(
    database, request, tmp_path
):
    if database == "sqlite":
        url = request.getfixturevalue("migrated_copy")(tmp_path / "govcal.db")
    else:
        url = request.getfixturevalue("migrated_postgres_url")
    env = {**os.environ, "GOVCAL_DATABASE_URL": url, "GOVCAL_DB_LOCK_TIMEOUT": "300"}
    synced = subprocess.run(
        [*GOVCAL, "sync", "-p", "wfscp"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert synced.returncode == 0, synced.stderr
    public_id, sequence = _meeting(url)
    day = date.today() + timedelta(days=40)
    with _Writer(url, public_id) as writer:
        runs = [
            subprocess.Popen(
                [
                    *GOVCAL,
                    "reschedule",
                    public_id,
                    "--to",
                    f"{day} {9 + n:02d}:00",
                    "--reason",
                    f"room clash {n}",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(MOVES)
        ]
        started = time.monotonic()
        while not writer.all_waiting(runs) and time.monotonic() - started < 120:
            time.sleep(0.1)
        time.sleep(0.5)  # from opening the file to reading the row (SQLite)
    results = [(r.wait(timeout=180), *r.communicate()) for r in runs]
    assert [code for code, _out, _err in results] == [0] * MOVES, results
    told = sorted(
        int(m) for _c, out, _e in results for m in re.findall(r"invite version (\d+)", out)
    )
    assert told == list(range(sequence + 1, sequence + MOVES + 1))  # each version once
    with session_scope(url) as s:
        final = s.exec(select(OccurrenceRow).where(OccurrenceRow.public_id == public_id)).one()
        trail = s.exec(
            select(TrailEntry).where(
                TrailEntry.entity_id == public_id, TrailEntry.action == "rescheduled"
            )
        ).all()
    assert final.sequence == sequence + MOVES
    befores = [t.before["starts_at"] for t in trail if t.before]
    assert len(trail) == MOVES and len(set(befores)) == MOVES  # each move from the last one
