"""Directory changes: an authoritative people.csv ends the roles of everyone it omits, one
person can be removed, an ended role receives nothing from then on, and the importer
refuses by line an address no mail transport can deliver."""

from __future__ import annotations

import csv
import email
import json
from datetime import UTC, date, datetime, timedelta
from email.utils import getaddresses
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from tests.support.paths import SAMPLE_DIRECTORY

D_2026_11_24 = date(2026, 11, 24)

runner = CliRunner()
LEAVER = "dsp-wfc@example.org"  # the sample DSP for Westmorland and Furness Council
STAYER = "dsp-cumbria-police@example.org"


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def directory(tmp_path, migrated_data):
    assert govcal("sync", "--as-of", "2026-11-24", "-p", "wfscp").exit_code == 0
    loaded = govcal("import", str(SAMPLE_DIRECTORY / "wfscp"))
    assert loaded.exit_code == 0, loaded.stderr
    return tmp_path


def recipients(data: Path) -> list[str]:
    found = []
    for path in sorted((data / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        found += [address for _name, address in getaddresses(message.get_all("To", []))]
    return found


def trail(action: str) -> list[dict]:
    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.trail import TrailEntry

    with session_scope(get_settings()) as session:
        rows = session.exec(select(TrailEntry).where(TrailEntry.action == action))
        return [{"who": r.entity_id, "reason": r.reason, "before": r.before} for r in rows]


def ledger(recipient: str) -> set[tuple[str, str | None]]:
    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.ledger import LedgerEntry
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        rows = session.exec(select(LedgerEntry).where(LedgerEntry.recipient == recipient))
        return {
            (r.status, r.last_error if r.status == "skipped" else None)
            for r in rows
            if r.kind != "flag"
        }


def people_without(tmp_path: Path, leaver: str) -> Path:
    source = SAMPLE_DIRECTORY / "wfscp" / "people.csv"
    with source.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    target = tmp_path / "people.csv"
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["email"] != leaver)
    return target


def test_import_replace_ends_the_roles_of_people_the_file_omits_and_they_get_no_mail(directory):
    replaced = govcal("import", "--replace", str(people_without(directory, LEAVER)))
    assert replaced.exit_code == 0, replaced.stderr
    assert f"Ended: {LEAVER}: dsp (wfc) in wfscp" in replaced.stdout
    assert "Ended:" not in replaced.stdout.replace(f"Ended: {LEAVER}", "")  # nobody else
    (entry,) = trail("roles-ended")
    assert entry["who"] == LEAVER and "not in people.csv (import --replace)" in entry["reason"]
    assert "dsp (wfc) in wfscp" in entry["before"]["roles"]

    sent = govcal("notify", "--as-of", "2026-11-24")
    assert sent.exception is None or isinstance(sent.exception, SystemExit)
    mailed = recipients(directory / "data")
    assert STAYER in mailed  # the same escalation reaches the other DSPs
    assert LEAVER not in mailed


def test_replace_is_not_applied_when_a_row_was_rejected(directory):
    people = people_without(directory, LEAVER)
    with people.open("a", encoding="utf-8") as f:
        f.write("Someone,not-an-email,dsp,wfc,,,yes\n")
    result = govcal("import", "--replace", str(people))
    assert result.exit_code == 1
    assert "--replace not applied: 1 row(s) were rejected" in result.stderr
    assert "Ended:" not in result.stdout and trail("roles-ended") == []


def test_removing_a_person_skips_their_pending_mail_and_records_why(directory, monkeypatch):
    from govcal.models.settings import get_settings

    relay_down = {
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_HOST": "127.0.0.1",
        "GOVCAL_SMTP_PORT": "1",
        "GOVCAL_SMTP_SECURITY": "none",
    }
    for name, value in relay_down.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    govcal("notify", "--as-of", "2026-11-24")  # the relay is down: everything stays pending
    monkeypatch.setenv("GOVCAL_TRANSPORT", "outbox")
    get_settings.cache_clear()

    removed = govcal("person", "remove", LEAVER.upper(), "--reason", "left the council")
    assert removed.exit_code == 0, removed.stderr
    assert removed.stdout.startswith(f"{LEAVER}: ended dcs (wfc) in wfscp; dsp (wfc) in wfscp")
    (entry,) = trail("person-removed")
    assert (entry["who"], entry["reason"]) == (LEAVER, "left the council")

    assert ("skipped", "recipient's role ended before it was sent") in ledger(LEAVER)
    assert ("pending", None) not in ledger(LEAVER)
    assert ("pending", None) in ledger(STAYER)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=7)):  # past every backoff
        govcal("notify", "--as-of", "2026-11-25")
        govcal("notify", "--as-of", "2026-12-09")  # later stages too
    mailed = recipients(directory / "data")
    assert STAYER in mailed and LEAVER not in mailed

    status = govcal("status", "--json", "--as-of", "2026-11-24", "-p", "wfscp")
    assert status.exit_code == 0 and json.loads(status.stdout)  # the run carries on
    again = govcal("person", "remove", LEAVER, "--reason", "twice")
    assert again.exit_code == 1
    assert again.stderr.splitlines() == [
        f"Error: no person with the address {LEAVER} in the directory",
        "Nothing was changed.",
    ]


