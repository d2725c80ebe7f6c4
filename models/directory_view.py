"""The directory as people read it: each address, who holds it and the roles it holds,
and whether mail to it keeps bouncing (models/bounces.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from govcal.models.bounces import FailingAddress, failing_addresses
from govcal.models.people import Person, RoleAssignment
from govcal.models.types import table_of


@dataclass(frozen=True, slots=True)
class Listed:
    """One address of the directory with its roles, and its bounces when failing."""

    address: str
    name: str
    roles: tuple[str, ...]  # "partnership role (agency or school)"
    failing: FailingAddress | None


def listing(session: Session, partnership: str | None = None) -> Iterator[Listed]:
    """Everyone holding a role (in one partnership, or in any), by address."""
    people = table_of(Person)
    roles = table_of(RoleAssignment)
    query = (
        select(
            people.c.email,
            people.c.name,
            roles.c.partnership_id,
            roles.c.role,
            roles.c.agency_code,
            roles.c.school_code,
        )
        .select_from(people.join(roles, roles.c.person_id == people.c.id))
        .order_by(people.c.email, roles.c.partnership_id, roles.c.role)
    )
    if partnership is not None:
        query = query.where(roles.c.partnership_id == partnership)
    failing = {f.address: f for f in failing_addresses(session)}
    current: tuple[str, str] | None = None
    held: list[str] = []
    for email, name, pid, role, agency, school in session.connection().execute(query):
        if current is not None and email != current[0]:
            yield Listed(current[0], current[1], tuple(held), failing.get(current[0].lower()))
            held = []
        current = (email, name)
        where = agency or school
        held.append(f"{pid} {role}" + (f" ({where})" if where else ""))
    if current is not None:
        yield Listed(current[0], current[1], tuple(held), failing.get(current[0].lower()))


def names_of(session: Session, addresses: list[str]) -> dict[str, str]:
    """The directory's names of these addresses (lower-cased keys); absent when not there."""
    people = table_of(Person)
    if not addresses:
        return {}
    rows = session.connection().execute(
        select(people.c.email, people.c.name).where(people.c.email.in_(addresses))
    )
    return {email.lower(): name for email, name in rows}
