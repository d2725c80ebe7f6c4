"""Named queries. Callers ask for what they need; nothing else writes SQL."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, bindparam, case, func, literal, union_all
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, or_, select

from govcal.models.calendar import Incident, Lifecycle, OccurrenceRow
from govcal.models.chunks import chunks
from govcal.models.directory import Agency, School
from govcal.models.rows import named
from govcal.models.stored_dates import warn_skipped
from govcal.models.types import table_of
from govcal.rules.dates import in_range
from govcal.rules.errors import Missing
from govcal.rules.model import Event, Per, Subject
from govcal.rules.text import shown

if TYPE_CHECKING:  # the audit tables are built by the commands that read them: not status
    from govcal.models.audits import AuditCycle, AuditReturn, FollowUpAction


class NotFound(Missing):
    """A record named by the user does not exist; the message suggests close matches."""


def subjects(session: Session, partnership_id: str) -> dict[Per, tuple[Subject, ...]]:
    agencies = session.exec(  # plain columns: a national sync reads 25,000 schools
        select(Agency.code, Agency.name, Agency.type)
        .where(Agency.partnership_id == partnership_id)
        .order_by(Agency.code)
    ).all()
    schools = session.exec(
        select(School.code, School.name, School.phase)
        .where(School.partnership_id == partnership_id)
        .order_by(School.code)
    ).all()
    return {
        Per.AGENCY: tuple(Subject(code, name, kind) for code, name, kind in agencies),
        Per.SCHOOL: tuple(Subject(code, name, phase) for code, name, phase in schools),
    }


def events(session: Session, partnership_id: str) -> tuple[Event, ...]:
    return events_of(session, [partnership_id]).get(partnership_id, ())


def events_of(session: Session, partnership_ids: Collection[str]) -> dict[str, tuple[Event, ...]]:
    """Each partnership's incidents, in one query (the daily boards ask for all of them)."""
    rows = session.exec(
        select(Incident).where(col(Incident.partnership_id).in_(list(partnership_ids)))
    ).all()
    found: dict[str, list[Event]] = {}
    for r in rows:
        if not in_range(r.occurred_on):  # its clocks cannot be computed: left out, said
            warn_skipped(
                f"incident {r.partnership_id}:{r.reference}",
                f"day {r.occurred_on}",
                "its clocks are left out until the day is corrected",
            )
            continue
        found.setdefault(r.partnership_id, []).append(Event(r.kind, r.reference, r.occurred_on))
    return {pid: tuple(found_events) for pid, found_events in found.items()}


def completions(
    session: Session, partnership_id: str, rule_ids: Collection[str] | None = None
) -> dict[tuple[str, str, str, str], date]:
    """When each occurrence was completed; with `rule_ids`, only those rules' (sync asks
    only for the rules whose dates hang on a completion, not ten years of audit returns)."""
    columns = (
        col(OccurrenceRow.rule_id),
        col(OccurrenceRow.period),
        col(OccurrenceRow.subject),
        col(OccurrenceRow.completed_at),
    )
    if rule_ids is None:
        query = select(*columns).where(
            OccurrenceRow.partnership_id == partnership_id,
            OccurrenceRow.lifecycle == Lifecycle.COMPLETED.value,
        )
        rows = session.exec(query).all()
    else:
        # Read by (partnership, rule), the unique key's index, and keep the completed ones
        # here: with the lifecycle in the WHERE, SQLite picks (lifecycle, completed_at)
        # and reads every partnership's completions for each partnership.
        keyed = select_columns(*columns, col(OccurrenceRow.lifecycle)).where(
            col(OccurrenceRow.partnership_id) == partnership_id,
            col(OccurrenceRow.rule_id).in_(sorted(rule_ids)),
        )
        completed = Lifecycle.COMPLETED.value
        rows = (
            [r[:4] for r in session.execute(keyed).all() if r[4] == completed] if rule_ids else []
        )
    found = {}
    for r, p, s, done in rows:
        if done is not None and not in_range(done):  # the next one cannot be computed
            warn_skipped(
                ":".join(x for x in (partnership_id, r, p, s) if x), f"completed_at {done}"
            )
        elif done is not None:
            found[(partnership_id, r, p, s)] = done
    return found


