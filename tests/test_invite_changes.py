"""Calendars follow every change: reschedule (even far ahead), cancel, reopen, a new place
and a rule change, sent through a real SMTP server, each invite parsed back with icalendar
AND vobject and compared with the plan, then replayed into a simulated client calendar
the way Outlook, Gmail and Apple Calendar apply iTIP (RFC 5546): a REQUEST with the same
UID and a SEQUENCE at least as high replaces the event, a CANCEL removes it."""

from __future__ import annotations

import email
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from govcal.flows.steps import notify
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.records import Actor, cancel, reopen, reschedule
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Sender
from govcal.notifications.transport import SmtpSettings, SmtpTransport
from govcal.rules.loader import load_partnership
from tests.support.paths import SAMPLE_DIRECTORY

LONDON = ZoneInfo("Europe/London")
D = date.fromisoformat
SENDER = Sender("govcal", "govcal@example.org")
ME = Actor("business.team@example.org")
SAM = "wfscp:safeguarding-accountability-meeting:2026-10-13"
RULES = Path(__file__).resolve().parent.parent / "rules" / "partnerships"


@pytest.fixture
def calendar(tmp_path, wfscp, migrated_copy):
    url = migrated_copy(tmp_path / "invites.db")
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, D("2026-10-01"))
    return url


def run(url, partnership, day, server) -> None:
    transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, security="none", timeout=5))
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)
    with session_scope(url) as s:
        notify(s, [partnership], day, transport, SENDER, now=now, settings=get_settings())


@dataclass
class Invite:
    """One iTIP message as received, read by both parsers and checked for consistency."""

    rcpts: set[str]
    method: str
    uid: str
    sequence: int
    start: datetime
    location: str
    organizer: str
    status: str
    text: str


def invites(received, mailbox: str) -> list[Invite]:
    found = []
    for r in received:
        message = email.message_from_bytes(r.data, policy=policy.default)
        parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        if not parts:
            continue
        [part] = parts
        assert [p.get_content_type() for p in message.walk()] == [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "text/calendar",
            "application/ics",
        ]
        assert r.data.count(b"MIME-Version") == 1
        body = part.get_content()
        ical = icalendar.Calendar.from_ical(body)
        vcal = vobject.readOne(body)
        [event] = ical.walk("VEVENT")
        vevent = vcal.vevent
        method = part.get_param("method")
        # the same answer from the MIME header, icalendar and vobject, field by field
        assert method == ical["METHOD"] == vcal.method.value
        assert event["UID"] == vevent.uid.value
        assert event["SEQUENCE"] == int(vevent.sequence.value)
        assert event["DTSTART"].dt == vevent.dtstart.value
        assert str(event.get("LOCATION", "")) == getattr(vevent, "location", None).value
        assert event["ORGANIZER"] == vevent.organizer.value == f"mailto:{mailbox}"
        assert message["Reply-To"].addresses[0].addr_spec == mailbox
        found.append(
            Invite(
                rcpts=set(r.rcpt_tos),
                method=method,
                uid=str(event["UID"]).rpartition("@")[
                    0
                ],  # the event; the domain is the installation's
                sequence=int(event["SEQUENCE"]),
                start=event["DTSTART"].dt,
                location=str(event["LOCATION"]),
                organizer=str(event["ORGANIZER"]),
                status=str(event["STATUS"]),
                text=" ".join(message.get_body(("plain",)).get_content().split()),
            )
        )
    return found


def apply(calendars: dict[str, dict[str, Invite]], messages: list[Invite]) -> None:
    """What a client does with each message in its inbox (RFC 5546 section 2.1.4/3.2)."""
    for invite in messages:
        for rcpt in invite.rcpts:
            mine = calendars.setdefault(rcpt, {})
            held = mine.get(invite.uid)
            if held is not None and invite.sequence < held.sequence:
                continue  # an older version arriving late is ignored
            if invite.method == "CANCEL":
                mine.pop(invite.uid, None)
            else:
                mine[invite.uid] = invite


def sams(calendar: dict[str, Invite]) -> list[Invite]:
    """The October 2026 SAM as a calendar holds it (the 13th, or the 14th that replaces it
    after a rule change); the later SAMs of the invite horizon are not these tests' matter."""
    return [
        i for i in calendar.values() if ":safeguarding-accountability-meeting:2026-10-1" in i.uid
    ]


