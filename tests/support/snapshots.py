"""Data folders built once and copied per test: for state a test reads but does not need
to make itself (each copy is a real SQLite file and outbox, changed by that test alone)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def data_folder(folder: Path) -> Iterator[Path]:
    """govcal's settings pointed at `folder`, as tests/conftest.py's isolated_settings
    does for one test, while a module- or session-scoped fixture builds its data there.
    The engine is closed afterwards so the folder can be copied whole."""
    from govcal.models.db import get_engine
    from govcal.models.settings import get_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GOVCAL_DATA_DIR", str(folder))
        patch.delenv("PREFECT_HOME", raising=False)
        patch.delenv("GOVCAL_DATABASE_URL", raising=False)
        patch.setenv("GOVCAL_ACTOR", "test-user")
        get_settings.cache_clear()
        try:
            yield folder
        finally:
            get_engine(f"sqlite:///{folder / 'govcal.db'}").dispose()
            get_settings.cache_clear()


def copy_data(snapshot: Path, folder: Path) -> Path:
    """A test's own copy of a built data folder (its database, outbox and feeds)."""
    shutil.copytree(snapshot, folder, dirs_exist_ok=True)
    return folder
