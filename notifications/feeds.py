"""Subscribable .ics feeds: one per partnership, one per body (role), one per person.

Every entry keeps the UID of its occurrence, so a client that subscribed updates moved
meetings in place. Per-school and per-agency items appear once per round in the
partnership and body feeds ("S175 returns due: 148"), and individually in the feed of
the person who owns them (a school's designated safeguarding lead sees their school's).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from notifications.ics import CalendarEntry, feed
from rules.notify_plan import Directory, Item


@dataclass(frozen=True)
class FeedFile:
    path: Path
    name: str
    entries: int


def person_token(email: str) -> str:
    """A feed file name that does not reveal the address (feeds may be shared as links)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:20]


def _entry(item: Item) -> CalendarEntry:
    title = item.title if item.kind == "meeting" else f"Due: {item.title}"
    if item.subject_name or item.subject:
        title = f"{title} ({item.subject_name or item.subject})"
    return CalendarEntry(
        public_id=item.public_id,
        title=title,
        description=f"{item.title}. Owner: {item.owner_role}. Why: {item.source}. "
        f"Evidence: {item.evidence}. Id: {item.public_id}",
        due=item.due,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        sequence=item.sequence,
        cancelled=item.cancelled,
    )


def _rounds(items: list[Item]) -> list[CalendarEntry]:
    """Per-subject items folded into one entry per (rule, period)."""
    single = [_entry(i) for i in items if not i.subject]
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if item.subject:
            groups[item.public_id.rsplit(":", 1)[0]].append(item)
    for round_id, members in groups.items():
        first = members[0]
        single.append(
            CalendarEntry(
                public_id=round_id,
                title=f"Due: {first.title} ({len(members)} returns)",
                description=f"{first.title}: {len(members)} returns due. Why: {first.source}. "
                f"Id: {round_id}",
                due=min(m.due for m in members),
            )
        )
    return single


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".ics")
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
) -> list[FeedFile]:
    written: list[FeedFile] = []

    def emit(path: Path, name: str, entries: list[CalendarEntry]) -> None:
        _write(path, feed(name, entries, stamp))
        written.append(FeedFile(path, name, len(entries)))

    base = folder / partnership_id
    emit(folder / f"{partnership_id}.ics", partnership_name, _rounds(items))
    roles = {role for (pid, role) in directory.holders if pid == partnership_id}
    for role in sorted(roles):
        mine = [i for i in items if i.owner_role == role or role in i.attendees]
        emit(base / "roles" / f"{role}.ics", f"{partnership_name}: {role}", _rounds(mine))
    people: dict[str, tuple[str, set[tuple[str, str, str]]]] = {}
    for (pid, role), holders in directory.holders.items():
        if pid != partnership_id:
            continue
        for agency, school, contact in holders:
            name, held = people.setdefault(contact.email.lower(), (contact.name, set()))
            held.add((role, agency, school))
    for email, (name, held) in sorted(people.items()):
        mine = [i for i in items if _concerns(i, held)]
        emit(base / "people" / f"{person_token(email)}.ics", f"{partnership_name}: {name}",
             [_entry(i) for i in mine])  # fmt: skip
    return written


def _concerns(item: Item, held: set[tuple[str, str, str]]) -> bool:
    for role, agency, school in held:
        if role in item.attendees:
            return True
        if role == item.owner_role and (not item.subject or item.subject in (agency, school)):
            return True
    return False