def moved_and_cancelled(
    session: Session, partnership_id: str
) -> tuple[dict[tuple[str, str, str, str], date], frozenset[tuple[str, str, str, str]]]:
    """What people changed by hand: rescheduled occurrences (key -> new due date) and
    cancelled ones; deadlines that hang on them follow (see rules.expand)."""
    rows = session.execute(
        select_columns(
            col(OccurrenceRow.rule_id),
            col(OccurrenceRow.period),
            col(OccurrenceRow.subject),
            col(OccurrenceRow.due),
            col(OccurrenceRow.lifecycle),
        ).where(
            col(OccurrenceRow.partnership_id) == partnership_id,
            or_(
                col(OccurrenceRow.rescheduled) == True,  # noqa: E712
                col(OccurrenceRow.lifecycle) == Lifecycle.CANCELLED.value,
            ),
        )
    ).all()
    moved = {}
    cancelled = set()
    for rule_id, period, subject, due, lifecycle in rows:
        key = (partnership_id, rule_id, period, subject)
        if lifecycle == Lifecycle.CANCELLED.value:
            cancelled.add(key)
        elif in_range(due):
            moved[key] = due
    return moved, frozenset(cancelled)


def occurrences_between(
    session: Session, partnership_id: str, start: date, end: date
) -> list[OccurrenceRow]:
    return list(
        session.exec(
            select(OccurrenceRow).where(
                OccurrenceRow.partnership_id == partnership_id,
                OccurrenceRow.due >= start,
                OccurrenceRow.due <= end,
            )
        ).all()
    )


_SYNC_COLUMNS = (
    col(OccurrenceRow.public_id),
    col(OccurrenceRow.rule_id),
    col(OccurrenceRow.due),
    col(OccurrenceRow.starts_at),
    col(OccurrenceRow.ends_at),
    col(OccurrenceRow.lifecycle),
    col(OccurrenceRow.rescheduled),
    col(OccurrenceRow.orphaned),
    col(OccurrenceRow.title),
    col(OccurrenceRow.kind),
    col(OccurrenceRow.owner_role),
)


def occurrence_columns(
    session: Session,
    partnership_id: str,
    *,
    between: tuple[date, date] | None = None,
    keys: Iterable[str] = (),
) -> list[Any]:
    """What sync compares, as plain rows (attribute access, no ORM objects): those due
    in `between`, or those with the public ids in `keys`."""
    if between is not None:
        start, end = between
        query = select_columns(*_SYNC_COLUMNS).where(
            col(OccurrenceRow.partnership_id) == partnership_id,
            col(OccurrenceRow.due) >= start,
            col(OccurrenceRow.due) <= end,
        )
        return list(session.execute(query).all())
    found: list[Any] = []
    for chunk in chunks(list(keys)):  # see _BY_PUBLIC_ID
        query = select_columns(*_SYNC_COLUMNS, col(OccurrenceRow.partnership_id))
        rows = session.execute(_by_public_ids(session, query, partnership_id, chunk)).all()
        found.extend(r for r in rows if r.partnership_id == partnership_id)
    return found


def laid_out(
    session: Session, partnership_id: str
) -> tuple[set[tuple[str, str]], tuple[date, date] | None]:
    """The (rule, subject) pairs already stored, and the span of days the partnership's
    calendar was laid out over (the windows its syncs recorded in the trail, and its
    stored due dates), so sync can tell a date the rules newly produce in the past (a
    rule edit: history is not rewritten) from one never reached before (a new agency,
    an earlier window)."""
    from govcal.models.trail import TrailEntry

    pairs = select(OccurrenceRow.rule_id, OccurrenceRow.subject).where(
        OccurrenceRow.partnership_id == partnership_id
    )
    found = {(rule, subject) for rule, subject in session.exec(pairs.distinct()).all()}
    span = select(func.min(OccurrenceRow.due), func.max(OccurrenceRow.due)).where(
        OccurrenceRow.partnership_id == partnership_id
    )
    days = [d for d in session.exec(span).one() if d is not None]
    synced = select(TrailEntry.after).where(
        TrailEntry.entity_id == partnership_id,
        TrailEntry.entity == "partnership",
        TrailEntry.action == "synced",
    )
    for after in session.exec(synced).all():
        window = (after or {}).get("window") or []
        days += [date.fromisoformat(d) for d in window if isinstance(d, str)]
    return found, (min(days), max(days)) if days else None


def _by_public_ids(session: Session, query: Any, partnership_id: str, chunk: Sequence[str]) -> Any:
    """`query` narrowed to the public ids in `chunk`; on PostgreSQL to the partnership too."""
    query = query.where(col(OccurrenceRow.public_id).in_(chunk))
    if session.get_bind().dialect.name == "postgresql":
        query = query.where(OccurrenceRow.partnership_id == partnership_id)
    return query


