"""`--as-of` a day before the one mail last went out for, on a live database: anything
that sends refuses (one line, nothing changed) unless told `--allow-past-as-of`; a dry
run still shows that day."""

from __future__ import annotations

import os
import subprocess
from datetime import date

from sqlmodel import func, select

from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.ledger import LedgerEntry
from govcal.models.sync import sync_partnership
from govcal.rules.loader import load_partnerships
from tests.support.paths import GOVCAL, SAMPLE_DIRECTORY

LAST, EARLIER = "2026-10-05", "2026-09-28"


def test_notify_for_a_day_before_the_last_mailed_one_is_refused_unless_allowed(
    tmp_path, migrated_copy
):
    url = migrated_copy(tmp_path / "govcal.db")
    [wfscp] = [p for p in load_partnerships() if p.id == "wfscp"]
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, date.fromisoformat(EARLIER))
    outbox = tmp_path / "outbox"
    env = {**os.environ, "GOVCAL_DATABASE_URL": url, "GOVCAL_OUTBOX_DIR": str(outbox)}

    def notify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GOVCAL, "notify", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def rows() -> int:
        with session_scope(url) as s:
            return s.exec(select(func.count()).select_from(LedgerEntry)).one()

    assert notify("--as-of", LAST).returncode == 0
    mailed, planned = sorted(outbox.iterdir()), rows()
    assert mailed

    stale = notify("--as-of", EARLIER)
    assert stale.returncode == 1
    assert stale.stderr.strip().splitlines() == [
        f"Error: --as-of {EARLIER} is before {LAST}, the day mail last went out for: a run "
        f"for an earlier day sends reminders that are stale now. See them with `govcal "
        f"notify --as-of {EARLIER} --dry-run`, or add --allow-past-as-of to send them anyway."
    ]
    assert stale.stdout == ""
    assert sorted(outbox.iterdir()) == mailed and rows() == planned  # nothing changed

    assert notify("--as-of", EARLIER, "--dry-run").returncode == 0  # looking is fine
    assert notify("--as-of", LAST).returncode == 0  # the same day again: a normal rerun
    allowed = notify("--as-of", EARLIER, "--allow-past-as-of")
    assert allowed.returncode in (0, 3), allowed.stderr
    assert f"As of {EARLIER}: newly planned" in allowed.stdout  # it ran for that day
