"""The sample as a Lead Safeguarding Partner meets it: one `govcal run` as of 2026-11-24,
then the outbox and the feeds read as a person reads them (whitespace does not matter,
words do), with the ledger as the record of what each person was told."""

from __future__ import annotations

import email
import re
import subprocess
from datetime import date
from email import policy
from pathlib import Path

import icalendar
import pytest
import vobject
from sqlmodel import select

from govcal.models.db import session_scope
from govcal.models.ledger import LedgerEntry
from govcal.models.notify_inputs import items_by_ids
from govcal.notifications.render import short_source
from govcal.rules.loader import load_partnership
from tests.support.paths import GOVCAL

LSPS = {
    "lsp-wfc@example.org",
    "lsp-cumbria-police@example.org",
    "lsp-lsc-icb@example.org",
    "lsp-nenc-icb@example.org",
}
AS_OF = date(2026, 11, 24)
FEEDS_URL = "https://calendar.example.org/govcal"


def govcal(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [*GOVCAL, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def read(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[return-value]


@pytest.mark.slow  # a real Prefect server
@pytest.mark.xdist_group("prefect-server")
def test_the_sample_lead_partner_digest_reads_in_under_60_lines_with_every_item(
    tmp_path, prefect_server_url
):
    """`govcal run` against the real server the group shares (its own ephemeral start
    is tested in test_cli_records, test_privacy and test_local_api)."""
    env = {"GOVCAL_FEEDS_URL": FEEDS_URL, "PREFECT_API_URL": f"{prefect_server_url}/api"}
    first = govcal("run", "--as-of", "2026-11-24", env=env)
    assert first.returncode == 0, first.stderr
    data = tmp_path / "data"
    outbox = sorted((data / "outbox").glob("*.eml"))
    digests = {}
    for path in outbox:
        message = read(path)
        if "digest" in message["Message-ID"]:
            [to] = message["To"].addresses
            digests[to.addr_spec] = message
    assert set(digests) >= LSPS

    wfscp = load_partnership("wfscp")
    url = f"sqlite:///{data / 'govcal.db'}"
    with session_scope(url) as s:
        rows = list(s.exec(select(LedgerEntry).where(LedgerEntry.status == "sent")).all())
        items = items_by_ids(s, [wfscp], sorted({r.occurrence_id for r in rows}), AS_OF)
    for lsp in LSPS:
        message = digests[lsp]
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        lines = text.splitlines()
        words = " ".join(text.split())
        assert len(lines) < 60, f"{lsp}: {len(lines)} lines"
        told = [items[r.occurrence_id] for r in rows if r.recipient == lsp and r.kind != "invite"]
        assert told, lsp
        for item in told:  # every overdue item escalated to them is there, by name
            assert item.status.state.value == "overdue"
            named = item.subject_name if item.subject else item.title
            assert named in words, f"{lsp}: {named} missing"
        # a round is one entry: the title once, with how many of how many
        rounds = {i.public_id.rsplit(":", 1)[0] for i in told if i.subject}
        for round_id in rounds:
            members = [i for i in told if i.public_id.startswith(round_id + ":")]
            title = members[0].title
            assert text.count(title) == 1
            assert f"{title} 2026 — {len(members)} of 20 agencies not returned" in words
        assert message["Subject"].startswith("Escalation: ")
        assert "days overdue)" in message["Subject"]
        # written for an executive: role names, owners named, sources in words, no commands
        assert "govcal complete" not in text and "--evidence" not in text
        prose = "\n".join(x for x in lines if not x.strip().startswith("Id: "))
        assert not re.search(r"\b(lsp|dsp|wfscp:)", prose)
        for item in told:  # each item's id, as the form and `govcal complete` take it
            assert f"Id: {item.public_id}" in words, f"{lsp}: no id for {item.public_id}"
        # the one link to act, written out; the why after it, short
        assert re.search(r"^mailto:\S+@\S+$", text, re.M), lsp
        for why in re.findall(r"Why: (.*?)(?=\n\n|\n   \S)", text, re.S):
            assert len(" ".join(why.split())) <= 140, why
        assert "Sent to you as: Lead Safeguarding Partners." in words
        for item in told:  # the owner named: the role in words, then who holds it
            role = wfscp.roles[item.owner_role].display_name
            owner = "each agency's own lead" if item.subject else f"Owner: {role}"
            assert owner in words, f"{lsp}: {owner} missing"
        for item in told:  # the source as the partnership file puts it in words, after the id
            assert short_source(item.source) in words
            assert "(" not in short_source(item.source)  # no asides: the citation only
            assert words.index(f"Id: {item.public_id}") < words.index("Why: ")
        assert not re.search(r"(?<![\w.])00[0-4] ", words)  # document keys are in words
        # one place to act, their own calendar feed, and robots kept away
        assert f"mailto:{wfscp.business_team_mailbox}" in words
        assert message["Reply-To"].addresses[0].addr_spec == wfscp.business_team_mailbox
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
        feed_link = re.search(rf"{re.escape(FEEDS_URL)}/wfscp/people/(\S+)\.ics", words)
        assert feed_link, lsp
        feed_file = data / "feeds" / "wfscp" / "people" / f"{feed_link.group(1)}.ics"
        mine = icalendar.Calendar.from_ical(feed_file.read_bytes())
        assert mine.walk("VEVENT")  # the link leads to their feed, with entries

    # every digest: each item's id; an incident clock says which incident; owners once
    for message in digests.values():
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        words = " ".join(text.split())
        assert re.search(r"^   Id: \S+:\S+$", text, re.M), message["To"]
        assert not re.search(r"Owner: ([^:\n]+): \1", words), words
        assert "(Westmorland and Furness Council) (Westmorland" not in words
    duty = " ".join(
        digests["la-notifications@example.org"].get_body(("plain",)).get_content().split()
    )
    assert "Review Panel of a serious incident — SI-2026-014" in duty, duty
    assert "Id: wfscp:serious-incident-notification:SI-2026-014" in duty, duty
    assert "duty service (sample) (Westmorland and Furness Council)" not in duty

    # the Message-ID carries the sender's domain and this installation's random part
    ids = {read(p)["Message-ID"] for p in outbox}
    parts = {re.fullmatch(r"<[^.]+\.([0-9a-f]{12})@example\.org>", i).group(1) for i in ids}
    assert len(parts) == 1 and len(ids) == len(outbox)

    # the next dry run lists what a real run would send now: nothing, as it was all sent
    dry = govcal("notify", "--as-of", "2026-11-24", "--dry-run")
    assert "the next run would send 0 message(s)" in dry.stdout, dry.stdout

    # feeds: listed by person, a rotated link replaces the old file
    listed = govcal("feeds", "--list", env=env)
    assert listed.returncode == 0, listed.stderr
    [line] = [x for x in listed.stdout.splitlines() if x.startswith("lsp-wfc@example.org ")]
    old = re.search(r"people/(\S+)\.ics", line).group(1)
    assert (data / "feeds" / "wfscp" / "people" / f"{old}.ics").is_file()
    rotated = govcal("feeds", "--rotate", "LSP-WFC@example.org", "--as-of", "2026-11-24", env=env)
    assert rotated.returncode == 0, rotated.stderr
    new = re.search(r"people/(\S+)\.ics", rotated.stdout).group(1)
    assert new != old and len(new) >= 24
    assert not (data / "feeds" / "wfscp" / "people" / f"{old}.ics").exists()
    assert (data / "feeds" / "wfscp" / "people" / f"{new}.ics").is_file()
    unknown = govcal("feeds", "--rotate", "nobody@example.org")
    assert unknown.returncode == 1 and "nobody@example.org has no feed" in unknown.stderr
    assert list((data / "feeds").rglob("*.ics"))
    for path in (data / "feeds").rglob("*.ics"):  # no empty calendar files, all parse
        body = path.read_bytes()
        assert icalendar.Calendar.from_ical(body).walk("VEVENT"), path
        assert vobject.readOne(body.decode()).vevent_list, path
    assert (data / "feeds" / "wfscp" / "roles" / "lead-safeguarding-partners.ics").is_file()
