"""Engine, sessions and migrations. The only place that knows which database is in use.

The unit of work: one `session_scope` per batch (a command, a flow task, a form's
record), committed once when the batch ends and rolled back whole on any error, so a
half-done batch never stays. Only models/ writes SQL or commits (tests/test_import_graph.py
checks it); the functions of models/ take the caller's session and do not commit, with
two deliberate exceptions that commit before returning because something is about to
leave the database: the notification ledger (models/ledger.py: a claim is durable before
the message is sent, a mark right after) and feed links about to be given out
(models/feed_tokens.py).

Not every table is imported here: a session uses the tables its caller imported (no
table has an ORM relationship, so nothing is resolved across modules), and `govcal
status` need not build the ledger's, trail's and feeds' classes (about 0.04 s).
Migrations import them all (govcal.models.tables), as Alembic's env does.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlmodel import Session, create_engine

from govcal.models.settings import Settings, redact_url
from govcal.rules.errors import Unavailable

if TYPE_CHECKING:  # alembic (with mako and pygments) is imported only to migrate
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or opened; the message says what to check."""


@dataclass(frozen=True, slots=True)
class Database:
    """Which database a caller works on, as its settings say. `embedded`: the data
    folder's own SQLite file, which govcal creates and migrates on first use; any other
    database is only ever migrated by `govcal db upgrade`."""

    url: str
    embedded: bool = False
    lock_timeout: float = 30.0  # seconds a SQLite writer waits for another

    @classmethod
    def of(cls, where: Database | Settings | str) -> Database:
        """The database of validated settings, or one named by its URL (not embedded)."""
        if isinstance(where, Database):
            return where
        if isinstance(where, str):
            return cls(where)
        return cls(
            where.effective_database_url, where.uses_embedded_database, where.db_lock_timeout
        )


Where = Database | Settings | str  # what a caller names its database by


def _sqlite_pragmas(lock_timeout_ms: int) -> Callable[[Any, object], None]:
    def apply(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={lock_timeout_ms}")  # wait for another writer
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return apply


def _sqlite_folder(database: Database) -> None:
    """The folder of a SQLite file must exist. Only the embedded default (inside the data
    folder) is created; a configured path whose folder is missing is a typo, and creating
    /somewhere/far/away behind the operator's back would hide it."""
    url = database.url
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        return
    folder = Path(path).parent
    if database.embedded:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise DatabaseUnavailable(
            f"the folder {folder} of the database {redact_url(url)} does not exist; "
            "create it, or correct GOVCAL_DATABASE_URL"
        )
    if Path(path).exists() and not Path(path).is_file():
        raise DatabaseUnavailable(f"{path} is not a file; correct GOVCAL_DATABASE_URL")
    if not Path(path).exists():
        _create_sqlite(Path(path))
    elif Path(path).is_file() and Path(path).stat().st_size == 0:
        # SQLite would take it for a new database, and the first run would fill the
        # live file with the sample: a file govcal made is never empty (_create_sqlite),
        # so an empty one lost its contents
        raise DatabaseUnavailable(
            f"the database {path} is an empty file (0 bytes), so its data is gone; "
            f"{_restore(path)}, or delete the empty file to start a new database"
        )


def _create_sqlite(path: Path) -> None:
    """A new SQLite database appears whole: its first page written under another name,
    then linked into place. SQLite itself creates an empty file first, and a process
    killed then would leave a 0-byte file that nobody could tell from a database whose
    contents were lost."""
    import sqlite3

    from govcal.models.private import FILE

    partial = path.with_name(f".{path.name}.{os.getpid()}.new")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE))  # -wal, -shm too
    os.chmod(partial, FILE)
    connection = sqlite3.connect(partial)
    try:
        connection.execute("PRAGMA journal_mode=WAL")  # writes the header page
    finally:
        connection.close()
    try:
        os.link(partial, path)
    except FileExistsError:  # another process made it meanwhile: theirs is the one
        pass
    except OSError:  # a file system without hard links: a rename, still never empty
        if not path.exists():
            os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def make_engine(where: Where) -> Engine:
    database = Database.of(where)
    url = database.url
    if url.startswith("sqlite"):
        _sqlite_folder(database)
        timeout = database.lock_timeout
        engine = create_engine(url, connect_args={"timeout": timeout})
        event.listen(engine, "connect", _sqlite_pragmas(int(timeout * 1000)))
        return engine
    return create_engine(url, pool_pre_ping=True)


