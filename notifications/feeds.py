"""Subscribable .ics feeds: one per partnership, one per body (role), one per person.

Every entry keeps the UID of its occurrence, so a client that subscribed updates moved
meetings in place, and its DTSTAMP is the occurrence's last change, so a rewrite that
changes nothing changes no byte of the entry. Per-school and per-agency items appear once
per round in the partnership and body feeds ("Section 175 audit: 12 of 148 outstanding"),
and individually in the feed of the person who owns them. A person's feed is named by a
random stored token (models.feed_tokens), never by anything derived from their address.
A feed with nothing in it is not written (and an old one is removed).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from govcal.notifications.ics import SOURCE_PROPERTY, CalendarEntry, feed
from govcal.rules.notify_plan import Directory, Item, event_reference
from govcal.rules.state import State

_CODE = [Path(__file__).with_name(name) for name in ("ics.py", "vtimezone.py", "feeds.py")]
_code_digest: bytes | None = None


@dataclass(frozen=True)
class FeedFile:
    path: Path
    name: str
    entries: int


def slug(text: str) -> str:
    """'Lead Safeguarding Partners' -> 'lead-safeguarding-partners' (a file name in words)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "feed"


def _due_word(items: list[Item]) -> str:
    """'Overdue: ' when any of these open items is past its day, else 'Due: '."""
    late = any(i.status.state is State.OVERDUE for i in items)
    return "Overdue: " if late else "Due: "


def _title(item: Item) -> str:
    title = item.title
    if item.subject_name or item.subject:
        title = f"{title} ({item.subject_name or item.subject})"
    if item.lifecycle == "open" and (item.kind != "meeting" or item.status.state is State.OVERDUE):
        title = f"{_due_word([item])}{title}"
    return title


def _entry(item: Item, timezone: str) -> CalendarEntry:
    where = item.location or ("Online" if item.online_url else "")
    return CalendarEntry(
        public_id=item.public_id,
        title=_title(item),
        description=f"{item.title}. Why: {item.source}. Done when: {item.evidence}."
        + (f" Where: {where}." if where else "")
        + f" Reference: {item.public_id}",
        due=item.due,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        sequence=item.sequence,
        cancelled=item.cancelled,
        location=item.location,
        online_url=item.online_url,
        lifecycle=item.lifecycle,
        changed=item.changed,
        timezone=timezone,
        uid=item.uid,
    )


def _rounds(items: list[Item], timezone: str) -> list[CalendarEntry]:
    """Per-subject items folded into one entry per (rule, period)."""
    single = [_entry(i, timezone) for i in items if not i.subject]
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if item.subject:
            groups[item.public_id.rsplit(":", 1)[0]].append(item)
    for round_id, members in groups.items():
        first = members[0]
        open_ = [m for m in members if m.lifecycle == "open"]
        noun = "schools" if first.per == "school" else "agencies"
        if open_:
            title = (
                f"{_due_word(open_)}{first.title} "
                f"({len(open_)} of {len(members)} {noun} outstanding)"
            )
        else:
            title = f"{first.title} (all {len(members)} {noun} done)"
        changes = [m.changed for m in members if m.changed]
        domain = first.uid.rpartition("@")[2]  # the round is as old as its members
        single.append(
            CalendarEntry(
                public_id=round_id,
                uid=f"{round_id}@{domain}" if domain else "",
                title=title,
                description=f"{first.title}: {len(members)} returns. Why: {first.source}. "
                f"Reference: {round_id}",
                due=min(m.due for m in members),
                lifecycle="open" if open_ else "completed",
                changed=max(changes) if changes else None,
                timezone=timezone,
            )
        )
    return single


def _source(name: str, entries: list[CalendarEntry], stamp: datetime) -> str:
    """A digest of everything a feed's bytes are made of (its entries, name, the code
    that writes it, and the stamp where an entry has no change time of its own): a feed
    whose file already carries it is left as it is, without building it again (building
    ~200 feeds with icalendar took 1.5 s of every run)."""
    global _code_digest
    if _code_digest is None:
        from importlib.metadata import version

        code = hashlib.sha256(version("icalendar").encode())
        for path in _CODE:
            code.update(path.read_bytes())
        _code_digest = code.digest()
    digest = hashlib.sha256(_code_digest)
    digest.update(repr((name, entries)).encode())
    if any(e.changed is None for e in entries):
        digest.update(stamp.isoformat().encode())
    return digest.hexdigest()[:32]


def _current(path: Path, source: str) -> bool:
    try:
        return f"\r\n{SOURCE_PROPERTY}:{source}\r\n".encode() in path.read_bytes()
    except OSError:
        return False


PUBLISHED_FOLDER = 0o755  # a web server publishes the feeds: readable by it, whatever
PUBLISHED_FILE = 0o644  # the umask; everything else of govcal's is private (models/private.py)


def _folder(path: Path, top: Path) -> None:
    """Make `path` and the folders above it up to `top`, each 0755 (whatever the umask):
    a web server running as another user must be able to read the feeds."""
    path.mkdir(parents=True, exist_ok=True)
    for each in (path, *path.parents):
        if not each.is_relative_to(top):
            break
        if each.stat().st_mode & 0o777 != PUBLISHED_FOLDER:
            each.chmod(PUBLISHED_FOLDER)


