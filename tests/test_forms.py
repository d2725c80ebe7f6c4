"""Every form of the cockpit, run as a Prefect flow: good input does the change and
republishes the summary; each kind of bad input ends the run with one readable line as
its state message and changes nothing."""

from __future__ import annotations

import re
import threading
import time
from datetime import date

import pytest
from sqlmodel import func, select

from govcal.flows import jobs
from govcal.models import EscalationAck, TrailEntry
from govcal.models.db import session_scope
from govcal.models.settings import get_settings
from tests.support.markdown import as_shown
from tests.support.snapshots import copy_data, data_folder
from tests.test_flows import artifacts, embedded, occurrence  # noqa: F401

pytestmark = pytest.mark.xdist_group("prefect")
D = date.fromisoformat
TODAY = D("2026-11-24")
LSP = "wfscp:lsp-meeting:2026-11-11"
S11 = "wfscp:section-11-audit:2026-10-31:nwas"


@pytest.fixture
def day(embedded):  # noqa: F811
    """Today's daily job run in this test: its artifacts are the latest, for a test that
    reads the dashboard before it acts."""
    jobs.daily_compliance(as_of=TODAY)
    return TODAY


@pytest.fixture(scope="module")
def day_made_once(prefect_api, sample_data, tmp_path_factory):
    """The same day as `day`, made once for the module's refusals."""
    folder = copy_data(sample_data, tmp_path_factory.mktemp("day") / "data")
    with data_folder(folder):
        jobs.daily_compliance(as_of=TODAY)
    return folder


@pytest.fixture
def same_day(day_made_once, tmp_path):
    """A copy of the day's data folder, for a test that reads the database, or only the
    artifacts its own forms republish (a refusal republishes nothing and reads none): it
    needs no daily run of its own."""
    copy_data(day_made_once, tmp_path / "data")
    return TODAY


def trail_count() -> int:
    with session_scope(get_settings()) as s:
        return s.exec(select(func.count()).select_from(TrailEntry)).one()


def refused(flow, form: dict, needle: str) -> str:
    """Run a form that must be refused: one line naming the problem, nothing changed."""
    before = trail_count()
    state = flow(form=form, as_of=TODAY, return_state=True)
    assert state.is_failed(), state
    message = state.message or ""
    assert "\n" not in message and "Traceback" not in message
    assert needle in message and message.endswith("nothing was changed"), message
    assert "`govcal" not in message  # no command-line advice to a person in the UI
    assert trail_count() == before
    assert run_name(state).endswith(": refused, nothing changed")  # nothing typed in it
    return message


def run_name(state) -> str:
    """The flow run's name as the Runs list shows it."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def done(flow, form: dict) -> str:
    state = flow(form=form, as_of=TODAY, return_state=True)
    assert state.is_completed(), state.message
    return state.message or ""


COMPLETE = {"evidence": "https://example.org/minutes.pdf", "completed_by": "Partnership Manager"}


def test_completion_with_a_pasted_id_changes_the_summary(day):
    before = artifacts("compliance-summary-wfscp")["compliance-summary-wfscp"].data
    assert LSP in before
    pasted = f"  Id: `{LSP}`. "  # as copied out of an email, with its punctuation
    message = done(
        jobs.record_completion, {**COMPLETE, "item": pasted, "completed_on": "11/11/2026"}
    )
    assert message.startswith("Joint Lead Safeguarding Partners meeting") and LSP in message
    row = occurrence(LSP)
    assert (row.lifecycle, row.completed_at) == ("completed", D("2026-11-11"))
    after = artifacts("compliance-summary-wfscp")["compliance-summary-wfscp"].data
    still_open, done_now = after.split("## Recently done")  # republished at once, not at
    assert LSP not in still_open  # tomorrow's 07:00 run: no longer open, recently done
    assert LSP in done_now and "completed 11 Nov 2026 · by typed as Partnership Manager" in done_now


def test_each_run_is_named_for_what_it_did(same_day):
    """Runs were named at random ("gamma28-arae"): the Runs list could not say who did
    what. A form's run is named for it; a refusal by its form alone."""
    state = jobs.record_completion(
        form={**COMPLETE, "item": LSP, "completed_by": "Jo Bloggs"}, as_of=TODAY, return_state=True
    )
    assert state.is_completed(), state.message
    assert run_name(state) == (
        "Joint Lead Safeguarding Partners meeting (with Cumberland SCP) 11 Nov 2026 completed "
        "by Jo Bloggs"
    )
    incident = {
        "partnership": "wfscp",
        "reference": "SI-2026-009",
        "aware_on": "20/11/2026",
        "recorded_by": "LA duty manager",
    }
    state = jobs.start_incident_clock(form=incident, as_of=TODAY, return_state=True)
    assert run_name(state) == "Incident SI-2026-009: clocks started by LA duty manager"
    refused_run = jobs.start_incident_clock(
        form={**incident, "reference": CHILD}, as_of=TODAY, return_state=True
    )
    assert run_name(refused_run) == "Start incident clocks: refused, nothing changed"


