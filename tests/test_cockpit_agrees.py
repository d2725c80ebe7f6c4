"""The cockpit agrees with the emails (issue 20): what the Lead Partners were told is
what the summary, its acknowledgement state and the forms show, and every id shown is
one a form accepts. The sample partnership with its year of history, on 24 Nov 2026."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from govcal.models.db import session_scope
from govcal.models.settings import get_settings
from tests.support.paths import GOVCAL
from tests.support.snapshots import copy_data

TODAY = date(2026, 11, 24)
S11 = "wfscp:section-11-audit:2026-10-31"


@pytest.fixture
def data(sample_history_data, tmp_path) -> Path:
    return copy_data(sample_history_data, tmp_path / "data")


def govcal(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*GOVCAL, *args], capture_output=True, text=True, check=False, env=dict(os.environ)
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def summary(day: date = TODAY) -> str:
    """The compliance-summary artifact's markdown, as the run posts it."""
    from govcal.flows import dashboard
    from govcal.rules.loader import load_partnership

    with session_scope(get_settings()) as session:
        return dashboard.build(session, load_partnership("wfscp"), day).markdown()


def section(markdown: str, title: str) -> str:
    start = markdown.index(f"## {title}")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end > 0 else None]


def drop_down(action: str, day: date = TODAY) -> dict[str, str]:
    """What the form's drop-down offers when no id was pasted."""
    from govcal.flows import dashboard
    from govcal.models import queries

    with session_scope(get_settings()) as session:
        return dashboard.choices(session, action, day, queries.all_subject_names(session))


def test_an_audit_round_escalated_by_email_is_an_escalation_in_the_cockpit(data):
    """On 24 Nov the Lead Partners were emailed "Escalation: Section 11 ... 3 of 20
    agencies not returned" while the summary said "Escalated to the Lead Partners (0)
    Nothing", the acknowledge drop-down had nothing, and an acknowledgement with the
    pasted id was never shown."""
    govcal("notify", "--as-of", TODAY.isoformat())
    mails = [
        message_from_bytes(p.read_bytes(), policy=default) for p in (data / "outbox").glob("*.eml")
    ]
    told = [m for m in mails if m["Subject"].startswith("Escalation: Section 11")]
    lead_partners = sorted(
        m["To"].addresses[0].addr_spec
        for m in told
        if m["To"].addresses[0].addr_spec.startswith("lsp-")
    )
    assert len(lead_partners) == 4  # the four Lead Partners (and their deputies' copies)
    told = [m for m in told if m["To"].addresses[0].addr_spec in lead_partners]
    pasted = f"{S11}:lsc-icb"
    assert f"Id: {pasted}" in told[0].get_body(("plain",)).get_content()

    escalated = section(summary(), "Escalated to the Lead Partners")
    assert escalated.startswith("## Escalated to the Lead Partners (1)")
    assert "Section 11 self-assessment audit" in escalated
    sent_on = datetime.now(UTC).date()  # the ledger's own clock: when the mail left
    assert f"escalated {sent_on.day} {sent_on:%b %Y}, awaiting a response" in escalated
    # a week without an answer shows as such (it is then also up for a decision)
    later = summary(sent_on + timedelta(days=7))
    assert "Section 11 self-assessment audit" in later and "**no response** after 7 days" in later

    offered = drop_down("acknowledge")
    [label] = [k for k, v in offered.items() if v == S11]
    assert label.startswith("Section 11 self-assessment audit 2026: 3 agencies not returned")

    done = govcal("acknowledge", pasted, "--note", "chasing the ICBs")
    assert f"{pasted} escalation acknowledged by test-user" in done.stdout
    escalated = section(summary(), "Escalated to the Lead Partners")
    assert "Section 11 self-assessment audit" in escalated
    assert "acknowledged by test-user on" in escalated
    assert S11 not in drop_down("acknowledge").values()
    again = govcal("acknowledge", S11, ok=False)  # the round's id: the same escalation
    assert again.returncode == 1 and "already acknowledged by test-user" in again.stderr


def test_the_cycle_id_the_cockpit_shows_is_explained_by_the_command_line(data):
    """`complete` said "no occurrence" for the id `status` and the summary show."""
    refused = govcal("complete", S11, "--evidence", "https://example.org/s11.pdf", ok=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith(
        f"Error: {S11} is the whole Section 11 self-assessment audit cycle (3 of 20 not "
        f"returned); act on one agency's return by its own id: {S11}:lsc-icb, {S11}:nenc-icb"
    )
    assert "Nothing was changed." in refused.stderr
    # and `returns` with one agency's id, as the escalation email shows it, shows its cycle
    shown = govcal("returns", f"{S11}:lsc-icb", "--as-of", TODAY.isoformat()).stdout
    assert "17 of 20 returned." in shown and "Lancashire and South Cumbria" in shown


def plan(start: str, end: str) -> dict[str, dict]:
    out = govcal("plan", "--json", "--from", start, "--to", end, "--as-of", TODAY.isoformat())
    return {r["id"]: r for r in json.loads(out.stdout)}


def test_plan_shows_what_cancel_and_reschedule_recorded(data):
    """After `cancel` of a meeting its papers were listed "due in 77 days" though cancel
    printed "1 deadline(s) ... cancelled with it"; `plan --from` chose by the rule's date,
    so a meeting moved into the window was missing and still listed where it had been."""
    cancelled = govcal(
        "cancel", "wfscp:lsp-meeting:2027-02-10", "--reason", "held jointly with Cumberland's board"
    )
    assert "1 deadline(s) that hung on it are cancelled with it" in cancelled.stdout
    february = plan("2027-02-01", "2027-02-28")
    assert february["wfscp:lsp-meeting:2027-02-10"]["state"] == "cancelled"
    assert february["wfscp:lsp-meeting-papers:2027-02-10"]["state"] == "cancelled"

    moved = "wfscp:safeguarding-accountability-meeting:2027-04-13"
    govcal("reschedule", moved, "--to", "2027-02-24 14:00", "--reason", "brought forward")
    february = plan("2027-02-01", "2027-02-28")
    assert february[moved]["due"].startswith("2027-02-24T14:00")
    assert february["wfscp:sam-papers:2027-04-13"]["state"] == "upcoming"  # moved with it
    april = plan("2027-04-01", "2027-04-30")
    assert moved not in april and "wfscp:sam-papers:2027-04-13" not in april


def test_the_review_drop_down_lists_the_nearest_to_today_first_with_the_cycle_year(data):
    """It said "Nearest to today first" but listed the oldest first, with no cycle year:
    typing "Cumbria Constabulary" offered last year's return first."""
    offered = list(drop_down("review").items())
    police = [(label, i) for label, i in offered if label.startswith("Cumbria Constabulary")]
    assert police[0] == (
        "Cumbria Constabulary · Section 11 self-assessment audit 2026 · returned 21 Nov 2026",
        f"{S11}:cumbria-police",
    )
    assert police[1][0].startswith("Cumbria Constabulary · Section 11 self-assessment audit 2025")
    assert offered[0][0].endswith("returned 21 Nov 2026")  # the latest return, first of all
