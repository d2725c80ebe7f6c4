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

from govcal.flows.form_names import FORM_TITLES
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
from govcal.flows.refusals import quiet_returned_failures
from govcal.flows.run_names import done_name, name_this_run, refused_name
from govcal.flows.runtime import Runtime, build_runtime
from govcal.flows.tasks import (
    build_dashboard_task,
    evaluate_task,
    feeds_task,
    handed,
    mailbox_task,
    notify_task,
    publish_dashboard,
    publish_dashboard_task,
    run_runtime,
    sync_task,
)
from govcal.models import actions, escalations, queries, records
from govcal.models.db import session_scope
from govcal.models.evidence import EvidenceStore
from govcal.models.trail import Channel
from govcal.rules.errors import GovcalError

REFUSED = "(refused: not kept)"
quiet_returned_failures()  # a refused form, or a day with mail stuck: one line, no traceback


@flow(name="daily-compliance")
def daily_compliance(as_of: AsOfDay = None, rules: RulesPath = None) -> dict[str, Any]:
    """Sync the calendar, evaluate every open item, remind and escalate, publish the
    dashboard and the calendar feeds (in this run: a second flow run costs about 0.5 s)."""
    runtime = run_runtime(rules)
    return the_day(runtime, as_of or runtime.today())


def the_day(runtime: Runtime, day: date, share: list[str] | None = None) -> Any:
    """The day's steps in the running flow, for every partnership or one share of the
    national day (flows/national.py): sync, evaluate, notify, boards and feeds. The
    mailbox is read by the whole day's run only (a share leaves it to the parent run)."""
    run = handed(runtime)  # one runtime for every task (flows/tasks.py)
    synced = sync_task(run, day, share)
    states = evaluate_task(run, day, share)
    if share is None and runtime.settings.imap_host:
        mailbox_task(run)  # bounces and deputies first: today's digest has them
    sent = notify_task(run, day, share=share)
    counts = sent["sent_by_kind"] | {"notices": sent["notices_sent"]}
    boards = build_dashboard_task(run, day, counts, share=share)
    # the feeds are written while the boards are posted (by a process of their own,
    # flows/publish.py): neither needs the other, so neither waits for the other
    feeds = feeds_task.submit(run, day, share)
    posted = publish_dashboard_task(boards, return_state=True)
    artifacts = posted.result() if posted.is_completed() else []
    cockpit = "" if posted.is_completed() else posted.message or "not posted"
    outcome = DayOutcome.of(
        day.isoformat(), synced, states, sent, artifacts, feeds.result(), cockpit_problem=cockpit
    )
    return _delivered(outcome.as_result(), sent, cockpit)


def daily_compliance_without_prefect(
    as_of: date | None, why: str, rules: str | None = None
) -> dict[str, Any]:
    """The day's work when Prefect's API does not answer (down, hung, refusing): the mail
    and the feeds never wait for it. The same steps as `daily_compliance`, called as plain
    functions; only the dashboard is left out, and `why` is the outcome's cockpit problem."""
    runtime = run_runtime(rules)
    day = as_of or runtime.today()
    synced = sync_task.fn(runtime, day)
    states = evaluate_task.fn(runtime, day)
    sent = notify_task.fn(runtime, day)
    feeds = feeds_task.fn(runtime, day)
    return DayOutcome.of(
        day.isoformat(), synced, states, sent, [], feeds, cockpit_problem=why
    ).as_result()


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
    runtime = run_runtime()
    day = as_of or runtime.today()
    sync_task(handed(runtime), day)
    sent = notify_task(handed(runtime), day, kinds=["invite", "cancel"])
    return _delivered(sent, sent)


@flow(name="read-mailbox")
def read_mailbox() -> dict[str, Any]:
    """Read the partnership's mailbox back: calendar answers, bounces, auto-replies."""
    result = mailbox_task(handed(run_runtime()))
    if result.get("problem"):
        from prefect.states import Failed

        return Failed(message=result["problem"], data=result)  # type: ignore[return-value]
    return result


@flow(name="publish-feeds")
def publish_feeds(as_of: AsOfDay = None) -> int:
    """Rewrite the .ics feeds (per partnership, body and person)."""
    runtime = run_runtime()
    return feeds_task(handed(runtime), as_of or runtime.today())


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

    runtime = run_runtime()
    day = as_of or runtime.today()
    sync_task(handed(runtime), day)
    chosen = runtime.partnership(partnership)
    with session_scope(runtime.settings) as session:
        cycle_id = queries.cycle_to_open(session, chosen.id, rule, day, period)
        report = request_returns(
            session,
            chosen,
            cycle_id,
            day,
            runtime.transport(),
            runtime.sender,
            settings=runtime.settings,
        )
    get_run_logger().info("opened %s: %d requests", cycle_id, len(report.new))
    return {
        "cycle": cycle_id,
        "requests": len(report.new),
        "messages_sent": report.delivery.messages_sent,
    }


# --- write actions from the Prefect UI ------------------------------------------------
# Each is a recipe: parse the form, find the item (pasted id, or a choice from today's
# open items), record the change through models/, republish that partnership's cockpit.
# A problem ends the run with one readable line as its state message; nothing changes.


