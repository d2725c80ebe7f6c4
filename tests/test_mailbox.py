"""The mailbox read back, against a real IMAP server (dovecot on a loopback port, TLS):
calendar replies as Outlook, Google Calendar, Apple Calendar and Thunderbird send them,
bounces as Postfix, Exim, Exchange Online and Gmail write them, auto-replies, and what
a hostile sender can put in a mailbox. The fixtures are tests/fixtures/mail/*.eml.

What is asserted is what people see: each invitee's answer, the deputy's invite and the
business team's digest in the outbox, the mailbox's folders, `govcal mailbox`'s output.
"""

from __future__ import annotations

import email
import subprocess
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import icalendar
import pytest

from govcal.flows.mailbox import MailboxReport, read_mailbox
from govcal.flows.steps import notify
from govcal.models.attendance import Answer, answers
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.ledger import Delivery, LedgerEntry
from govcal.models.mailbox import MailboxMessage
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.imap import ImapSettings, Mailbox
from govcal.notifications.render import Sender
from govcal.notifications.transport import FileOutbox
from tests.imap_server import PASSWORD, USER, Dovecot
from tests.support.paths import GOVCAL, ROOT, SAMPLE_DIRECTORY

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
DAY = date(2026, 10, 1)
NOW = datetime(2026, 10, 1, 7, tzinfo=UTC)
SENDER = Sender("govcal", "govcal@example.org")
SAM = "wfscp:safeguarding-accountability-meeting:2026-10-13"
LSP = "wfscp:lsp-meeting:2026-11-11"
TEAM = "business-team@example.org"


@pytest.fixture
def world(tmp_path, wfscp, migrated_copy):
    """The sample partnership on 1 October 2026 with its invites sent to a file outbox:
    {public id: (Message-ID, recipients)} of each invite, the database URL, the outbox."""
    return make_world(migrated_copy(tmp_path / "govcal.db"), tmp_path, wfscp)


@pytest.fixture
def world_on_both(tmp_path, wfscp, db_url):
    """The same on a SQLite file, then on a real PostgreSQL."""
    return make_world(db_url, tmp_path, wfscp)


def make_world(url: str, tmp_path: Path, wfscp) -> dict:
    outbox = tmp_path / "outbox"
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, DAY)
    with session_scope(url) as s:
        notify(s, [wfscp], DAY, FileOutbox(outbox), SENDER, now=NOW, settings=get_settings())
    invites = {}
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                text = part.get_payload(decode=True).decode()
                unfolded = text.replace("\r\n ", "").replace("\n ", "")  # RFC 5545 3.1
                uid = next(x for x in unfolded.splitlines() if x.startswith("UID:"))[4:]
                to = [a for _, a in email.utils.getaddresses([message["To"]])]
                # the invitees' message first; a deputy's copy goes in a message of its own
                public_id = uid.split("@")[0]
                first_id, everyone, _ = invites.get(public_id, (message["Message-ID"], [], uid))
                invites[public_id] = (first_id, everyone + to, uid)
    return {"url": url, "outbox": outbox, "invites": invites, "partnership": wfscp}


@pytest.fixture
def server(tmp_path):
    with Dovecot(tmp_path / "imap") as running:
        yield running


def settings(server: Dovecot) -> ImapSettings:
    return ImapSettings(
        "127.0.0.1", server.port, USER, PASSWORD, ca_file=server.ca_file, timeout=30
    )


def fill(name: str, **values: str) -> bytes:
    """A fixture with its @@PLACEHOLDERS@@ filled (the invite's UID, the address...)."""
    text = (FIXTURES / name).read_text()
    defaults = {
        "N": "1",
        "NAME": "Someone",
        "DTSTAMP": "20261002T091407Z",
        "SEQUENCE": "0",
        "TITLE": "Safeguarding Accountability Meeting",
        "ORGANIZER": TEAM,
        "SENDER": SENDER.email,
        "SUBJECT": "Invitation",
        "DEPUTY": "deputy@example.org",
    }
    for key, value in {**defaults, **values}.items():
        text = text.replace(f"@@{key}@@", value)
    assert "@@" not in text.replace("@@N@@", ""), "a placeholder was left unfilled"
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def reply(name: str, world, meeting: str, attendee: str, **values: str) -> bytes:
    """A calendar answer to the UID the invite carried (its installation's own)."""
    return fill(name, UID=world["invites"][meeting][2], ATTENDEE=attendee, **values)