def test_completion_done_on_left_empty_means_today(same_day):
    done(jobs.record_completion, {**COMPLETE, "item": LSP})
    assert occurrence(LSP).completed_at == TODAY


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"item": "wfscp:lsp-meeting:2026-11-12"}, "did you mean wfscp:lsp-meeting:2026-11-11"),
        ({"item": "the LSP meeting"}, "is not an id; paste it from the email"),
        (
            {"item": LSP, "completed_on": "31/02/2026"},
            "Done on: the date '31/02/2026' is not a date",
        ),
        (
            {"item": LSP, "completed_on": "01/01/0001"},
            "is outside the supported range",
        ),
        ({"item": LSP, "completed_on": "30/11/2026"}, "is in the future"),
        ({"item": LSP, "evidence": "ftp://example.org/x"}, "only http and https"),
        ({"item": LSP, "completed_by": ""}, "Your name: String should have at least 2"),
        # kept as "typed as NAME (not verified), via Prefect flow run RUN": 200 at most
        ({"item": LSP, "completed_by": "x" * 101}, "Your name: String should have at most 100"),
    ],
)
def test_completion_refused(same_day, change, needle):
    refused(jobs.record_completion, {**COMPLETE, **change}, needle)
    assert occurrence(LSP).lifecycle == "open"


def test_completion_twice_is_refused_the_second_time(same_day):
    done(jobs.record_completion, {**COMPLETE, "item": LSP})
    refused(jobs.record_completion, {**COMPLETE, "item": LSP}, "was already completed")


RETURN = {
    "item": S11,
    "evidence": "https://example.org/s11/nwas.pdf",
    "submitted_on": "28/10/2026",
    "recorded_by": "Business Support Officer",
}


def test_return_then_review(same_day):
    done(jobs.record_return, RETURN)
    assert occurrence(S11).completed_at == D("2026-10-28")
    message = done(
        jobs.review_return,
        {
            "item": S11,
            "rating": "amber",
            "by": "Business Support Officer",
            "follow_ups": [{"description": "Refresh level 3 training", "due": "31/01/2027"}],
        },
    )
    assert message == f"{S11} reviewed: amber, 1 follow-up action(s)"
    import json

    table = json.loads(
        artifacts("returns-wfscp-section-11-audit")["returns-wfscp-section-11-audit"].data
    )
    nwas = next(r for r in table if r["Code"] == "nwas")
    assert nwas["Review, next action"] == "🟠 Amber · 31 Jan: Refresh…"


@pytest.mark.parametrize(
    ("flow", "form", "needle"),
    [
        (jobs.record_return, {**RETURN, "item": LSP}, "is not an S11 or S175 return"),
        (jobs.record_return, {**RETURN, "submitted_on": "tomorrow"}, "Submitted on: the date"),
        (
            jobs.review_return,
            {"item": S11, "rating": "amber", "by": "Officer"},
            "has not been submitted yet",
        ),
        (
            jobs.review_return,
            {"item": S11, "rating": "purple", "by": "Officer"},
            "Review rating (RAG): Input should be",
        ),
    ],
)
def test_return_and_review_refused(same_day, flow, form, needle):
    refused(flow, form, needle)
    assert occurrence(S11).lifecycle == "open"


def test_reschedule_cancel_waive_reopen(same_day):
    move = {
        "item": LSP,
        "new_date": "02/12/2026",
        "new_time": "14:00",
        "new_place": "Barrow Town Hall,  Committee Room 2",
        "reason": "room unavailable",
        "by": "Partnership Manager",
    }
    moved = done(jobs.reschedule, move)
    assert "moved to Wed 02 Dec 2026 14:00" in moved
    assert "at Barrow Town Hall, Committee Room 2" in moved
    assert occurrence(LSP).due == D("2026-12-02")
    assert occurrence(LSP).location == "Barrow Town Hall, Committee Room 2"
    done(jobs.reschedule, {**move, "new_place": ""})  # left empty: the place is kept
    assert occurrence(LSP).location == "Barrow Town Hall, Committee Room 2"
    refused(jobs.reschedule, {**move, "new_date": "18/11/2026"}, "is in the past")
    done(jobs.cancel_item, {"item": LSP, "reason": "merged with the SAM", "by": "PM"})
    assert occurrence(LSP).lifecycle == "cancelled"
    done(jobs.reopen_item, {"item": LSP, "reason": "cancelled by mistake", "by": "PM"})
    assert occurrence(LSP).lifecycle == "open"
    done(jobs.waive_item, {"item": LSP, "reason": "not needed this quarter", "by": "PM"})
    assert occurrence(LSP).lifecycle == "waived"


