"""Persistence: settings, SQLModel tables, queries and the operations that change them.

Every line of SQL and every commit lives here; the caller opens one unit of work per
batch (models.db.session_scope) and models/ decides when it is committed (there, once,
but for the ledger and feed links, which commit before anything leaves).

Importing the package is light (every command reads models.settings, and `govcal plan`
must not pay for SQLAlchemy). The tables are registered on SQLModel.metadata by
`import models.tables`, which models.db and Alembic's env do; a name such as
`models.LedgerEntry` imports them on first use.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if not name[:1].isupper():  # submodules (models.ledger) are found by the import system
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    from govcal.models import tables

    try:
        return getattr(tables, name)
    except AttributeError:
        raise AttributeError(f"module 'models' has no attribute {name!r}") from None
