"""Reminders, escalations, digests and invites, delivered to a real SMTP server."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, timedelta
from email import policy

import pytest
import vobject
from sqlmodel import select

from govcal.flows.steps import notify
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.ledger import LedgerEntry
from govcal.models.records import Actor, cancel, reschedule
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Sender
from govcal.notifications.transport import FileOutbox, SmtpSettings, SmtpTransport
from tests.smtp_server import SmtpServer
from tests.support.paths import SAMPLE_DIRECTORY

D = date.fromisoformat
SENDER = Sender("WFSCP business team", "wfscp-business@example.org")
ME = Actor("business.team@example.org")


@pytest.fixture
def calendar(tmp_path, wfscp, migrated_copy):
    """A SQLite database with the sample directory, synced as of 1 October 2026."""
    url = migrated_copy(tmp_path / "notify.db")
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, D("2026-10-01"))
    return url


def transport(server: SmtpServer) -> SmtpTransport:
    return SmtpTransport(SmtpSettings("127.0.0.1", server.port, security="none", timeout=5))


def run(url, wfscp, day, server=None, *, outbox=None, now=None):
    chosen = transport(server) if server else FileOutbox(outbox)
    when = now or datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)
    with session_scope(url) as s:
        report = notify(s, [wfscp], day, chosen, SENDER, now=when, settings=get_settings())
    return report, chosen


def ledger(url) -> list[LedgerEntry]:
    with session_scope(url) as s:
        return list(s.exec(select(LedgerEntry)).all())


def test_reminders_reach_each_agency_lead_once_and_a_rerun_sends_nothing(calendar, wfscp, smtp):
    # Mon 5 Oct 2026: S11 returns (due Sat 31 Oct) are 26 days away: the 28-day reminder
    _report, sent_over = run(calendar, wfscp, D("2026-10-05"), smtp)
    leads = [r for r in smtp.recorder.received if r.rcpt_tos[0].startswith("safeguarding-")]
    assert len(leads) == 20 and all(len(r.rcpt_tos) == 1 for r in leads)
    nwas = smtp.recorder.to("safeguarding-nwas@example.org")
    [mail] = nwas
    body = mail.message.get_body(("plain",)).get_content()
    assert "Section 11 self-assessment audit" in body
    assert "Saturday 31 October 2026" in body and "due in 26 days" in body
    assert "Children Act 2004 s11" in body  # why: the rule's source
    assert "govcal" not in body.replace("govcal@", "")  # no command lines for an agency
    assert mail.message["From"].addresses[0].addr_spec == "wfscp-business@example.org"
    assert sent_over.connections_opened == 1  # one connection for the whole batch

    count = len(smtp.recorder.received)
    again, _ = run(calendar, wfscp, D("2026-10-05"), smtp)
    assert len(smtp.recorder.received) == count  # a rerun sends nothing
    assert again.delivery.messages_sent == 0 and not again.new


def test_one_digest_per_recipient_however_many_items(calendar, wfscp, smtp):
    # Mon 16 Nov 2026: the S11 returns of every agency (due 31 Oct) reached the day-14
    # stage, so each LSP is told of all of them, in one email each
    run(calendar, wfscp, D("2026-11-16"), smtp)
    to_ce = [
        r for r in smtp.recorder.to("lsp-wfc@example.org") if "digest" in r.message["Message-ID"]
    ]
    assert len(to_ce) == 1  # invites come separately, one per meeting
    body = to_ce[0].message.get_body(("plain",)).get_content()
    words = " ".join(body.split())  # as read: line breaks do not matter
    # the 20 returns are one entry listing who has not returned, not 20 entries
    assert body.count("Section 11 self-assessment audit") == 1
    assert "Section 11 self-assessment audit 2026 — 20 of 20 agencies not returned" in words
    # the first three by name with the lead to ask, then the count (not all 20)
    assert "; and 17 more agencies" in words
    assert "Not returned: Safeguarding lead, British Transport Police (sample) (btp);" in words
    assert "Sent to you as: Lead Safeguarding Partners." in words and " lsp" not in body
    assert (
        to_ce[0]
        .message["Subject"]
        .startswith(
            "Escalation: Section 11 self-assessment audit 2026 — 20 of 20 agencies not returned"
        )
    )
    digests = [
        tuple(r.rcpt_tos) for r in smtp.recorder.received if "digest" in r.message["Message-ID"]
    ]
    assert len(set(digests)) == len(digests)


def test_escalations_reach_the_dsp_answerable_for_the_agency(calendar, wfscp, smtp):
    # S11 due Sat 31 Oct; on Mon 9 Nov it is 9 days overdue: the day-7 stage, to the DSP
    # of each agency's lead partner (NWAS -> Lancashire and South Cumbria ICB)
    run(calendar, wfscp, D("2026-11-09"), smtp)
    text = " ".join(smtp.recorder.digest_to("dsp-lsc-icb@example.org").split())
    assert "North West Ambulance Service" in text
    assert "Cumbria Fire and Rescue Service" not in text  # that one answers to the council
    council = " ".join(smtp.recorder.digest_to("dsp-wfc@example.org").split())
    assert "Cumbria Fire and Rescue Service" in council
    to_scrutineer = smtp.recorder.to("scrutineer@example.org")
    assert all("invite" in r.message["Message-ID"] for r in to_scrutineer)  # flags: no email
    flags = [r for r in ledger(calendar) if r.status == "flagged"]
    assert flags and all(r.recipient == "flag:scrutineer" for r in flags)


def test_invites_are_valid_icalendar_read_back_by_an_independent_parser(calendar, wfscp, smtp):
    run(calendar, wfscp, D("2026-10-05"), smtp)
    invites = [r for r in smtp.recorder.received if r.message["Subject"].startswith("Invitation")]
    sam = next(
        r for r in invites if "Accountability Meeting, Tuesday 13 October" in r.message["Subject"]
    )
    part = next(p for p in sam.message.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REQUEST"
    cal = vobject.readOne(part.get_content())
    assert cal.method.value == "REQUEST"
    event = cal.vevent
    assert (
        event.uid.value.rpartition("@")[0] == "wfscp:safeguarding-accountability-meeting:2026-10-13"
    )
    assert event.dtstart.value == datetime(2026, 10, 13, 14, 0, tzinfo=event.dtstart.value.tzinfo)
    assert event.dtstart.value.utcoffset() == timedelta(hours=1)  # BST, from the VTIMEZONE
    assert event.dtend.value - event.dtstart.value == timedelta(hours=2)
    assert int(event.sequence.value) == 0
    # the business team's mailbox from the rule file, not the robot sender: RSVPs reach people
    assert event.organizer.value == f"mailto:{wfscp.business_team_mailbox}"
    assert sam.message["Reply-To"].addresses[0].addr_spec == wfscp.business_team_mailbox
    assert event.location.value == wfscp.rule("safeguarding-accountability-meeting").location
    attendees = {a.value for a in event.attendee_list}
    assert "mailto:dsp-wfc@example.org" in attendees and "mailto:scrutineer@example.org" in (
        attendees
    )
    assert hasattr(event, "valarm") and hasattr(cal, "vtimezone")
    assert set(sam.rcpt_tos) == {a.removeprefix("mailto:") for a in attendees}


def test_a_moved_meeting_is_resent_with_a_higher_sequence_and_a_cancelled_one_cancels(
    calendar, wfscp, smtp
):
    run(calendar, wfscp, D("2026-10-05"), smtp)
    meeting = "wfscp:safeguarding-accountability-meeting:2026-10-13"
    with session_scope(calendar) as s:
        from zoneinfo import ZoneInfo

        reschedule(
            s,
            meeting,
            datetime(2026, 10, 20, 10, tzinfo=ZoneInfo("Europe/London")),
            "chair unavailable",
            ME,
        )
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-06"), smtp)
    updates = [r for r in smtp.recorder.received[before:] if "Updated:" in r.message["Subject"]]
    [update] = updates
    part = next(p for p in update.message.walk() if p.get_content_type() == "text/calendar")
    cal = vobject.readOne(part.get_content())
    assert int(cal.vevent.sequence.value) == 1
    assert cal.vevent.dtstart.value.day == 20
    assert cal.vevent.uid.value.rpartition("@")[0] == meeting  # same UID: clients update in place

    with session_scope(calendar) as s:
        cancel(s, meeting, "no quorum", ME)
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-07"), smtp)
    [cancelled] = [
        r for r in smtp.recorder.received[before:] if r.message["Subject"].startswith("Cancelled")
    ]
    part = next(p for p in cancelled.message.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "CANCEL"
    cal = vobject.readOne(part.get_content())
    assert cal.method.value == "CANCEL" and cal.vevent.status.value == "CANCELLED"
    assert int(cal.vevent.sequence.value) == 2
    assert "no quorum" in cancelled.message.get_body(("plain",)).get_content()


def test_smtp_down_then_up_delivers_everything_exactly_once(calendar, wfscp, smtp):
    smtp.stop()
    day = D("2026-10-05")
    down, _ = run(calendar, wfscp, day, smtp)
    assert down.delivery.messages_sent == 0 and down.delivery.rows_retry > 0
    pending = [r for r in ledger(calendar) if r.status == "pending"]
    assert pending and all(r.attempts == 1 and r.last_error for r in pending)

    smtp.start()
    seven = datetime(2026, 10, 5, 7, tzinfo=UTC)
    too_soon, _ = run(calendar, wfscp, day, smtp, now=seven + timedelta(seconds=30))
    assert too_soon.delivery.messages_sent == 0  # backoff: not retried within the minute
    later, _ = run(calendar, wfscp, day, smtp, now=seven + timedelta(minutes=5))
    assert later.delivery.rows_sent == len(pending)
    again, _ = run(calendar, wfscp, day, smtp, now=seven + timedelta(minutes=10))
    assert again.delivery.messages_sent == 0
    keys = [(r.occurrence_id, r.stage, r.recipient) for r in ledger(calendar) if r.status == "sent"]
    assert len(keys) == len(set(keys)) == len(pending)
    per_person = [
        tuple(r.rcpt_tos) for r in smtp.recorder.received if "digest" in r.message["Message-ID"]
    ]
    assert len(per_person) == len(set(per_person))  # nobody got two digests


def test_a_refused_address_is_reported_and_the_rest_still_go(calendar, wfscp, smtp):
    smtp.recorder.refuse.add("safeguarding-nwas@example.org")
    report, _ = run(calendar, wfscp, D("2026-10-05"), smtp)
    assert report.delivery.rows_refused == 1
    assert any("safeguarding-nwas@example.org refused: 550" in e for e in report.delivery.errors)
    assert len(smtp.recorder.to("safeguarding-btp@example.org")) == 1
    [refused] = [r for r in ledger(calendar) if r.status == "failed"]
    assert (refused.recipient, refused.stage) == ("safeguarding-nwas@example.org", "reminder-28")
    assert "550" in refused.last_error
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-05"), smtp)
    assert len(smtp.recorder.to("safeguarding-nwas@example.org")) == 0  # not retried forever
    # the business team's next digest says what failed, with the relay's answer, once
    told = smtp.recorder.received[before:]
    assert sorted(r.rcpt_tos[0] for r in told) == [
        "business-team@example.org",
        "partnership-manager@example.org",
    ]
    [notice] = [r for r in told if r.rcpt_tos == ["partnership-manager@example.org"]]
    text = " ".join(notice.message.get_body(("plain",)).get_content().split())  # unwrapped
    assert notice.message["Subject"].startswith("Delivery failed")
    assert "Mail that could not be delivered" in text
    assert "to safeguarding-nwas@example.org" in text and "550 5.1.1 mailbox unavailable" in text
    third, _ = run(calendar, wfscp, D("2026-10-05"), smtp)
    assert third.delivery.messages_sent == 0


def test_a_dropped_connection_mid_batch_is_reopened_and_nothing_is_lost(calendar, wfscp, smtp):
    """The relay drops the link after the 13th message's end of DATA (a digest, after the
    day's invites), without an answer: that message is "uncertain" (the relay may hold
    it), so it is not resent in this run; the rest of the batch goes on a new connection;
    the next run resends it with the same Message-ID."""
    smtp.recorder.drop_after = 12
    report, sender = run(calendar, wfscp, D("2026-10-05"), smtp)
    assert report.delivery.rows_retry == report.delivery.rows_uncertain == 1
    assert sender.connections_opened == 2
    rows = [r for r in ledger(calendar) if r.status in ("pending", "sending", "uncertain")]
    [uncertain] = rows
    assert uncertain.status == "uncertain" and uncertain.message_key
    later = datetime(2026, 10, 5, 7, tzinfo=UTC) + timedelta(minutes=5)
    run(calendar, wfscp, D("2026-10-05"), smtp, now=later)
    assert [r for r in ledger(calendar) if r.status in ("pending", "sending", "uncertain")] == []
    sent = [r.message["Message-ID"] for r in smtp.recorder.received]
    assert len(sent) == len(set(sent))  # nothing lost, nothing doubled
    resent = [r for r in smtp.recorder.received if uncertain.message_key in r.message["Message-ID"]]
    assert [r.rcpt_tos for r in resent] == [[uncertain.recipient]]


def test_file_outbox_is_the_default_transport_and_idempotent(calendar, wfscp, tmp_path):
    outbox = tmp_path / "outbox"
    report, _ = run(calendar, wfscp, D("2026-10-05"), outbox=outbox)
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == report.delivery.messages_sent > 20
    run(calendar, wfscp, D("2026-10-05"), outbox=outbox)
    assert sorted(outbox.glob("*.eml")) == files


def test_feeds_parse_back_and_match_the_plan(calendar, wfscp, tmp_path):
    from govcal.flows.steps import publish_feeds
    from govcal.models.feed_tokens import feed_tokens

    with session_scope(calendar) as s:
        written = publish_feeds(s, [wfscp], D("2026-10-01"), tmp_path / "feeds")
        token = feed_tokens(s, ["dsl-wf-p001@example.org"])["dsl-wf-p001@example.org"]
    partnership = vobject.readOne((tmp_path / "feeds" / "wfscp.ics").read_text())
    uids = {e.uid.value.rpartition("@")[0]: e for e in partnership.vevent_list}
    lsp = uids["wfscp:lsp-meeting:2026-11-11"]
    assert lsp.dtstart.value.hour == 10 and lsp.dtstart.value.utcoffset() == timedelta(0)
    s175 = uids["wfscp:section-175-audit:2027-03-31"]  # one entry for the round
    assert s175.dtstart.value == D("2027-03-31")
    assert s175.summary.value == (
        "Due: Section 175 safeguarding audit (148 of 148 schools outstanding)"
    )
    assert not any(uid.endswith(":wf-p001") for uid in uids)

    dsl = tmp_path / "feeds" / "wfscp" / "people" / f"{token}.ics"
    assert len(token) >= 24 and "dsl" not in token  # random, nothing to do with the address
    mine = vobject.readOne(dsl.read_text())
    assert [
        (e.uid.value.rpartition("@")[0], e.summary.value.split(":")[0]) for e in mine.vevent_list
    ] == [
        ("wfscp:section-175-audit:2026-03-31:wf-p001", "Overdue"),
        ("wfscp:section-175-audit:2027-03-31:wf-p001", "Due"),
    ]  # a school's DSL sees their own returns only, last year's still open however late
    role_file = tmp_path / "feeds" / "wfscp" / "roles" / "lead-safeguarding-partners.ics"
    role = vobject.readOne(role_file.read_text())
    assert role.x_wr_calname.value == (
        "Westmorland and Furness Safeguarding Children Partnership: Lead Safeguarding Partners"
    )
    assert {e.summary.value for e in role.vevent_list} >= {
        "Joint Lead Safeguarding Partners meeting (with Cumberland SCP)"
    }
    assert len(written) > 150

    # regenerated: same UIDs, so subscribed clients update rather than duplicate
    with session_scope(calendar) as s:
        publish_feeds(s, [wfscp], D("2026-10-02"), tmp_path / "feeds")
    again = vobject.readOne((tmp_path / "feeds" / "wfscp.ics").read_text())
    assert {e.uid.value.rpartition("@")[0] for e in again.vevent_list} == set(uids)


def test_html_in_names_is_escaped_in_the_html_part_and_kept_plain_in_the_text():
    from govcal.notifications.render import Digest, DigestLine, render_digest
    from govcal.rules.state import State

    hostile = '<script>alert("x")</script> Primary & Nursery'
    line = DigestLine(
        public_id="wfscp:section-175-audit:2027-03-31:wf-p001",
        title="Section 175 audit",
        due=D("2027-03-31"),
        state=State.DUE_SOON,
        state_text="due in 7 days",
        kind="reminder",
        stage="reminder-7",
        role="dsl",
        source="Education Act 2002 s175",
        evidence="Return",
        subject_name=hostile,
    )
    digest = Digest(
        "k1", "head@example.org", 'Ann "Head" <x>', "WFSCP", [line], timezone="Europe/London"
    )
    message = email.message_from_bytes(
        render_digest(digest, Sender("govcal", "g@example.org")), policy=policy.default
    )
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; Nursery" in html
    assert hostile in " ".join(text.split())  # the plain part is not HTML: shown as typed
    assert message["To"].addresses[0].addr_spec == "head@example.org"


class _Crash(BaseException):
    """The process dies (power cut, kill -9) at this point of the outbox's batch."""