def feed(server: Dovecot, *messages: bytes) -> None:
    with Mailbox(settings(server)) as box:
        for data in messages:
            box.append(data)


def read(world, server: Dovecot) -> MailboxReport:
    with Mailbox(settings(server)) as box, session_scope(world["url"]) as session:
        return read_mailbox(session, box, [world["partnership"]], mail_from=SENDER.email, now=NOW)


def folder(server: Dovecot, name: str) -> list[bytes]:
    """The messages in a folder, as stored (flags included)."""
    with Mailbox(settings(server)) as box:
        kind, data = box.imap.select(f'"{name}"', readonly=True)
        assert kind == "OK"
        if int(data[0]) == 0:
            return []
        kind, data = box.imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [item[0] + item[1] for item in data if isinstance(item, tuple)]


def answer_of(world, meeting: str) -> dict:
    with session_scope(world["url"]) as s:
        occurrence = s.exec(_occurrence(meeting)).one()
        return answers(s, [occurrence]).get(occurrence, {})


def _occurrence(public_id: str):
    from sqlmodel import select

    from govcal.models.calendar import OccurrenceRow

    return select(OccurrenceRow.id).where(OccurrenceRow.public_id == public_id)


def invitees(world, meeting: str) -> list[str]:
    return [a for a in world["invites"][meeting][1] if a != TEAM]


# --- calendar replies -----------------------------------------------------------------


def test_replies_from_four_clients_are_recorded_and_the_deputy_is_invited(world, server):
    a, b, c, d = invitees(world, SAM)[:4]
    feed(
        server,
        reply("outlook-accept.eml", world, SAM, a, N="1"),
        reply("google-decline.eml", world, SAM, b, N="2"),
        reply("apple-tentative.eml", world, SAM, c, N="3"),
        reply("thunderbird-delegate.eml", world, SAM, d, N="4", DEPUTY="deputy@example.org"),
    )
    report = read(world, server)
    assert report.counts["reply"] == 4, report.lines
    got = answer_of(world, SAM)
    assert {k: v.answer for k, v in got.items()} == {
        a: Answer.COMING,
        b: Answer.NOT_COMING,
        c: Answer.TENTATIVE,
        d: Answer.DEPUTY,
    }
    assert got[d].deputy == "deputy@example.org"
    # every message read is in the processed folder, none deleted, the inbox empty
    assert len(folder(server, "govcal/processed")) == 4
    assert folder(server, "INBOX") == []
    # the deputy gets the invite from the next run: an invite in the outbox, same UID
    with session_scope(world["url"]) as s:
        notify(
            s,
            [world["partnership"]],
            DAY,
            FileOutbox(world["outbox"]),
            SENDER,
            now=NOW,
            settings=get_settings(),
        )
    to_deputy = [
        p
        for p in world["outbox"].glob("*.eml")
        if "deputy@example.org" in email.message_from_bytes(p.read_bytes())["To"]
    ]
    assert len(to_deputy) == 1
    invite = email.message_from_bytes(to_deputy[0].read_bytes())
    [calendar] = [p for p in invite.walk() if p.get_content_type() == "text/calendar"]
    event = icalendar.Calendar.from_ical(calendar.get_payload(decode=True)).walk("VEVENT")[0]
    assert str(event["UID"]) == world["invites"][SAM][2]


