"""People leaving: roles ended by an authoritative import, or one person removed.

An ended role receives nothing from then on: its assignment is deleted (so the next
notification plan, feed and digest no longer finds the person in it), the delegations
it carried go with it, and mail still pending in the ledger for that person in that
role is marked skipped. The audit trail keeps what they held, who ended it and why.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, func, or_, select

from govcal.models.calendar import OccurrenceRow
from govcal.models.ledger import Delivery, LedgerEntry
from govcal.models.people import Delegation, Person, RoleAssignment
from govcal.models.trail import Channel, record


@dataclass(frozen=True)
class EndedRole:
    email: str
    partnership: str
    role: str
    agency: str = ""
    school: str = ""

    def __str__(self) -> str:
        where = self.agency or self.school
        return f"{self.role}{f' ({where})' if where else ''} in {self.partnership}"


def _describe(assignment: RoleAssignment, email: str) -> EndedRole:
    return EndedRole(
        email,
        assignment.partnership_id,
        assignment.role,
        assignment.agency_code,
        assignment.school_code,
    )


def end_assignments(
    session: Session,
    assignments: list[RoleAssignment],
    *,
    reason: str,
    actor: str,
    channel: Channel | str,
    action: str = "roles-ended",
) -> list[EndedRole]:
    """End these role assignments; one trail entry per person, naming every role."""
    if not assignments:
        return []
    people = {
        p.id: p
        for p in session.exec(
            select(Person).where(col(Person.id).in_({a.person_id for a in assignments}))
        )
    }
    ended: dict[int, list[EndedRole]] = defaultdict(list)
    for assignment in assignments:
        ended[assignment.person_id].append(
            _describe(assignment, people[assignment.person_id].email)
        )
        session.delete(assignment)
    session.flush()
    for person_id, roles in ended.items():
        person = people[person_id]
        by_partnership = {r.partnership for r in roles}
        _drop_delegations(session, person_id, by_partnership)
        _skip_pending_mail(session, person, by_partnership)
        record(
            session,
            actor=actor,
            channel=channel,
            action=action,
            entity="person",
            entity_id=person.email,
            before={"name": person.name, "roles": sorted(str(r) for r in roles)},
            after={"roles": sorted(_held(session, person_id))},
            reason=reason,
        )
    return [r for roles in ended.values() for r in roles]


def _held(session: Session, person_id: int) -> list[str]:
    rows = session.exec(select(RoleAssignment).where(RoleAssignment.person_id == person_id))
    return [str(_describe(a, "")) for a in rows]


def _drop_delegations(session: Session, person_id: int, partnerships: set[str]) -> None:
    """Delegations to or from a person who no longer holds a role in the partnership."""
    still = set(
        session.exec(
            select(RoleAssignment.partnership_id).where(RoleAssignment.person_id == person_id)
        ).all()
    )
    gone = partnerships - still
    if not gone:
        return
    for delegation in session.exec(
        select(Delegation).where(
            col(Delegation.partnership_id).in_(gone),
            or_(Delegation.delegate_id == person_id, Delegation.lead_id == person_id),
        )
    ):
        session.delete(delegation)


# waiting to go, or uncertain (to be resent): after the role ends, neither goes out again
_NOT_YET_SENT = (Delivery.PENDING.value, Delivery.UNCERTAIN.value)


def _skip_pending_mail(session: Session, person: Person, partnerships: set[str]) -> None:
    """Mail not yet sent to the person for roles they no longer hold there is skipped."""
    held = set(
        session.exec(
            select(RoleAssignment.partnership_id, RoleAssignment.role).where(
                RoleAssignment.person_id == person.id
            )
        ).all()
    )
    pending = session.exec(
        select(LedgerEntry, OccurrenceRow.partnership_id)
        .join(OccurrenceRow, col(LedgerEntry.occurrence_id) == col(OccurrenceRow.id))
        .where(
            LedgerEntry.recipient == person.email,
            col(LedgerEntry.status).in_(_NOT_YET_SENT),
            col(OccurrenceRow.partnership_id).in_(partnerships),
        )
    ).all()
    for entry, partnership_id in pending:
        if (partnership_id, entry.role) not in held:
            entry.status = Delivery.SKIPPED.value
            entry.last_error = "recipient's role ended before it was sent"
            session.add(entry)


def person_roles(
    session: Session, email: str, partnership_id: str | None = None
) -> tuple[Person | None, list[RoleAssignment]]:
    person = session.exec(
        select(Person).where(func.lower(Person.email) == email.lower())  # as typed, any case
    ).first()
    if person is None:
        return None, []
    query = select(RoleAssignment).where(RoleAssignment.person_id == person.id)
    if partnership_id:
        query = query.where(RoleAssignment.partnership_id == partnership_id)
    return person, list(session.exec(query))


def delete_person_if_roleless(session: Session, person: Person) -> bool:
    """A person with no role left anywhere is removed from the directory."""
    if _held(session, person.id or 0):
        return False
    for delegation in session.exec(
        select(Delegation).where(
            or_(Delegation.delegate_id == person.id, Delegation.lead_id == person.id)
        )
    ):
        session.delete(delegation)
    session.delete(person)
    session.flush()
    return True