class _CrashingOutbox(FileOutbox):
    def __init__(self, folder, *, after_flush: bool):
        super().__init__(folder)
        self.after_flush = after_flush

    def flush(self) -> None:
        if self.after_flush:
            super().flush()
        raise _Crash


@pytest.mark.parametrize("after_flush", [False, True])
def test_a_crash_in_an_outbox_batch_leaves_each_message_once(
    calendar, wfscp, tmp_path, after_flush
):
    """The outbox makes a batch of files durable at once and only then marks them sent.
    A crash before that flush leaves no file and no row marked sent; a crash after it
    leaves the files, which the rerun finds instead of writing a second copy."""
    outbox, day = tmp_path / "outbox", D("2026-10-05")
    crashing = _CrashingOutbox(outbox, after_flush=after_flush)
    with pytest.raises(_Crash), session_scope(calendar) as s:
        notify(
            s,
            [wfscp],
            day,
            crashing,
            SENDER,
            now=datetime(2026, 10, 5, 7, tzinfo=UTC),
            settings=get_settings(),
        )
    assert not [e for e in ledger(calendar) if e.status == "sent"]
    assert not list(outbox.glob(".tmp-*"))  # nothing half-written is left behind
    written = sorted(outbox.glob("*.eml"))
    assert bool(written) == after_flush

    later = datetime(2026, 10, 5, 7, 16, tzinfo=UTC)  # the crashed run held nothing after it
    report, _ = run(calendar, wfscp, day, outbox=outbox, now=later)
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == report.delivery.messages_sent > 20  # each message once
    assert not written or files == written
    left = {e.status for e in ledger(calendar)} & {"pending", "sending", "uncertain"}
    assert not left  # every claimed row settled by the rerun


