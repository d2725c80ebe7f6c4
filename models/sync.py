"""Sync: expand the rules over a horizon and upsert occurrences by their stable key.

Idempotent: a second run with the same rules changes nothing. When a rule changes,
only what is still ahead follows it: future unfinished occurrences move, one the rules no
longer produce is marked orphaned (never deleted), and a date the edited rule would now
produce in the past is not created. What was due before the day of the sync, and
anything completed, waived, cancelled or moved by a person, is history and left exactly
as recorded (the report counts what was left alone).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import insert
from sqlmodel import Session, col, select

from govcal.models import queries
from govcal.models.audits import AuditCycle, AuditReturn
from govcal.models.calendar import Lifecycle, OccurrenceRow
from govcal.models.chunks import chunks
from govcal.models.db import keep_statistics
from govcal.models.directory import PartnershipRow
from govcal.models.trail import Channel, record
from govcal.models.types import table_of, utcnow
from govcal.rules.dependencies import dependents_of
from govcal.rules.expand import expand
from govcal.rules.model import (
    REPLACES_WITHIN,
    Anchor,
    Basis,
    DateList,
    DerivedDeadline,
    ExpansionContext,
    Kind,
    Occurrence,
    Partnership,
    Recurrence,
    Rule,
)


@dataclass
class SyncReport:
    partnership: str
    window: tuple[date, date]
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    orphaned: int = 0
    restored: int = 0
    cycles_created: int = 0
    returns_created: int = 0
    kept: int = 0  # past or recorded items the rules no longer produce: history, kept
    not_created: int = 0  # past dates an edited rule would now produce: never were due
    changes: list[str] = field(default_factory=list)

    def left_alone(self) -> str:
        """What sync did not change although the rules now say otherwise, and why: said
        on a sync that moved something (a rule changed), not on every later day that
        leaves the same rows alone."""
        parts = []
        if not (self.orphaned or self.updated or self.restored):
            return ""
        if self.kept:
            parts.append(
                f"kept {self.kept} past or recorded item(s) the rules no longer produce "
                "(history stays as it happened)"
            )
        if self.not_created:
            parts.append(
                f"did not add {self.not_created} past date(s) the changed rules would now "
                "produce (a rule change only moves what is still ahead)"
            )
        return "; ".join(parts)

    @property
    def changed(self) -> bool:
        return any((self.created, self.updated, self.orphaned, self.restored, self.cycles_created))


def sync_window(as_of: date, months: int) -> tuple[date, date]:
    return as_of - relativedelta(months=months), as_of + relativedelta(months=months)


def sync_partnership(
    session: Session,
    partnership: Partnership,
    as_of: date,
    *,
    horizon_months: int = 18,
    actor: str = "govcal",
    channel: Channel = Channel.SYNC,
    rule_ids: set[str] | None = None,
) -> SyncReport:
    """Sync every rule of the partnership, or only `rule_ids` (see follow_dependents)."""
    start, end = sync_window(as_of, horizon_months)
    report = SyncReport(partnership.id, (start, end))
    register_partnership(session, partnership)
    session.get_one(PartnershipRow, partnership.id).synced_at = utcnow()
    moved, cancelled = queries.moved_and_cancelled(session, partnership.id)
    context = ExpansionContext(
        subjects=queries.subjects(session, partnership.id),
        events=queries.events(session, partnership.id),
        completions=queries.completions(session, partnership.id, completion_rules(partnership)),
        moved=moved,
        cancelled=cancelled,
    )
    expanded = expand(partnership, start, end, context, rule_ids=rule_ids)
    rules = {r.id: r for r in partnership.rules}
    # A person's record (rule_ids given) may move or cancel past deadlines that hang on
    # it; a plain sync never rewrites what was due before as_of.
    prompted = rule_ids is not None
    wanted = {o.id: o for o in expanded}
    # Plain columns first; ORM rows only for the few a change touches (a day's sync of a
    # national calendar changes a handful of its hundreds of thousands of rows).
    existing: dict[str, Any] = {
        r.public_id: r
        for r in queries.occurrence_columns(session, partnership.id, between=(start, end))
        if rule_ids is None or r.rule_id in rule_ids
    }
    missing = [i for i in wanted if i not in existing]
    existing.update(
        (r.public_id, r) for r in queries.occurrence_columns(session, partnership.id, keys=missing)
    )
    invented = _new_in_the_past(session, partnership.id, wanted, existing, rules, as_of)
    if invented:
        report.not_created = len(invented)
        wanted = {i: o for i, o in wanted.items() if i not in invented}
        expanded = [o for o in expanded if o.id not in invented]
    touched = [
        public_id
        for public_id, row in existing.items()
        if ((occ := wanted.get(public_id)) is None) != row.orphaned  # to orphan, to restore
        or (occ is not None and _would_follow(row, occ, rules[occ.rule], as_of, prompted))
    ]
    existing.update(
        (r.public_id, r) for r in queries.occurrences_by_keys(session, partnership.id, touched)
    )

    new_rows: list[dict[str, Any]] = []
    for public_id, occ in wanted.items():
        row = existing.get(public_id)
        if row is None:
            new_rows.append(_new_row(occ, rules[occ.rule]))
            continue
        if row.orphaned:
            row.orphaned = False
            row.sequence += 1  # back in people's calendars after its cancellation
            row.updated_at = utcnow()
            report.restored += 1
        was = (row.due, row.starts_at, row.ends_at)
        if _follow_rule(row, occ, rules[occ.rule], as_of, prompted):
            values = (v.isoformat() if v else None for v in was)
            before = dict(zip(("due", "starts_at", "ends_at"), values, strict=True))
            report.updated += 1
            report.changes.append(public_id)
            record(
                session,
                actor=actor,
                channel=channel,
                action="moved-by-rule",
                entity="occurrence",
                entity_id=public_id,
                before=before,
                after={"due": row.due.isoformat()},
                reason=_why_moved(rules[occ.rule]),
            )
        else:
            report.unchanged += 1
    for public_id, row in existing.items():
        in_window = start <= row.due <= end
        if public_id not in wanted and in_window and not row.orphaned:
            if _is_history(row, as_of, prompted or row.rule_id not in rules):
                report.kept += 1
                continue
            row.orphaned = True
            row.sequence += 1  # its cancellation is a new version for calendars
            row.updated_at = utcnow()
            report.orphaned += 1
            _carry_place(row, new_rows)
    if new_rows:
        # Core executemany: the ORM's bulk path costs twice as much per row
        session.connection().execute(insert(table_of(OccurrenceRow)), new_rows)
        report.created = len(new_rows)
    session.flush()
    _ensure_audit_cycles(session, partnership, expanded, rules, report)
    if report.created or report.returns_created:  # a bulk load: the planner is told
        keep_statistics(session, ("occurrence", "audit_return"))
    if report.changed:
        record(
            session,
            actor=actor,
            channel=channel,
            action="synced",
            entity="partnership",
            entity_id=partnership.id,
            after={
                "window": [start.isoformat(), end.isoformat()],
                "created": report.created,
                "updated": report.updated,
                "orphaned": report.orphaned,
                "restored": report.restored,
                "kept": report.kept,
                "not_created": report.not_created,
            },
        )
    return report


def _new_in_the_past(
    session: Session,
    partnership_id: str,
    wanted: dict[str, Occurrence],
    existing: dict[str, Any],
    rules: dict[str, Rule],
    as_of: date,
) -> set[str]:
    """The new past dates a calendar rule produces inside the span its calendar was
    already laid out over: a rule edit ("third Wednesday") would otherwise invent overdue
    meetings that never were. A first sync, a new agency or school, an earlier window, an
    incident's clocks and the next of a chain counted from a completion still get their
    past dates: those were due."""
    new_past = [o for i, o in wanted.items() if i not in existing and o.due < as_of]
    if not new_past:
        return set()
    known, span = queries.laid_out(session, partnership_id)
    if span is None:
        return set()
    return {
        occ.id
        for occ in new_past
        if (occ.rule, occ.subject or "") in known
        and span[0] <= occ.due <= span[1]
        and _calendar_driven(rules[occ.rule], rules)
    }


def _calendar_driven(rule: Rule, rules: dict[str, Rule]) -> bool:
    """Whether the rule's dates come from its calendar alone (a fixed recurrence or list
    of dates, or a deadline counted from one), not from an event or a completion."""
    schedule = rule.schedule
    for _ in range(len(rules)):
        if isinstance(schedule, DerivedDeadline) and schedule.rule in rules:
            schedule = rules[schedule.rule].schedule
            continue
        break
    if isinstance(schedule, Recurrence):
        return schedule.anchor is not Anchor.COMPLETION
    return isinstance(schedule, DateList)


def _is_history(row: Any, as_of: date, let_go: bool) -> bool:
    """A row sync must not orphan: it carries a recorded state, was moved by a person, or
    was due before as_of, unless `let_go` (a person's record of what it hangs on prompted
    this sync, or its rule was withdrawn from the file: nothing is owed any more)."""
    recorded = row.lifecycle != Lifecycle.OPEN.value or row.rescheduled
    return recorded or (row.due < as_of and not let_go)


def completion_rules(partnership: Partnership) -> set[str]:
    """The rules whose completions move a date (rules.expand reads no others): a rule
    repeated from its last completion, and the rule a deadline counts from the
    completion of. Ten years of completed audit returns are left unread."""
    found = set()
    for rule in partnership.rules:
        schedule = rule.schedule
        if isinstance(schedule, Recurrence) and schedule.anchor is Anchor.COMPLETION:
            found.add(rule.id)
        elif isinstance(schedule, DerivedDeadline) and schedule.basis is Basis.COMPLETION:
            found.add(schedule.rule)
    return found


def register_partnership(session: Session, partnership: Partnership) -> None:
    """Create or refresh the partnership's row from its rule file."""
    row = session.get(PartnershipRow, partnership.id)
    if row is None:
        row = PartnershipRow(id=partnership.id, name=partnership.name)
        session.add(row)
    row.name = partnership.name
    row.timezone = partnership.timezone
    row.rules_file = partnership.source_file
    session.flush()


