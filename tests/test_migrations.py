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
