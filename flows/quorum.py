"""'Quorum at risk' in the business team's digest: a set number of working days before a
meeting whose rule names a quorum, one notice per meeting and reader (a ledger row, so
told once), worded when the digest is composed (who has still not answered then).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session

from govcal.models import ledger
from govcal.models.attendance import MeetingAnswers, meetings_with_answers
from govcal.models.ledger import Delivery, LedgerRow
from govcal.models.notify_inputs import directory as load_directory
from govcal.rules.model import Partnership
from govcal.rules.notify_plan import Directory
from govcal.rules.quorum import QUORUM_WARNING_WORKING_DAYS, QuorumRisk, quorum_at_risk, warns

STAGE = "quorum-"  # + the meeting's occurrence id: one notice per meeting and reader
_LOOK_AHEAD = timedelta(days=QUORUM_WARNING_WORKING_DAYS * 3)  # covers the working days


def _risk(
    partnership: Partnership, meeting: MeetingAnswers, people: Directory
) -> QuorumRisk | None:
    try:
        rule = partnership.rule(meeting.rule_id)
    except KeyError:
        return None
    required = [c.email for role in rule.quorum for c in people.of(partnership.id, role)]
    return quorum_at_risk(required, meeting.answers) if rule.quorum else None


def warn_of_quorum(session: Session, partnerships: list[Partnership], today: date) -> int:
    """Plan a notice to the business team for each meeting now at risk; returns how many
    meetings. A notice already planned for a meeting is not planned again."""
    with_quorum = [p for p in partnerships if any(r.quorum for r in p.rules)]
    if not with_quorum:
        return 0
    by_id = {p.id: p for p in with_quorum}
    meetings = meetings_with_answers(session, list(by_id), today, today + _LOOK_AHEAD)
    people = load_directory(session, list(by_id))
    at_risk = [
        m
        for m in meetings
        if warns(m.due, today) and _risk(by_id[m.partnership_id], m, people) is not None
    ]
    rows = [
        LedgerRow(
            m.occurrence_id,
            f"{STAGE}{m.occurrence_id}",
            contact.email,
            Delivery.PENDING,
            "business-team",
            "quorum",
        )
        for m in at_risk
        for contact in people.of(m.partnership_id, "business-team")
    ]
    ledger.record_planned(session, rows)
    return len(at_risk)


def quorum_notes(
    session: Session, partnerships: list[Partnership], people: Directory, rows: list
) -> dict[str, str]:
    """For quorum notices: who must be present and has declined without a deputy or not
    answered, as the answers stand now."""
    if not rows:
        return {}
    by_id = {p.id: p for p in partnerships}
    wanted = {r.occurrence_id for r in rows}
    days = meetings_with_answers(session, list(by_id), date.min, date.max, only=wanted)
    notes = {}
    for meeting in days:
        risk = _risk(by_id[meeting.partnership_id], meeting, people)
        notes[f"{STAGE}{meeting.occurrence_id}"] = (
            risk.line() if risk else "everyone who must be present now says they will come"
        )
    return notes
