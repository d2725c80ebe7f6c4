"""Assemble an email with the standard library: one MIME-Version, the headers that keep
robots and out-of-office replies away, and (for invites) the calendar part where Outlook,
Gmail and Apple Mail look for it.

Invite tree (what Google Calendar itself sends, RFC 6047 section 2.4):

    multipart/mixed
      multipart/alternative
        text/plain
        text/html
        text/calendar; method=REQUEST; charset=utf-8   <- Accept/Decline buttons
      application/ics; name=invite.ics                  <- for clients that want a file
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, EmailPolicy
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from govcal.notifications import dkim
from govcal.rules.text import address_problem, shown


class _ParsedOnce(EmailPolicy):
    """The SMTP policy, each header value parsed once per process: a day's thousand
    digests share their sender, content types and robot headers, and the standard
    library parsed each again for every message (a third of building one). Header
    objects are immutable strings, so one can stand in many messages."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if type(value) is str:  # plain text; a header object or an Address as before
            return _parsed(self, name, value)
        return super().header_store_parse(name, value)

    def header_max_count(self, name: str) -> int | None:
        return _max_count(self, name.lower())  # the registry made a class on every call


@lru_cache(maxsize=256)
def _max_count(policy: EmailPolicy, name: str) -> int | None:
    return EmailPolicy.header_max_count(policy, name)


@lru_cache(maxsize=2048)
def _parsed(policy: EmailPolicy, name: str, value: str) -> tuple[str, Any]:
    return EmailPolicy.header_store_parse(policy, name, value)


# SMTP's line ends; at 78 the stdlib folds a long Subject before its first word
_POLICY = _ParsedOnce(linesep=SMTP.linesep, max_line_length=998)


@dataclass(frozen=True, slots=True)
class Envelope:
    subject: str
    sender: tuple[str, str]  # (name, email)
    to: list[tuple[str, str]]
    message_id: str
    date: datetime
    reply_to: tuple[str, str] | None = None


def _address(name: str, email: str) -> Address:
    problem = address_problem(email)
    if problem:
        raise ValueError(problem)
    local, _, domain = email.partition("@")
    return Address(display_name=_plain(name, "a display name"), username=local, domain=domain)


def _plain(text: str, what: str) -> str:
    """`text` when the header parser reads it back as itself: no control character or
    line break, no encoded word (the parser would decode `=?utf-8?b?...?=` into any text,
    a line break and a forged header included, on every Python patch level). Callers pass
    text through render.one_line first; anything else is a bug, refused loudly."""
    if shown(text) != text:
        raise ValueError(f"{what} holds a line break, control character or encoded word")
    return text


def message_id(key: str, sender_email: str, installation: str) -> str:
    """`<key.installation@sender-domain>`: the installation part keeps two copies of one
    database (a restored backup, a test copy) from minting the same ids."""
    domain = sender_email.rpartition("@")[2] or "localhost"
    return f"<{key}.{installation}@{domain}>" if installation else f"<{key}@{domain}>"


def _headers(message: EmailMessage, envelope: Envelope) -> None:
    """Every header from plain text (see _plain), then read back: the header set is
    exactly what govcal meant to write, or the message is not built."""
    meant_to = [(_plain(name, "a display name"), email) for name, email in envelope.to]
    message["Subject"] = _plain(envelope.subject, "the subject")
    message["From"] = str(_address(*envelope.sender))  # as text: parsed once (_ParsedOnce)
    message["To"] = [_address(name, email) for name, email in envelope.to]
    if envelope.reply_to:
        message["Reply-To"] = str(_address(*envelope.reply_to))
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = _plain(envelope.message_id, "the Message-ID")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    # Exchange: no out-of-office or auto-replies; "All" would hide delivery reports too
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    read = [(a.display_name, a.addr_spec) for a in message["To"].addresses]
    if message["Subject"] != envelope.subject or read != meant_to:
        raise ValueError("a header did not read back as written; the message is not built")
    for name, meant in (("From", envelope.sender), ("Reply-To", envelope.reply_to)):
        if meant and [(a.display_name, a.addr_spec) for a in message[name].addresses] != [meant]:
            raise ValueError(f"the {name} header did not read back as written")


def build(
    envelope: Envelope,
    text: str,
    html: str,
    calendar: bytes | None = None,
    method: str | None = None,
    *,
    dkim_key: dkim.DkimKey | None = None,
) -> bytes:
    """The message as bytes (CRLF line ends, ready for SMTP or an .eml file), signed
    with `dkim_key` when one is given."""
    message = EmailMessage(policy=_POLICY)
    _headers(message, envelope)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    if calendar is not None and method:
        message.add_alternative(calendar.decode("utf-8"), subtype="calendar", charset="utf-8")
        *_, part = message.iter_parts()
        # written out, unquoted, in the order Outlook and Gmail themselves use
        part.replace_header("Content-Type", f"text/calendar; method={method}; charset=utf-8")
        message.make_mixed()
        message.add_attachment(
            calendar,
            maintype="application",
            subtype="ics",
            filename="invite.ics",
        )
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]  # one MIME-Version, on the message itself
    return dkim.sign(message.as_bytes(), envelope.sender[1], dkim_key)