@pytest.mark.parametrize(
    ("flow", "form", "needle"),
    [
        (
            jobs.reschedule,
            {
                "item": LSP,
                "new_date": "18/11/2026",
                "new_time": "25:00",
                "reason": "room",
                "by": "PM",
            },
            "is not a time of day",
        ),
        (
            jobs.reschedule,
            {
                "item": LSP,
                "new_date": "18/11/2026",
                "new_time": "2pm",
                "reason": "room",
                "by": "PM",
            },
            "New time (meetings): String should",
        ),
        (
            jobs.reschedule,
            {"item": LSP, "new_date": "", "reason": "room", "by": "PM"},
            "New date: Input should be a valid date",
        ),
        (
            jobs.reschedule,
            {
                "item": LSP,
                "new_date": "18/11/2026",
                "new_place": "x" * 201,
                "reason": "room",
                "by": "PM",
            },
            "New place (meetings): String should have at most 200",
        ),
        (jobs.cancel_item, {"item": LSP, "reason": "", "by": "PM"}, "Reason: String should have"),
        (jobs.waive_item, {"item": LSP, "by": "PM"}, "Reason: Field required"),
        (jobs.reopen_item, {"item": LSP, "reason": "mistake", "by": "PM"}, "is already open"),
    ],
)
def test_item_changes_refused(same_day, flow, form, needle):
    refused(flow, form, needle)
    row = occurrence(LSP)
    assert (row.lifecycle, row.due) == ("open", D("2026-11-11"))


def test_incident_form(same_day):
    form = {
        "partnership": "wfscp",
        "reference": "SI-2026-007",
        "aware_on": "20/11/2026",
        "recorded_by": "LA duty manager",
    }
    message = done(jobs.start_incident_clock, form)
    assert "wfscp:serious-incident-notification:SI-2026-007" in message
    summary = artifacts("compliance-summary-wfscp")["compliance-summary-wfscp"].data
    clocks = summary.split("## Statutory clocks running (")[1].split("## ")[0]
    assert "Notify the Child Safeguarding Practice Review Panel" in clocks and "days left" in clocks
    again = refused(jobs.start_incident_clock, form, "already recorded")
    assert again.count("SI-2026-007") == 1


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"reference": "Jane Smith 01/02/2015"}, "Reference: the incident reference given is not"),
        ({"aware_on": "13/13/2026"}, "Aware on: the date '13/13/2026' is not a date"),
        ({"partnership": "nowhere"}, "Partnership: Input should be"),
    ],
)
def test_incident_form_refused_without_echoing_the_reference(same_day, change, needle):
    form = {
        "partnership": "wfscp",
        "reference": "SI-2026-008",
        "aware_on": "20/11/2026",
        "recorded_by": "LA duty manager",
        **change,
    }
    message = refused(jobs.start_incident_clock, form, needle)
    assert "Jane" not in message


def test_acknowledging_an_escalation(day):
    escalated = "wfscp:lsp-meeting-papers:2026-11-11"  # 21 days overdue: the LSPs were told
    summary = artifacts("compliance-summary-wfscp")["compliance-summary-wfscp"].data
    section = summary.split("## Escalated to the Lead Partners")[1].split("## ")[0]
    assert escalated in section and "awaiting a response" in section
    message = done(jobs.acknowledge_escalation, {"item": escalated, "by": "Chief Constable"})
    assert (
        "acknowledged by typed as Chief Constable (not verified), via Prefect flow run" in message
    )
    summary = artifacts("compliance-summary-wfscp")["compliance-summary-wfscp"].data
    section = summary.split("## Escalated to the Lead Partners")[1].split("## ")[0]
    section = as_shown(section)  # as the UI shows it
    assert re.search(
        r"acknowledged by typed as Chief Constable \(not verified\), via Prefect "
        r"flow run [\w-]+ on \d{1,2} \w{3} \d{4}",
        section,
    )
    refused(
        jobs.acknowledge_escalation,
        {"item": escalated, "by": "Chief Executive"},
        "was already acknowledged by typed as Chief Constable (not verified)",
    )
    refused(
        jobs.acknowledge_escalation,
        {"item": LSP, "by": "Chief Executive"},
        "has not been escalated to the Lead Partners",
    )
    with session_scope(get_settings()) as s:
        assert len(s.exec(select(EscalationAck)).all()) == 1


