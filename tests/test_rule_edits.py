"""A rule edit after a year of history, as the business team makes it: copy the rule
file, change a line, `govcal sync`. History stays put; only what is ahead moves."""

from __future__ import annotations

import json
import os
import subprocess
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from tests.support.paths import GOVCAL, ROOT
from tests.support.snapshots import copy_data

TODAY = "2026-11-24"
WFSCP_FILE = ROOT / "rules" / "partnerships" / "westmorland-furness.yaml"


def govcal(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*GOVCAL, *args], capture_output=True, text=True, check=False, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    return result


def status() -> dict[str, dict]:
    out = govcal("status", "--json", "--as-of", TODAY, "-p", "wfscp")
    return {r["id"]: r for r in json.loads(out.stdout)}


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = WFSCP_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "westmorland-furness.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_moving_the_lsp_meeting_to_the_third_wednesday_moves_only_what_is_ahead(
    sample_history_data, tmp_path
):
    """Issue 20: "second Wednesday" -> "third Wednesday" once orphaned every held LSP
    meeting (minutes recorded) and invented overdue ones on past third Wednesdays, which
    `notify` then chased ("Papers circulated ... 37 days overdue" for 18 Nov)."""
    copy_data(sample_history_data, tmp_path / "data")
    before = status()
    rules = edited(tmp_path, "on the second Wednesday", "on the third Wednesday")

    synced = govcal("sync", "--rules", str(rules), "--as-of", TODAY).stdout
    assert "wfscp: 12 created, 0 moved by rule changes, 12 orphaned" in synced  # what is ahead
    assert "kept 13 past or recorded item(s) the rules no longer produce" in synced
    assert "did not add 12 past date(s) the changed rules would now produce" in synced

    after = status()
    past = {i: r for i, r in before.items() if r["due"] < TODAY}
    assert {i: after.get(i) for i in past} == past  # every past item exactly as it was
    assert not {i for i in after if i not in before and after[i]["due"] < TODAY}
    overdue = sorted(i for i, r in after.items() if r["state"] == "overdue")
    assert overdue == sorted(i for i, r in before.items() if r["state"] == "overdue")

    govcal("notify", "--rules", str(rules), "--as-of", TODAY)
    outbox = tmp_path / "data" / "outbox"
    bodies = [
        message_from_bytes(p.read_bytes(), policy=default).get_body(("plain",)).get_content()
        for p in outbox.glob("*.eml")
    ]
    assert bodies, "notify sent the day's digests"
    assert not [b for b in bodies if "2026-11-18" in b or "18 Nov" in b]


def test_a_partnership_owes_nothing_due_before_it_existed(tmp_path):
    """Issue 20: WFSCP is active from 1 April 2025 (the CSCP ran the calendar until 31
    March); a fresh `sync --as-of 2025-06-02` showed the March review, its scrutineer
    evaluation and the papers for the 8 April SAM (due 31 March) 63-94 days overdue."""
    govcal("sync", "--as-of", "2025-06-02")
    rows = json.loads(govcal("status", "--json", "--overdue", "--as-of", "2025-06-02").stdout)
    overdue = {r["id"] for r in rows if r["partnership"] == "wfscp"}
    assert "wfscp:safeguarding-accountability-meeting:2025-04-08" in overdue  # its own
    assert not {r for r in overdue if r.split(":")[2] < "2025-04-01"}
    assert not overdue & {
        "wfscp:arrangements-review:2025-03-31",
        "wfscp:scrutineer-arrangements-evaluation:2025-03-31",
        "wfscp:sam-papers:2025-04-08",
    }
