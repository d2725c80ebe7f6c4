"""govcal's Prefect flows. Each reads like a recipe; the work is in flows/steps.py.

Every flow takes an optional `as_of` day, so a past or future day can be replayed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from flows.forms import AuditRuleId, CompletionForm, IncidentForm, PartnershipId, ReturnForm
from flows.runtime import build_runtime
from flows.tasks import dashboard_task, evaluate_task, feeds_task, notify_task, sync_task
from models import queries, records
from models.db import session_scope
from models.sync import sync_all
from models.trail import Channel
from rules.dates import SupportedDate


def _day(as_of: date | None) -> date:
    return as_of or build_runtime().today()


@flow(name="daily-compliance")
def daily_compliance(as_of: SupportedDate | None = None) -> dict[str, Any]:
    """Sync the calendar, evaluate every open item, remind and escalate, publish the
    dashboard."""
    day = _day(as_of)
    synced = sync_task(day)
    states = evaluate_task(day)
    sent = notify_task(day)
    artifacts = dashboard_task(day, sent["sent_by_kind"] | {"notices": sent["notices_sent"]})
    return {"as_of": day.isoformat(), "synced": synced, "states": states, "sent": sent,
            "artifacts": artifacts}  # fmt: skip


@flow(name="send-invites")
def send_invites(as_of: SupportedDate | None = None) -> dict[str, Any]:
    """Send or update invites for meetings in the coming window; send cancellations."""
    day = _day(as_of)
    sync_task(day)
    return notify_task(day, kinds=["invite", "cancel"])


@flow(name="publish-feeds")
def publish_feeds(as_of: SupportedDate | None = None) -> int:
    """Rewrite the .ics feeds (per partnership, body and person)."""
    return feeds_task(_day(as_of))


@flow(name="open-audit-cycle")
def open_audit_cycle(
    partnership: PartnershipId,
    rule: AuditRuleId,
    period: str | None = None,
    as_of: SupportedDate | None = None,
) -> dict[str, Any]:
    """Open an S11 or S175 cycle: one return per agency or school, requests sent.
    Without a period, the next cycle due on or after the day is opened."""
    from flows.steps import request_returns

    day = _day(as_of)
    sync_task(day)
    runtime = build_runtime()
    chosen = runtime.partnership(partnership.value)
    with session_scope() as session:
        cycles = [c for c in queries.audit_cycles(session, chosen.id) if c.rule_id == rule.value]
        if period:
            cycle_id = f"{chosen.id}:{rule.value}:{period}"
        else:
            upcoming = [c for c in cycles if c.due >= day]
            if not upcoming:
                raise ValueError(f"no {rule.value} cycle due on or after {day}; run sync first")
            cycle_id = upcoming[0].public_id
        report = request_returns(
            session, chosen, cycle_id, day, runtime.transport(), runtime.sender
        )
    get_run_logger().info("opened %s: %d requests", cycle_id, len(report.new))
    return {"cycle": cycle_id, "requests": len(report.new),
            "messages_sent": report.delivery.messages_sent}  # fmt: skip


def _ui_actor(name: str) -> records.Actor:
    return records.Actor(name=name, channel=Channel.PREFECT_UI)


@flow(name="record-completion")
def record_completion(form: CompletionForm, as_of: SupportedDate | None = None) -> str:
    """Record completion with evidence, as done from the Prefect UI (audit trail)."""
    day = _day(as_of)
    with session_scope() as session:
        evidence = records.parse_evidence(str(form.evidence), form.note)
        row = records.complete(
            session, form.occurrence, evidence, _ui_actor(form.completed_by),
            on=form.completed_on, today=day, by=form.completed_by,
        )  # fmt: skip
    return f"{row.public_id} completed on {row.completed_at} by {row.completed_by}"


@flow(name="record-return")
def record_return(form: ReturnForm, as_of: SupportedDate | None = None) -> str:
    """Record an S11/S175 return and, if given, its review and follow-up actions."""
    day = _day(as_of)
    actor = _ui_actor(form.recorded_by)
    with session_scope() as session:
        evidence = records.parse_evidence(str(form.evidence))
        records.complete(session, form.occurrence, evidence, actor, on=form.submitted_on,
                         today=day, by=form.recorded_by)  # fmt: skip
        if form.rag is not None:
            records.review_return(
                session, form.occurrence, form.rag.value, actor, note=form.review_note,
                follow_ups=[(f.description, f.due) for f in form.follow_ups],
            )  # fmt: skip
    return f"{form.occurrence} returned on {form.submitted_on}"


@flow(name="start-incident-clock")
def start_incident_clock(form: IncidentForm, as_of: SupportedDate | None = None) -> list[str]:
    """Record a serious incident by reference; its statutory deadlines are created."""
    day = _day(as_of)
    chosen = build_runtime().partnership(form.partnership.value)
    with session_scope() as session:
        records.start_incident(
            session, chosen.id, form.reference, form.kind.value, form.aware_on,
            _ui_actor(form.recorded_by), known_kinds=chosen.events, today=day,
        )  # fmt: skip
        sync_all(session, [chosen], day, actor=form.recorded_by, channel=Channel.PREFECT_UI)
        created = [
            o.public_id
            for o in queries.occurrences_between(session, chosen.id, form.aware_on, date.max)
            if o.period == form.reference
        ]
    return sorted(created)
