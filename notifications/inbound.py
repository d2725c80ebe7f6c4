"""What a message in govcal's mailbox is: a calendar reply, a bounce, an auto-reply, or
something else (left for people). Pure: bytes in, a frozen description out.

Bounded whatever arrives: a message is parsed once, at most MAX_PARTS of its parts are
looked at, a calendar part larger than MAX_CALENDAR_BYTES is not parsed, and at most
MAX_ATTENDEES attendees and MAX_FAILURES failed addresses are read from one message.
Nothing here raises on bad input: a message that cannot be read is UNREADABLE, with a
reason in a few words.
"""

from __future__ import annotations

import email
import email.header
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Any

from govcal.models.mailbox import Read

MAX_PARTS = 200
MAX_CALENDAR_BYTES = 256 * 1024
MAX_ATTENDEES = 100
MAX_FAILURES = 50
OTHER = "other"  # not govcal's business: left where it is


@dataclass(frozen=True, slots=True)
class Attendee:
    address: str  # lower-cased
    partstat: str  # ACCEPTED, DECLINED, TENTATIVE, DELEGATED, NEEDS-ACTION...
    delegated_to: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarReply:
    """An iTIP REPLY or COUNTER (RFC 5546 3.2.3, 3.2.7) to one of govcal's invites."""

    method: str
    uid: str
    sequence: int
    stamp: datetime | None
    attendees: tuple[Attendee, ...]
    proposed_start: datetime | None = None  # COUNTER: the time proposed instead
    proposed_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    address: str  # lower-cased
    permanent: bool  # 5.x.x / "failed"; a delay (4.x.x) is temporary
    words: str  # the remote server's words, one line


@dataclass(frozen=True, slots=True)
class Bounce:
    failures: tuple[Failure, ...]
    returned_ids: tuple[str, ...]  # Message-IDs of the returned message (ours, or not)


@dataclass(frozen=True, slots=True)
class Inbound:
    message_id: str
    sender: str  # the From address, lower-cased
    kind: str  # a models.mailbox.Read value, or OTHER
    reply: CalendarReply | None = None
    bounce: Bounce | None = None
    refers_to: tuple[str, ...] = ()  # In-Reply-To and References
    problem: str = ""  # why UNREADABLE
    also_sent_by: tuple[str, ...] = field(default=())  # the Sender header, if any


def read_message(raw: bytes) -> Inbound:
    """Classify one message as fetched. Never raises."""
    try:
        message = email.message_from_bytes(raw)
    except Exception as exc:  # the parser is lenient; this is a last resort
        return Inbound(
            "", "", Read.UNREADABLE.value, problem=f"not a message ({type(exc).__name__})"
        )
    message_id = _header(message, "Message-ID")[:998]
    sender = _address(_header(message, "From"))
    refers = tuple(_ids(_header(message, "In-Reply-To") + " " + _header(message, "References")))
    base: dict[str, Any] = {
        "message_id": message_id,
        "sender": sender,
        "refers_to": refers[:20],
        "also_sent_by": tuple(a for a in [_address(_header(message, "Sender"))] if a),
    }
    try:
        parts = _parts(message)
        bounce = _bounce(message, parts)
        if bounce is not None:
            return Inbound(kind=Read.BOUNCE.value, bounce=bounce, **base)
        reply = _calendar_reply(parts)
        if isinstance(reply, str):
            return Inbound(kind=Read.UNREADABLE.value, problem=reply, **base)
        if reply is not None:
            kind = Read.COUNTER if reply.method == "COUNTER" else Read.REPLY
            return Inbound(kind=kind.value, reply=reply, **base)
        if _is_auto_reply(message):
            return Inbound(kind=Read.AUTO_REPLY.value, **base)
    except Exception as exc:  # a malformed structure the checks above did not foresee
        return Inbound(
            kind=Read.UNREADABLE.value, problem=f"malformed ({type(exc).__name__})", **base
        )
    return Inbound(kind=OTHER, **base)


# --- headers -------------------------------------------------------------------------