def _new_row(occ: Occurrence, rule: Rule) -> dict[str, Any]:
    now = utcnow()
    return {
        "public_id": occ.id,
        "partnership_id": occ.partnership,
        "rule_id": occ.rule,
        "period": occ.period,
        "subject": occ.subject or "",
        "kind": rule.kind.value,
        "title": rule.title,
        "owner_role": rule.owner,
        "due": occ.due,
        "starts_at": occ.starts_at,
        "ends_at": occ.ends_at,
        "location": None,  # the rule's place, unless it takes over from a moved meeting
        "lifecycle": Lifecycle.OPEN.value,
        "rescheduled": False,
        "orphaned": False,
        "sequence": 0,
        "created_at": now,
        "updated_at": now,
    }


def _carry_place(orphan: Any, new_rows: list[dict[str, Any]]) -> None:
    """A meeting a person moved elsewhere (reschedule --location) keeps that place when a
    rule change replaces it with an occurrence on another day: the one that takes over
    (same rule and subject, within REPLACES_WITHIN) is held where the orphan was to be."""
    if not orphan.location or orphan.starts_at is None:
        return
    for new in new_rows:
        if (
            new["rule_id"] == orphan.rule_id
            and new["subject"] == (orphan.subject or "")
            and new["starts_at"] is not None
            and abs(new["starts_at"] - orphan.starts_at) <= REPLACES_WITHIN
        ):
            new["location"] = orphan.location


