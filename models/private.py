"""govcal's data is its user's alone: the database, the evidence store, the outbox, the
packs and Prefect's home are created readable by that user only, whatever the umask
(they hold names, addresses and safeguarding records). The calendar feeds are the one
exception: a web server publishes them, so they are 0644 files in 0755 folders
(notifications/feeds.py)."""

from __future__ import annotations

import os
from pathlib import Path

FOLDER = 0o700
FILE = 0o600
READ_ONLY = 0o400  # a stored evidence copy: what was recorded cannot change


def private_folder(path: Path) -> Path:
    """`path` made if missing, then readable by this user only; a folder that already
    exists keeps the modes its operator gave it (the files inside are private anyway)."""
    if not path.is_dir():
        path.mkdir(mode=FOLDER, parents=True, exist_ok=True)
        os.chmod(path, FOLDER)  # mkdir's mode passes through the umask
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `path` readable by this user only from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), FILE)  # an existing file keeps its mode in os.open
        handle.write(data)
