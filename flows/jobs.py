"""govcal's Prefect flows. Each reads like a recipe; the work is in flows/steps.py.

Every flow takes an optional `as_of` day, so a past or future day can be replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from prefect import flow, get_run_logger
from pydantic import BaseModel
from sqlmodel import Session

from govcal.flows.forms import (
    AcknowledgeForm,
    AsOfDay,
    AsOfText,
    AttendanceForm,
    AuditRuleId,
    CancelForm,
    CompletionForm,
    DayInput,
    FormError,
    IncidentForm,
    ItemForm,
    PartnershipId,
    ReopenForm,
    RescheduleForm,
    ReturnForm,
    ReviewForm,
    RulesPath,
    WaiveForm,
    choice_input,
    parse,
    pasted_id,
    reference_refused,
)
from govcal.flows.outcome import DayOutcome
from govcal.flows.runtime import build_runtime
from govcal.flows.tasks import (
    build_dashboard_task,
    evaluate_task,
    feeds_task,
    mailbox_task,
    notify_task,
    publish_dashboard,
    publish_dashboard_task,
    sync_task,
)
from govcal.models import actions, escalations, queries, records
from govcal.models.db import DatabaseUnavailable, session_scope
from govcal.models.evidence import EvidenceStore
from govcal.models.queries import NotFound
from govcal.models.records import RecordError
from govcal.models.trail import Channel

REFUSED = "(refused: not kept)"


def _day(as_of: date | None) -> date:
    return as_of or build_runtime().today()


@flow(name="daily-compliance")
def daily_compliance(as_of: AsOfDay = None, rules: RulesPath = None) -> dict[str, Any]:
    """Sync the calendar, evaluate every open item, remind and escalate, publish the
    dashboard and the calendar feeds (in this run: a second flow run costs about 0.5 s)."""
    day = _day(as_of)
    synced = sync_task(day, rules)
    states = evaluate_task(day)
    if build_runtime().settings.imap_host:  # bounces and deputies first: today's digest has them
        mailbox_task()
    sent = notify_task(day, rules=rules)
    counts = sent["sent_by_kind"] | {"notices": sent["notices_sent"]}
    boards = build_dashboard_task(day, counts, rules=rules)
    # the feeds are written while the boards are posted (by a process of their own,
    # flows/publish.py): neither needs the other, so neither waits for the other
    feeds = feeds_task.submit(day, rules)
    posted = publish_dashboard_task(boards, return_state=True)
    artifacts = posted.result() if posted.is_completed() else []
    cockpit = "" if posted.is_completed() else posted.message or "not posted"
    outcome = DayOutcome.of(day.isoformat(), synced, states, sent, artifacts, feeds.result(),
                            cockpit_problem=cockpit)  # fmt: skip
    return _delivered(outcome.as_result(), sent, cockpit)


def daily_compliance_without_prefect(
    as_of: date | None, why: str, rules: str | None = None
) -> dict[str, Any]:
    """The day's work when Prefect's API does not answer (down, hung, refusing): the mail
    and the feeds never wait for it. The same steps as `daily_compliance`, called as plain
    functions; only the dashboard is left out, and `why` is the outcome's cockpit problem."""
    day = _day(as_of)
    synced = sync_task.fn(day, rules)
    states = evaluate_task.fn(day)
    sent = notify_task.fn(day, rules=rules)
    feeds = feeds_task.fn(day, rules)
    return DayOutcome.of(day.isoformat(), synced, states, sent, [], feeds,
                         cockpit_problem=why).as_result()  # fmt: skip


def _delivered(result: dict[str, Any], sent: dict[str, Any], cockpit: str = "") -> Any:
    """All the work is done; a run whose mail did not all go, or whose cockpit was not
    all posted, ends Failed with what is wrong in its message, so the UI shows it (not a
    green Completed with mail stuck). The result stays readable:
    `flow(..., return_state=True).result(raise_on_failure=False)`."""
    problems = []
    if sent["refused"] or sent["to_retry"]:
        problems.append(
            f"{sent['refused']} notice(s) refused for good (told to the business team), "
            f"{sent['to_retry']} left for a later run; {sent['messages_sent']} message(s) sent"
        )
    if cockpit:
        problems.append(f"the cockpit was not all posted: {cockpit}")
    if not problems:
        return result
    from prefect.states import Failed

    return Failed(message="; ".join(problems), data=result)