def _why_moved(rule: Rule) -> str:
    if isinstance(rule.schedule, DerivedDeadline):
        return f"follows {rule.schedule.rule}, which was done, moved or cancelled"
    return "the rule's schedule changed"


def _follow_rule(
    row: OccurrenceRow, occ: Occurrence, rule: Rule, as_of: date, prompted: bool
) -> bool:
    """Bring an unfinished, not hand-moved occurrence in line with its rule: a future one
    always, a past-due one only when a person's record of the item its deadline hangs on
    prompted the sync (done late, moved or cancelled: the deadline follows what really
    happened). A rule edit alone never moves a past date."""
    if not _would_follow(row, occ, rule, as_of, prompted):
        return False
    changed = False
    if row.due != occ.due or row.starts_at != occ.starts_at or row.ends_at != occ.ends_at:
        row.due, row.starts_at, row.ends_at = occ.due, occ.starts_at, occ.ends_at
        row.sequence += 1
        changed = True
    for attr, value in (
        ("title", rule.title),
        ("kind", rule.kind.value),
        ("owner_role", rule.owner),
    ):
        if getattr(row, attr) != value:
            setattr(row, attr, value)
            changed = True
    if changed:
        row.updated_at = utcnow()
    return changed


def _would_follow(row: Any, occ: Occurrence, rule: Rule, as_of: date, prompted: bool) -> bool:
    """Whether _follow_rule would change the row (an ORM row or its plain columns)."""
    if row.lifecycle != Lifecycle.OPEN.value or row.rescheduled:
        return False
    if row.due < as_of and not (prompted and isinstance(rule.schedule, DerivedDeadline)):
        return False
    return (row.due, row.starts_at, row.ends_at) != (occ.due, occ.starts_at, occ.ends_at) or (
        row.title,
        row.kind,
        row.owner_role,
    ) != (rule.title, rule.kind.value, rule.owner)