def _concerns(item, held: set[tuple[str, str, str]]) -> bool:
    """The rule, item by item: attends it in a role, or owns it in a role with no subject
    or with their own agency or school as its subject."""
    for role, agency, school in held:
        if role in item.attendees:
            return True
        if role == item.owner_role and (not item.subject or item.subject in (agency, school)):
            return True
    return False


def test_each_persons_feed_is_the_items_that_concern_them_found_by_index(calendar, wfscp):
    """The per-person lookup (indexes built once per partnership) gives, for every person
    in the sample, exactly what checking every item one by one gives, in the same order."""
    from govcal.flows.steps import load_directory
    from govcal.models.notify_inputs import calendar_items
    from govcal.notifications.feeds import _ConcernIndex

    with session_scope(calendar) as s:
        items = calendar_items(s, wfscp, D("2026-07-01"), D("2027-11-01"))
        people = load_directory(s, [wfscp.id])
    held: dict[str, set[tuple[str, str, str]]] = {}
    for (_pid, role), holders in people.holders.items():
        for agency, school, contact in holders:
            held.setdefault(contact.email.lower(), set()).add((role, agency, school))
    concerning = _ConcernIndex(items)
    assert len(held) > 150 and len(items) > 200
    for person in held.values():
        expected = [i for i in items if _concerns(i, person)]
        assert concerning(person) == expected
    assert any(concerning(person) for person in held.values())