def test_read_twice_and_by_two_readers_at_once_each_answer_is_recorded_once(world_on_both, server):
    world = world_on_both
    people = invitees(world, SAM)[:3]
    feed(
        server,
        *[reply("outlook-accept.eml", world, SAM, p, N=str(i)) for i, p in enumerate(people)],
    )
    reports: list[MailboxReport] = []
    failures: list[BaseException] = []

    def reader() -> None:
        try:
            reports.append(read(world, server))
        except BaseException as exc:  # a reader that crashed is a failure, not a silence
            failures.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(60)
    assert failures == [] and len(reports) == 2
    again = read(world, server)
    recorded = sum(r.counts["reply"] for r in reports)
    assert recorded == 3, [r.counts for r in reports]
    assert again.read == 0
    assert set(answer_of(world, SAM)) == set(people)
    with session_scope(world["url"]) as s:
        from sqlmodel import func, select

        assert s.exec(select(func.count()).select_from(MailboxMessage)).one() == 3
    assert len(folder(server, "govcal/processed")) == 3


def test_a_reply_to_an_older_version_is_an_answer_to_that_version(world, server):
    from govcal.models.records import Actor, reschedule

    [attendee] = invitees(world, SAM)[:1]
    with session_scope(world["url"]) as s:
        reschedule(s, SAM, datetime(2026, 10, 20, 10, tzinfo=UTC), "room", Actor("t"), today=DAY)
    feed(server, reply("google-decline.eml", world, SAM, attendee, SEQUENCE="0"))
    report = read(world, server)
    got = answer_of(world, SAM)[attendee]
    assert (got.answer, got.sequence) == (Answer.NOT_COMING, 0)
    assert any("to version 0, before the meeting changed" in line for line in report.lines)


def test_a_forged_reply_or_one_from_someone_not_invited_changes_nothing(world, server):
    [attendee] = invitees(world, SAM)[:1]
    forged = reply("outlook-accept.eml", world, SAM, attendee).replace(
        f"From: Someone <{attendee}>".encode(), b"From: Mallory <mallory@example.net>"
    )
    stranger = reply("outlook-accept.eml", world, SAM, "stranger@example.net", N="9")
    feed(server, forged, stranger)
    report = read(world, server)
    assert answer_of(world, SAM) == {}
    assert any("not from the invitee, nothing changed" in line for line in report.lines)
    assert any("stranger@example.net was never sent an invite" in line for line in report.lines)


def test_a_counter_proposal_is_shown_to_the_business_team(world, server):
    [attendee] = invitees(world, SAM)[:1]
    feed(server, reply("outlook-counter.eml", world, SAM, attendee))
    report = read(world, server)
    assert report.counts["counter"] == 1
    assert any("proposes 13/10/2026 13:00 UTC" in line and SAM in line for line in report.lines)
    assert answer_of(world, SAM) == {}  # a proposal is not an answer


# --- bounces --------------------------------------------------------------------------


BOUNCES = ["postfix-dsn.eml", "exim-bounce.eml", "exchange-ndr.eml", "gmail-bounce.eml"]


def test_bounces_from_four_mail_servers_reach_the_business_teams_digest(world, server):
    message_id, to, _uid = world["invites"][SAM]
    failed = [a for a in to if a != TEAM][:4]
    feed(
        server,
        *[
            fill(
                name,
                FAILED=address,
                ORIGINAL_ID=message_id,
                N=str(i),
                LOCALPART=address.partition("@")[0],
            )
            for i, (name, address) in enumerate(zip(BOUNCES, failed, strict=True))
        ],
    )
    report = read(world, server)
    assert report.counts["bounce"] == 4, report.lines
    assert report.bounced == 4
    with session_scope(world["url"]) as s:
        from sqlmodel import select

        rows = s.exec(select(LedgerEntry).where(LedgerEntry.status == Delivery.BOUNCED)).all()
        assert sorted(r.recipient for r in rows) == sorted(failed)
    # the business team reads them in its next digest, with each server's words
    before = set(world["outbox"].glob("*.eml"))
    with session_scope(world["url"]) as s:
        notify(
            s,
            [world["partnership"]],
            date(2026, 10, 2),
            FileOutbox(world["outbox"]),
            SENDER,
            now=datetime(2026, 10, 2, 7, tzinfo=UTC),
            settings=get_settings(),
        )
    digests = [
        p.read_bytes()
        for p in set(world["outbox"].glob("*.eml")) - before
        if TEAM in (email.message_from_bytes(p.read_bytes())["To"] or "")
    ]
    text = " ".join(_text(d) for d in digests)
    for words in [
        "User unknown in virtual mailbox table",
        "mailbox unavailable",
        "RESOLVER.ADR.RecipientNotFound",
        "The email account that you tried to reach",
    ]:
        assert words in text
    for address in failed:
        assert address in text