@flow(name="send-invites")
def send_invites(as_of: AsOfDay = None) -> dict[str, Any]:
    """Send or update invites for meetings in the coming window; send cancellations."""
    day = _day(as_of)
    sync_task(day)
    sent = notify_task(day, kinds=["invite", "cancel"])
    return _delivered(sent, sent)


@flow(name="read-mailbox")
def read_mailbox() -> dict[str, Any]:
    """Read the partnership's mailbox back: calendar answers, bounces, auto-replies."""
    result = mailbox_task()
    if result.get("problem"):
        from prefect.states import Failed

        return Failed(message=result["problem"], data=result)  # type: ignore[return-value]
    return result


@flow(name="publish-feeds")
def publish_feeds(as_of: AsOfDay = None) -> int:
    """Rewrite the .ics feeds (per partnership, body and person)."""
    return feeds_task(_day(as_of))


@flow(name="open-audit-cycle")
def open_audit_cycle(
    partnership: PartnershipId,
    rule: AuditRuleId,
    period: str | None = None,
    as_of: AsOfDay = None,
) -> dict[str, Any]:
    """Open an S11 or S175 cycle: one return per agency or school, requests sent.
    Without a period, the next cycle due on or after the day is opened."""
    from govcal.flows.steps import request_returns

    day = _day(as_of)
    sync_task(day)
    runtime = build_runtime()
    chosen = runtime.partnership(partnership.value)
    with session_scope() as session:
        cycle_id = queries.cycle_to_open(session, chosen.id, rule.value, day, period)
        report = request_returns(
            session, chosen, cycle_id, day, runtime.transport(), runtime.sender
        )
    get_run_logger().info("opened %s: %d requests", cycle_id, len(report.new))
    return {"cycle": cycle_id, "requests": len(report.new),
            "messages_sent": report.delivery.messages_sent}  # fmt: skip


# --- write actions from the Prefect UI ------------------------------------------------
# Each is a recipe: parse the form, find the item (pasted id, or a choice from today's
# open items), record the change through models/, republish that partnership's cockpit.
# A problem ends the run with one readable line as its state message; nothing changes.


def _evidence_store() -> EvidenceStore:
    return EvidenceStore.configured(build_runtime().settings)


def _ui_actor(name: str) -> records.Actor:
    """Who acted, as honestly as the server knows it: the name was typed into a form by
    someone holding the Prefect login, and nothing checked it."""
    from prefect.runtime import flow_run

    run = flow_run.get_name() or flow_run.get_id() or "unknown"
    return records.Actor(
        name=f"typed as {name.strip()} (not verified), via Prefect flow run {run}",
        channel=Channel.PREFECT_UI,
    )


Change = Callable[[Session, Any, str, date], str]


def _act(model: type[BaseModel], given: Any, as_of: Any, action: str, change: Change) -> Any:
    from prefect.states import Completed, Failed

    try:
        day = _day(parse(DayInput, {"day": as_of}).day if as_of else None)
        form = parse(model, given)
        if not isinstance(form, ItemForm):
            item = form.partnership.value  # type: ignore[attr-defined]
        else:
            item = pasted_id(form.item) if form.item else _choose(action, day)
            if action in ("return", "review") and _is_cycle(item):  # the cockpit's round id
                item = _choose(action, day, within=item)
        with session_scope() as session:
            message = change(session, form, item, day)
    except (FormError, RecordError, NotFound, DatabaseUnavailable) as exc:
        return Failed(message=f"{exc}; nothing was changed")
    publish_dashboard(day, only=item.split(":", 1)[0])
    get_run_logger().info(message)
    return Completed(message=message, data=message)


def _is_cycle(item: str) -> bool:
    """Whether a pasted id is an S11/S175 cycle's (a round), not one return's."""
    if item.count(":") != 2:
        return False
    with session_scope() as session:
        return bool(queries.round_members(session, item))


