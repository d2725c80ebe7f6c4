"""Every id the cockpit shows is accepted where it makes sense (issue 20): the round's
cycle id (`wfscp:section-11-audit:2026-10-31`, offered to copy on the summary and the
open-items table) was refused by every form."""

from __future__ import annotations

import json
import threading
import time

import pytest

from govcal.flows import jobs
from tests.test_flows import artifacts, embedded, occurrence  # noqa: F401
from tests.test_forms import (  # noqa: F401
    RETURN,
    TODAY,
    day_made_once,
    refused,
    same_day,
    trail_count,
)

pytestmark = pytest.mark.xdist_group("prefect")
CYCLE = "wfscp:section-11-audit:2026-10-31"


def paused_choices() -> tuple[object, list[str]]:
    """The paused run and the labels of the drop-down it asks with."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.input.run_input import keyset_from_paused_state

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
    return run, json.loads(schema)["definitions"]["Choice"]["enum"]


def test_record_return_with_the_cycle_id_asks_which_agency(same_day):  # noqa: F811
    """It said "is not an S11 or S175 return; record its completion"."""
    from prefect.flow_runs import resume_flow_run

    result: dict[str, object] = {}
    form = {**RETURN, "item": CYCLE}
    runner = threading.Thread(
        target=lambda: result.update(
            state=jobs.record_return(form=form, as_of=TODAY, return_state=True)
        )
    )
    runner.start()
    run, labels = paused_choices()
    assert len(labels) == 20  # the cycle's agencies, and nothing else
    assert all("Section 11 self-assessment audit" in label for label in labels)
    label = next(x for x in labels if x.startswith("North West Ambulance Service"))
    resume_flow_run(run.id, run_input={"item": label})
    runner.join(timeout=120)
    assert result["state"].is_completed(), result["state"].message
    assert occurrence(f"{CYCLE}:nwas").lifecycle == "completed"


def test_completing_the_cycle_id_explains_what_to_do(same_day):  # noqa: F811
    """It said "no occurrence": the id the cockpit had just offered was unknown."""
    form = {"item": CYCLE, "evidence": "https://example.org/x.pdf", "completed_by": "Officer"}
    message = refused(jobs.record_completion, form, "is the whole")
    assert message.startswith(
        f"{CYCLE} is the whole Section 11 self-assessment audit cycle "
        "(20 of 20 not returned); act on one agency's return by its own "
        f"id: {CYCLE}:"
    )
    assert "(each one's own reminder email gives its id)" in message and "govcal" not in message