def test_reschedule_far_ahead_new_place_cancel_and_reopen_reach_every_invitee(
    calendar, wfscp, smtp
):
    mailbox = wfscp.business_team_mailbox
    run(calendar, wfscp, D("2026-10-05"), smtp)
    first = [i for i in invites(smtp.recorder.received, mailbox) if i.uid == SAM]
    [original] = first
    invitees = original.rcpts
    assert original.method == "REQUEST" and original.sequence == 0
    assert original.location == wfscp.rule("safeguarding-accountability-meeting").location
    clients: dict[str, dict[str, Invite]] = {}
    apply(clients, invites(smtp.recorder.received, mailbox))

    # moved to 19 January, 106 days ahead (beyond the 60-day window), and to another place
    with session_scope(calendar) as s:
        reschedule(
            s,
            SAM,
            datetime(2027, 1, 19, 10, tzinfo=LONDON),
            "chair unavailable",
            ME,
            location="Barrow Town Hall, Committee Room 2",
        )
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-06"), smtp)
    [update] = invites(smtp.recorder.received[before:], mailbox)
    assert update.rcpts == invitees  # everyone who had it, though it is now 105 days away
    assert (update.method, update.uid, update.sequence) == ("REQUEST", SAM, 1)
    assert update.start == datetime(2027, 1, 19, 10, tzinfo=LONDON)
    assert update.start.utcoffset() == timedelta(0)  # GMT in January
    assert update.location == "Barrow Town Hall, Committee Room 2"
    assert (
        "When: Tuesday 13 October 2026, 14:00 to 16:00 (London time) -> now: "
        "Tuesday 19 January 2027, 10:00 to 12:00 (London time)"
    ) in update.text
    assert "-> now: Barrow Town Hall, Committee Room 2" in update.text
    apply(clients, [update])
    for person in invitees:
        [held] = sams(clients[person])
        assert held.start == datetime(2027, 1, 19, 10, tzinfo=LONDON)

    with session_scope(calendar) as s:
        cancel(s, SAM, "no quorum", ME)
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-07"), smtp)
    [cancelled] = invites(smtp.recorder.received[before:], mailbox)
    assert cancelled.rcpts == invitees
    assert (cancelled.method, cancelled.sequence, cancelled.status) == ("CANCEL", 2, "CANCELLED")
    assert "no quorum" in cancelled.text
    apply(clients, [cancelled])
    assert all(not sams(clients[p]) for p in invitees)

    with session_scope(calendar) as s:
        reopen(s, SAM, ME, "quorum found")
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-08"), smtp)
    [back] = invites(smtp.recorder.received[before:], mailbox)
    assert back.rcpts == invitees
    assert (back.method, back.uid, back.sequence) == ("REQUEST", SAM, 3)
    apply(clients, [back])
    assert all(len(sams(clients[p])) == 1 for p in invitees)

    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-09"), smtp)  # nothing changed: nothing sent again
    later = invites(smtp.recorder.received[before:], mailbox)
    assert [i for i in later if i.uid == SAM] == []