# _BY_PUBLIC_ID: on SQLite, reads by a list of public ids go through the unique public id's
# index and check the partnership here. With the partnership in the WHERE, SQLite (no
# statistics) reads every occurrence of the partnership, ten years of them, for each 500
# ids. PostgreSQL (statistics kept by the sync: models.db.keep_statistics) is given the
# partnership too: a first sync's new ids belong to a partnership with no rows yet, found
# empty through (partnership, due) at once, where the public id's index is probed 500
# times and a planner that costs those probes high scans the whole table instead.


def occurrences_by_keys(
    session: Session, partnership_id: str, public_ids: Iterable[str]
) -> list[OccurrenceRow]:
    found: list[OccurrenceRow] = []
    for chunk in chunks(list(public_ids)):  # see _BY_PUBLIC_ID
        query = _by_public_ids(session, select(OccurrenceRow), partnership_id, chunk)
        found.extend(r for r in session.exec(query).all() if r.partnership_id == partnership_id)
    return found


def occurrence_ids(
    session: Session, partnership_id: str, public_ids: Iterable[str]
) -> dict[str, int]:
    """Database id by public id: two columns, no ORM objects (sync links audit returns)."""
    found: dict[str, int] = {}
    for chunk in chunks(list(public_ids)):  # see _BY_PUBLIC_ID
        query = select(OccurrenceRow.public_id, OccurrenceRow.id, OccurrenceRow.partnership_id)
        rows = session.exec(_by_public_ids(session, query, partnership_id, chunk)).all()
        found.update((key, ref) for key, ref, pid in rows if pid == partnership_id)
    return found


def occurrence(session: Session, public_id: str, *, for_update: bool = False) -> OccurrenceRow:
    """One occurrence. `for_update`: locked for this transaction and read as it is now,
    so that two changes at once apply one after the other, each to what the other left
    (never to a copy read before: two people told "invite version 3")."""
    if for_update:
        _lock_for_write(session, public_id)
    query = _FOR_UPDATE if for_update else _ONE
    row = session.exec(query, params={"public_id": public_id}).first()
    if row is None:
        members = round_members(session, public_id) if public_id.count(":") == 2 else None
        if members:
            raise NotFound(whole_round(public_id, members))
        raise NotFound(_unknown("occurrence", public_id, _near_ids(session, public_id)))
    return row


# built once: every change of an item reads it through one of these
_ONE = select(OccurrenceRow).where(OccurrenceRow.public_id == bindparam("public_id"))
_FOR_UPDATE = _ONE.with_for_update().execution_options(populate_existing=True)
_OCCURRENCE = table_of(OccurrenceRow)


def _lock_for_write(session: Session, public_id: str) -> None:
    """SQLite has no row locks and ignores FOR UPDATE: a write that changes nothing takes
    the database's write lock now (waiting GOVCAL_DB_LOCK_TIMEOUT for another writer), so
    the row is read after any change in progress has landed. PostgreSQL's FOR UPDATE does
    this for the row alone."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    connection.execute(_TOUCH, {"public_id": public_id})


_TOUCH = (  # a write that changes nothing, built once (every change of an item runs it)
    _OCCURRENCE.update()
    .where(_OCCURRENCE.c.public_id == bindparam("public_id"))
    .values(public_id=_OCCURRENCE.c.public_id)
)


def whole_round(cycle_id: str, members: list[OccurrenceRow]) -> str:
    """What to do with an audit cycle's id where one return's id is needed: the cycle id
    is what the cockpit and `status` show for a round, so it is explained, not unknown."""
    waiting = [m for m in members if m.lifecycle == Lifecycle.OPEN.value and not m.orphaned]
    noun = "school" if members[0].owner_role == "dsl" else "agency"
    shown = ", ".join(m.public_id for m in (waiting or members)[:3])
    more = ", ..." if len(waiting or members) > 3 else ""
    return (
        f"{cycle_id} is the whole {members[0].title} cycle ({len(waiting)} of {len(members)} "
        f"not returned); act on one {noun}'s return by its own id: {shown}{more} "
        "(each one's own reminder email gives its id)"
    )


def _near_ids(session: Session, wanted: str) -> list[str]:
    partnership = wanted.split(":", 1)[0]
    query = select(OccurrenceRow.public_id).where(
        col(OccurrenceRow.public_id).startswith(f"{partnership}:")
    )
    candidates = session.exec(query.limit(20000)).all()
    return difflib.get_close_matches(wanted, candidates, n=3, cutoff=0.6)


def _unknown(what: str, wanted: str, near: list[str]) -> str:
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    return (
        f"no {what} '{wanted}'{hint} (copy the id from the reminder email or the "
        "compliance summary)"
    )


def audit_cycle(session: Session, public_id: str) -> AuditCycle:
    from govcal.models.audits import AuditCycle

    cycle = session.exec(select(AuditCycle).where(AuditCycle.public_id == public_id)).first()
    if cycle is None:
        near = difflib.get_close_matches(
            public_id, session.exec(select(AuditCycle.public_id)).all(), n=3, cutoff=0.5
        )
        raise NotFound(_unknown("audit cycle", public_id, near))
    return cycle


def cycles_per(session: Session, public_ids: Collection[str]) -> dict[str, str]:
    """Whom each audit cycle fans out to ("agency" or "school"), by the cycle's id."""
    from govcal.models.audits import AuditCycle

    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(public_ids))):
        rows = session.exec(
            select(AuditCycle.public_id, AuditCycle.per).where(col(AuditCycle.public_id).in_(chunk))
        )
        found.update(dict(rows.all()))
    return found