def keep_statistics(session: Session, tables: Sequence[str]) -> None:
    """ANALYZE each table that has grown by half since PostgreSQL last counted it.

    A bulk load (the first sync: ten years of every partnership) is one transaction,
    which autovacuum cannot see. Without statistics the planner guessed six times too
    few rows per page, and psycopg's prepared statements kept plans made while the table
    was nearly empty: a read by 500 ids scanned every row and matched it against the
    ids one by one (1-1.4 s against 0.015 s planned afresh), so the ten-year sync grew
    with the square of the partnerships. ANALYZE counts the transaction's own rows and
    makes PostgreSQL plan those statements again. The checks cost one query per table.
    SQLite is given no statistics: its reads are shaped for its planner (queries.py)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        query = text(
            "SELECT relpages, pg_relation_size(oid) / current_setting('block_size')::int"
            " FROM pg_class WHERE oid = to_regclass(:table)"
        )
        row = session.execute(query, {"table": table}).first()
        if row is not None and row[1] > GROWTH * row[0] + 8:
            quoted = session.get_bind().dialect.identifier_preparer.quote(table)
            # SKIP_LOCKED: two syncs at once never wait on each other's ANALYZE (its lock
            # is held to the end of the transaction); the other one's counts will do
            session.execute(text(f"ANALYZE (SKIP_LOCKED) {quoted}"))


GROWTH = 1.5  # a table counted at N pages is counted again past 1.5 N (and 8 pages more)


_ENGINES: dict[str, Engine] = {}  # by URL: one pool per database file or server


def get_engine(where: Where) -> Engine:
    """The process's engine for the database, however the caller named it (settings or
    URL): two pools on one SQLite file would keep its write-ahead log open apart."""
    database = Database.of(where)
    engine = _ENGINES.get(database.url)
    if engine is None:
        engine = _ENGINES.setdefault(database.url, make_engine(database))
    return engine


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The revision alembic recorded in the database (None for an empty one), read with
    one query so that everyday commands need not import alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    if len(rows) > 1:  # several heads stamped: let alembic say what it is
        from alembic.runtime.migration import MigrationContext

        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    return rows[0][0] if rows else None


def head_revision() -> str | None:
    """The newest migration, from the revision files' source, without alembic.

    alembic's own ScriptDirectory imports every revision file and mako; this is the same
    answer for a single head (tests/test_migrations.py checks they agree)."""
    return _head(tuple(sorted((MIGRATIONS / "versions").glob("*.py"))))


def known_revisions() -> frozenset[str]:
    """Every revision this release's migrations know (a restored backup must be at one)."""
    return frozenset(
        str(value)
        for path in sorted((MIGRATIONS / "versions").glob("*.py"))
        for name, value in _identifiers(path.read_text(encoding="utf-8"))
        if name == "revision"
    )


# `revision: str = "0004"` and `down_revision: str | None = "0003"`, as alembic writes them
_ASSIGNED = re.compile(r"^(revision|down_revision)\b[^=\n]*=(.*)$", re.MULTILINE)


def _identifiers(source: str) -> list[tuple[str, object]]:
    """The file's revision and down_revision. Read from their own lines: parsing the
    whole file (the initial schema's is long) cost every command that opened the
    database about 7 ms. A value written over several lines is read the long way."""
    found = []
    for name, value in _ASSIGNED.findall(source):
        try:
            found.append((name, ast.literal_eval(value.strip())))
        except (SyntaxError, ValueError):  # e.g. a merge's tuple split over lines
            return _parsed(source)
    if not any(name == "revision" for name, _ in found):  # written some other way
        return _parsed(source)
    return found


def _parsed(source: str) -> list[tuple[str, object]]:
    """The same two names from the whole parsed file."""
    found: list[tuple[str, object]] = []
    for node in ast.parse(source).body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        named = isinstance(target, ast.Name) and target.id in ("revision", "down_revision")
        if named and isinstance(target, ast.Name) and value is not None:
            found.append((target.id, ast.literal_eval(value)))
    return found


@cache
def _head(files: tuple[Path, ...]) -> str | None:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in files:
        for name, value in _identifiers(path.read_text(encoding="utf-8")):
            if name == "revision":
                revisions.add(str(value))
            elif isinstance(value, str):
                parents.add(value)
            elif isinstance(value, tuple | list):  # a merge's parents
                parents.update(str(v) for v in value)
    heads = revisions - parents
    if len(heads) != 1:  # several heads or none: alembic explains it
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return heads.pop()


@contextmanager
def _migration_engine(database: Database) -> Iterator[Engine]:
    """For SQLite, a short-lived engine whose transactions cover DDL too.

    Python's sqlite3 commits before each CREATE TABLE, so a process killed mid-migration
    left half a schema and every later run failed with "table ... already exists". Here
    the driver's own transaction handling is off and each transaction is an explicit
    BEGIN IMMEDIATE: the whole migration lands, or none of it. Only migrations use it:
    everyday sessions keep the driver's behaviour, whose lock waits they rely on.
    """
    if not database.url.startswith("sqlite"):
        yield get_engine(database)
        return
    engine = make_engine(database)

    @event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        yield engine
    finally:
        engine.dispose()


