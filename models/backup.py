"""Backups of govcal's database and their restore, safe while govcal runs.

SQLite: the online backup API copies a consistent snapshot page by page while other
connections keep reading and writing (WAL). PostgreSQL: `pg_dump -Fc` and `pg_restore`,
the server's own tools, when they are on PATH; otherwise the error says what to run.
A restore checks that the file is a govcal database at a revision this release knows,
and never replaces a database that holds records unless told to.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from govcal.models.db import DatabaseUnavailable, get_engine, head_revision, known_revisions
from govcal.models.settings import redact_url
from govcal.rules.errors import Refused

# Tables whose rows are people's records: a database holding any is not replaced unasked.
RECORD_TABLES = ("partnership", "occurrence", "person", "audit_trail")


class BackupRefused(Refused):
    """The backup or restore cannot go ahead; the message says why and what to do."""


def backup(url: str, destination: Path) -> str:
    """Copy the database at `url` into the new file `destination`; returns how."""
    if destination.exists():
        raise BackupRefused(f"{destination} already exists; name a new file")
    if not destination.parent.is_dir():
        raise BackupRefused(f"the folder {destination.parent} does not exist; create it first")
    if _is_sqlite(url):
        source = _sqlite_path(url)
        if not source.is_file():
            raise BackupRefused(f"{source} does not exist; there is no database to back up")
        partial = destination.with_name(destination.name + ".partial")
        try:
            with _sqlite(source) as db, _sqlite(partial) as copy:
                db.backup(copy)  # one consistent snapshot; writers carry on (WAL)
            _check_govcal(partial, f"{source}")
            partial.replace(destination)  # a backup file is whole or absent
        finally:
            partial.unlink(missing_ok=True)
        return "SQLite online backup"
    _run(_pg_tool("pg_dump", url, destination), ["-Fc", "-f", str(destination)], url)
    return "pg_dump -Fc"


def restore(url: str, source: Path, *, replace: bool = False) -> str:
    """Put the backup `source` in place of the database at `url`; returns its revision."""
    if not source.is_file():
        raise BackupRefused(f"{source} is not a file; give the path of a backup")
    if _is_sqlite(url):
        revision = _check_govcal(source, str(source))
        target = _sqlite_path(url)
        if target.exists() and not replace and _holds_records(url):
            raise BackupRefused(_in_use(url))
        target.parent.mkdir(parents=True, exist_ok=True)
        with _sqlite(source) as backup_db, _sqlite(target) as live:
            backup_db.backup(live)  # through SQLite's locks: open connections see it whole
        return revision
    revision = _pg_revision(url, source)
    if not replace and _holds_records(url):
        raise BackupRefused(_in_use(url))
    options = ["--clean", "--if-exists", "--no-owner", "--single-transaction"]
    _run(_pg_tool("pg_restore", url, source), [*options, str(source)], url)
    return revision


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupRefused(f"{redact_url(url)} is not a file; nothing to back up")
    return Path(path)


class _sqlite:
    """A plain sqlite3 connection, closed on exit (sqlite3's own context only commits)."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, timeout=30)

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *_exc: object) -> None:
        self.connection.close()


def _check_govcal(path: Path, what: str) -> str:
    """The revision of the govcal database in the SQLite file `path`, or BackupRefused."""
    try:
        with _sqlite(path) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            rows = (
                db.execute("SELECT version_num FROM alembic_version").fetchall()
                if ("alembic_version" in tables)
                else []
            )
    except sqlite3.DatabaseError:
        raise BackupRefused(f"{what} is not a SQLite database") from None
    if "occurrence" not in tables or len(rows) != 1:
        raise BackupRefused(f"{what} is not a govcal database (no govcal schema in it)")
    return _known(rows[0][0], what)


def _known(revision: str, what: str) -> str:
    if revision not in known_revisions():
        raise BackupRefused(
            f"{what} is at revision {revision}, which this release of govcal does not know "
            f"(its newest is {head_revision()}); restore it with the release that made it"
        )
    return revision


def _holds_records(url: str) -> bool:
    try:
        with get_engine(url).connect() as connection:
            for table in RECORD_TABLES:
                try:
                    found = connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first()
                except DBAPIError:  # no such table: a database not made yet
                    connection.rollback()
                    continue
                if found is not None:
                    return True
    except DatabaseUnavailable:
        return False
    return False


def _in_use(url: str) -> str:
    return (
        f"{redact_url(url)} holds records; restoring would replace them. Back it up first "
        "(govcal db backup PATH), then run the restore again with --replace"
    )


def _pg_tool(tool: str, url: str, path: Path) -> list[str]:
    found = shutil.which(tool)
    if found is None:
        shown = redact_url(_libpq(url))
        command = (
            f"pg_dump -Fc -f {path} '{shown}'"
            if tool == "pg_dump"
            else f"pg_restore --clean --if-exists --no-owner -d '{shown}' {path}"
        )
        raise BackupRefused(
            f"{tool} is not on PATH: install PostgreSQL's client tools (the server's major "
            f"version; Debian: apt install postgresql-client) or run: {command}"
        )
    return [found]


def _libpq(url: str) -> str:
    """The URL as libpq reads it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str], arguments: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL client tool on the database; the password goes by environment,
    never on the command line where `ps` shows it."""
    parsed = make_url(_libpq(url))
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    target = parsed.set(password=None).render_as_string(hide_password=False)
    flag = "-d" if command[0].endswith("pg_restore") else "--dbname"
    done = subprocess.run(
        [*command, *arguments, flag, target], capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupRefused(f"{Path(command[0]).name} failed: {last}")
    return done


def _pg_revision(url: str, source: Path) -> str:
    """The revision recorded in a pg_dump archive (its alembic_version table's data)."""
    tool = _pg_tool("pg_restore", url, source)[0]
    listing = subprocess.run([tool, "-l", str(source)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise BackupRefused(f"{source} is not a pg_dump archive (pg_dump -Fc)")
    if " occurrence " not in listing.stdout or " alembic_version " not in listing.stdout:
        raise BackupRefused(f"{source} is not a govcal database (no govcal schema in it)")
    data = subprocess.run(
        [tool, "--data-only", "--table=alembic_version", "-f", "-", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = data.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("COPY ")), None)
    values = lines[start + 1 : lines.index("\\.", start)] if start is not None else []
    if len(values) != 1:
        raise BackupRefused(f"{source} records no single govcal revision")
    return _known(values[0].strip(), str(source))