def audit_cycles(session: Session, partnership_id: str | None = None) -> list[AuditCycle]:
    from govcal.models.audits import AuditCycle

    query = select(AuditCycle)
    if partnership_id:
        query = query.where(AuditCycle.partnership_id == partnership_id)
    return list(session.exec(query.order_by(col(AuditCycle.due))).all())


def cycles_due_between(
    session: Session, partnership_ids: Collection[str], start: date, end: date
) -> list[AuditCycle]:
    """Audit cycles due between two days (inclusive), every partnership named, by due."""
    from govcal.models.audits import AuditCycle

    return list(
        session.exec(
            select(AuditCycle)
            .where(
                col(AuditCycle.partnership_id).in_(list(partnership_ids)),
                AuditCycle.due >= start,
                AuditCycle.due <= end,
            )
            .order_by(col(AuditCycle.due))
        ).all()
    )


def cycle_to_open(
    session: Session, partnership_id: str, rule_id: str, day: date, period: str | None = None
) -> str:
    """The id of the audit cycle to open: the named period's, else the next one of the
    rule due on or after `day` (a cycle opened on the schedule is the coming one)."""
    if period:
        return f"{partnership_id}:{rule_id}:{period}"
    cycles = audit_cycles(session, partnership_id)
    upcoming = [c for c in cycles if c.rule_id == rule_id and c.due >= day]
    if not upcoming:
        raise NotFound(f"no {rule_id} cycle due on or after {day}; run sync first")
    return upcoming[0].public_id


def round_members(session: Session, public_id: str) -> list[OccurrenceRow] | None:
    """The occurrences an audit round's id stands for: every agency's or school's, for the
    cycle's id (`wfscp:section-11-audit:2026-10-31`) or for one member's id; None when
    the id is neither (a plain occurrence, or nothing known)."""
    from govcal.models.audits import AuditCycle

    parts = public_id.split(":")
    if len(parts) not in (3, 4):
        return None
    cycle_id = ":".join(parts[:3])
    cycle = session.exec(select(AuditCycle).where(AuditCycle.public_id == cycle_id)).first()
    if cycle is None:
        return None
    return [o for _r, o in returns_of(session, cycle)]


def returns_of(session: Session, cycle: AuditCycle) -> list[tuple[AuditReturn, OccurrenceRow]]:
    from govcal.models.audits import AuditReturn

    rows = session.exec(
        select(AuditReturn, OccurrenceRow)
        .join(OccurrenceRow, col(AuditReturn.occurrence_id) == col(OccurrenceRow.id))
        .where(AuditReturn.cycle_id == cycle.id)
        .order_by(AuditReturn.subject)
    ).all()
    return [(r, o) for r, o in rows]


def return_tables(session: Session, cycle_ids: list[int]) -> dict[int, list[Any]]:
    """Each cycle's returns as plain rows (cycle_id, id, subject, rag, completed_at, due),
    by subject: what the dashboard's returns tables show, without ORM objects (every
    partnership's current cycles are read each day: 29,000 returns nationally)."""
    from govcal.models.audits import AuditReturn

    found: dict[int, list[Any]] = {}
    for chunk in chunks(cycle_ids):
        rows = session.execute(
            select_columns(
                col(AuditReturn.cycle_id),
                col(AuditReturn.id),
                col(AuditReturn.subject),
                col(AuditReturn.rag),
                col(OccurrenceRow.completed_at),
                col(OccurrenceRow.due),
            )
            .join(OccurrenceRow, col(AuditReturn.occurrence_id) == col(OccurrenceRow.id))
            .where(col(AuditReturn.cycle_id).in_(chunk))
            .order_by(col(AuditReturn.cycle_id), col(AuditReturn.subject))
        ).all()
        for row in named(rows):
            found.setdefault(row.cycle_id, []).append(row)
    return found