def _ensure_audit_cycles(
    session: Session,
    partnership: Partnership,
    expanded: list[Occurrence],
    rules: dict[str, Rule],
    report: SyncReport,
) -> None:
    """One cycle per (audit rule, period), one return per agency or school in it."""
    groups: dict[tuple[str, str], list[Occurrence]] = defaultdict(list)
    for occ in expanded:
        rule = rules[occ.rule]
        if rule.kind is Kind.AUDIT and rule.per is not None and occ.subject:
            groups[(occ.rule, occ.period)].append(occ)
    if not groups:
        return
    cycles = {
        (c.rule_id, c.period): c
        for c in session.exec(
            select(AuditCycle).where(AuditCycle.partnership_id == partnership.id)
        ).all()
    }
    for (rule_id, period), members in groups.items():
        if (rule_id, period) not in cycles:
            rule = rules[rule_id]
            cycles[(rule_id, period)] = cycle = AuditCycle(
                public_id=f"{partnership.id}:{rule_id}:{period}",
                partnership_id=partnership.id,
                rule_id=rule_id,
                period=period,
                title=rule.title,
                per=rule.per.value if rule.per else "",
                due=min(m.due for m in members),
            )
            session.add(cycle)
            report.cycles_created += 1
    session.flush()  # the new cycles' ids, in one flush
    # the returns they have, in one read (was: one per cycle, every day)
    wanted = {cycles[key].id: members for key, members in groups.items()}
    have: set[tuple[int | None, str]] = set()
    for chunk in chunks(sorted(i for i in wanted if i is not None)):
        query = select(AuditReturn.cycle_id, AuditReturn.subject)
        have.update(session.exec(query.where(col(AuditReturn.cycle_id).in_(chunk))).all())
    needed = [
        (cycle_id, m)
        for cycle_id, members in wanted.items()
        for m in members
        if (cycle_id, m.subject) not in have
    ]
    if not needed:
        return
    ids = queries.occurrence_ids(session, partnership.id, [m.id for _c, m in needed])
    session.connection().execute(
        insert(table_of(AuditReturn)),
        [{"cycle_id": c, "occurrence_id": ids[m.id], "subject": m.subject} for c, m in needed],
    )
    report.returns_created += len(needed)


def follow_dependents(
    session: Session,
    partnership: Partnership,
    public_id: str,
    as_of: date,
    *,
    actor: str = "govcal",
    channel: Channel = Channel.SYNC,
) -> SyncReport | None:
    """After an occurrence was completed, moved, cancelled or reopened, bring the
    deadlines that hang on it in line at once (papers before a moved meeting, the sending
    on of a report published late), past-due ones included. None if nothing hangs on it."""
    rule_id = public_id.split(":")[1] if public_id.count(":") >= 2 else ""
    dependents = dependents_of(partnership.rules, rule_id)
    if not dependents:
        return None
    return sync_partnership(
        session, partnership, as_of, actor=actor, channel=channel, rule_ids=dependents
    )


def sync_all(
    session: Session,
    partnerships: list[Partnership],
    as_of: date,
    *,
    horizon_months: int = 18,
    actor: str = "govcal",
    channel: Channel = Channel.SYNC,
) -> list[SyncReport]:
    return [
        sync_partnership(
            session, p, as_of, horizon_months=horizon_months, actor=actor, channel=channel
        )
        for p in partnerships
    ]