RESUME_BUTTONS = "Submit (Resume in Prefect's V2 UI)"  # the paused run's form, as labelled


def _choose(action: str, day: date, within: str | None = None) -> str:
    """Pause the run with a drop-down of today's items for this action (those of one
    audit cycle, `within`, when its id was pasted: the run asks which agency or school),
    as of `day`."""
    from prefect.flow_runs import pause_flow_run

    from govcal.flows.dashboard import choices

    with session_scope() as session:
        labels = choices(session, action, day, queries.all_subject_names(session))
    if within is not None:
        labels = {k: v for k, v in labels.items() if v.startswith(f"{within}:")}
        if not labels:
            raise FormError(f"{within} has no return left to {action}")
    if not labels:
        raise FormError(f"there is nothing to {action} today; paste an id to act on another item")
    wanted = choice_input(labels, "Which item?")
    answer: Any = pause_flow_run(  # an instance of `wanted`, with its `item`
        wait_for_input=wanted.with_initial_data(
            description=f"Choose the item to {action}, then press {RESUME_BUTTONS}."
        ),
        timeout=3600,
    )
    return labels[answer.item.value]


@flow(name="record-completion", validate_parameters=False)
def record_completion(form: CompletionForm, as_of: AsOfText = "") -> str:
    """Record that a meeting, report or action was done, with its evidence.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: CompletionForm, item: str, day: date) -> str:
        actor = _ui_actor(f.completed_by)
        return actions.complete(
            session, item, f.evidence, actor, on=f.completed_on or day,
            today=day, by=actor.name, note=f.note or None, store=_evidence_store(),
        ).summary  # fmt: skip

    return _act(CompletionForm, form, as_of, "complete", change)


@flow(name="record-return", validate_parameters=False)
def record_return(form: ReturnForm, as_of: AsOfText = "") -> str:
    """Record an S11/S175 return and, if already read, its review and follow-ups.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: ReturnForm, item: str, day: date) -> str:
        return actions.record_return(
            session, item, f.evidence, _ui_actor(f.recorded_by), submitted_on=f.submitted_on or day,
            today=day, rag=f.rag.value if f.rag else None, note=f.review_note or None,
            follow_ups=[(a.description, a.due) for a in f.follow_ups], store=_evidence_store(),
        ).summary  # fmt: skip

    return _act(ReturnForm, form, as_of, "return", change)


@flow(name="review-return", validate_parameters=False)
def review_return(form: ReviewForm, as_of: AsOfText = "") -> str:
    """Record the review of a submitted return: its RAG rating and follow-up actions.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: ReviewForm, item: str, day: date) -> str:
        return actions.review_return(
            session, item, f.rating.value, _ui_actor(f.by), note=f.review_note or None,
            follow_ups=[(a.description, a.due) for a in f.follow_ups], on=day,
        ).summary  # fmt: skip

    return _act(ReviewForm, form, as_of, "review", change)


@flow(name="reschedule", validate_parameters=False)
def reschedule(form: RescheduleForm, as_of: AsOfText = "") -> str:
    """Move one meeting or deadline; attendees get an updated invite.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: RescheduleForm, item: str, day: date) -> str:
        when: date | datetime = f.new_date
        if f.new_time:
            hour, minute = (int(x) for x in f.new_time.split(":"))
            if hour > 23 or minute > 59:
                raise FormError(f"New time: {f.new_time} is not a time of day; write HH:MM")
            zone = records.zone_of(session, queries.occurrence(session, item))  # its own
            when = datetime.combine(f.new_date, time(hour, minute), tzinfo=zone)
        place = f.new_place.strip() or None  # empty: the meeting stays where it was
        return actions.reschedule(
            session, item, when, f.reason, _ui_actor(f.by), location=place, today=day
        ).summary

    return _act(RescheduleForm, form, as_of, "reschedule", change)


