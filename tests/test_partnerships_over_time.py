"""Partnerships over time: superseded ones keep their history but create nothing after
their end, and are not today's business (status, digests, feeds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from govcal.models.db import session_scope
from govcal.models.sync import sync_partnership
from govcal.rules.expand import expand
from govcal.rules.loader import load_partnership, load_partnerships
from govcal.rules.model import active_partnerships

D = date.fromisoformat


@pytest.fixture(scope="module")
def shipped():
    return {p.id: p for p in load_partnerships()}


def test_each_partnership_hands_over_to_the_next_without_a_gap(shipped):
    chain = ["cumbria-lscb-2014", "cscp-2019", "cscp-2023", "wfscp"]
    periods = [(shipped[i].active_from, shipped[i].active_until) for i in chain]
    assert periods == [
        (D("2014-04-01"), D("2019-09-28")),  # until the new arrangements were in place
        (D("2019-06-29"), D("2023-03-31")),  # published 29 June, in place 29 September 2019
        (D("2023-04-01"), D("2025-03-31")),  # after Local Government Reform
        (D("2025-04-01"), None),  # WFSCP from April 2025 (004)
    ]
    assert shipped["cscp-2023"].active_until + timedelta(days=1) == shipped["wfscp"].active_from


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2016-01-01", ["cumbria-lscb-2014"]),
        ("2019-07-15", ["cscp-2019", "cumbria-lscb-2014"]),  # the published plan's run-in
        ("2024-05-01", ["cscp-2023"]),
        ("2025-03-31", ["cscp-2023"]),
        ("2025-04-01", ["wfscp"]),
        ("2026-11-24", ["wfscp"]),
    ],
)
def test_who_is_in_force_on_a_day(shipped, day, expected):
    assert sorted(p.id for p in active_partnerships(list(shipped.values()), D(day))) == expected


def test_a_superseded_partnership_creates_nothing_after_its_end(shipped):
    cscp = shipped["cscp-2023"]
    assert not expand(cscp, D("2025-04-01"), D("2030-12-31"))
    history = expand(cscp, D("2023-04-01"), D("2025-03-31"))
    assert {o.rule for o in history} >= {"annual-report", "board-meeting", "lsp-meeting"}
    assert max(o.due for o in history) <= D("2025-03-31")
    # the CSCP's last yearly report, due after the handover, is the successor's
    final = load_partnership("wfscp").rule("cscp-final-annual-report")
    assert "2024/25" in final.title


@pytest.fixture
def synced(tmp_path, shipped, migrated_copy):
    """A database synced for the CSCP while it ran, and for WFSCP today."""
    url = migrated_copy(tmp_path / "history.db")
    with session_scope(url) as s:
        report = sync_partnership(s, shipped["cscp-2023"], D("2025-01-15"))
        sync_partnership(s, shipped["wfscp"], D("2026-11-24"))
    assert report.created > 0
    return url


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVCAL_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "govcal.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_sync_of_a_superseded_partnership_stops_at_its_end(synced):
    from sqlmodel import select

    from govcal.models.calendar import OccurrenceRow

    with session_scope(synced) as s:
        rows = s.exec(select(OccurrenceRow).where(OccurrenceRow.partnership_id == "cscp-2023"))
        dues = [r.due for r in rows if not r.orphaned]
    assert dues and max(dues) <= D("2025-03-31")


def test_todays_status_leaves_superseded_partnerships_out_unless_asked(synced):
    today = run(synced, "status", "--as-of", "2026-11-24", "--json", "--ahead", "60")
    assert today.returncode == 0, today.stderr
    partnerships = {row["id"].split(":")[0] for row in json.loads(today.stdout)}
    assert partnerships == {"wfscp"}  # the CSCP's unfinished 2024/25 items are history
    asked = run(synced, "status", "--as-of", "2026-11-24", "--json", "--partnership", "cscp-2023")
    assert asked.returncode == 0, asked.stderr
    assert {row["id"].split(":")[0] for row in json.loads(asked.stdout)} == {"cscp-2023"}


def test_feeds_are_written_for_the_partnerships_in_force_only(synced, shipped, tmp_path):
    from govcal.flows.steps import publish_feeds

    with session_scope(synced) as s:
        publish_feeds(s, list(shipped.values()), D("2026-11-24"), tmp_path / "feeds")
    written = sorted(p.name for p in (tmp_path / "feeds").glob("*.ics"))
    assert written == ["wfscp.ics"]
