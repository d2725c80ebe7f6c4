"""What an evidence pack is made of: a partnership's items due in a period, as recorded.

One query for the items and their audit reviews, one per chunk for the escalations
raised (ledger rows actually sent or flagged); the figures are computed in rules/pack.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from govcal.models import queries
from govcal.models.audits import AuditCycle, AuditReturn
from govcal.models.calendar import OccurrenceRow
from govcal.models.chunks import chunks
from govcal.models.directory import PartnershipRow
from govcal.models.ledger import Delivery, LedgerEntry
from govcal.rules.pack import AttendanceRow, PackItem


def attendance_rows(
    session: Session, partnership_id: str, start: date, end: date
) -> list[AttendanceRow]:
    """Who was recorded at each meeting of the period, with their organisation (the
    agency or school of the role they hold; a deputy not in the directory: "others")."""
    from govcal.models.attendance import Attended
    from govcal.models.directory import Agency
    from govcal.models.people import Person, RoleAssignment

    recorded = session.exec(
        select(Attended, col(OccurrenceRow.title), col(OccurrenceRow.due))
        .join(OccurrenceRow, col(OccurrenceRow.id) == col(Attended.occurrence_id))
        .where(
            OccurrenceRow.partnership_id == partnership_id,
            OccurrenceRow.due >= start,
            OccurrenceRow.due <= end,
        )
        .order_by(col(OccurrenceRow.due), col(Attended.attendee))
    ).all()
    agencies = dict(
        session.exec(
            select(Agency.code, Agency.name).where(Agency.partnership_id == partnership_id)
        ).all()
    )
    names = queries.subject_names(session, partnership_id)
    where: dict[str, str] = {}
    for email, agency, school in session.exec(
        select(Person.email, RoleAssignment.agency_code, RoleAssignment.school_code)
        .join(RoleAssignment, col(RoleAssignment.person_id) == col(Person.id))
        .where(RoleAssignment.partnership_id == partnership_id)
    ).all():
        code = agency or school
        if code:
            where.setdefault(email.lower(), agencies.get(code) or names.get(code, code))
    return [
        AttendanceRow(f"{title}, {due:%d/%m/%Y}", where.get(row.attendee, "others"), row.present)
        for row, title, due in recorded
    ]


@dataclass(frozen=True)
class PackSource:
    partnership_id: str
    partnership_name: str
    start: date
    end: date
    items: list[PackItem]
    cycle_titles: dict[str, str]


def pack_source(session: Session, partnership_id: str, start: date, end: date) -> PackSource:
    """Every item of the partnership due from `start` to `end` inclusive, oldest first."""
    partnership = session.get(PartnershipRow, partnership_id)
    if partnership is None:
        raise queries.NotFound(
            f"no partnership '{partnership_id}' in the database yet: its calendar is loaded by "
            "the first daily run after its rules are installed"
        )
    rows = session.exec(
        select(OccurrenceRow, AuditReturn.rag)
        .outerjoin(AuditReturn, col(AuditReturn.occurrence_id) == col(OccurrenceRow.id))
        .where(
            OccurrenceRow.partnership_id == partnership_id,
            OccurrenceRow.orphaned == False,  # noqa: E712
            OccurrenceRow.due >= start,
            OccurrenceRow.due <= end,
        )
        .order_by(col(OccurrenceRow.due), col(OccurrenceRow.public_id))
    ).all()
    raised = _escalations(session, [r.id for r, _rag in rows if r.id is not None])
    names = queries.subject_names(session, partnership_id)
    items = [
        PackItem(
            id=r.public_id,
            title=r.title,
            kind=r.kind,
            owner=r.owner_role,
            due=r.due,
            lifecycle=r.lifecycle,
            completed_on=r.completed_at,
            completed_by=r.completed_by,
            evidence=r.evidence_url or r.evidence_file,
            reason=r.reason,
            escalations=raised.get(r.id or 0, ()),
            cycle=f"{r.partnership_id}:{r.rule_id}:{r.period}" if r.subject else None,
            subject_name=names.get(r.subject, r.subject),
            rag=rag,
        )
        for r, rag in rows
    ]
    titles = dict(
        session.exec(
            select(AuditCycle.public_id, AuditCycle.title).where(
                AuditCycle.partnership_id == partnership_id
            )
        ).all()
    )
    return PackSource(partnership_id, partnership.name, start, end, items, titles)


def _escalations(session: Session, ids: list[int]) -> dict[int, tuple[int, ...]]:
    """The escalation days raised per occurrence: stages sent (or flagged), not skipped."""
    days: dict[int, set[int]] = defaultdict(set)
    for chunk in chunks(ids):
        for occurrence_id, stage in session.exec(
            select(LedgerEntry.occurrence_id, LedgerEntry.stage).where(
                col(LedgerEntry.occurrence_id).in_(chunk),
                col(LedgerEntry.stage).startswith("escalation-"),
                col(LedgerEntry.status).in_([Delivery.SENT.value, Delivery.FLAGGED.value]),
            )
        ).all():
            suffix = stage.removeprefix("escalation-")
            if suffix.isdigit():
                days[occurrence_id].add(int(suffix))
    return {k: tuple(sorted(v)) for k, v in days.items()}