@flow(name="cancel-item", validate_parameters=False)
def cancel_item(form: CancelForm, as_of: AsOfText = "") -> str:
    """Cancel one occurrence; a meeting's attendees get a cancellation.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: CancelForm, item: str, day: date) -> str:
        return actions.cancel(session, item, f.reason, _ui_actor(f.by), today=day).summary

    return _act(CancelForm, form, as_of, "cancel", change)


@flow(name="waive-item", validate_parameters=False)
def waive_item(form: WaiveForm, as_of: AsOfText = "") -> str:
    """Waive one occurrence that is not needed this time.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: WaiveForm, item: str, day: date) -> str:
        return actions.waive(session, item, f.reason, _ui_actor(f.by)).summary

    return _act(WaiveForm, form, as_of, "waive", change)


@flow(name="reopen-item", validate_parameters=False)
def reopen_item(form: ReopenForm, as_of: AsOfText = "") -> str:
    """Reopen a completed, waived or cancelled item recorded by mistake.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: ReopenForm, item: str, day: date) -> str:
        return actions.reopen(session, item, _ui_actor(f.by), f.reason, today=day).summary

    return _act(ReopenForm, form, as_of, "reopen", change)


@flow(name="record-attendance", validate_parameters=False)
def record_attendance(form: AttendanceForm, as_of: AsOfText = "") -> str:
    """After a meeting, record who attended it (pre-filled from the invitees' answers).

    Args:
        form: The first field takes the meeting's id; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """
    from govcal.models.attendance import record_attended, register

    def change(session: Session, f: AttendanceForm, item: str, day: date) -> str:
        given = [a for a in f.present.replace(",", "\n").split() if a]
        people = given or register(session, item).expected()
        return record_attended(session, item, people, by=f.by, today=day, channel="prefect-ui")

    return _act(AttendanceForm, form, as_of, "attend", change)


@flow(name="acknowledge-escalation", validate_parameters=False)
def acknowledge_escalation(form: AcknowledgeForm, as_of: AsOfText = "") -> str:
    """A Lead Partner acknowledges an escalation: recorded with their name and the time.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: AcknowledgeForm, item: str, day: date) -> str:
        by, at = escalations.acknowledge(session, item, _ui_actor(f.by), f.note)
        return f"{item} escalation acknowledged by {by} on {at:%d %b %Y %H:%M} UTC"

    return _act(AcknowledgeForm, form, as_of, "acknowledge", change)


@flow(name="start-incident-clock", validate_parameters=False)
def start_incident_clock(form: IncidentForm, as_of: AsOfText = "") -> list[str]:
    """Record a serious incident by reference; its statutory deadlines are created.

    Args:
        form: The case reference only, never a child's name or details.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: IncidentForm, _item: str, day: date) -> str:
        chosen = build_runtime().partnership(f.partnership.value)
        return actions.start_incident_clock(
            session, chosen, f.reference, _ui_actor(f.recorded_by), aware_on=f.aware_on,
            today=day, kind=f.kind.value,
        ).summary  # fmt: skip

    state = _act(IncidentForm, form, as_of, "start", change)
    if state.is_failed() and reference_refused(form, _pattern_of(form)):
        return _forget_reference(state)
    return state


def _pattern_of(given: Any) -> str | None:
    """The incident_reference pattern of the partnership the form names, if it has one."""
    chosen = (
        given.get("partnership") if isinstance(given, dict) else getattr(given, "partnership", "")
    )
    found = [
        p for p in build_runtime().partnerships if p.id == str(getattr(chosen, "value", chosen))
    ]
    return found[0].incident_reference if found else None


def _forget_reference(state: Any) -> Any:
    """A refused reference may be a child's name: this run's stored parameters (the UI's
    Parameters tab) keep a placeholder instead. The state message never held it."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run
    from prefect.states import Failed

    try:
        with get_client(sync_client=True) as client:
            parameters = dict(client.read_flow_run(flow_run.id).parameters)
            given = parameters.get("form")
            kept = {**given, "reference": REFUSED} if isinstance(given, dict) else REFUSED
            client.update_flow_run(flow_run.id, parameters={**parameters, "form": kept})
    except Exception:  # any failure: said in the run's one line
        return Failed(
            message=f"{state.message}; the refused reference could not be removed from this "
            "run's parameters: delete this flow run in the Prefect UI"
        )
    return state