def _evidence_store(runtime: Runtime) -> EvidenceStore:
    return EvidenceStore.configured(runtime.settings)


def _ui_actor(name: str) -> records.Actor:
    """Who acted, as honestly as the server knows it: the name was typed into a form by
    someone holding the Prefect login, and nothing checked it. The run by its id, which
    stays (its page is /runs/flow-run/ID): its random name gives way to what it did."""
    from prefect.runtime import flow_run

    run = flow_run.get_id() or "unknown"
    return records.Actor(
        name=f"typed as {name.strip()} (not verified), via Prefect flow run {run}",
        channel=Channel.PREFECT_UI,
    )


Change = Callable[[Session, Any, str, date, Runtime], str]


def _act(
    model: type[BaseModel], given: Any, as_of: Any, action: str, change: Change, *, named: str
) -> Any:
    """The form's recipe. `named`: how the run is named for what it did ("completed",
    "moved"...); a refusal names the run after its form, with nothing typed in it."""
    from prefect.states import Completed, Failed

    try:
        runtime = build_runtime()
        day = parse(DayInput, {"day": as_of}).day if as_of else runtime.today()
        form = parse(model, given)
        if not isinstance(form, ItemForm):
            item = form.partnership  # type: ignore[attr-defined]
        else:
            item = pasted_id(form.item) if form.item else _choose(runtime, action, day)
            if action in ("return", "review") and _is_cycle(runtime, item):  # a round's id
                item = _choose(runtime, action, day, within=item)
        with session_scope(runtime.settings) as session:
            message = change(session, form, item, day, runtime)
            what, due = _what(session, form, item)
    except GovcalError as exc:  # a form's one line: the run's state message
        name_this_run(refused_name(FORM_TITLES.get(_flow_name(), "Form")))
        return Failed(message=f"{exc}; nothing was changed")
    name_this_run(done_name(what, due, named, _typed_name(form)))
    publish_dashboard(runtime, day, only=item.split(":", 1)[0])
    get_run_logger().info(message)
    return Completed(message=message, data=message)


def _what(session: Session, form: BaseModel, item: str) -> tuple[str, date | None]:
    """What a run acted on, as its name says it: the item's title and due day, or an
    incident's case reference (accepted by then: never a name)."""
    if isinstance(form, IncidentForm):
        return f"Incident {form.reference}: clocks", None
    return queries.title_and_due(session, item) or (item, None)  # None: a whole round


def _typed_name(form: BaseModel) -> str:
    for field in ("completed_by", "recorded_by", "by"):
        if isinstance(value := getattr(form, field, None), str):
            return value
    return "someone"


def _flow_name() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.get_flow_name() or "")


def _is_cycle(runtime: Runtime, item: str) -> bool:
    """Whether a pasted id is an S11/S175 cycle's (a round), not one return's."""
    if item.count(":") != 2:
        return False
    with session_scope(runtime.settings) as session:
        return bool(queries.round_members(session, item))


RESUME_BUTTONS = "Submit (Resume in Prefect's V2 UI)"  # the paused run's form, as labelled


def _choose(runtime: Runtime, action: str, day: date, within: str | None = None) -> str:
    """Pause the run with a drop-down of today's items for this action (those of one
    audit cycle, `within`, when its id was pasted: the run asks which agency or school),
    as of `day`."""
    from prefect.flow_runs import pause_flow_run

    from govcal.flows.dashboard import choices

    with session_scope(runtime.settings) as session:
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
        poll_interval=1,  # Resume to the answer within a second (Prefect's default: 10 s)
    )
    return labels[answer.item.value]


@flow(name="record-completion", validate_parameters=False)
def record_completion(form: CompletionForm, as_of: AsOfText = "") -> str:
    """Record that a meeting, report or action was done, with its evidence.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: CompletionForm, item: str, day: date, run: Runtime) -> str:
        actor = _ui_actor(f.completed_by)
        return actions.complete(
            session,
            item,
            f.evidence,
            actor,
            on=f.completed_on or day,
            today=day,
            partnerships=run.partnerships,
            by=actor.name,
            note=f.note or None,
            store=_evidence_store(run),
        ).summary

    return _act(CompletionForm, form, as_of, "complete", change, named="completed")


@flow(name="record-return", validate_parameters=False)
def record_return(form: ReturnForm, as_of: AsOfText = "") -> str:
    """Record an S11/S175 return and, if already read, its review and follow-ups.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: ReturnForm, item: str, day: date, run: Runtime) -> str:
        return actions.record_return(
            session,
            item,
            f.evidence,
            _ui_actor(f.recorded_by),
            submitted_on=f.submitted_on or day,
            today=day,
            partnerships=run.partnerships,
            rag=f.rag.value if f.rag else None,
            note=f.review_note or None,
            follow_ups=[(a.description, a.due) for a in f.follow_ups],
            store=_evidence_store(run),
        ).summary

    return _act(ReturnForm, form, as_of, "return", change, named="returned")