def test_a_rule_change_cancels_the_orphan_and_invites_the_new_date_once(
    calendar, wfscp, smtp, tmp_path
):
    mailbox = wfscp.business_team_mailbox
    run(calendar, wfscp, D("2026-10-05"), smtp)
    clients: dict[str, dict[str, Invite]] = {}
    apply(clients, invites(smtp.recorder.received, mailbox))
    [original] = [i for i in invites(smtp.recorder.received, mailbox) if i.uid == SAM]

    # the partnership moves the meeting from the second Tuesday to the second Wednesday
    text = (RULES / "westmorland-furness.yaml").read_text(encoding="utf-8")
    changed = text.replace(
        "every: every 2 months on the second Tuesday",
        "every: every 2 months on the second Wednesday",
        1,
    )
    assert changed != text
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "westmorland-furness.yaml").write_text(changed, encoding="utf-8")
    moved = load_partnership("wfscp", [tmp_path / "rules"])
    with session_scope(calendar) as s:
        report = sync_partnership(s, moved, D("2026-10-06"))
    assert report.orphaned >= 1

    before = len(smtp.recorder.received)
    run(calendar, moved, D("2026-10-06"), smtp)
    sent = invites(smtp.recorder.received[before:], mailbox)
    october = [i for i in sent if i.start.date() <= date(2026, 10, 31)]
    by_uid = {i.uid: i for i in october}
    cancel_old = by_uid[SAM]
    new = by_uid["wfscp:safeguarding-accountability-meeting:2026-10-14"]
    assert (cancel_old.method, cancel_old.sequence) == ("CANCEL", 1)
    assert cancel_old.rcpts == original.rcpts
    assert (new.method, new.sequence) == ("REQUEST", 0)
    assert new.rcpts == original.rcpts
    assert new.start == datetime(2026, 10, 14, 14, tzinfo=LONDON)
    assert "It replaces the meeting on Tuesday 13 October 2026" in new.text

    apply(clients, sent)
    for person in original.rcpts:  # one meeting in each calendar, on the new day
        assert [i.start.date() for i in sams(clients[person])] == [date(2026, 10, 14)]


def feed_events(path: Path) -> dict[str, tuple]:
    """uid -> (summary, categories, transp, status, dtstamp, has alarm), read by icalendar
    and checked against vobject field by field."""
    body = path.read_bytes()
    found = {}
    vevents = {e.uid.value: e for e in vobject.readOne(body.decode()).vevent_list}
    for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        v = vevents[str(event["UID"])]
        uid = str(event["UID"]).rpartition("@")[0]  # the event; the domain is the installation's
        assert str(event["SUMMARY"]) == v.summary.value
        assert event["DTSTAMP"].dt == v.dtstamp.value
        found[uid] = (
            str(event["SUMMARY"]),
            list(event["CATEGORIES"].cats),
            str(event["TRANSP"]),
            str(event["STATUS"]),
            event["DTSTAMP"].dt,
            bool(event.walk("VALARM")),
        )
    return found


def test_a_feed_shows_completion_and_keeps_untouched_entries_byte_for_byte(
    calendar, wfscp, tmp_path
):
    from govcal.flows.steps import publish_feeds
    from govcal.models.records import Evidence, complete

    feeds = tmp_path / "feeds"
    report = "wfscp:annual-report:2026-09-30"
    with session_scope(calendar) as s:
        publish_feeds(s, [wfscp], D("2026-10-01"), feeds, now=datetime(2026, 10, 1, 6, tzinfo=UTC))
    main = feeds / "wfscp.ics"
    before = feed_events(main)
    summary, categories, transp, status, stamp, alarm = before[report]
    assert summary.startswith("Overdue: ") and categories == ["Open"] and alarm
    assert (transp, status) == ("TRANSPARENT", "CONFIRMED")

    with session_scope(calendar) as s:
        complete(
            s,
            report,
            Evidence(url="https://example.org/ar.pdf"),
            ME,
            on=D("2026-10-01"),
            today=D("2026-10-02"),
        )
    with session_scope(calendar) as s:
        publish_feeds(s, [wfscp], D("2026-10-02"), feeds, now=datetime(2026, 10, 2, 6, tzinfo=UTC))
    after = feed_events(main)
    summary, categories, transp, status, stamp2, alarm = after[report]
    assert summary.startswith("Done: ") and "Due:" not in summary
    assert categories == ["Completed"] and not alarm  # no reminder for what is done
    assert stamp2 > stamp  # it changed, so its stamp moved
    untouched = [u for u in before if u != report and before[u] == after.get(u)]
    assert len(untouched) == len(before) - 1  # nothing else changed: same stamps, same text