def return_counts(
    session: Session, cycle_ids: list[int], as_of: date | None = None
) -> dict[int, tuple[int, int]]:
    """(returned, total) per cycle, counted in one query: the dashboard asks for every
    open cycle of every partnership each day. With `as_of`, only returns made by then."""
    from govcal.models.audits import AuditReturn

    if not cycle_ids:
        return {}
    done: ColumnElement[bool] = col(OccurrenceRow.completed_at).is_not(None)
    if as_of is not None:
        done = done & (col(OccurrenceRow.completed_at) <= as_of)
    returned = func.sum(case((done, 1), else_=0))
    rows = session.exec(
        select(AuditReturn.cycle_id, returned, func.count())
        .join(OccurrenceRow, col(AuditReturn.occurrence_id) == col(OccurrenceRow.id))
        .where(col(AuditReturn.cycle_id).in_(cycle_ids))
        .group_by(col(AuditReturn.cycle_id))
    ).all()
    return {cycle: (int(done or 0), int(total)) for cycle, done, total in rows}


def subject_names(session: Session, partnership_id: str) -> dict[str, str]:
    """Agency and school names by code, as they may be shown (rules.text.shown: a name
    stored before the text check existed may hold a control character)."""
    return subject_names_of(session, [partnership_id]).get(partnership_id, {})


def subject_names_of(
    session: Session, partnership_ids: Collection[str]
) -> dict[str, dict[str, str]]:
    """subject_names of several partnerships, two queries in all (the daily boards and the
    plan ask for every partnership's)."""
    wanted = list(partnership_ids)
    found: dict[str, dict[str, str]] = {pid: {} for pid in wanted}
    for table in (Agency, School):  # agencies first: a school's name wins a shared code
        rows = session.exec(  # plain columns: 25,000 schools nationally
            select(table.partnership_id, table.code, table.name).where(
                col(table.partnership_id).in_(wanted)
            )
        )
        for pid, code, name in rows:
            found[pid][code] = shown(name)
    return found


_SUBJECT_NAME = union_all(  # built once: a page binds its partnership and code
    select(literal(0).label("rank"), col(Agency.name)).where(
        col(Agency.partnership_id) == bindparam("partnership_id"),
        col(Agency.code) == bindparam("code"),
    ),
    select(literal(1).label("rank"), col(School.name)).where(
        col(School.partnership_id) == bindparam("partnership_id"),
        col(School.code) == bindparam("code"),
    ),
)


def subject_name(db: Session | Connection, partnership_id: str, code: str) -> str:
    """One agency's or school's name ('' if unknown): a page about one organisation
    need not read the partnership's 168. `db`: a session or its connection."""
    if not code:
        return ""
    found = db.execute(_SUBJECT_NAME, {"partnership_id": partnership_id, "code": code}).all()
    names: dict[Any, Any] = {rank: name for rank, name in found}  # one round trip, not two
    name = names.get(1) or names.get(0)  # a school's name wins a shared code, as above
    return shown(name) if name else ""


def mark_cycle_opened(session: Session, cycle: AuditCycle, when: datetime) -> None:
    """Record that requests went out: the cycle and each not-yet-requested return."""
    if cycle.opened_at is None:
        cycle.opened_at = when
    for audit_return, _occ in returns_of(session, cycle):
        if audit_return.requested_at is None:
            audit_return.requested_at = when


def follow_ups(session: Session, return_ids: list[int]) -> dict[int, list[FollowUpAction]]:
    """Follow-up actions agreed at review, per return, in one query per chunk of returns."""
    from govcal.models.audits import FollowUpAction

    found: dict[int, list[FollowUpAction]] = {}
    for chunk in chunks(return_ids):
        rows = session.exec(
            select(FollowUpAction)
            .where(col(FollowUpAction.return_id).in_(chunk))
            .order_by(col(FollowUpAction.due))
        ).all()
        for row in rows:
            found.setdefault(row.return_id, []).append(row)
    return found


