"""govcal's data is its user's alone, whatever the umask: the database, the outbox, the
packs and Prefect's home (found: they followed the umask, world-readable under the usual
022). The calendar feeds are published by a web server: 0644 files in 0755 folders."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.paths import GOVCAL


def govcal(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVCAL_DATA_DIR": str(folder)}
    env.pop("GOVCAL_DATABASE_URL", None)
    env.pop("PREFECT_HOME", None)
    return subprocess.run(
        [*GOVCAL, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(0o022),  # the usual default: files world-readable
    )


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_data_is_private_to_its_user_and_feeds_are_readable_by_a_web_server(tmp_path):
    data = tmp_path / "data"
    ran = govcal(data, "run", "--as-of", "2026-11-24")
    assert ran.returncode == 0, ran.stderr
    packed = govcal(data, "pack", "-p", "wfscp", "--year", "2026")
    assert packed.returncode == 0, packed.stderr

    assert mode(data / "govcal.db") == 0o600
    assert all(mode(p) == 0o600 for p in data.glob("govcal.db-*"))  # its -wal and -shm
    assert mode(data / "prefect") == 0o700
    mail = list((data / "outbox").glob("*.eml"))
    assert mail and mode(data / "outbox") == 0o700 and {mode(m) for m in mail} == {0o600}
    packs = list((data / "packs").iterdir())
    assert len(packs) == 3 and mode(data / "packs") == 0o700  # markdown, HTML, CSV
    assert {mode(p) for p in packs} == {0o600}

    feeds = data / "feeds"
    files = [p for p in feeds.rglob("*.ics")]
    folders = [feeds, *(p for p in feeds.rglob("*") if p.is_dir())]
    assert len(files) > 100 and {mode(f) for f in files} == {0o644}
    assert {mode(f) for f in folders} == {0o755}
