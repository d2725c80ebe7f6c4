"""Apply a sample partnership's history (completions, reviews, incidents...) to the database.

The sample directory ships with the year a real partnership would have behind it, so the
first `govcal run` on a fresh machine shows a partnership at work, not one in collapse.
Every row goes through the same record functions a person uses (models/records.py), so
the audit trail holds it, under the actor `sample-loader`, like any other change.

history.csv columns: date, action, id, by, evidence, rag, follow_up, follow_up_due, to,
note. Actions: incident (id `kind:reference`), open-cycle (an audit cycle id), complete,
review, waive, cancel, reschedule (`to` is a local 'YYYY-MM-DD HH:MM').
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from sqlmodel import Session

from govcal.models import queries, records
from govcal.models.sync import sync_partnership
from govcal.models.trail import Channel, record
from govcal.rules.model import Partnership
from govcal.rules.problems import Problem

ACTOR = records.Actor(name="sample-loader", channel=Channel.SYSTEM)
ACTIONS = ("incident", "open-cycle", "complete", "review", "waive", "cancel", "reschedule")


@dataclass
class HistoryReport:
    applied: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{n} {action}" for action, n in sorted(self.applied.items())]
        return ", ".join(parts) or "nothing"


def history_file(folder: Path) -> Path:
    return folder / "history" / "history.csv"


def last_day(path: Path) -> date:
    """The history's own "today": the last day it records."""
    with open(path, newline="", encoding="utf-8") as f:
        return max(date.fromisoformat(r["date"]) for r in csv.DictReader(f))


def apply_history(
    session: Session,
    partnership: Partnership,
    path: Path,
    *,
    horizon_months: int = 18,
) -> HistoryReport:
    """Sync the partnership as of the history's last day, then replay each row in order.

    A row that cannot be applied is reported with its line and skipped; the others still
    land (it is sample data: a partial history beats none)."""
    report = HistoryReport()
    end = last_day(path)
    _sync(session, partnership, end, horizon_months)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for line, row in enumerate(rows, start=2):
        try:
            _apply(session, partnership, row, end, horizon_months)
        except (records.RecordError, queries.NotFound, ValueError, KeyError) as exc:
            report.problems.append(Problem(str(path), line, str(exc)))
            continue
        report.applied[row["action"]] += 1
    _sync(session, partnership, end, horizon_months)
    return report


def _sync(session: Session, partnership: Partnership, day: date, horizon: int) -> None:
    sync_partnership(
        session, partnership, day, horizon_months=horizon, actor=ACTOR.name, channel=Channel.SYSTEM
    )


def _apply(
    session: Session, partnership: Partnership, row: dict[str, str], end: date, horizon: int
) -> None:
    action, target, by = row["action"], row["id"], row.get("by") or None
    day = date.fromisoformat(row["date"])
    if action not in ACTIONS:
        raise ValueError(f"action '{action}' is not one of: {', '.join(ACTIONS)}")
    if action == "incident":
        kind, reference = target.split(":", 1)
        records.start_incident(session, partnership, reference, kind, day, ACTOR, today=day)
        _sync(session, partnership, end, horizon)  # its clocks, at once
    elif action == "open-cycle":
        cycle = queries.audit_cycle(session, target)
        queries.mark_cycle_opened(session, cycle, datetime.combine(day, time(9), partnership.tz))
        after = {"opened_on": day.isoformat()}
        record(
            session,
            actor=ACTOR.name,
            channel=ACTOR.channel,
            action="cycle-opened",
            entity="audit_cycle",
            entity_id=target,
            after=after,
        )
    elif action == "complete":
        evidence = records.parse_evidence(row["evidence"], row.get("note") or None)
        if evidence is None:
            raise ValueError("evidence in the sample history is a link (https://...)")
        records.complete(session, target, evidence, ACTOR, on=day, today=day, by=by)
    elif action == "review":
        follow_ups = []
        if row.get("follow_up"):
            follow_ups.append((row["follow_up"], date.fromisoformat(row["follow_up_due"])))
        audit_return = records.review_return(
            session,
            target,
            row["rag"],
            ACTOR,
            note=row.get("note") or None,
            follow_ups=follow_ups,
            on=day,
        )
        audit_return.reviewed_at = datetime.combine(day, time(12), partnership.tz)
        audit_return.reviewed_by = by or ACTOR.name
    elif action in ("waive", "cancel"):
        closer = records.waive if action == "waive" else records.cancel
        closed = closer(session, target, row["note"], ACTOR)
        closed.updated_at = datetime.combine(day, time(12), partnership.tz)  # the day it happened
    elif action == "reschedule":
        moment = datetime.fromisoformat(row["to"]).replace(tzinfo=partnership.tz)
        records.reschedule(session, target, moment, row["note"], ACTOR)