def _write(path: Path, data: bytes, top: Path | None = None) -> None:
    _folder(path.parent, top or path.parent)
    if path.exists() and path.read_bytes() == data:
        return  # unchanged: keep the file's time, so HTTP caches and clients see no change
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".ics")
    os.fchmod(handle, PUBLISHED_FILE)  # mkstemp makes it 0600: the web server must read it
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temp, path)


def write_feeds(
    folder: Path,
    partnership_id: str,
    partnership_name: str,
    items: list[Item],
    directory: Directory,
    stamp: datetime,
    *,
    tokens: dict[str, str],
    timezone: str,
    role_names: dict[str, str] | None = None,
    served: dict[str, bytes] | None = None,
) -> list[FeedFile]:
    """Write the partnership's feeds; `tokens` maps each person's address (lower case)
    to their feed token; `timezone` is the partnership's (its meetings keep its clock).
    Feeds with no entries, and files no longer wanted (a rotated token, a role nobody
    holds), are removed. The partnership's and bodies' files have names anyone can
    guess, so they leave out the clocks of serious incidents (a case reference); given
    `served`, every feed is also put there whole, by the key of its token (a person's
    address, or `group:PARTNERSHIP[/roles/NAME]`), for the web app to serve."""
    role_names = role_names or {}
    written: list[FeedFile] = []
    base = folder / partnership_id

    def emit(path: Path, name: str, entries: list[CalendarEntry], key: str = "") -> None:
        if not entries:
            return
        source = _source(name, entries, stamp)
        if not _current(path, source):
            _write(path, feed(name, entries, stamp, source=source), folder)
        elif path.stat().st_mode & 0o777 != 0o644:  # written private by an older govcal
            path.chmod(0o644)
            _folder(path.parent, folder)
        written.append(FeedFile(path, name, len(entries)))
        if served is not None and key:
            served[key] = path.read_bytes()

    def group(path: Path, name: str, chosen: list[Item], key: str) -> None:
        """The guessable file without incident clocks; the token's feed with them."""
        public = [i for i in chosen if not event_reference(i.public_id)]
        emit(path, name, _rounds(public, timezone))
        if served is not None and chosen:
            entries = _rounds(chosen, timezone)
            served[key] = feed(name, entries, stamp, source=_source(name, entries, stamp))

    group(folder / f"{partnership_id}.ics", partnership_name, items, f"group:{partnership_id}")
    if not written:
        (folder / f"{partnership_id}.ics").unlink(missing_ok=True)
    roles = {role for (pid, role) in directory.holders if pid == partnership_id}
    for role in sorted(roles):
        mine = [i for i in items if i.owner_role == role or role in i.attendees]
        words = role_names.get(role) or role.replace("-", " ").capitalize()
        path = base / "roles" / f"{slug(words)}.ics"
        group(
            path,
            f"{partnership_name}: {words}",
            mine,
            f"group:{partnership_id}/roles/{slug(words)}",
        )
    people: dict[str, tuple[str, set[tuple[str, str, str]]]] = {}
    for (pid, role), holders in directory.holders.items():
        if pid != partnership_id:
            continue
        for agency, school, contact in holders:
            name, held = people.setdefault(contact.email.lower(), (contact.name, set()))
            held.add((role, agency, school))
    concerning = _ConcernIndex(items)
    for email, (name, held) in sorted(people.items()):
        if email not in tokens:
            continue
        mine = concerning(held)
        emit(
            base / "people" / f"{tokens[email]}.ics",
            f"{partnership_name}: {name}",
            [_entry(i, timezone) for i in mine],
            email,
        )
    _remove_unwanted(base, {f.path for f in written})
    return written


def _remove_unwanted(base: Path, keep: set[Path]) -> None:
    for sub in ("roles", "people"):
        for path in (base / sub).glob("*.ics") if (base / sub).is_dir() else []:
            if path not in keep:
                path.unlink(missing_ok=True)


class _ConcernIndex:
    """The items that concern a person, found through indexes built once per partnership
    (each person scanning every item cost O(people x items): 19 s of a 40-partnership
    day). An item concerns a person who attends it in one of their roles, or who owns it in
    a role and either it has no subject or its subject is their agency or school; found in
    the items' order."""

    def __init__(self, items: list[Item]) -> None:
        self._items = items
        self._attending: dict[str, list[int]] = {}
        self._owning: dict[tuple[str, str], list[int]] = {}
        for n, item in enumerate(items):
            for role in item.attendees:
                self._attending.setdefault(role, []).append(n)
            self._owning.setdefault((item.owner_role, item.subject), []).append(n)

    def __call__(self, held: set[tuple[str, str, str]]) -> list[Item]:
        found: set[int] = set()
        for role, agency, school in held:
            found.update(self._attending.get(role, ()))
            for subject in {"", agency, school}:
                found.update(self._owning.get((role, subject), ()))
        return [self._items[n] for n in sorted(found)]
