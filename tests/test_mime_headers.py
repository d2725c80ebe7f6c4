"""Headers parsed once per process (notifications/mime.py) must stay each message's own:
a shared sender, a recipient, a name outside ASCII and a long subject, read back by the
standard library's strict parser as a mail client would."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest

from govcal.notifications.mime import Envelope, build

SENT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def read(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def test_many_messages_from_one_sender_keep_their_own_recipients_and_ids():
    sender = ("Safeguarding Partnership — Zoë Ağa", "govcal@example.org")
    sent = [
        read(
            build(
                Envelope(
                    f"Reminder {n}",
                    sender,
                    [(f"Héloïse {n}", f"dsl{n}@example.org")],
                    f"<k{n}@example.org>",
                    SENT,
                ),
                f"text {n}",
                f"<p>html {n}</p>",
            )
        )
        for n in range(3)
    ]
    for n, message in enumerate(sent):
        assert message["From"].addresses[0].display_name == sender[0]
        assert message["To"].addresses[0].display_name == f"Héloïse {n}"
        assert message["To"].addresses[0].addr_spec == f"dsl{n}@example.org"
        assert message["Message-ID"] == f"<k{n}@example.org>"
        assert message.get_body(("plain",)).get_content().strip() == f"text {n}"
        assert message.get_all("MIME-Version") == ["1.0"]
        assert message["Auto-Submitted"] == "auto-generated"


def test_headers_go_out_as_ascii_on_one_line_each():
    subject = "Escalation: Section 175 safeguarding audit 2026 — 12 of 148 schools not returned"
    raw = build(
        Envelope(
            subject,
            ("Zoë", "govcal@example.org"),
            [("Ann", "a@example.org")],
            "<x@example.org>",
            SENT,
        ),
        "t",
        "<p>t</p>",
    )
    lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    for line in lines:
        line.decode("ascii")  # non-ASCII names are encoded words, never raw bytes
    at = next(n for n, line in enumerate(lines) if line.startswith(b"Subject: "))
    assert not lines[at + 1][:1].isspace()  # not folded before its first word
    assert read(raw)["Subject"] == subject


def test_a_line_break_in_a_header_is_refused_every_time():
    for _ in range(2):  # refused again, not remembered as fine
        with pytest.raises(ValueError):
            envelope = Envelope(
                "Hi\r\nBcc: x@example.org",
                ("A", "a@example.org"),
                [("B", "b@example.org")],
                "<y@example.org>",
                SENT,
            )
            build(envelope, "t", "<p>t</p>")
