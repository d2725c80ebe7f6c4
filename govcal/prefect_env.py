"""Prefect settings for the embedded mode, applied before Prefect is imported.

Measured on these machines (shared/DESIGN.md section 7): the ephemeral API needs more
than the 20 s default to start on 2 cores, and analytics print a "database is locked"
traceback. Anything already set in the environment wins. Prefect creates its home
without parents, so on a fresh machine (no data folder yet) it would warn and then fail
to open its database: the folder is made here first.

If `govcal serve` keeps a Prefect server for this data folder (govcal/local_api.py),
the API is that server's: a run then takes seconds instead of starting Prefect's
ephemeral server (9-17 s). An explicit PREFECT_API_URL always wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from models.settings import get_settings


def configure_prefect(*, reuse_server: bool = True) -> str | None:
    """Set Prefect's environment; returns the URL of the reused local API, if any."""
    settings = get_settings()
    defaults = {
        "PREFECT_HOME": str(settings.data_dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    home = Path(os.environ["PREFECT_HOME"]).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    if not reuse_server or os.environ.get("PREFECT_API_URL"):
        return None
    from govcal.local_api import running

    server = running(home)
    if server is None:
        return None
    os.environ["PREFECT_API_URL"] = server.url
    return server.url
