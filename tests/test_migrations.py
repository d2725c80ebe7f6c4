"""The committed migrations create exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import govcal.models.tables  # noqa: F401
from govcal.models.db import get_engine


@pytest.mark.migrate  # alembic builds this very database
def test_migrations_match_the_models(db_url):
    with get_engine(db_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == [], "models changed without a migration: generate one"


def test_the_head_read_from_source_is_alembics_head():
    from alembic.script import ScriptDirectory

    from govcal.models.db import alembic_config, head_revision

    expected = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head_revision() == expected


def test_the_head_is_read_however_a_revision_file_writes_it(tmp_path):
    from govcal.models.db import _head

    files = {
        "a.py": '"""First.\n\nrevision = "x" in prose is not an assignment\n"""\n'
        'revision: str = "a"\ndown_revision: str | None = None\n',
        "b.py": 'revision = "b"  # a comment\ndown_revision = "a"\n',
        "c.py": 'revision = "c"\ndown_revision = "a"\n',
        "m.py": 'revision = "m"\ndown_revision = (\n    "b",\n    "c",\n)\n',  # a merge
    }
    for name, source in files.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    assert _head(tuple(sorted(tmp_path.glob("*.py")))) == "m"


PREVIOUS = "0002"  # the schema of the release before the last two migrations


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_database_of_an_older_release_migrates_forward_with_its_records(
    backend, request, tmp_path
):
    """A database left at an older revision, holding records, is brought to head by
    `govcal db upgrade`; `govcal status` then reads the same items, done and open."""
    import json
    import os
    import subprocess
    from datetime import UTC, date, datetime

    from alembic import command
    from sqlalchemy import MetaData, insert, select

    from govcal.models.db import alembic_config, head_revision
    from tests.support.paths import GOVCAL

    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    command.upgrade(alembic_config(url), PREVIOUS)  # as that release left it
    now = datetime(2026, 11, 1, 9, tzinfo=UTC)
    item = {
        "partnership_id": "wfscp",
        "rule_id": "lsp-meeting",
        "subject": "",
        "kind": "meeting",
        "title": "LSP meeting",
        "owner_role": "lsp",
        "rescheduled": False,
        "orphaned": False,
        "sequence": 0,
        "created_at": now,
        "updated_at": now,
    }
    engine = get_engine(url)
    tables = MetaData()
    tables.reflect(engine, only=["partnership", "occurrence", "feed_token"])
    with engine.begin() as connection:
        connection.execute(
            insert(tables.tables["partnership"]),
            [
                {
                    "id": "wfscp",
                    "name": "Westmorland and Furness",
                    "timezone": "Europe/London",
                    "rules_file": "wfscp.yaml",
                }
            ],
        )
        connection.execute(
            insert(tables.tables["occurrence"]),
            [
                {
                    **item,
                    "public_id": "wfscp:lsp-meeting:2026-11-11",
                    "period": "2026-11-11",
                    "due": date(2026, 11, 11),
                    "lifecycle": "completed",
                    "completed_at": date(2026, 11, 12),
                    "location": "Kendal Town Hall",
                },
                {
                    **item,
                    "public_id": "wfscp:lsp-meeting:2027-02-10",
                    "period": "2027-02-10",
                    "due": date(2027, 2, 10),
                    "lifecycle": "open",
                    "completed_at": None,
                    "location": None,
                },
            ],
        )
        connection.execute(
            insert(tables.tables["feed_token"]),
            [{"email": "chair@example.org", "token": "t" * 40, "created_at": now}],
        )
        before = connection.execute(select(tables.tables["occurrence"])).mappings().all()
    engine.dispose()

    env = {**os.environ, "GOVCAL_DATABASE_URL": url, "GOVCAL_DATA_DIR": str(tmp_path / "d")}
    upgraded = subprocess.run(
        [*GOVCAL, "db", "upgrade"], capture_output=True, text=True, env=env, check=False
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"migrated from {PREVIOUS} to {head_revision()}" in upgraded.stdout
    shown = subprocess.run(
        [
            *GOVCAL,
            "status",
            "--json",
            "--as-of",
            "2026-11-24",
            "--ahead",
            "120",
            "--partnership",
            "wfscp",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    states = {row["id"]: row["state"] for row in json.loads(shown.stdout)}
    assert states == {
        "wfscp:lsp-meeting:2026-11-11": "completed_late",
        "wfscp:lsp-meeting:2027-02-10": "upcoming",
    }, states
    engine = get_engine(url)
    after = MetaData()
    after.reflect(engine, only=["occurrence", "feed_token"])
    with engine.connect() as connection:
        rows = connection.execute(select(after.tables["occurrence"])).mappings().all()
        tokens = connection.execute(select(after.tables["feed_token"])).all()
    assert [{k: r[k] for k in before[0]} for r in rows] == [dict(r) for r in before]
    assert len(tokens) == 1