def test_choosing_from_todays_open_items_when_no_id_is_pasted(same_day):
    """No id: the run pauses with a drop-down of today's items; the choice is recorded."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run
    from prefect.input.run_input import keyset_from_paused_state

    result: dict[str, object] = {}
    runner = threading.Thread(
        target=lambda: result.update(
            state=jobs.record_completion(form=COMPLETE, as_of=TODAY, return_state=True)
        ),
    )
    runner.start()
    paused = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
    )
    deadline = time.monotonic() + 120
    with get_client(sync_client=True) as client:
        while not (runs := client.read_flow_runs(flow_run_filter=paused)):
            assert time.monotonic() < deadline, "the run never paused for a choice"
            time.sleep(0.5)  # waiting on the flow's thread, not controlling time
        run = runs[0]
        schema = client.read_flow_run_input(run.id, keyset_from_paused_state(run.state)["schema"])
    import json

    labels = json.loads(schema)["definitions"]["Choice"]["enum"]
    label = next(x for x in labels if x.startswith("Joint Lead") and "due 11 Nov 2026" in x)
    assert "overdue by 13 days" in label
    resume_flow_run(run.id, run_input={"item": label})
    runner.join(timeout=120)
    assert result["state"].is_completed(), result["state"].message
    assert occurrence(LSP).lifecycle == "completed"


def _flows_with_a_day() -> list:
    from prefect import Flow

    found = [f for f in vars(jobs).values() if isinstance(f, Flow)]
    return [f for f in found if "as_of" in f.parameters.model_dump()["properties"]]


def test_every_form_labels_its_day_in_words():
    """The run form in the Prefect UI showed the raw parameter name `as_of`; each flow's
    schema (what the UI draws the form from) now gives a label a person reads."""
    flows = _flows_with_a_day()
    assert len(flows) >= 12  # the jobs and every write action
    for flow in flows:
        field = flow.parameters.model_dump()["properties"]["as_of"]
        assert field["title"] == "As if on (leave empty for today)", flow.name
        assert "today" in field["description"].lower(), flow.name


CHILD = "Jane Smith DOB 04/03/2015"


def test_a_refused_reference_is_kept_nowhere_in_the_run(same_day):
    """The form refused a child's name, and the run kept it for good on its Parameters
    tab: now the run's parameters, logs and states hold a placeholder only."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    form = {
        "partnership": "wfscp",
        "reference": CHILD,
        "aware_on": "20/11/2026",
        "recorded_by": "LA duty manager",
    }
    state = jobs.start_incident_clock(form=form, as_of=TODAY, return_state=True)
    assert state.is_failed() and "not accepted" in state.message
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        states = client.read_flow_run_states(run.id)
    kept = [repr(run.parameters), *(x.message for x in logs), *(str(s.message) for s in states)]
    assert not [x for x in kept if "Jane" in x or "04/03" in x], kept
    assert run.parameters["form"]["reference"] == "(refused: not kept)"


def test_the_form_schema_refuses_a_child_before_a_run_exists(prefect_api):
    """The UI's run form posts to the deployment; its parameter schema (as `prefect
    deploy` writes it) carries the reference's pattern, so the server refuses the run."""
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(jobs.start_incident_clock).model_dump_for_openapi()
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("start-incident-clock")
        deployment = client.create_deployment(
            flow_id,
            f"incident-{uuid.uuid4().hex[:8]}",
            parameter_openapi_schema=schema,
            enforce_parameter_schema=True,
            entrypoint="flows/jobs.py:start_incident_clock",
        )
        form = {"partnership": "wfscp", "aware_on": "20/11/2026", "recorded_by": "LA duty"}
        for bad in (CHILD, "JNSMTH-2026-01", "JHN-2026-014", "john-smith-2015"):
            with pytest.raises(PrefectHTTPStatusError) as caught:
                client.create_flow_run_from_deployment(
                    deployment, parameters={"form": {**form, "reference": bad}}
                )
            assert caught.value.response.status_code in (409, 422)
        client.create_flow_run_from_deployment(
            deployment, parameters={"form": {**form, "reference": "SI-2026-014"}}
        )
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
        )
    assert len(runs) == 1


def test_recording_who_attended_a_meeting(same_day):
    message = done(jobs.record_attendance, {"item": LSP, "by": "Partnership Manager"})
    assert message.startswith(f"{LSP}: ") and "attended" in message
    refused(
        jobs.record_attendance,
        {"item": LSP, "present": "stranger@example.net", "by": "Partnership Manager"},
        "stranger@example.net neither had an invite",
    )
    refused(
        jobs.record_attendance,
        {"item": "wfscp:lsp-meeting:2027-02-10", "by": "PM"},
        "record who attended after it",
    )