@flow(name="review-return", validate_parameters=False)
def review_return(form: ReviewForm, as_of: AsOfText = "") -> str:
    """Record the review of a submitted return: its RAG rating and follow-up actions.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: ReviewForm, item: str, day: date, run: Runtime) -> str:
        return actions.review_return(
            session,
            item,
            f.rating.value,
            _ui_actor(f.by),
            note=f.review_note or None,
            follow_ups=[(a.description, a.due) for a in f.follow_ups],
            on=day,
        ).summary

    return _act(ReviewForm, form, as_of, "review", change, named="reviewed")


@flow(name="reschedule", validate_parameters=False)
def reschedule(form: RescheduleForm, as_of: AsOfText = "") -> str:
    """Move one meeting or deadline; attendees get an updated invite.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: RescheduleForm, item: str, day: date, run: Runtime) -> str:
        when: date | datetime = f.new_date
        if f.new_time:
            hour, minute = (int(x) for x in f.new_time.split(":"))
            if hour > 23 or minute > 59:
                raise FormError(f"New time: {f.new_time} is not a time of day; write HH:MM")
            zone = records.zone_of(session, queries.occurrence(session, item))  # its own
            when = datetime.combine(f.new_date, time(hour, minute), tzinfo=zone)
        place = f.new_place.strip() or None  # empty: the meeting stays where it was
        return actions.reschedule(
            session,
            item,
            when,
            f.reason,
            _ui_actor(f.by),
            location=place,
            today=day,
            partnerships=run.partnerships,
        ).summary

    return _act(RescheduleForm, form, as_of, "reschedule", change, named="moved")


@flow(name="cancel-item", validate_parameters=False)
def cancel_item(form: CancelForm, as_of: AsOfText = "") -> str:
    """Cancel one occurrence; a meeting's attendees get a cancellation.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: CancelForm, item: str, day: date, run: Runtime) -> str:
        return actions.cancel(
            session, item, f.reason, _ui_actor(f.by), today=day, partnerships=run.partnerships
        ).summary

    return _act(CancelForm, form, as_of, "cancel", change, named="cancelled")


@flow(name="waive-item", validate_parameters=False)
def waive_item(form: WaiveForm, as_of: AsOfText = "") -> str:
    """Waive one occurrence that is not needed this time.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: WaiveForm, item: str, day: date, run: Runtime) -> str:
        return actions.waive(
            session, item, f.reason, _ui_actor(f.by), partnerships=run.partnerships
        ).summary

    return _act(WaiveForm, form, as_of, "waive", change, named="waived")


@flow(name="reopen-item", validate_parameters=False)
def reopen_item(form: ReopenForm, as_of: AsOfText = "") -> str:
    """Reopen a completed, waived or cancelled item recorded by mistake.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: ReopenForm, item: str, day: date, run: Runtime) -> str:
        return actions.reopen(
            session, item, _ui_actor(f.by), f.reason, today=day, partnerships=run.partnerships
        ).summary

    return _act(ReopenForm, form, as_of, "reopen", change, named="reopened")


@flow(name="record-attendance", validate_parameters=False)
def record_attendance(form: AttendanceForm, as_of: AsOfText = "") -> str:
    """After a meeting, record who attended it (pre-filled from the invitees' answers).

    Args:
        form: The first field takes the meeting's id; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """
    from govcal.models.attendance import record_attended, register

    def change(session: Session, f: AttendanceForm, item: str, day: date, run: Runtime) -> str:
        given = [a for a in f.present.replace(",", "\n").split() if a]
        people = given or register(session, item).expected()
        return record_attended(session, item, people, by=f.by, today=day, channel="prefect-ui")

    return _act(AttendanceForm, form, as_of, "attend", change, named="attendance recorded")


@flow(name="acknowledge-escalation", validate_parameters=False)
def acknowledge_escalation(form: AcknowledgeForm, as_of: AsOfText = "") -> str:
    """A Lead Partner acknowledges an escalation: recorded with their name and the time.

    Args:
        form: The first field takes the id pasted from an email; leave it empty to choose.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: AcknowledgeForm, item: str, day: date, run: Runtime) -> str:
        by, at = escalations.acknowledge(session, item, _ui_actor(f.by), f.note)
        return f"{item} escalation acknowledged by {by} on {at:%d %b %Y %H:%M} UTC"

    return _act(
        AcknowledgeForm, form, as_of, "acknowledge", change, named="escalation acknowledged"
    )


@flow(name="start-incident-clock", validate_parameters=False)
def start_incident_clock(form: IncidentForm, as_of: AsOfText = "") -> list[str]:
    """Record a serious incident by reference; its statutory deadlines are created.

    Args:
        form: The case reference only, never a child's name or details.
        as_of: Leave empty (today). Only to record as if on a past day.
    """

    def change(session: Session, f: IncidentForm, _item: str, day: date, run: Runtime) -> str:
        chosen = run.partnership(f.partnership)
        return actions.start_incident_clock(
            session,
            chosen,
            f.reference,
            _ui_actor(f.recorded_by),
            aware_on=f.aware_on,
            today=day,
            kind=f.kind,
        ).summary

    state = _act(IncidentForm, form, as_of, "start", change, named="started")
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
