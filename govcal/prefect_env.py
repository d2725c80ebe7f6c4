"""Prefect settings for the embedded mode, applied before Prefect is imported.

Measured on these machines (shared/DESIGN.md section 7): the ephemeral API needs more
than the 20 s default to start on 2 cores, and analytics print a "database is locked"
traceback. Anything already set in the environment wins. Prefect creates its home
without parents, so on a fresh machine (no data folder yet) it would warn and then fail
to open its database: the folder is made here first.

If `govcal serve` keeps a Prefect server for this data folder (govcal/local_api.py),
the API is that server's: a run then takes seconds instead of starting Prefect's
ephemeral server (9-17 s). An explicit PREFECT_API_URL always wins.

Every Prefect server govcal starts asks for a login (Prefect's API auth string): whoever
reaches its port could otherwise read any Secret block and run any form under any name.
The string of the server `govcal serve` keeps is in `<prefect home>/api-auth`, readable
by its owner only; the UI's login page takes it as the password.

Every call to Prefect's API is bounded (PREFECT_API_REQUEST_TIMEOUT): a server that
accepts connections and never answers must not hold the day's mail.

The server is for a business team, not for selling Prefect Cloud: no upgrade prompts or
marketing banners (PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT), and its address opens
Prefect's V1 UI (PREFECT_SERVER_UI_V2_ENABLED=false; README, "Which Prefect UI"): a
paused form's Resume button is on the run's page, and a table artifact is one page
however many schools it lists. A browser that chose V2 (its V1/V2 switch) keeps V2.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from govcal.models.private import private_folder
from govcal.models.settings import get_settings

API_REQUEST_TIMEOUT_S = 20.0  # Prefect's default is 60 s a request, retried
UI_DEFAULTS = {  # what the business team sees at the server's address
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_SERVER_UI_V2_ENABLED": "false",  # V1 is the default UI; V2 one switch away
}


def auth_file(prefect_home: Path) -> Path:
    """Where the login of the server kept for this Prefect home is written."""
    return prefect_home / "api-auth"


def api_auth(prefect_home: Path) -> str:
    """The API auth string of the server kept for this Prefect home: the one in
    `api-auth`, made once (0600 from its first byte)."""
    path = auth_file(prefect_home)
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = None
    if kept:
        return kept
    value = "govcal:" + secrets.token_urlsafe(24)
    prefect_home.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if kept == "" else os.O_EXCL)
    try:  # an empty file (a disk filled up while it was written) is made again
        fd = os.open(path, flags, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(value + "\n")
    return value


def _protect_ephemeral() -> None:
    """Whatever temporary API this process starts (govcal's own, or Prefect's when a
    Secret block is read) asks for a login made for this process, never written down."""
    if os.environ.get("PREFECT_SERVER_API_AUTH_STRING"):
        return
    login = os.environ.get("PREFECT_API_AUTH_STRING") or secrets.token_urlsafe(24)
    os.environ["PREFECT_SERVER_API_AUTH_STRING"] = login
    os.environ["PREFECT_API_AUTH_STRING"] = login


def configure_prefect(*, reuse_server: bool = True) -> str | None:
    """Set Prefect's environment; returns the URL of the reused local API, if any."""
    settings = get_settings()
    defaults = {
        "PREFECT_HOME": str(settings.data_dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_API_REQUEST_TIMEOUT": str(API_REQUEST_TIMEOUT_S),
    } | UI_DEFAULTS
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    home = private_folder(Path(os.environ["PREFECT_HOME"]).expanduser())
    if os.environ.get("PREFECT_API_URL"):
        return None  # the operator's server, and their login for it
    from govcal.local_api import running

    server = running(home) if reuse_server else None
    if server is None:
        _protect_ephemeral()
        return None
    os.environ["PREFECT_API_URL"] = server.url
    os.environ["PREFECT_API_AUTH_STRING"] = api_auth(home)
    return server.url
