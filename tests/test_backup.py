"""`govcal db backup` and `govcal db restore`: a copy taken while govcal writes, put back
and read by `govcal status` as it was; a restore never replaces records unasked and only
takes a govcal database this release knows."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from govcal.models.db import head_revision
from tests.support.paths import GOVCAL
from tests.support.snapshots import copy_data

DAY = "2026-11-24"


def govcal(*args: str, data: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVCAL_DATA_DIR": str(data)}
    env.pop("GOVCAL_DATABASE_URL", None)
    if url:
        env["GOVCAL_DATABASE_URL"] = url
    return subprocess.run([*GOVCAL, *args], capture_output=True, text=True, check=False, env=env)


def status(data: Path, url: str | None = None) -> list[dict]:
    shown = govcal("status", "--json", "--as-of", DAY, "--ahead", "400", data=data, url=url)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


@pytest.fixture
def synced(sample_data, tmp_path) -> Path:
    """A data folder holding the sample partnerships' directory and calendar."""
    data = copy_data(sample_data, tmp_path / "live")
    done = govcal("sync", "--as-of", DAY, data=data)
    assert done.returncode == 0, done.stderr
    return data


def test_a_backup_taken_while_govcal_writes_restores_to_what_status_showed(synced, tmp_path):
    before = status(synced)
    writer = sqlite3.connect(synced / "govcal.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process mid-write, its lock held
    writer.execute("UPDATE occurrence SET lifecycle = 'waived' WHERE id = 1")
    copy = tmp_path / "backups" / "govcal-2026-11-24.db"
    copy.parent.mkdir()
    try:
        made = govcal("db", "backup", str(copy), data=synced)
    finally:
        writer.execute("COMMIT")  # the writer was never blocked; it finishes after
        writer.close()
    assert made.returncode == 0, made.stderr
    assert status(synced) != before  # the live database moved on

    fresh = tmp_path / "restored"
    restored = govcal("db", "restore", str(copy), data=fresh)
    assert restored.returncode == 0, restored.stderr
    assert f"revision {head_revision()}" in restored.stdout
    assert status(fresh) == before  # the snapshot, without the write in progress


def test_a_restore_never_replaces_records_unasked(synced, tmp_path):
    copy = tmp_path / "copy.db"
    assert govcal("db", "backup", str(copy), data=synced).returncode == 0
    refused = govcal("db", "restore", str(copy), data=synced)
    assert refused.returncode == 1
    assert "holds records" in refused.stderr and "--replace" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[1:] == ["Nothing was changed."]  # as every refusal
    replaced = govcal("db", "restore", str(copy), "--replace", data=synced)
    assert replaced.returncode == 0, replaced.stderr


def test_a_backup_never_overwrites_a_file(synced, tmp_path):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me", encoding="utf-8")
    refused = govcal("db", "backup", str(existing), data=synced)
    assert refused.returncode == 1 and "already exists" in refused.stderr
    assert existing.read_text(encoding="utf-8") == "keep me"


def test_a_restore_takes_only_a_govcal_database_of_a_known_revision(tmp_path):
    data = tmp_path / "data"
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE notes (line TEXT)").connection.close()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database\n" * 100, encoding="utf-8")
    for wrong, said in ((other, "not a govcal database"), (text_file, "not a SQLite")):
        refused = govcal("db", "restore", str(wrong), data=data)
        assert refused.returncode == 1 and said in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    future = tmp_path / "future.db"
    db = sqlite3.connect(future)
    db.executescript(
        "CREATE TABLE occurrence (id INTEGER);"
        "CREATE TABLE alembic_version (version_num TEXT);"
        "INSERT INTO alembic_version VALUES ('9999');"
    )
    db.close()
    refused = govcal("db", "restore", str(future), data=data)
    assert refused.returncode == 1 and "revision 9999" in refused.stderr, refused.stderr
    assert not (data / "govcal.db").exists() or status(data) == []


@pytest.mark.postgres
def test_postgresql_backup_and_restore_with_its_own_tools(postgres_url, tmp_path):
    """pg_dump -Fc of govcal's database; a record changed after it; the restore refused
    unasked, then with --replace the database reads as it did at the backup."""
    import shutil

    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not on PATH here")
    data = tmp_path / "data"
    for step in (("db", "upgrade"), ("sync", "--as-of", DAY)):
        done = govcal(*step, data=data, url=postgres_url)
        assert done.returncode == 0, done.stderr
    before = status(data, postgres_url)
    copy = tmp_path / "govcal.dump"
    made = govcal("db", "backup", str(copy), data=data, url=postgres_url)
    assert made.returncode == 0 and "pg_dump" in made.stdout, made.stderr
    waived = govcal("waive", before[0]["id"], "--reason", "test", data=data, url=postgres_url)
    assert waived.returncode == 0, waived.stderr
    assert status(data, postgres_url) != before
    refused = govcal("db", "restore", str(copy), data=data, url=postgres_url)
    assert refused.returncode == 1 and "holds records" in refused.stderr
    restored = govcal("db", "restore", str(copy), "--replace", data=data, url=postgres_url)
    assert restored.returncode == 0, restored.stderr
    assert status(data, postgres_url) == before


def test_a_backup_of_no_database_says_so_and_makes_none(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    refused = govcal("db", "backup", str(tmp_path / "copy.db"), data=data)
    assert refused.returncode == 1 and "no database to back up" in refused.stderr
    assert not (data / "govcal.db").exists() and not (tmp_path / "copy.db").exists()
