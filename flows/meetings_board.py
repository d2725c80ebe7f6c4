"""The cockpit's "who is coming" section: each meeting of the next weeks with its
invitees' answers, "quorum at risk" from a set number of working days before a meeting
whose rule names a quorum, and other times proposed (iTIP COUNTER) read from the mailbox.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from govcal.models import mailbox
from govcal.models.attendance import MeetingAnswers, meetings_with_answers
from govcal.rules.model import Partnership
from govcal.rules.notify_plan import Directory
from govcal.rules.quorum import (
    QUORUM_WARNING_WORKING_DAYS,
    QuorumRisk,
    quorum_at_risk,
    tally,
    warns,
)
from govcal.rules.text import markdown_text as md

AHEAD_DAYS = 30  # meetings shown: from today to this many days ahead
PROPOSED_DAYS = 30  # proposals read in the last this many days


def read_all(
    session: Session, partnerships: list[Partnership], people: Directory, as_of: date
) -> dict[str, list[str]]:
    """Each partnership's lines, from one query of each kind for all of them."""
    meetings = meetings_with_answers(
        session, [p.id for p in partnerships], as_of, as_of + timedelta(days=AHEAD_DAYS)
    )
    since = datetime.combine(as_of - timedelta(days=PROPOSED_DAYS), time(), UTC)
    proposals = mailbox.counter_proposals(session, since)
    by_id = {m.occurrence_id: m for m in meetings}
    found: dict[str, list[str]] = {}
    for partnership in partnerships:
        mine = [m for m in meetings if m.partnership_id == partnership.id]
        lines = [line for m in mine for line in meeting_lines(partnership, m, people, as_of)]
        lines += [  # the proposal's words come from a mailbox: escaped like any user text
            f"- Another time proposed: {md(p.outcome)}"
            for p in proposals
            if p.occurrence_id in by_id and by_id[p.occurrence_id].partnership_id == partnership.id
        ]
        found[partnership.id] = lines
    return found


def meeting_lines(
    partnership: Partnership, meeting: MeetingAnswers, people: Directory, as_of: date
) -> list[str]:
    """'- Title, 13 Oct 2026: 3 coming, 2 no answer', then the quorum warning if due,
    naming who must be present and has declined or not answered."""
    lines = [
        f"- {md(meeting.title)}, {meeting.due.day} {meeting.due:%b %Y}: "
        f"{tally(meeting.invited, meeting.answers).line()}"
    ]
    try:
        rule = partnership.rule(meeting.rule_id)
    except KeyError:
        return lines
    if not rule.quorum or not warns(meeting.due, as_of, QUORUM_WARNING_WORKING_DAYS):
        return lines
    holders = [c for role in rule.quorum for c in people.of(partnership.id, role)]
    risk = quorum_at_risk([c.email for c in holders], meeting.answers)
    if risk is not None:
        named = {c.email.lower(): f"{c.name} <{c.email}>" for c in holders}
        risk = QuorumRisk(
            tuple(named.get(a, a) for a in risk.declined),
            tuple(named.get(a, a) for a in risk.unanswered),
        )
        lines.append(f"  - **Quorum at risk**: {md(risk.line())}")
    return lines
