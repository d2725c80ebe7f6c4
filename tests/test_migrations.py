"""The committed migrations create exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import models.tables  # noqa: F401
from models.db import get_engine


@pytest.mark.migrate  # alembic builds this very database
def test_migrations_match_the_models(db_url):
    with get_engine(db_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == [], "models changed without a migration: generate one"


def test_the_head_read_from_source_is_alembics_head():
    from alembic.script import ScriptDirectory

    from models.db import alembic_config, head_revision

    expected = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head_revision() == expected


def test_the_head_is_read_however_a_revision_file_writes_it(tmp_path):
    from models.db import _head

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