def _header(message: Message, name: str) -> str:
    """A header as one line of text (encoded words decoded), '' when absent or broken."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value))))
    except Exception:
        text = str(value)
    return " ".join(text.split())


def _address(value: str) -> str:
    address = parseaddr(value)[1].strip().lower()
    return address if "@" in address else ""


_ID = re.compile(r"<[^<>\s]{1,250}>")


def _ids(text: str) -> list[str]:
    return _ID.findall(text)


def _parts(message: Message) -> list[Message]:
    """The first MAX_PARTS parts, depth first (a 10,000-part message is not walked)."""
    found: list[Message] = []
    for part in message.walk():
        found.append(part)
        if len(found) >= MAX_PARTS:
            break
    return found


def _payload(part: Message, limit: int) -> bytes | None:
    """A part's decoded bytes, or None when it is larger than `limit`."""
    raw = part.get_payload()
    if not isinstance(raw, str) or len(raw) > limit * 2:  # base64 is 4/3 of the bytes
        return None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or len(data) > limit:
        return None
    return data


# --- bounces (RFC 3464, and what flufl.bounce knows of the rest) ----------------------

_SMTP_WORDS = re.compile(r"\b[45]\d\d[ -][^\r\n]{3,}|\b[45]\.\d{1,3}\.\d{1,3}\b[^\r\n]*")
_BOUNCE_HINT = re.compile(
    r"undeliver|delivery (status|failure|has failed)|returned mail|failure notice|"
    r"mail delivery failed|non[- ]?delivery|could not be delivered|delivery incomplete",
    re.IGNORECASE,
)


def _bounce(message: Message, parts: list[Message]) -> Bounce | None:
    statuses = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    failures = _from_delivery_status(statuses[0]) if statuses else []
    if not failures and _looks_like_bounce(message, statuses):
        failures = _from_flufl(message, parts)
    if not failures and not statuses:
        return None
    return Bounce(tuple(failures[:MAX_FAILURES]), tuple(_returned_ids(parts)[:10]))


def _looks_like_bounce(message: Message, statuses: list[Message]) -> bool:
    sender = _header(message, "From").lower()
    return bool(
        statuses
        or message.get_content_type() == "multipart/report"
        or "mailer-daemon" in sender
        or "postmaster" in sender
        or _BOUNCE_HINT.search(_header(message, "Subject"))
    )


def _from_delivery_status(part: Message) -> list[Failure]:
    """Per-recipient fields of a message/delivery-status part (RFC 3464 2.3)."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):  # a body the parser left as text: read it as fields
        text = blocks if isinstance(blocks, str) else ""
        blocks = [email.message_from_string(b) for b in re.split(r"\r?\n\r?\n", text) if b]
    failures: list[Failure] = []
    for block in blocks[1 : MAX_FAILURES + 1]:  # the first block is about the message
        if not isinstance(block, Message):
            continue
        recipient = _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
        address = _address(recipient.partition(";")[2] or recipient)
        action = _header(block, "Action").lower()
        status = _header(block, "Status")
        if not address or action not in ("failed", "delayed"):
            continue
        words = _header(block, "Diagnostic-Code").partition(";")[2].strip() or status
        failures.append(
            Failure(
                address,
                action == "failed" and not status.startswith("4"),
                _one_line(words or action),
            )
        )
    return failures


def _from_flufl(message: Message, parts: list[Message]) -> list[Failure]:
    """The non-standard bounces (Exim, qmail, Exchange's older NDRs...): Mailman's
    detectors find the addresses; the server's words are read from the text near them."""
    if len(parts) >= MAX_PARTS:
        return []
    from flufl.bounce import all_failures

    temporary, permanent = all_failures(message)
    text = _text_of(parts)
    found = []
    for raw, is_permanent in [(a, False) for a in temporary] + [(a, True) for a in permanent]:
        address = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).lower()
        if "@" in address:
            found.append(Failure(address, is_permanent, _words_near(text, address)))
    return sorted(found, key=lambda f: f.address)


