"""govcal's Prefect flows. Each reads like a recipe; the work is in flows/steps.py.

Every flow takes an optional `as_of` day, so a past or future day can be replayed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import flow, get_run_logger

from flows.forms import AuditRuleId, CompletionForm, IncidentForm, PartnershipId, ReturnForm
from flows.tasks import (
    dashboard_task,
    evaluate_task,
    feeds_task,
    notify_task,
    partnerships,
    sender,
    sync_task,
    transport,
)
from govcal.settings import get_settings
from models import actions, queries, records
from models.db import session_scope
from models.trail import Channel
from rules.dates import SupportedDate
from rules.state import LONDON


def _day(as_of: date | None) -> date:
    return as_of or datetime.now(LONDON).date()


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
    settings = get_settings()
    chosen = next(p for p in partnerships(settings) if p.id == partnership.value)
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
            session, chosen, cycle_id, day, transport(settings), sender(settings)
        )
    get_run_logger().info("opened %s: %d requests", cycle_id, len(report.new))
    return {"cycle": cycle_id, "requests": len(report.new),
            "messages_sent": report.delivery.messages_sent}  # fmt: skip


def _ui_actor(name: str) -> records.Actor:
    return records.Actor(name=name, channel=Channel.PREFECT_UI)


@flow(name="record-completion")
def record_completion(
    form: CompletionForm, as_of: SupportedDate | None = None
) -> actions.Completed:
    """Record completion with evidence, as done from the Prefect UI (audit trail)."""
    with session_scope() as session:
        return actions.complete(
            session, form.occurrence, str(form.evidence), _ui_actor(form.completed_by),
            on=form.completed_on, today=_day(as_of), by=form.completed_by, note=form.note,
        )  # fmt: skip


@flow(name="record-return")
def record_return(form: ReturnForm, as_of: SupportedDate | None = None) -> actions.ReturnRecorded:
    """Record an S11/S175 return and, if given, its review and follow-up actions."""
    with session_scope() as session:
        return actions.record_return(
            session, form.occurrence, str(form.evidence), _ui_actor(form.recorded_by),
            submitted_on=form.submitted_on, today=_day(as_of),
            rag=form.rag.value if form.rag else None, note=form.review_note,
            follow_ups=[(f.description, f.due) for f in form.follow_ups],
        )  # fmt: skip


@flow(name="start-incident-clock")
def start_incident_clock(
    form: IncidentForm, as_of: SupportedDate | None = None
) -> actions.IncidentStarted:
    """Record a serious incident by reference; its statutory deadlines are created."""
    chosen = next(p for p in partnerships(get_settings()) if p.id == form.partnership.value)
    with session_scope() as session:
        return actions.start_incident_clock(
            session, chosen, form.reference, _ui_actor(form.recorded_by),
            aware_on=form.aware_on, today=_day(as_of), kind=form.kind.value,
        )  # fmt: skip
