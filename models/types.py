"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Dialect, Table
from sqlalchemy.orm import class_mapper
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as UTC and always gives back aware UTC datetimes.

    SQLite keeps no time zone; PostgreSQL does. This type makes both behave the same, so
    an instant read back compares equal to the one written, whatever the backend.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: type[Any]) -> Table:
    """The Core table a model maps to, for bulk statements that skip the ORM's objects."""
    table = class_mapper(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to one table")
    return table


def insert_on_conflict(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT that can take ON CONFLICT clauses, which both dialects spell alike; each
    dialect's module is imported once a statement for it is built."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