def test_a_removed_persons_feed_is_withdrawn(directory):
    assert govcal("feeds", "--as-of", "2026-11-24").exit_code == 0
    feeds = directory / "data" / "feeds" / "wfscp" / "people"
    before = {p.name for p in feeds.glob("*.ics")}
    assert govcal("person", "remove", LEAVER, "--reason", "left").exit_code == 0
    assert govcal("feeds", "--as-of", "2026-11-24").exit_code == 0
    after = {p.name for p in feeds.glob("*.ics")}
    assert len(after) == len(before) - 1 and after < before


def test_the_importer_refuses_by_line_an_address_no_transport_can_deliver(directory):
    people = directory / "people-new.csv"
    people.write_text(
        "name,email,role,agency\n"
        "Good IDNA,aaa1@exämple.org,dsp,wfc\n"
        "Bad IDNA,aaa2@xn--bad.org,dsp,wfc\n"
        "Symbol domain,aaa3@☃.net,dsp,wfc\n"
        "Domain literal,aaa4@[127.0.0.1],dsp,wfc\n"
        "Non-ASCII local part,ünïcode@example.org,dsp,wfc\n",
        encoding="utf-8",
    )
    result = govcal("import", str(people))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if not line.startswith("Note:")]
    assert [line.split(": ", 1)[0] for line in errors[:3]] == [
        f"{people}:3",
        f"{people}:4",
        f"{people}:5",
    ]
    assert all("No mail transport can deliver to it" in line for line in errors[:3])
    assert "aaa2@xn--bad.org" in errors[0] and "not valid IDNA" in errors[0]
    assert f"Note: {people}:6: ünïcode@example.org has non-ASCII characters before the @" in (
        result.stderr
    )
    assert "2 created" in result.stdout and "3 rejected" in result.stdout


def test_ending_roles_on_both_databases(db_url, wfscp, tmp_path):
    """The same use cases on SQLite and PostgreSQL: roles, delegations, pending mail."""
    from sqlmodel import select

    from govcal.models import actions
    from govcal.models.db import session_scope
    from govcal.models.ledger import LedgerEntry
    from govcal.models.people import Delegation, Person, RoleAssignment
    from govcal.models.queries import occurrence
    from govcal.models.records import Actor
    from govcal.models.sync import sync_partnership

    me = Actor("business team")
    with session_scope(db_url) as s:
        actions.import_people(s, SAMPLE_DIRECTORY / "wfscp", wfscp, me)
        sync_partnership(s, wfscp, D_2026_11_24)
        meeting = occurrence(s, "wfscp:lsp-meeting:2026-11-11")
        s.add(
            LedgerEntry(
                occurrence_id=meeting.id,
                stage="escalation-7",
                recipient=LEAVER,
                role="dsp",
                kind="escalation",
            )
        )
    with session_scope(db_url) as s:
        removed = actions.remove_person(s, LEAVER, me, reason="left", partnership="wfscp")
    assert removed.removed_from_directory
    assert {str(r) for r in removed.ended} == {"dcs (wfc) in wfscp", "dsp (wfc) in wfscp"}
    with session_scope(db_url) as s:
        assert s.exec(select(Person).where(Person.email == LEAVER)).first() is None
        entry = s.exec(select(LedgerEntry).where(LedgerEntry.recipient == LEAVER)).one()
        assert entry.status == "skipped"
        person_ids = {p.id for p in s.exec(select(Person))}
        assert {d.delegate_id for d in s.exec(select(Delegation))} <= person_ids
        before = len(s.exec(select(RoleAssignment)).all())
    with session_scope(db_url) as s:
        people = people_without(tmp_path, STAYER)
        replaced = actions.import_people(s, people, wfscp, me, replace=True)
    assert [(r.email, str(r)) for r in replaced.ended] == [
        (STAYER, "dsp (cumbria-police) in wfscp")
    ]
    with session_scope(db_url) as s:
        # the file lists the leaver again (two roles back) and omits the stayer (one ended)
        assert len(s.exec(select(RoleAssignment)).all()) == before + 2 - 1


def test_replace_without_a_people_file_ends_nothing_and_says_so(directory):
    result = govcal("import", "--replace", str(SAMPLE_DIRECTORY / "wfscp" / "agencies.csv"))
    assert result.exit_code == 0, result.stderr
    assert "--replace applies to a people file and none was imported" in result.stderr
    assert "Ended:" not in result.stdout and trail("roles-ended") == []
