"""Shared fixtures only (builders and helpers: tests/support/; the process environment:
tests/support/environment.py). Every test gets its own data folder."""

from __future__ import annotations

import os
import shutil
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

pytest_plugins = [
    "tests.support.environment",  # Prefect's home, set before collection
    "tests.support.schedule",  # the longest tests first, for the two xdist workers
]

PG_ADMIN = os.environ.get("GOVCAL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def rule_file(tmp_path: Path):
    """Write a rule file from text (dedented) and return its path."""

    def write(text: str, name: str = "test.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


# --- database fixtures --------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Each test gets its own data folder and no database URL from the environment."""
    from govcal.models.settings import get_settings

    monkeypatch.setenv("GOVCAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PREFECT_HOME")  # subprocesses use GOVCAL_DATA_DIR/prefect, as users do
    monkeypatch.delenv("GOVCAL_DATABASE_URL", raising=False)
    monkeypatch.setenv("GOVCAL_ACTOR", "test-user")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _dispose(url: str) -> None:
    from govcal.models.db import get_engine

    get_engine(url).dispose()


def _admin() -> psycopg.Connection:
    """No server is a failure, not a skip: CI must prove the PostgreSQL path works."""
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN} ({exc}). Start it (see README, "
            "'Running the tests') or set GOVCAL_TEST_POSTGRES."
        )


@contextmanager
def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A brand-new database on the local server (a copy of `template` if given), dropped
    afterwards. Yields its URL."""
    name = f"govcal_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        copy = f' TEMPLATE "{template}"' if template else ""
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
    from sqlalchemy.engine import make_url

    admin_url = make_url(PG_ADMIN).set(drivername="postgresql+psycopg", database=name)
    url = admin_url.render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _dispose(url)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url():
    """A brand-new, empty PostgreSQL database on the local server, dropped afterwards."""
    with _postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """An empty SQLite database migrated to head once per test process; db_url copies it
    (a real upgrade per test cost 0.3-1 s on busy cores, for the same file)."""
    from govcal.models.db import upgrade

    path = tmp_path_factory.mktemp("migrated") / "govcal.db"
    upgrade(f"sqlite:///{path}")
    _dispose(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated_copy(migrated_sqlite):
    """Make a SQLite file at a path from the migrated template; returns its URL. For
    fixtures that need a migrated database but test no migration."""

    def copy(path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(migrated_sqlite, path)
        return f"sqlite:///{path}"

    return copy


@pytest.fixture
def migrated_data(migrated_copy, tmp_path) -> str:
    """The embedded default (the data folder's govcal.db) already migrated, as after a
    user's first command: for tests of later commands, not of the first one."""
    return migrated_copy(tmp_path / "data" / "govcal.db")


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to head once per test process: db_url
    creates each test's database from it (CREATE DATABASE ... TEMPLATE)."""
    from govcal.models.db import upgrade

    with _postgres_database() as url:
        upgrade(url)
        _dispose(url)  # a template must have no open connection
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def migrated_postgres_url(migrated_postgres) -> Iterator[str]:
    """A brand-new PostgreSQL database copied from the one migrated once per test process,
    dropped afterwards; its URL. For tests that need a migrated database on PostgreSQL but
    test no migration (alembic's sixteen steps cost seconds on busy cores)."""
    with _postgres_database(template=migrated_postgres) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """The URL of a migrated, empty database: a SQLite file, then a real PostgreSQL.

    A copy of a database migrated once per test process, unless the test is marked
    `migrate` (it is about the migrations): then alembic migrates this very database.
    """
    from govcal.models.db import upgrade

    migrate = request.node.get_closest_marker("migrate") is not None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'govcal.db'}"
        if migrate:
            upgrade(url)
        else:
            shutil.copyfile(request.getfixturevalue("migrated_sqlite"), tmp_path / "govcal.db")
        yield url
        _dispose(url)
        return
    if migrate:
        url = request.getfixturevalue("postgres_url")
        upgrade(url)
        yield url
        return
    with _postgres_database(template=request.getfixturevalue("migrated_postgres")) as url:
        yield url


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    """A data folder with the sample directory loaded (its history left out), as
    `govcal run` loads it on first use; made once per test process. A test copies it
    into its own data folder (tests.support.snapshots.copy_data)."""
    from govcal.cli.run import load_samples_if_empty
    from tests.support.snapshots import data_folder

    with data_folder(tmp_path_factory.mktemp("sample") / "data") as folder:
        load_samples_if_empty(history=False)
    return folder


@pytest.fixture(scope="session")
def sample_history_data(tmp_path_factory) -> Path:
    """A data folder with the sample directory and its year of history (up to 21 Nov
    2026), as the first `govcal run` loads it; made once per test process, copied by
    each test that uses it (tests.support.snapshots.copy_data)."""
    from govcal.cli.run import load_samples_if_empty
    from tests.support.snapshots import data_folder

    with data_folder(tmp_path_factory.mktemp("history") / "data") as folder:
        load_samples_if_empty(history=True)
    return folder


@pytest.fixture
def wfscp():
    from govcal.rules.loader import load_partnership

    return load_partnership("wfscp")


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts."""
    from tests.smtp_server import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prefect_server_url(tmp_path_factory) -> Iterator[str]:
    """One real `prefect server start` per test process, shared by the tests that deploy
    to a server and run a worker (xdist group "prefect-server": one worker starts it; each
    start cost about 25 s on busy cores). Each test keeps its own data folder and Prefect
    client home, deploys for itself and reads back only the runs and artifacts it made.
    Yields the base URL (http://127.0.0.1:PORT)."""
    from tests.cockpit_ui import prefect_server

    with prefect_server(tmp_path_factory.mktemp("prefect-server")) as base:
        yield base


@pytest.fixture(scope="session")
def prefect_api():
    """One Prefect test API per test process (prefect_test_harness), shared by every test
    that runs flows: each start costs 10-20 s on two busy cores. Tests using it share
    the xdist group "prefect", so one worker starts it once. Yields the API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield PREFECT_API_URL.value()