def upgrade(where: Where) -> tuple[str | None, str | None]:
    """Apply every pending migration, all or nothing. Returns (revision before, after)."""
    import govcal.models.tables  # noqa: F401  every table, for the migrations' metadata

    database = Database.of(where)
    url = database.url
    try:
        with _migration_engine(database) as engine:
            before = current_revision(engine)
            from alembic import command

            with engine.begin() as connection:
                config = alembic_config(url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return before, current_revision(engine)
    except OperationalError as exc:
        raise DatabaseUnavailable(_explain(url, exc)) from None
    except DatabaseError:
        raise DatabaseUnavailable(_not_ours(database)) from None


def _not_ours(database: Database) -> str:
    """A file SQLite cannot read: another kind of file (a wrong URL), or a damaged
    database (its header is SQLite's, or it is the embedded default govcal made)."""
    url = database.url
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    try:
        with open(path, "rb") as handle:
            header = handle.read(16)
    except OSError:
        header = b""
    if header == b"SQLite format 3\x00" or database.embedded:
        return _damaged(url, "file is not a database")
    return (
        f"{redact_url(url)} is not a govcal database (the file holds something else); "
        "correct GOVCAL_DATABASE_URL"
    )


def _restore(path: str) -> str:
    """How to put back a SQLite database from a backup, in one clause."""
    return (
        f"restore it from your latest backup (stop `govcal serve` and any worker, copy the "
        f"backup over {path}, delete {path}-wal and {path}-shm, then run the command again)"
    )


def _damaged(url: str, reason: str) -> str:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        return f"the database {path} is damaged ({reason}); {_restore(path)}"
    return (
        f"the database {redact_url(url)} reports damage ({reason}); "
        "restore it from your latest backup (pg_restore), then run the command again"
    )


def _is_damage(exc: DatabaseError) -> bool:
    """SQLite's (and PostgreSQL's) words for pages that are not what was written; not a
    refused row (IntegrityError and the other subclasses are the caller's business)."""
    reason = str(exc.orig or "").lower()
    return type(exc) is DatabaseError and any(
        word in reason for word in ("malformed", "not a database", "corrupt")
    )


def ensure_schema(where: Where) -> Engine:
    """The engine, with the schema at head.

    The embedded SQLite default is migrated on first use; a configured database
    (PostgreSQL in production) is never changed behind the operator's back: they are
    told to run `govcal db upgrade`.
    """
    database = Database.of(where)
    url = database.url
    engine = get_engine(database)
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise DatabaseUnavailable(_explain(url, exc)) from None
    except DatabaseError:  # e.g. GOVCAL_DATABASE_URL=sqlite:////etc/passwd
        raise DatabaseUnavailable(_not_ours(database)) from None
    if current == head_revision():
        return engine
    if database.embedded:
        upgrade(database)
        return engine
    state = "has no govcal schema" if current is None else f"is at revision {current}"
    raise DatabaseUnavailable(
        f"the database {redact_url(url)} {state}; run `govcal db upgrade` to migrate it"
    )


def _explain(url: str, exc: OperationalError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if "locked" in reason:
        hint = "another govcal process holds a write lock; wait for it or stop it"
    elif url.startswith("sqlite"):
        hint = "check that the data folder exists and is writable (GOVCAL_DATA_DIR)"
    else:
        hint = "check GOVCAL_DATABASE_URL and that the server is running and reachable"
    return f"cannot use the database {redact_url(url)}: {reason}; {hint}"


def _unavailable(url: str, exc: DatabaseError) -> DatabaseUnavailable | None:
    """What a failed statement means to the person running govcal, or None for an error
    that is a fault in govcal (raised as it is)."""
    if isinstance(exc, OperationalError):  # locked, or the server went away
        return DatabaseUnavailable(_explain(url, exc))
    if not _is_damage(exc):
        return None
    reason = str(exc.orig).strip().splitlines()[0]
    return DatabaseUnavailable(_damaged(url, reason))


@contextmanager
def session_scope(where: Where, *, checked: bool = False) -> Iterator[Session]:
    """One batch's unit of work on the database the caller's settings (or URL) name: a
    session in one transaction, committed once on success, rolled back on any error (see
    the module docstring for the two exceptions that commit earlier). `checked`: the
    caller ran ensure_schema when it started (a long-running server), so the schema is not
    read again for every request."""
    database = Database.of(where)
    url = database.url
    engine = get_engine(database) if checked else ensure_schema(database)
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except DatabaseError as exc:
            session.rollback()
            explained = _unavailable(url, exc)
            if explained is None:
                raise
            raise explained from None
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(where: Where) -> Iterator[Connection]:
    """A pooled connection for a few reads on a server's hot path (a feed's poll): no
    ORM session and nothing written, so a request costs its statements and little else.
    The caller ran ensure_schema when it started; errors read as session_scope's."""
    database = Database.of(where)
    try:
        with get_engine(database).connect() as connection:
            yield connection
    except DatabaseError as exc:
        explained = _unavailable(database.url, exc)
        if explained is None:
            raise
        raise explained from None
