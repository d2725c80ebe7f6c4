"""A pytest plugin (named in tests/conftest.py's `pytest_plugins`):
the process-wide environment every test run needs, set before any test module is
imported, and restored afterwards.

Prefect reads its home when first imported. It is pointed at a throwaway folder per
test process (each xdist worker has its own), so no test writes into the checkout (CI
may not allow it) or shares Prefect's database with another process.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

# Let pytest keep the test modules it rewrites for assertions (and Python any module it
# compiles) in __pycache__: with PYTHONDONTWRITEBYTECODE set, as on these machines, every
# test process rewrote all of tests/ again, about 3 s of CPU each. A read-only checkout
# just skips the write. Commands the tests start still inherit the variable.
sys.dont_write_bytecode = False

_SAVED: dict[str, str | None] = {}
_MADE: list[str] = []


def pytest_configure(config) -> None:
    home = tempfile.mkdtemp(prefix="govcal-prefect-")
    _MADE.append(home)
    for key, value in {"PREFECT_HOME": home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}.items():
        _SAVED[key] = os.environ.get(key)
        os.environ[key] = value


def pytest_unconfigure(config) -> None:
    for key, value in _SAVED.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    for folder in _MADE:
        shutil.rmtree(folder, ignore_errors=True)