def unreviewed_returns(
    session: Session, limit: int = 300
) -> list[tuple[AuditReturn, OccurrenceRow]]:
    """Returns submitted and not yet reviewed, latest submission first (the drop-down
    lists the nearest to today first, and this year's return before last year's)."""
    from govcal.models.audits import AuditReturn

    rows = session.exec(
        select(AuditReturn, OccurrenceRow)
        .join(OccurrenceRow, col(AuditReturn.occurrence_id) == col(OccurrenceRow.id))
        .where(
            OccurrenceRow.lifecycle == Lifecycle.COMPLETED.value,
            col(AuditReturn.rag).is_(None),
        )
        .order_by(col(OccurrenceRow.completed_at).desc(), OccurrenceRow.public_id)
        .limit(limit)
    ).all()
    return [(r, o) for r, o in rows]


def all_subject_names(session: Session) -> dict[str, str]:
    """Agency and school names by code, every partnership (for choosing from a list)."""
    rows = [
        *session.exec(select(Agency.code, Agency.name)),
        *session.exec(select(School.code, School.name)),
    ]
    return {code: shown(name) for code, name in rows}


def is_audit_return(session: Session, public_id: str) -> bool:
    """Whether an occurrence id stands for an audit return (S11/S175): one key read, no
    row loaded (a return recorded from an email link asks it on every answer)."""
    return session.execute(_is_return(), {"public_id": public_id}).first() is not None


@cache
def _is_return() -> Any:  # built on first use, as the audit tables are imported (above)
    from govcal.models.audits import AuditReturn

    returns = table_of(AuditReturn)
    return (
        select_columns(returns.c.id)
        .join(_OCCURRENCE, _OCCURRENCE.c.id == returns.c.occurrence_id)
        .where(_OCCURRENCE.c.public_id == bindparam("public_id"))
        .limit(1)
    )


def titles_by_public_id(session: Session, public_ids: Iterable[str]) -> dict[str, str]:
    """The title of each occurrence, by its public id (the audit trail names items by it)."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(public_ids))):
        rows = session.exec(
            select(OccurrenceRow.public_id, OccurrenceRow.title).where(
                col(OccurrenceRow.public_id).in_(chunk)
            )
        )
        found.update(dict(rows.all()))
    return found


def occurrence_titles(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The title of each occurrence, by id (the dashboard names undelivered mail by it)."""
    return _by_id(session, OccurrenceRow.title, ids)


def occurrence_public_ids(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The public id of each occurrence, by id (an incident's clock carries its reference)."""
    return _by_id(session, OccurrenceRow.public_id, ids)


def _by_id(session: Session, column: Any, ids: Iterable[int]) -> dict[int, Any]:
    """One column of each occurrence, by id, a chunk of ids per statement."""
    found: dict[int, Any] = {}
    for chunk in chunks(sorted(set(ids))):
        rows = session.exec(
            select(col(OccurrenceRow.id), column).where(col(OccurrenceRow.id).in_(chunk))
        )
        found.update((i, value) for i, value in rows.all() if i is not None)
    return found


def has_people(session: Session, partnership_id: str) -> bool:
    """Whether anyone holds a role in the partnership (its directory was imported)."""
    from govcal.models.people import RoleAssignment

    query = select(RoleAssignment.id).where(RoleAssignment.partnership_id == partnership_id)
    return session.exec(query.limit(1)).first() is not None


def cycle_members(session: Session, round_id: str) -> list[OccurrenceRow]:
    """The per-agency or per-school occurrences of a round `partnership:rule:period`,
    by subject; empty when `round_id` is not a round's own id (an occurrence's id)."""
    parts = round_id.split(":")
    if len(parts) != 3:
        return []
    partnership, rule, period = parts
    return list(
        session.exec(
            select(OccurrenceRow)
            .where(
                OccurrenceRow.partnership_id == partnership,
                OccurrenceRow.rule_id == rule,
                OccurrenceRow.period == period,
                OccurrenceRow.subject != "",
            )
            .order_by(OccurrenceRow.subject)
        ).all()
    )


def title_and_due(session: Session, public_id: str) -> tuple[str, date] | None:
    """An occurrence's title and due day, or None when the id is not one occurrence's
    (a whole S11/S175 round): what a form's run is named after."""
    row = session.exec(
        select(col(OccurrenceRow.title), col(OccurrenceRow.due)).where(
            OccurrenceRow.public_id == public_id
        )
    ).first()
    return (row[0], row[1]) if row is not None else None
