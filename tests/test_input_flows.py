"""The Prefect forms go through the same use cases as the command line: the same checks,
the same line for the person, nothing changed when refused."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.xdist_group("prefect")
MEETING = "wfscp:lsp-meeting:2026-11-11"
D = date.fromisoformat


@pytest.fixture
def embedded(prefect_api, sample_data, tmp_path):
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.sync import sync_partnership
    from govcal.rules.loader import load_partnership
    from tests.support.snapshots import copy_data

    copy_data(sample_data, tmp_path / "data")  # the sample directory, loaded once
    with session_scope(get_settings()) as session:
        sync_partnership(session, load_partnership("wfscp"), D("2026-11-24"))
    inbox = tmp_path / "data" / "evidence-inbox"
    inbox.mkdir(parents=True)
    return inbox


def state_of_meeting() -> tuple[str, str | None]:
    from govcal.models.db import session_scope
    from govcal.models.queries import occurrence
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        row = occurrence(session, MEETING)
        return row.lifecycle, row.evidence_file


def test_a_system_file_named_in_the_ui_is_refused_and_a_real_document_is_stored(embedded):
    from govcal.flows import jobs
    from govcal.flows.forms import CompletionForm

    def complete(evidence: str):
        form = CompletionForm(
            item=MEETING,
            evidence=evidence,
            completed_on=D("2026-11-11"),
            completed_by="Partnership Manager",
        )
        return jobs.record_completion(form=form, as_of=D("2026-11-24"), return_state=True)

    refused = complete("/etc/passwd")
    assert refused.is_failed()
    assert refused.message.startswith("evidence '/etc/passwd' is a system file")
    assert refused.message.endswith("nothing was changed")
    assert state_of_meeting() == ("open", None)

    (embedded / "minutes.pdf").write_bytes(b"%PDF minutes")
    done = complete("minutes.pdf")
    assert done.is_completed(), done.message
    assert (
        f"({MEETING}) completed on 2026-11-11 by typed as Partnership Manager (not verified)"
        in (done.message)
    )
    lifecycle, kept = state_of_meeting()
    assert lifecycle == "completed" and kept and kept.endswith("/minutes.pdf")
    assert "/evidence/" in kept and "evidence-inbox" not in kept


def test_a_name_as_incident_reference_is_refused_in_the_ui_without_being_stored(embedded):
    from prefect.client.orchestration import get_client

    from govcal.flows import jobs

    form = {
        "partnership": "wfscp",
        "reference": "john-smith-2015",
        "aware_on": "2026-11-20",
        "kind": "serious-incident",
        "recorded_by": "LA duty manager",
    }
    refused = jobs.start_incident_clock(form=form, as_of=D("2026-11-24"), return_state=True)
    assert refused.is_failed() and "a word or name" in refused.message
    assert "john" not in refused.message.lower()
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(refused.state_details.flow_run_id)
    assert "john" not in (run.state.message or "").lower()
