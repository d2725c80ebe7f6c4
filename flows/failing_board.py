"""The cockpit's "Failing addresses" section: addresses whose mail keeps bouncing (two
hard bounces or more), with the last bounce's date and the remote server's words, so the
business team corrects people.csv before the next invite goes nowhere.
"""

from __future__ import annotations

from sqlmodel import Session

from govcal.models.bounces import failing_addresses
from govcal.rules.model import Partnership
from govcal.rules.notify_plan import Directory
from govcal.rules.text import markdown_text as md

SHOWN = 8  # addresses listed; `govcal directory --failing` lists them all


def read_all(
    session: Session, partnerships: list[Partnership], people: Directory
) -> dict[str, list[str]]:
    """Each partnership's section (heading and lines), empty when nothing fails."""
    failing = failing_addresses(session)
    names = {c.email.lower(): c.name for held in people.holders.values() for _a, _s, c in held}
    found: dict[str, list[str]] = {}
    for partnership in partnerships:
        mine = [f for f in failing if partnership.id in f.partnerships]
        if not mine:
            found[partnership.id] = []
            continue
        lines = [f"## Failing addresses ({len(mine)})"]
        for f in mine[:SHOWN]:
            who = f"{names[f.address]} <{f.address}>" if f.address in names else f.address
            when = f"{f.last_bounced:%d/%m/%Y}" if f.last_bounced else "date not kept"
            lines.append(
                f"- {md(who)}: {f.bounces} hard bounces, last on {when}; the server said "
                f'"{md(f.words[:160] or "no reason given")}"'
            )
        if len(mine) > SHOWN:
            lines.append(f"- and {len(mine) - SHOWN} more: `govcal directory --failing`")
        lines.append("")  # a paragraph of its own, not part of the last line
        lines.append("Correct the address (people.csv), then import the directory again.")
        lines.append("")
        found[partnership.id] = lines
    return found
