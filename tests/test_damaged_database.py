"""A damaged or emptied SQLite database: one line saying so and how to restore a backup,
exit 1, nothing written; never a traceback, and never a fresh sample poured into the
live file."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.paths import GOVCAL
from tests.support.snapshots import copy_data


def govcal(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVCAL_DATA_DIR": str(folder)}
    env.pop("GOVCAL_DATABASE_URL", None)
    env.pop("PREFECT_HOME", None)
    return subprocess.run(
        [*GOVCAL, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def damaged(sample_data, tmp_path_factory) -> Path:
    """The sample, synced, then noise over the page at the root of its occurrence table
    (past the header and the schema, which open fine)."""
    folder = copy_data(sample_data, tmp_path_factory.mktemp("damaged") / "data")
    assert govcal(folder, "sync", "--as-of", "2026-11-24").returncode == 0
    database = folder / "govcal.db"
    with closing(sqlite3.connect(database)) as connection:  # every page in the file itself
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        [(size,)] = connection.execute("PRAGMA page_size").fetchall()
        [(root,)] = connection.execute(  # the occurrence table's root: every command reads it
            "SELECT rootpage FROM sqlite_master WHERE name = 'occurrence'"
        ).fetchall()
    damage_at = (root - 1) * size
    assert root > 1  # not the first page: the header and the schema stay whole
    with database.open("r+b") as handle:
        handle.seek(damage_at)
        handle.write(random.Random(21).randbytes(size))
    return folder


@pytest.mark.parametrize(
    "command", [["status"], ["notify", "--as-of", "2026-11-24"], ["sync", "--as-of", "2026-11-24"]]
)
def test_a_damaged_page_is_one_line_saying_how_to_restore_a_backup(damaged, tmp_path, command):
    folder = copy_data(damaged, tmp_path / "data")
    before = (folder / "govcal.db").read_bytes()
    result = govcal(folder, *command)
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = result.stderr.splitlines()
    database = folder / "govcal.db"
    # SQLite's own words depend on the page hit ("database disk image is malformed",
    # "file is not a database"): govcal's line quotes them
    assert line.startswith(f"Error: the database {database} is damaged (")
    assert "); restore it from your latest backup" in line
    assert "GOVCAL_DATABASE_URL" not in line  # the URL is right: the file is damaged
    assert f"copy the backup over {database}, delete {database}-wal" in line
    assert database.read_bytes() == before
    assert not list((folder / "outbox").glob("*.eml"))


def test_an_empty_database_file_is_refused_not_filled_with_the_sample(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "govcal.db").touch()
    result = govcal(folder, "run", "--as-of", "2026-11-24")
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = result.stderr.splitlines()
    database = folder / "govcal.db"
    assert line.startswith(
        f"Error: the database {database} is an empty file (0 bytes), so "
        "its data is gone; restore it from your latest backup"
    )
    assert line.endswith("or delete the empty file to start a new database")
    assert (folder / "govcal.db").stat().st_size == 0
    assert "SAMPLE" not in result.stdout
    assert not (folder / "outbox").exists() and not (folder / "feeds").exists()


def test_a_damaged_header_is_a_damaged_database_not_a_wrong_url(sample_data, tmp_path):
    folder = copy_data(sample_data, tmp_path / "data")
    with (folder / "govcal.db").open("r+b") as handle:
        handle.write(random.Random(9).randbytes(100))
    result = govcal(folder, "status")
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"Error: the database {folder / 'govcal.db'} is damaged (file is not "
        "a database); restore it from your latest backup"
    )