def _text(data: bytes) -> str:
    message = email.message_from_bytes(data)
    parts = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    return " ".join(" ".join(p.get_payload(decode=True).decode().split()) for p in parts)


def test_repeated_hard_bounces_mark_the_address_failing(world, server):
    address = invitees(world, SAM)[0]
    assert address in world["invites"][LSP][1]
    feed(
        server,
        *[
            fill("postfix-dsn.eml", FAILED=address, ORIGINAL_ID=world["invites"][m][0], N=str(i))
            for i, m in enumerate([SAM, LSP])
        ],
    )
    report = read(world, server)
    assert report.failing == {address: 2}


def test_the_directory_view_the_cockpit_and_the_digest_name_a_failing_address(
    world_on_both, server
):
    """Two hard bounces of different messages: `govcal directory --failing` names the
    address with the day of the last bounce and the server's words, `govcal directory`
    marks it beside its roles, the cockpit has a Failing addresses section and the
    business team's next digest says the address is failing. One bounce is not enough.
    On SQLite, then on PostgreSQL."""
    import os

    world = world_on_both

    from govcal.flows.dashboard import build
    from tests.support.markdown import as_shown

    twice, once = invitees(world, SAM)[0], invitees(world, SAM)[1]
    assert twice in world["invites"][LSP][1]
    feed(
        server,
        *[
            fill("postfix-dsn.eml", FAILED=twice, ORIGINAL_ID=world["invites"][m][0], N=str(i))
            for i, m in enumerate([SAM, LSP])
        ],
        fill(
            "exim-bounce.eml",
            FAILED=once,
            ORIGINAL_ID=world["invites"][SAM][0],
            N="5",
            LOCALPART=once.partition("@")[0],
        ),
    )
    read(world, server)
    env = {**os.environ, "GOVCAL_DATABASE_URL": world["url"], "COLUMNS": "200"}

    def govcal(*args: str) -> str:
        done = subprocess.run(
            [*GOVCAL, *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    failing = govcal("directory", "--failing")
    assert "1 failing address(es):" in failing
    [line] = [x for x in failing.splitlines() if twice in x]
    assert "2 hard bounces, last 01/10/2026" in line
    assert "User unknown in virtual mailbox table" in line
    assert once not in failing
    everyone = govcal("directory").splitlines()
    at = everyone.index(next(x for x in everyone if x.startswith(twice)))
    assert everyone[at + 1].startswith("    wfscp ")  # their roles
    marks = [x for x in everyone[at + 1 :] if not x.startswith("    wfscp ")]
    assert marks[0].startswith("    FAILING: ") and "2 hard bounces" in marks[0]
    assert sum("FAILING" in x for x in everyone) == 1
    with session_scope(world["url"]) as s:
        shown = as_shown(build(s, world["partnership"], DAY).markdown())
    assert "Failing addresses (1)" in shown
    assert (
        twice in shown
        and "last on 01/10/2026" in shown
        and once not in shown.split("Failing addresses")[1]
    )
    before = set(world["outbox"].glob("*.eml"))
    with session_scope(world["url"]) as s:
        notify(
            s,
            [world["partnership"]],
            date(2026, 10, 2),
            FileOutbox(world["outbox"]),
            SENDER,
            now=datetime(2026, 10, 2, 7, tzinfo=UTC),
            settings=get_settings(),
        )
    digest = " ".join(
        _text(p.read_bytes())
        for p in set(world["outbox"].glob("*.eml")) - before
        if TEAM in (email.message_from_bytes(p.read_bytes())["To"] or "")
    )
    assert "failing address: 2 hard bounces" in digest


def test_a_bounce_naming_an_address_govcal_never_wrote_to_changes_nothing(world, server):
    feed(
        server,
        fill("postfix-dsn.eml", FAILED="never@example.net", ORIGINAL_ID=world["invites"][SAM][0]),
    )
    report = read(world, server)
    assert report.bounced == 0
    assert any("never@example.net was never sent that message" in x for x in report.lines)


def test_a_bounce_of_a_bounce_is_recorded_and_never_answered(world, server):
    bounce = fill("postfix-dsn.eml", FAILED="someone@example.net", ORIGINAL_ID="<x@elsewhere>")
    returned = bounce.replace(b"Message-Id: <2026", b"Message-ID: <2026")
    bounce_of_bounce = fill(
        "gmail-bounce.eml",
        FAILED="mailer-daemon@mail.example.net",
        ORIGINAL_ID="<20261002060112.4Xk2Ld0Q1Vz9sQ1@mail.example.net>",
        N="7",
    )
    files = len(list(world["outbox"].glob("*.eml")))
    feed(server, returned, bounce_of_bounce)
    report = read(world, server)
    assert report.counts["bounce"] == 2 and report.bounced == 0
    with session_scope(world["url"]) as s:
        notify(
            s,
            [world["partnership"]],
            DAY,
            FileOutbox(world["outbox"]),
            SENDER,
            now=NOW,
            settings=get_settings(),
        )
    assert len(list(world["outbox"].glob("*.eml"))) == files  # nothing sent back, no loop


# --- auto-replies and everything else ---------------------------------------------------


def test_an_auto_reply_is_recorded_and_moved_and_a_person_s_mail_is_left(world, server):
    attendee = invitees(world, SAM)[0]
    person = (
        b"From: Ann <ann@example.org>\r\nTo: business-team@example.org\r\n"
        b"Subject: Lunch?\r\nMessage-ID: <lunch@example.org>\r\n\r\nAre you free?\r\n"
    )
    feed(
        server,
        fill("outlook-out-of-office.eml", ATTENDEE=attendee, ORIGINAL_ID=world["invites"][SAM][0]),
        person,
    )
    report = read(world, server)
    assert report.counts["auto-reply"] == 1 and report.counts["left for people"] == 1
    [left] = folder(server, "INBOX")
    assert b"Lunch?" in left and b"\\Seen" not in left  # unread for the business team
    assert len(folder(server, "govcal/processed")) == 1
    assert read(world, server).read == 0  # not fetched again


# --- hostile input ---------------------------------------------------------------------


def test_malformed_and_huge_calendars_are_counted_and_skipped_with_one_line(world, server):
    attendee = invitees(world, SAM)[0]
    good = reply("outlook-accept.eml", world, SAM, attendee)
    broken = good.replace(
        b"BEGIN:VEVENT", b"BEGIN:VEVENT\r\nDTSTART;TZID=:::\r\nBEGIN:VALARM", 1
    ).replace(b"Message-ID: <LO2", b"Message-ID: <broken-LO2")
    attendees = b"".join(
        b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:x%d@example.org\r\n" % i for i in range(20000)
    )
    huge = good.replace(b"END:VEVENT", attendees + b"END:VEVENT", 1).replace(
        b"Message-ID: <LO2", b"Message-ID: <huge-LO2"
    )
    feed(server, broken, huge)
    report = read(world, server)
    assert report.counts["unreadable"] == 2
    assert len(report.lines) == 2 and all("\n" not in x for x in report.lines)
    assert len(folder(server, "INBOX")) == 2  # left where they are
    assert read(world, server).read == 0  # counted once


def test_a_message_of_ten_thousand_parts_is_read_in_bounded_time(world, server):
    parts = b"".join(
        b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(10000)
    )
    attendee = invitees(world, SAM)[0]
    ics = reply("google-decline.eml", world, SAM, attendee)
    calendar = ics[ics.index(b"BEGIN:VCALENDAR") : ics.index(b"END:VCALENDAR") + 13]
    data = (
        (
            f"From: <{attendee}>\r\nTo: {TEAM}\r\nSubject: parts\r\nMessage-ID: <p@x>\r\n"
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        ).encode()
        + parts
        + (
            b"--b\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n"
            + calendar
            + b"\r\n--b--\r\n"
        )
    )
    feed(server, data)
    report = read(world, server)
    assert report.read == 1 and answer_of(world, SAM) == {}  # past the parts looked at


# --- the command line -------------------------------------------------------------------


def test_govcal_mailbox_prints_what_it_did_and_refuses_what_cannot_work(world, server, tmp_path):
    import os

    attendee = invitees(world, SAM)[0]
    feed(server, reply("outlook-accept.eml", world, SAM, attendee))
    env = {
        **os.environ,
        **server.environment(),
        "GOVCAL_DATABASE_URL": world["url"],
        "GOVCAL_MAIL_FROM": SENDER.email,
    }
    done = subprocess.run(
        [*GOVCAL, "mailbox"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Read 1 message(s): 1 reply" in done.stdout
    unreachable = {**env, "GOVCAL_IMAP_PORT": str(server.port + 1 if server.port < 65535 else 1)}
    refused = subprocess.run(
        [*GOVCAL, "mailbox"], env=unreachable, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert refused.returncode == 3
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert PASSWORD not in refused.stderr
    plain = {
        **env,
        "GOVCAL_IMAP_HOST": "imap.example.org",
        "GOVCAL_IMAP_ALLOW_PLAINTEXT_ON_LOOPBACK": "true",
    }
    refused = subprocess.run(
        [*GOVCAL, "mailbox"], env=plain, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert refused.returncode == 3 and "to this machine only" in refused.stderr


def write_maildir(server: Dovecot, messages: list[bytes]) -> None:
    """Deliver straight into the user's maildir, as a local delivery agent does (APPEND
    of 50,000 messages would take most of the test's time)."""
    import os

    new = server.maildir / "new"
    for sub in ("new", "cur", "tmp"):
        (server.maildir / sub).mkdir(parents=True, exist_ok=True)
    owner = os.stat(server.maildir.parent)
    for i, data in enumerate(messages):
        (new / f"1796000000.M{i}P1.test").write_bytes(data)
    for path in [server.maildir, *server.maildir.iterdir(), *new.iterdir()]:
        os.chown(path, owner.st_uid, owner.st_gid)


@pytest.mark.slow
def test_a_mailbox_of_fifty_thousand_messages_is_read_in_bounded_time_and_memory(world, server):
    import time
    import tracemalloc

    count = 50_000
    people = [
        b"From: Ann <ann@example.org>\r\nTo: business-team@example.org\r\nSubject: note %d\r\n"
        b"Message-ID: <note-%d@example.org>\r\n\r\n" % (i, i) + b"Some news.\r\n" * 20
        for i in range(count - 3)
    ]
    attendees = invitees(world, SAM)[:3]
    replies = [
        reply("outlook-accept.eml", world, SAM, a, N=str(i)) for i, a in enumerate(attendees)
    ]
    write_maildir(server, people[:20_000] + replies + people[20_000:])
    del people, replies
    lines: list[str] = []
    tracemalloc.start()
    started = time.monotonic()
    with Mailbox(settings(server)) as box, session_scope(world["url"]) as session:
        report = read_mailbox(
            session, box, [world["partnership"]], mail_from=SENDER.email, progress=lines.append
        )
    took = time.monotonic() - started
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"50,000 messages: {took:.1f} s, peak memory {peak_mb:.1f} MB, {len(lines)} lines")
    assert report.counts["reply"] == 3 and report.counts["left for people"] == count - 3
    assert set(answer_of(world, SAM)) == set(attendees)
    assert len(lines) >= count // 200 and lines[-1].startswith(f"{count} message(s) read")
    assert peak_mb < 64  # one batch at a time (8 MiB at most), never the mailbox
    assert read(world, server).read == 0  # the next run fetches nothing
