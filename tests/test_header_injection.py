"""No stored text becomes a header line. Names stored before the import refused encoded
words (rows written straight to the database here) carry an RFC 2047 encoded word that
decodes to a line break, a forged Reply-To and a phishing body; every message a day sends
(digests, escalations, invites to many attendees, the business team's failure notice)
is read back as a mail server reads it, by the standard library's strict parser and by
dkimpy's own header splitter, and carries exactly the headers govcal meant to write."""

from __future__ import annotations

import base64
import email
from datetime import UTC, date, datetime, timedelta
from email import policy

import dkim
import pytest
from sqlmodel import select

from govcal.flows.steps import notify
from govcal.models.db import session_scope
from govcal.models.directory import Agency, School
from govcal.models.directory_import import import_directory
from govcal.models.people import Person
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Sender
from govcal.notifications.transport import SmtpSettings, SmtpTransport
from tests.support.paths import SAMPLE_DIRECTORY

FORGED = "\r\nReply-To: attacker@evil.example\r\nBcc: all@evil.example\r\n\r\nURGENT: log in"
WORD = "=?utf-8?b?" + base64.b64encode(FORGED.encode()).decode() + "?="
MEANT = {
    "subject",
    "from",
    "to",
    "reply-to",
    "date",
    "message-id",
    "auto-submitted",
    "x-auto-response-suppress",
    "mime-version",
    "content-type",
}


@pytest.fixture
def hostile(tmp_path, wfscp, migrated_copy):
    """The sample, every person, agency and school name carrying the encoded word."""
    url = migrated_copy(tmp_path / "hostile.db")
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, date(2026, 10, 1))
        for table in (Person, Agency, School):
            for row in s.exec(select(table)).all():
                row.name = f"{row.name[:20]} {WORD} x"
                s.add(row)
    return url


def _run(url, wfscp, day, server) -> None:
    transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, security="none", timeout=5))
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)
    with session_scope(url) as s:
        notify(
            s,
            [wfscp],
            day,
            transport,
            Sender(None, "govcal@example.org"),
            now=now,
            settings=get_settings(),
        )


def _headers_by_dkim(data: bytes) -> list[tuple[str, str]]:
    headers, _body = dkim.rfc822_parse(data)
    return [(name.decode().lower(), value.decode("ascii")) for name, value in headers]


def test_no_stored_name_becomes_a_header_in_any_message(hostile, wfscp, smtp):
    smtp.recorder.refuse.add("safeguarding-nwas@example.org")
    _run(hostile, wfscp, date(2026, 10, 5), smtp)  # reminders, invites to many, one refused
    _run(hostile, wfscp, date(2026, 10, 5), smtp)  # the business team's failure notice
    _run(hostile, wfscp, date(2026, 11, 9), smtp)  # escalations to the Lead Partners
    received = smtp.recorder.received
    subjects = [r.message["Subject"] for r in received]
    assert any(s.startswith("Delivery failed") for s in subjects)
    assert any(s.startswith("Escalation") for s in subjects)
    assert max(len(r.rcpt_tos) for r in received) > 5  # an invite to many attendees
    for r in received:
        strict = email.message_from_bytes(r.data, policy=policy.strict)
        names = [name.lower() for name in strict]
        assert set(names) <= MEANT and len(names) == len(set(names)), names
        assert names == [name for name, _ in _headers_by_dkim(r.data)]
        to = [a.addr_spec for a in strict["To"].addresses]
        assert sorted(to) == sorted(r.rcpt_tos)  # every recipient in To, nobody in a Bcc
        assert strict["Reply-To"].addresses[0].addr_spec == wfscp.business_team_mailbox
        assert strict["From"].addresses[0].display_name == wfscp.name  # not "govcal"
        assert strict["X-Auto-Response-Suppress"] == "OOF, AutoReply"
        for name in ("Subject", "From", "To", "Reply-To"):
            assert "evil.example" not in str(strict[name]) and "\n" not in str(strict[name])
        text = strict.get_body(("plain",)).get_content()
        assert not text.lstrip().startswith("URGENT"), text[:80]
