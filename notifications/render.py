"""Turn planned messages into email bytes: HTML and plain text from Jinja templates,
built with the `emails` package, invites attached as text/calendar.

Only what the calendar knows goes in: titles, dates, sources and references. Incidents
appear by reference only; there is nothing else about a child to leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import emails
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.ics import CalendarEntry, invite
from rules.state import State

LONDON = ZoneInfo("Europe/London")
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_html = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html", "html.j2"], default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_text = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=False,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_COLOURS = {State.OVERDUE: "#d4351c", State.DUE: "#f47738", State.DUE_SOON: "#f47738"}


def one_line(value: str, limit: int = 200) -> str:
    """Header-safe text: no line breaks (header injection), bounded length."""
    text = re.sub(r"[\r\n\t\x00-\x1f]+", " ", value or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def day_text(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def when_text(day: date, starts_at: datetime | None) -> str:
    if starts_at is None:
        return day_text(day)
    local = starts_at.astimezone(LONDON)
    return f"{day_text(local.date())}, {local:%H:%M} (London time)"


@dataclass(frozen=True, slots=True)
class Sender:
    name: str
    email: str


@dataclass(frozen=True)
class DigestLine:
    public_id: str
    title: str
    due: date
    state: State
    state_text: str
    kind: str  # reminder or escalation
    stage: str
    role: str
    source: str
    evidence: str
    starts_at: datetime | None = None
    subject_name: str = ""
    days_overdue: int = 0


@dataclass(frozen=True)
class Digest:
    key: str
    recipient: str
    recipient_name: str
    partnership_name: str
    lines: list[DigestLine] = field(default_factory=list)


_HEADINGS = (
    ("request", "New request"),
    ("escalation", "Overdue: escalated to you"),
    ("overdue", "Overdue"),
    ("due", "Due today"),
    ("soon", "Coming up"),
)


def _bucket(line: DigestLine) -> str:
    if line.kind in ("escalation", "request"):
        return line.kind
    if line.kind == "escalation":
        return "escalation"
    if line.state is State.OVERDUE:
        return "overdue"
    if line.state is State.DUE:
        return "due"
    return "soon"


def _intro(count: int, partnership_name: str) -> str:
    items = "1 item needs" if count == 1 else f"{count} items need"
    return f"{items} your attention on the {partnership_name} governance calendar."


def render_digest(digest: Digest, sender: Sender) -> bytes:
    buckets: dict[str, list[dict]] = {}
    for line in sorted(digest.lines, key=lambda x: (x.due, x.public_id)):
        buckets.setdefault(_bucket(line), []).append(
            {
                "public_id": line.public_id,
                "title": one_line(line.title),
                "subject_name": one_line(line.subject_name),
                "heading": one_line(line.title)
                + (f" ({one_line(line.subject_name)})" if line.subject_name else ""),
                "due_text": when_text(line.due, line.starts_at),
                "state_text": line.state_text,
                "colour": _COLOURS.get(line.state, "#00703c"),
                "escalation_text": (
                    f"Escalated to you as {line.role.replace('-', ' ')}: "
                    f"{line.days_overdue} days overdue."
                    if line.kind == "escalation"
                    else ""
                ),
                "source": one_line(line.source, 400),
                "evidence": one_line(line.evidence, 400),
            }
        )
    sections = [{"heading": h, "entries": buckets[k]} for k, h in _HEADINGS if k in buckets]
    overdue = sum(1 for line in digest.lines if line.state is State.OVERDUE)
    others = len(digest.lines) - overdue
    parts = [f"{overdue} overdue"] if overdue else []
    if others:
        parts.append(f"{others} coming up")
    roles = sorted({line.role.replace("-", " ") for line in digest.lines})
    context = {
        "recipient_name": one_line(digest.recipient_name) or "colleague",
        "partnership_name": digest.partnership_name,
        "intro": _intro(len(digest.lines), digest.partnership_name),
        "sections": sections,
        "roles_text": " and ".join(roles),
    }
    subject = one_line(f"[{digest.partnership_name}] {', '.join(parts)}: governance calendar")
    message = emails.html(
        html=_html.get_template("digest.html.j2").render(context),
        text=_text.get_template("digest.txt.j2").render(context),
        subject=subject,
        mail_from=(sender.name, sender.email),
        message_id=f"<{digest.key}@govcal>",
    )
    message.mail_to = [(one_line(digest.recipient_name), digest.recipient)]
    return message.as_string().encode("utf-8")


@dataclass(frozen=True)
class InviteMessage:
    key: str
    entry: CalendarEntry
    recipients: list[tuple[str, str]]  # (name, email): who this email goes to
    partnership_name: str
    source: str
    evidence: str
    reason: str | None = None


def render_invite(invitation: InviteMessage, sender: Sender, stamp: datetime) -> bytes:
    entry = invitation.entry
    ics = invite(entry, stamp)
    context = {
        "recipient_name": (
            one_line(invitation.recipients[0][0]) if len(invitation.recipients) == 1 else "all"
        ),
        "partnership_name": invitation.partnership_name,
        "cancelled": entry.cancelled,
        "sequence": entry.sequence,
        "reason": one_line(invitation.reason or ""),
        "title": one_line(entry.title),
        "when_text": when_text(entry.due, entry.starts_at),
        "source": one_line(invitation.source, 400),
        "evidence": one_line(invitation.evidence, 400),
    }
    verb = "Cancelled" if entry.cancelled else ("Updated" if entry.sequence else "Invitation")
    method = "CANCEL" if entry.cancelled else "REQUEST"
    subject = one_line(f"{verb}: {entry.title}, {when_text(entry.due, entry.starts_at)}")
    message = emails.html(
        html=_html.get_template("invite.html.j2").render(context),
        text=_text.get_template("invite.txt.j2").render(context),
        subject=subject,
        mail_from=(sender.name, sender.email),
        message_id=f"<{invitation.key}@govcal>",
    )
    message.mail_to = [(one_line(name), email) for name, email in invitation.recipients]
    message.attach(
        data=ics,
        filename="invite.ics",
        mime_type=f"text/calendar; method={method}; charset=utf-8",
    )
    return message.as_string().encode("utf-8")