def test_a_rewrite_leaves_unchanged_feeds_alone_and_writes_a_lost_one_again(
    calendar, wfscp, tmp_path
):
    """Feed files are served to calendar clients: a rewrite that changes nothing must not
    touch them (their time tells HTTP caches there is nothing new), and a feed removed
    or damaged on disk is written again."""
    import os

    from govcal.flows.steps import publish_feeds

    feeds = tmp_path / "feeds"
    with session_scope(calendar) as s:
        written = publish_feeds(
            s, [wfscp], D("2026-10-01"), feeds, now=datetime(2026, 10, 1, 6, tzinfo=UTC)
        )
    original = {f.path: f.path.read_bytes() for f in written}
    for path in original:
        os.utime(path, ns=(10**18, 10**18))
    lost, damaged = feeds / "wfscp.ics", next(p for p in original if "roles" in p.parts)
    lost.unlink()
    damaged.write_bytes(original[damaged][:200])
    with session_scope(calendar) as s:
        again = publish_feeds(
            s, [wfscp], D("2026-10-01"), feeds, now=datetime(2026, 10, 1, 7, tzinfo=UTC)
        )
    assert {f.path for f in again} == set(original)
    assert {p: p.read_bytes() for p in original} == original
    touched = {p for p in original if p.stat().st_mtime_ns != 10**18}
    assert touched == {lost, damaged}


def test_two_changes_in_one_second_still_move_the_feed_stamp(calendar, wfscp, tmp_path):
    """Feeds show an entry's last change as DTSTAMP, to the second: a completion recorded in
    the same second as the row was last written must still give a later stamp."""
    import time_machine

    from govcal.flows.steps import publish_feeds
    from govcal.models.records import Evidence, complete

    feeds = tmp_path / "feeds"
    report = "wfscp:annual-report:2026-09-30"
    with session_scope(calendar) as s:
        publish_feeds(s, [wfscp], D("2026-10-01"), feeds, now=datetime(2026, 10, 1, 6, tzinfo=UTC))
    stamp = feed_events(feeds / "wfscp.ics")[report][4]
    with time_machine.travel(stamp, tick=False), session_scope(calendar) as s:  # same second
        complete(
            s,
            report,
            Evidence(url="https://example.org/ar.pdf"),
            ME,
            on=D("2026-10-01"),
            today=D("2026-10-02"),
        )
    with session_scope(calendar) as s:
        publish_feeds(s, [wfscp], D("2026-10-02"), feeds, now=datetime(2026, 10, 2, 6, tzinfo=UTC))
    assert feed_events(feeds / "wfscp.ics")[report][4] > stamp


def test_a_copy_of_the_database_never_mints_the_originals_message_ids(calendar, tmp_path):
    import sqlite3

    from govcal.flows.message_context import installation_part

    with session_scope(calendar) as s:
        original = installation_part(s)
    with session_scope(calendar) as s:
        assert installation_part(s) == original  # stable: a retry keeps its Message-ID
    source = calendar.removeprefix("sqlite:///")
    copy = tmp_path / "restored-backup.db"
    with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with session_scope(f"sqlite:///{copy}") as s:
        copied = installation_part(s)
    assert len(copied) == len(original) == 12 and copied != original


def test_an_invite_waiting_for_a_retry_is_overtaken_by_the_moved_meeting(calendar, wfscp, smtp):
    from sqlmodel import select

    from govcal.models.ledger import LedgerEntry

    mailbox = wfscp.business_team_mailbox
    smtp.stop()
    run(calendar, wfscp, D("2026-10-05"), smtp)  # the relay is down: invite-0 waits
    with session_scope(calendar) as s:
        reschedule(s, SAM, datetime(2026, 10, 20, 10, tzinfo=LONDON), "chair unavailable", ME)
    smtp.start()
    run(calendar, wfscp, D("2026-10-06"), smtp)
    sam = [i for i in invites(smtp.recorder.received, mailbox) if i.uid == SAM]
    [only] = sam  # one email, the current version, not the stale one then the update
    assert (only.method, only.sequence) == ("REQUEST", 1)
    assert only.start == datetime(2026, 10, 20, 10, tzinfo=LONDON)
    assert "You are invited to this meeting" in only.text  # new to them: not "changed"
    with session_scope(calendar) as s:
        stale = s.exec(select(LedgerEntry).where(LedgerEntry.stage == "invite-0")).all()
        mine = [
            r
            for r in stale
            if r.occurrence_id
            == s.exec(
                select(LedgerEntry.occurrence_id).where(LedgerEntry.stage == "invite-1")
            ).first()
        ]
    assert mine and all(r.status == "skipped" for r in mine)
