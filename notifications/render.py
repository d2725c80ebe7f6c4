"""Turn planned messages into email bytes: HTML and plain text from Jinja templates,
assembled by notifications.mime.

Written for the reader: a Lead Safeguarding Partner reading on a phone between meetings
sees what is wrong (a per-agency round is one entry listing who has not returned), who
owns it, why it is required, and one place to act. Command lines appear only in messages
to the business team, who run govcal.

Only what the calendar knows goes in: titles, dates, sources and references. Incidents
appear by reference only; there is nothing else about a child to leak.
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from govcal.notifications.dkim import DkimKey
from govcal.notifications.ics import CalendarEntry, invite, method_of
from govcal.notifications.mime import Envelope, build, message_id
from govcal.rules.state import State
from govcal.rules.text import shown

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


def _wrap(text: str, indent: int = 3) -> str:
    """A plain-text paragraph wrapped for a phone, continuation lines indented."""
    pad = " " * indent
    return textwrap.fill(
        text,
        WIDTH,
        initial_indent=pad,
        subsequent_indent=pad + "  ",
        break_on_hyphens=False,
        break_long_words=False,
    )


_text.filters["wrap"] = _wrap
_COLOURS = {State.OVERDUE: "#d4351c", State.DUE: "#f47738", State.DUE_SOON: "#f47738"}
WIDTH = 76  # plain-text line length
MAX_LINES = 60  # a digest's plain text, any day
MAX_CHARS = 2100  # its words: in the HTML part at 390 px wide, about two phone screens
MAX_ENTRIES = 4  # entries shown in full, the worst first; the rest are counted
MAX_NAMED = 3  # members of a round named (the longest overdue first), then the count


def one_line(value: str, limit: int = 200) -> str:
    """Header-safe text: no line breaks (header injection), no control character or
    direction override (rules.text.shown), bounded length."""
    text = shown(value).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def day_text(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def zone_label(zone: ZoneInfo) -> str:
    """'London time' for Europe/London: the city people know the clock by."""
    return f"{zone.key.rsplit('/', 1)[-1].replace('_', ' ')} time"


def when_text(day: date, starts_at: datetime | None, zone: ZoneInfo) -> str:
    """A day, with the time in `zone` (the partnership's: no default, so a partnership
    in another zone is never shown London's clock)."""
    if starts_at is None:
        return day_text(day)
    local = starts_at.astimezone(zone)
    return f"{day_text(local.date())}, {local:%H:%M} ({zone_label(zone)})"


def span_text(
    starts_at: datetime | None, ends_at: datetime | None, day: date, zone: ZoneInfo
) -> str:
    """'Tuesday 8 December 2026, 14:00 to 16:00 (London time)', in the meeting's zone."""
    if starts_at is None:
        return day_text(day)
    start = starts_at.astimezone(zone)
    if ends_at is None:
        return when_text(day, starts_at, zone)
    end = ends_at.astimezone(zone)
    if end.date() == start.date():
        return f"{day_text(start.date())}, {start:%H:%M} to {end:%H:%M} ({zone_label(zone)})"
    return f"{when_text(start.date(), start, zone)} to {when_text(end.date(), end, zone)}"


@dataclass(frozen=True, slots=True)
class Sender:
    name: str | None  # None: each message says the partnership's name
    email: str
    dkim: DkimKey | None = None  # every message signed with it, when given

    def header(self, partnership_name: str) -> tuple[str, str]:
        """(display name, email) for From: people know the partnership, not the tool."""
        return (one_line(self.name or partnership_name), self.email)


def _header_address(address: tuple[str, str] | None) -> tuple[str, str] | None:
    return (one_line(address[0]), address[1]) if address else None


@dataclass(frozen=True)
class DigestLine:
    public_id: str
    title: str
    due: date
    state: State
    state_text: str
    kind: str  # reminder, escalation or request
    stage: str
    role: str
    source: str  # in words: "WFSCP arrangements 2025, ..."
    evidence: str
    starts_at: datetime | None = None
    subject_name: str = ""
    days_overdue: int = 0
    round_id: str = ""  # partnership:rule:period of a per-agency or per-school item
    per: str = ""  # agency or school: what a round is made of
    round_total: int = 0  # members of the round, returned or not
    owner: str = ""  # "Jo Bloggs (Cumbria Constabulary): Partnership Manager"
    owner_role: str = ""
    note: str = ""  # a delivery failure: to whom, which message, the relay's answer
    deputy_for: str = ""  # a copy for the deputy of this person (their name and role)
    reference: str = ""  # an event clock's incident reference: what tells clocks apart
    lead: str = ""  # a round member's owner in words: "Jo Bloggs (Kendal Primary School)"
    own: bool = False  # the recipient owns it: their own item, never "escalated to you"
    links: tuple[tuple[str, str], ...] = ()  # (label, signed link): act from the email


@dataclass(frozen=True)
class Digest:
    key: str
    recipient: str
    recipient_name: str
    partnership_name: str
    lines: list[DigestLine] = field(default_factory=list)
    role_names: dict[str, str] = field(default_factory=dict)
    reply_to: tuple[str, str] | None = None  # the business team's mailbox
    act_url: str = ""  # the form to record what was done, if the UI is reachable
    acknowledge_url: str = ""  # the form to acknowledge an escalation, if found
    feed_url: str = ""  # this person's calendar feed
    for_business_team: bool = False  # they run govcal: command lines are useful to them
    cockpit_url: str = ""  # the business team's summary, always the latest (govcal web)
    installation: str = ""
    timezone: str = field(kw_only=True)  # the partnership's: every time is shown in it


_HEADINGS = (
    ("failure", "Mail that could not be delivered (refused for good by the relay)"),
    ("quorum", "Quorum at risk"),
    ("request", "New request"),
    ("escalation", "Overdue and escalated to you"),
    ("overdue", "Overdue"),
    ("due", "Due today"),
    ("soon", "Coming up"),
)


def _bucket(line: DigestLine) -> str:
    if line.kind in ("request", "failure", "quorum"):
        return line.kind
    if line.kind == "escalation" and not line.own:  # a day-1 step to the owner is theirs
        return "escalation"
    if line.state is State.OVERDUE:
        return "overdue"
    if line.state is State.DUE:
        return "due"
    return "soon"


def role_name(role: str, names: dict[str, str]) -> str:
    return names.get(role) or role.replace("-", " ").capitalize()


@dataclass
class _Entry:
    """One thing to read: a single item, or a whole per-agency/per-school round."""

    lines: list[DigestLine]

    @property
    def first(self) -> DigestLine:
        """The line that speaks for the entry: the reader's own before a deputy's copy."""
        return next((x for x in self.lines if not x.deputy_for), self.lines[0])

    @property
    def grouped(self) -> bool:
        return bool(self.first.round_id)

    @property
    def worst(self) -> DigestLine:
        return max(self.lines, key=lambda x: (x.days_overdue, -x.due.toordinal()))

    def headline(self) -> str:
        first = self.first
        if not self.grouped:
            title = one_line(first.title)
            if first.reference:
                title = f"{title} — {one_line(first.reference)}"
            if first.subject_name:
                return f"{title} {first.due.year} — the return of {one_line(first.subject_name)}"
            if first.starts_at is not None and first.state is State.OVERDUE:
                return f"{title} — missing: {_lower_first(one_line(first.evidence, 200))}"
            return title
        total = max(first.round_total, len(self.lines))
        noun = "schools" if first.per == "school" else "agencies"
        verb = "asked" if first.kind == "request" else "not returned"
        return (
            f"{one_line(first.title)} {first.due.year} — {len(self.lines)} of {total} {noun} {verb}"
        )

    def state_text(self) -> str:
        worst = self.worst
        if worst.days_overdue:
            return f"{worst.days_overdue} day{'s' if worst.days_overdue != 1 else ''} overdue"
        return worst.state_text

    def weight(self) -> tuple:
        """How much it matters: escalated, then the reader's own before a copy they get as
        someone's deputy, then overdue, then the most item-days overdue (a round of 20
        weighs 20), then the earliest due."""
        bucket = _bucket(self.worst)
        return (
            bucket in ("failure", "quorum", "escalation"),
            not all(x.deputy_for for x in self.lines),
            bucket in ("escalation", "overdue"),
            sum(line.days_overdue for line in self.lines),
            len(self.lines),
            -self.worst.due.toordinal(),
        )


def _lower_first(text: str) -> str:
    """'Approved minutes' -> 'approved minutes', leaving 'LSP decision' as it is."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _entries(lines: list[DigestLine]) -> list[_Entry]:
    rounds: dict[str, list[DigestLine]] = defaultdict(list)
    out: list[_Entry] = []
    for line in sorted(lines, key=lambda x: (x.due, x.public_id)):
        # a round is one entry; so are the undelivered messages about one item (an invite
        # returned by four mail servers is one thing to put right, each address named)
        # and the reader's own line and a copy they get as someone's deputy are one entry
        notice = line.kind if line.kind in ("failure", "quorum") else "item"
        group = line.round_id or f"{notice}:{line.public_id}"
        if group not in rounds:
            out.append(_Entry(rounds[group]))
        rounds[group].append(line)
    return out


def _late_members(entry: _Entry) -> tuple[list[str], int]:
    """The few members of a round to name, the longest overdue first, each with its code
    and the person to ask; and how many more there are."""
    members = sorted(entry.lines, key=lambda x: (-x.days_overdue, x.due, x.subject_name))
    named = []
    for line in members[:MAX_NAMED]:
        code = line.public_id.rsplit(":", 1)[-1]
        where = one_line(line.subject_name or code)
        lead = one_line(line.lead, 200)
        if not lead:
            named.append(f"{where} ({code})")
        elif where in lead:
            named.append(f"{lead} ({code})")
        else:
            named.append(f"{where} ({code}): {lead}")
    return named, len(members) - len(named)


_NOUNS = {"school": ("school", "schools"), "agency": ("agency", "agencies")}


def _members_text(entry: _Entry) -> str:
    named, more = _late_members(entry)
    noun = _NOUNS["school" if entry.first.per == "school" else "agency"][more != 1]
    verb = "Asked" if entry.first.kind == "request" else "Not returned"
    rest = f"; and {more} more {noun}" if more else ""
    return f"{verb}: " + "; ".join(named) + rest


_WHY_LIMIT = 140  # the source, short: after the action, a phone screen's few lines
_ASIDE = re.compile(r"\s+\([^()]*\s[^()]*\)")  # "(each body must ...)", not "s16C(1)"


def short_source(source: str, limit: int = _WHY_LIMIT) -> str:
    """The citation without its explanations in brackets ('Children Act 2004 s11;
    Working Together ... chapter 2, "Relevant agencies"'), cut at a word if still long:
    the reader wants where the duty comes from, not the guidance's text."""
    text = one_line(source, 2000)
    while (bare := _ASIDE.sub("", text)) != text:
        text = bare
    return textwrap.shorten(text, limit, placeholder=" …")


_MAX_IDS = 6  # a round lists each member's id up to this many, then the pattern


def _ids_text(entry: _Entry) -> list[str]:
    """What to paste into the form or `govcal complete`: every item's own id; a big
    round gives its id with where the member's code goes."""
    ids = sorted(line.public_id for line in entry.lines)
    if len(ids) <= _MAX_IDS:
        return [f"Id: {i}" for i in ids]
    noun = "school" if entry.first.per == "school" else "agency"
    return [f"Id: {entry.first.round_id}:CODE, where CODE is the {noun}'s code (in brackets)"]


def _entry_context(entry: _Entry, digest: Digest) -> dict:
    first = entry.first
    worst = entry.worst
    if entry.grouped:
        noun = "school" if first.per == "school" else "agency"
        role = role_name(first.owner_role, digest.role_names)
        owner = f"each {noun}'s own lead ({role}), the late ones named above"
    else:
        owner = one_line(first.owner, 300)
    headline = entry.headline()
    if first.deputy_for:
        headline += f" — you receive this as deputy for {one_line(first.deputy_for, 300)}"
    links = list(dict.fromkeys(link for line in entry.lines for link in line.links))
    return {
        "links": [{"label": label, "url": url} for label, url in links],
        "headline": headline,
        "note": one_line("; ".join(dict.fromkeys(x.note for x in entry.lines if x.note)), 2000),
        "note_label": "Quorum at risk" if first.kind == "quorum" else "Not delivered",
        "due_text": when_text(worst.due, worst.starts_at, ZoneInfo(digest.timezone)),
        "state_text": entry.state_text(),
        "colour": _COLOURS.get(worst.state, "#00703c"),
        "members": _members_text(entry) if entry.grouped else "",
        "owner": owner,
        "source": short_source(first.source),
        "evidence": one_line(first.evidence, 400),
        "ids": _ids_text(entry),
        "command": (
            f"govcal complete {first.public_id} --evidence <link or file>"
            if digest.for_business_team and not entry.grouped
            else (
                f"govcal returns {first.round_id}"
                if digest.for_business_team and entry.grouped
                else ""
            )
        ),
    }


_KIND_WORD = {
    "failure": "Delivery failed",
    "quorum": "Quorum at risk",
    "escalation": "Escalation",
    "request": "Request",
    "overdue": "Overdue",
    "due": "Due today",
    "soon": "Reminder",
}


def digest_subject(digest: Digest) -> str:
    """What it is and the worst item: 'Escalation: Section 11 audit 2026 — 18 of 20
    agencies not returned (24 days overdue)', plus how many more entries there are."""
    entries = _entries(digest.lines)
    worst = max(entries, key=_Entry.weight)
    buckets = [_bucket(line) for line in digest.lines]
    kind = next(k for k, _h in _HEADINGS if k in buckets)
    subject = f"{_KIND_WORD[kind]}: {worst.headline()} ({worst.state_text()})"
    more = len(entries) - 1
    if more:
        subject += f", and {more} more item{'s' if more > 1 else ''}"
    return one_line(subject, 250)


def _sections(entries: list[_Entry], digest: Digest) -> list[dict]:
    sections: list[dict] = []
    for key, heading in _HEADINGS:
        mine = [e for e in entries if _bucket(e.worst) == key]
        if mine:
            sections.append(
                {
                    "key": key,
                    "heading": heading,
                    "entries": [_entry_context(e, digest) for e in mine],
                }
            )
    return sections


MORE_NAMED = 3  # the titles of what a digest counts but does not show in full


def _short_title(title: str, limit: int = 60) -> str:
    """A title cut to `limit` at a word, never inside a bracket: "meeting (with
    Cumberland S…" inside the line's own brackets reads as a fault."""
    text = one_line(title, 1000)
    if len(text) <= limit:
        return text
    head = textwrap.shorten(text, limit - 2, placeholder="")
    if head.count("(") > head.count(")"):
        head = head[: head.rindex("(")]
    return head.rstrip(" ,;:-–") + " …"


def _more_text(left_out: list[_Entry], digest: Digest) -> str:
    """What the digest counts but does not show, and where to see all of it."""
    if not left_out:
        return ""
    count = len(left_out)
    overdue = sum(1 for e in left_out if e.worst.state is State.OVERDUE)
    late = f" ({overdue} overdue)" if overdue else ""
    if digest.for_business_team:
        where = "govcal status --overdue lists them all"
    elif digest.feed_url:
        where = "your calendar feed lists them all"
    else:
        where = "reply to ask for the full list"
    named = "; ".join(_short_title(e.first.title) for e in left_out[:MORE_NAMED])
    named += f"; and {count - MORE_NAMED} more" if count > MORE_NAMED else ""
    return (
        f"And {count} more item{'s' if count != 1 else ''}{late}, less pressing ({named}): {where}."
    )


def render_digest(digest: Digest, sender: Sender, now: datetime | None = None) -> bytes:
    """The worst few entries in full and the rest counted, so that the text stays within
    MAX_LINES and MAX_CHARS and the HTML, which shows the same, within about two phone
    screens, whatever the day holds."""
    entries = _entries(digest.lines)
    ranked = sorted(entries, key=_Entry.weight, reverse=True)
    roles = sorted({role_name(line.role, digest.role_names) for line in digest.lines})
    overdue = sum(1 for e in entries if e.worst.state is State.OVERDUE)
    count = len(entries)
    intro = (
        f"{count} item{'s' if count != 1 else ''} on the {digest.partnership_name} "
        f"governance calendar need{'s' if count == 1 else ''} your attention"
        + (f"; {overdue} {'is' if overdue == 1 else 'are'} overdue." if overdue else ".")
    )
    mailbox = digest.reply_to[1] if digest.reply_to else sender.email
    context = {
        "recipient_name": one_line(digest.recipient_name) or "colleague",
        "partnership_name": digest.partnership_name,
        "intro": intro,
        "roles_text": " and ".join(roles),
        "act_url": digest.act_url,
        "mailbox": mailbox,
        "feed_url": digest.feed_url,
        "for_business_team": digest.for_business_team,
        "cockpit_url": digest.cockpit_url,
    }
    shown = min(len(ranked), MAX_ENTRIES)
    while True:
        kept = {id(e) for e in ranked[:shown]}
        sections = _sections([e for e in entries if id(e) in kept], digest)
        context["sections"] = sections
        context["more"] = _more_text(ranked[shown:], digest)
        context["acknowledge_url"] = (
            digest.acknowledge_url if any(s["key"] == "escalation" for s in sections) else ""
        )
        # a Lead Partner's escalations are theirs to acknowledge, not to record as done
        context["escalated_only"] = not digest.for_business_team and all(
            s["key"] == "escalation" for s in sections
        )
        text = _text.get_template("digest.txt.j2").render(context)
        if shown == 1 or (
            len(text.splitlines()) <= MAX_LINES and len(" ".join(text.split())) <= MAX_CHARS
        ):
            break
        shown -= 1
    envelope = Envelope(
        subject=digest_subject(digest),
        sender=sender.header(digest.partnership_name),
        to=[(one_line(digest.recipient_name), digest.recipient)],
        message_id=message_id(digest.key, sender.email, digest.installation),
        date=now or datetime.now(UTC),
        reply_to=_header_address(digest.reply_to),
    )
    html = _html.get_template("digest.html.j2").render(context)
    return build(envelope, text, html, dkim_key=sender.dkim)


@dataclass(frozen=True)
class InviteMessage:
    key: str
    entry: CalendarEntry
    recipients: list[tuple[str, str]]  # (name, email): who this email goes to
    partnership_name: str
    source: str
    evidence: str
    reason: str | None = None
    reply_to: tuple[str, str] | None = None  # the business team's mailbox (the organiser)
    previous: CalendarEntry | None = None  # what people had before this update
    replaces: str = ""  # a cancelled occurrence this one takes over from (rule change)
    installation: str = ""
    first_time: bool = False  # the recipients never had it: an invitation, whatever its SEQUENCE
    uninvited: bool = False  # a cancellation to people no longer invited: the meeting goes on
    deputy_for: str = ""  # a copy for the deputy of this person (their name and role)
    reinstated: bool = False  # back after a cancellation: the update's word is "reinstated"
    links: tuple[tuple[str, str], ...] = ()  # (label, signed link): the reader's own answer


def _where(entry: CalendarEntry) -> str:
    if entry.location and entry.online_url:
        return f"{entry.location}, or online: {entry.online_url}"
    if entry.online_url:
        return f"Online: {entry.online_url}"
    return entry.location or "to be confirmed"


def _changes(invitation: InviteMessage) -> list[dict[str, str]]:
    """What an update changed, old -> new, as the reader needs it."""
    entry, before = invitation.entry, invitation.previous
    if before is None:
        return []
    out = []
    zone = ZoneInfo(entry.timezone)
    old_when = span_text(before.starts_at, before.ends_at, before.due, zone)
    new_when = span_text(entry.starts_at, entry.ends_at, entry.due, zone)
    if old_when != new_when:
        out.append({"what": "When", "old": old_when, "new": new_when})
    if _where(before) != _where(entry):
        out.append({"what": "Where", "old": _where(before), "new": _where(entry)})
    had = {email.lower(): name or email for name, email in before.attendees}
    now = {email.lower(): name or email for name, email in entry.attendees}
    if had.keys() != now.keys():
        added = [now[e] for e in now if e not in had]
        gone = [had[e] for e in had if e not in now]
        new = f"{len(now)} people"
        new += f"; added: {in_words(added)}" if added else ""
        new += f"; no longer invited: {in_words(gone)}" if gone else ""
        out.append({"what": "Attendees", "old": f"{len(had)} people", "new": new})
    return out


def in_words(names: list[str]) -> str:
    """Names as a sentence says them: 'A', 'A and B', 'A, B and C' ('' for none)."""
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _chaired_by(entry: CalendarEntry) -> str:
    """The chairs by name, in the order they are invited ('' when the rule names none)."""
    return in_words(
        [name or email for name, email in entry.attendees if email.lower() in entry.chairs]
    )


def render_invite(invitation: InviteMessage, sender: Sender, stamp: datetime) -> bytes:
    entry = invitation.entry
    ics = invite(entry, stamp)
    method = method_of(entry)
    changes = _changes(invitation) if not entry.cancelled else []
    context = {
        "recipient_name": (
            one_line(invitation.recipients[0][0]) or "colleague"  # one no longer in the directory
            if len(invitation.recipients) == 1
            else "colleagues"
        ),
        "partnership_name": invitation.partnership_name,
        "cancelled": entry.cancelled and not invitation.uninvited,
        "uninvited": invitation.uninvited,
        "deputy_for": one_line(invitation.deputy_for, 300),
        "reinstated": invitation.reinstated and not entry.cancelled,
        "updated": entry.sequence > 0 and not entry.cancelled and not invitation.first_time,
        "reason": one_line(invitation.reason or ""),
        "title": one_line(entry.title),
        "when_text": span_text(entry.starts_at, entry.ends_at, entry.due, ZoneInfo(entry.timezone)),
        "where_text": one_line(_where(entry), 400),
        "online_url": entry.online_url,
        "chaired_by": one_line(_chaired_by(entry), 400),
        "changes": changes,
        "replaces": one_line(invitation.replaces),
        "source": short_source(invitation.source),
        "evidence": one_line(invitation.evidence, 400),
        "organizer": entry.organizer[1] if entry.organizer else sender.email,
        "links": [] if entry.cancelled else [{"label": a, "url": b} for a, b in invitation.links],
    }
    if invitation.uninvited:
        verb = "No longer invited"
    elif entry.cancelled:
        verb = "Cancelled"
    elif invitation.reinstated and not invitation.first_time:
        verb = "Reinstated"
    else:
        verb = "Updated" if entry.sequence and not invitation.first_time else "Invitation"
    zone = ZoneInfo(entry.timezone)
    subject = one_line(f"{verb}: {entry.title}, {when_text(entry.due, entry.starts_at, zone)}")
    envelope = Envelope(
        subject=subject,
        sender=sender.header(invitation.partnership_name),
        to=[(one_line(name), email) for name, email in invitation.recipients],
        message_id=message_id(invitation.key, sender.email, invitation.installation),
        date=stamp,
        reply_to=_header_address(invitation.reply_to),
    )
    return build(
        envelope,
        _text.get_template("invite.txt.j2").render(context),
        _html.get_template("invite.html.j2").render(context),
        ics,
        method,
        dkim_key=sender.dkim,
    )