def _text_of(parts: list[Message]) -> str:
    chunks = []
    for part in parts:
        if part.get_content_type() in ("text/plain", "text/html") and not part.is_multipart():
            data = _payload(part, 256 * 1024) or b""
            chunks.append(data.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(chunks)


def _words_near(text: str, address: str) -> str:
    """The first SMTP reply after the address in a bounce's text, else a plain note."""
    at = text.lower().find(address)
    found = _SMTP_WORDS.search(text, at if at >= 0 else 0)
    return _one_line(found.group(0)) if found else "returned as undeliverable (no reason given)"


def _returned_ids(parts: list[Message]) -> list[str]:
    """Message-IDs of the returned message: from its headers (message/rfc822 or
    text/rfc822-headers), else any Message-ID line quoted in the text."""
    ids: list[str] = []
    for part in parts[1:]:
        kind = part.get_content_type()
        if kind == "message/rfc822" and part.is_multipart():
            inner = part.get_payload(0)
            if isinstance(inner, Message):
                ids.extend(_ids(_header(inner, "Message-ID")))
        elif kind == "text/rfc822-headers":
            data = _payload(part, 64 * 1024) or b""
            headers = email.message_from_bytes(data)
            ids.extend(_ids(_header(headers, "Message-ID")))
    if not ids:
        text = _text_of(parts)
        for line in re.findall(r"(?im)^\s*message-id:\s*(<[^<>\s]+>)", text):
            ids.append(line)
    return list(dict.fromkeys(ids))


def _one_line(text: str) -> str:
    """Another server's words, one line, control characters out, at most 300 characters."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", " ".join(text.split()))[:300]


# --- calendar replies (RFC 5546, RFC 6047) --------------------------------------------


def _calendar_reply(parts: list[Message]) -> CalendarReply | str | None:
    """The first REPLY or COUNTER calendar in the message; a problem in words when the
    calendar is there and cannot be read; None when there is none."""
    for part in parts:
        kind = part.get_content_type()
        if kind not in ("text/calendar", "application/ics") or part.is_multipart():
            continue
        data = _payload(part, MAX_CALENDAR_BYTES)
        if data is None:
            return f"a calendar part larger than {MAX_CALENDAR_BYTES // 1024} KiB"
        if not re.search(rb"(?im)^METHOD:(REPLY|COUNTER)\s*$", data):
            continue
        return _parse_reply(data)
    return None


def _parse_reply(data: bytes) -> CalendarReply | str:
    from icalendar import Calendar

    try:
        calendar = Calendar.from_ical(data)
    except Exception as exc:
        return f"a calendar that cannot be read ({type(exc).__name__})"
    method = str(calendar.get("METHOD", "")).upper()
    events = [c for c in calendar.walk("VEVENT")][:1]
    if not events:
        return "a calendar reply with no event"
    event = events[0]
    uid = str(event.get("UID", "")).strip()
    if not uid:
        return "a calendar reply with no UID"
    try:
        sequence = int(str(event.get("SEQUENCE", 0)))
    except ValueError:
        return "a calendar reply whose SEQUENCE is not a number"
    attendees = event.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    people = []
    for attendee in attendees[:MAX_ATTENDEES]:
        address = _mailto(str(attendee))
        if not address:
            continue
        params = getattr(attendee, "params", {})
        delegated = _mailto(str(params.get("DELEGATED-TO", "")).strip('"'))
        people.append(
            Attendee(
                address, str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(), delegated or None
            )
        )
    return CalendarReply(
        method,
        uid[:255],
        sequence,
        _when(event.get("DTSTAMP")),
        tuple(people),
        _when(event.get("DTSTART")),
        _when(event.get("DTEND")),
    )


def _mailto(value: str) -> str:
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    found = getaddresses([value]) if value else []
    address = found[0][1].strip().lower() if found else ""
    return address if "@" in address and len(address) <= 254 else ""


def _when(prop) -> datetime | None:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


# --- auto-replies (RFC 3834 and the common non-standard marks) ------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|out of (the )?office|auto:|"
    r"abwesenheitsnotiz|absence|réponse automatique)",
    re.IGNORECASE,
)


def _is_auto_reply(message: Message) -> bool:
    auto = _header(message, "Auto-Submitted").lower()
    return bool(
        (auto and not auto.startswith("no"))
        or message.get("X-Autoreply")
        or message.get("X-Autorespond")
        or _header(message, "Precedence").lower() == "auto_reply"
        or _AUTO_SUBJECT.match(_header(message, "Subject"))
    )
