"""The Prefect flows under Prefect's test harness: results, artifacts and the outbox."""

from __future__ import annotations

import email
from datetime import date
from email import policy

import pytest
from sqlmodel import select

from govcal.prefect_env import configure_prefect

configure_prefect()

from prefect.client.orchestration import get_client  # noqa: E402

from govcal.flows import jobs  # noqa: E402
from govcal.flows.forms import CompletionForm, IncidentForm, ReturnForm  # noqa: E402
from govcal.flows.outcome import DayOutcome  # noqa: E402
from govcal.models import AuditReturn, OccurrenceRow, TrailEntry  # noqa: E402
from govcal.models.db import session_scope  # noqa: E402
from govcal.models.settings import get_settings  # noqa: E402
from tests.support.snapshots import copy_data  # noqa: E402

pytestmark = pytest.mark.xdist_group("prefect")
D = date.fromisoformat


@pytest.fixture
def embedded(prefect_api, sample_data, tmp_path):
    """The embedded default in this test's data folder, with the sample directory (its
    history left out: these tests replay days before and after it): a copy of the one
    loaded once per process."""
    return copy_data(sample_data, tmp_path / "data")


def artifacts(*keys: str) -> dict[str, object]:
    """The latest version of each artifact key, as the UI shows it."""
    from prefect.client.schemas.filters import (
        ArtifactCollectionFilter,
        ArtifactCollectionFilterKey,
    )

    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(
                key=ArtifactCollectionFilterKey(any_=list(keys))
            ),
            limit=len(keys),
        )
    return {artifact.key: artifact for artifact in found}


def task_name(task_run_id: object) -> str:
    """The task run's name without its number, as the UI groups it."""
    with get_client(sync_client=True) as client:
        return client.read_task_run(task_run_id).name.rsplit("-", 1)[0]


def occurrence(public_id: str) -> OccurrenceRow:
    with session_scope(get_settings()) as s:
        return s.exec(select(OccurrenceRow).where(OccurrenceRow.public_id == public_id)).one()


def test_daily_compliance_syncs_notifies_and_publishes_the_dashboard(embedded):
    result = jobs.daily_compliance(as_of=D("2026-10-05"))
    assert result["as_of"] == "2026-10-05"
    wfscp = next(s for s in result["synced"] if s["partnership"] == "wfscp")
    assert wfscp["created"] > 500
    assert result["states"]["overdue"] > 0
    sent = result["sent"]
    assert sent["messages_sent"] > 20 and sent["to_retry"] == 0

    outbox = sorted((embedded / "outbox").glob("*.eml"))
    assert len(outbox) == sent["messages_sent"]
    subjects = [
        email.message_from_bytes(f.read_bytes(), policy=policy.default)["Subject"] for f in outbox
    ]
    assert any(s.startswith("Invitation: Safeguarding Accountability Meeting") for s in subjects)
    assert result["feeds"] > 150 and (embedded / "feeds" / "wfscp.ics").is_file()  # same run
    # what govcal run reads from the stored result: the same figures, typed
    outcome = DayOutcome.from_result(result)
    assert outcome is not None and outcome.delivered
    assert outcome.sent.messages_sent == sent["messages_sent"] and outcome.feeds == result["feeds"]
    assert next(s for s in outcome.synced if s.partnership == "wfscp").created == wfscp["created"]
    assert DayOutcome.from_result({"as_of": "2026-10-05"}) is None  # a broken run's result

    # every artifact is there once the run has ended, under the dashboard's task run
    posted = artifacts(*result["artifacts"])
    assert set(posted) == set(result["artifacts"]) and len(posted) >= 4
    assert {task_name(a.task_run_id) for a in posted.values()} == {"publish-dashboard"}
    found = artifacts(
        "compliance-wfscp", "compliance-summary-wfscp", "returns-wfscp-section-11-audit"
    )
    table = found["compliance-wfscp"]
    assert table.type == "table"
    import json

    rows = json.loads(table.data)
    assert list(rows[0]) == ["What", "Due", "Owner", "Id"]
    lsp = next(r for r in rows if r["Id"] == "wfscp:lsp-meeting:2026-11-11")
    assert (lsp["Due"], lsp["Owner"]) == ("🟢 11 Nov", "P. Manager")  # the sample's name
    assert lsp["What"] == "Joint Lead Safeguard…"  # cut: the whole title is in the CSV
    overdue = [r for r in rows if r["Due"].startswith("🔴")]
    assert overdue
    assert rows.index(overdue[0]) == 0  # most urgent first
    s11 = next(r for r in rows if r["Id"] == "wfscp:section-11-audit:2026-10-31")
    assert s11["What"].startswith("Section 11")
    summary = found["compliance-summary-wfscp"].data
    headings = [line for line in summary.splitlines() if line.startswith("## ")]
    assert [h.split(" (")[0] for h in headings[:5]] == [
        "## Statutory clocks running",
        "## Due in the next 14 days",
        "## Overdue, by owner",
        "## Escalated to the Lead Partners",
        "## Needs a decision",
    ]
    assert "consider referral" in summary and "Sent by this run:" in summary
    returns = found["returns-wfscp-section-11-audit"]
    assert returns.type == "table"
    agencies = json.loads(returns.data)
    assert len(agencies) == 20 and {"Agency", "Code", "Returned"} <= set(agencies[0])

    again = jobs.daily_compliance(as_of=D("2026-10-05"))
    assert again["sent"]["messages_sent"] == 0  # a rerun sends nothing new
    assert len(sorted((embedded / "outbox").glob("*.eml"))) == len(outbox)


def versions(key: str) -> int:
    """How many versions of an artifact the UI lists under its key."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), limit=200
        )
    return len(found)


def test_a_returns_table_is_posted_again_only_when_it_changes(embedded):
    """Every day brings a new summary and open-items table; the S11 returns table (its
    cycle overdue, nothing recorded) stays one version until a return is recorded."""
    import json

    key, summary = "returns-wfscp-section-11-audit", "compliance-summary-wfscp"
    jobs.daily_compliance(as_of=D("2026-11-23"))
    tables, summaries = versions(key), versions(summary)
    jobs.daily_compliance(as_of=D("2026-11-24"))
    assert (versions(key), versions(summary)) == (tables, summaries + 1)
    rows = {r["Code"]: r for r in json.loads(artifacts(key)[key].data)}
    assert rows["nwas"]["Returned"] == "🔴 missing, due 31 Oct"

    form = ReturnForm(
        item="wfscp:section-11-audit:2026-10-31:nwas",
        evidence="https://example.org/s11/nwas.pdf",
        submitted_on=D("2026-11-20"),
        recorded_by="Business Support Officer",
    )
    jobs.record_return(form=form, as_of=D("2026-11-24"))  # republishes the board
    assert versions(key) == tables + 1
    rows = {r["Code"]: r for r in json.loads(artifacts(key)[key].data)}
    assert rows["nwas"]["Returned"] == "20 Nov, late"
    jobs.daily_compliance(as_of=D("2026-11-25"))
    assert versions(key) == tables + 1


def test_a_day_whose_cockpit_cannot_be_posted_does_its_work_and_says_why(embedded, monkeypatch):
    """The poster process finds no API (a real closed port): mail and feeds are done, the
    run ends Failed with one line naming the cause, and `govcal run` reads the outcome."""
    import govcal.flows.publish
    import govcal.flows.tasks
    from tests.smtp_server import free_port

    closed = free_port()  # nothing listens there
    real = govcal.flows.publish._poster_environment
    monkeypatch.setattr(govcal.flows.tasks, "IN_PROCESS_AT_MOST", 0)  # the poster process, always
    monkeypatch.setattr(
        govcal.flows.publish,
        "_poster_environment",
        lambda: {
            **real(),
            "PREFECT_API_URL": f"http://govcal:S3cretPW@127.0.0.1:{closed}/api",
            "PREFECT_CLIENT_MAX_RETRIES": "0",
        },
    )
    state = jobs.daily_compliance(as_of=D("2026-11-24"), return_state=True)
    assert state.is_failed()
    assert state.message.startswith("the cockpit was not all posted: Prefect's API did not take")
    assert "could not reach Prefect's API (is the server up?)" in state.message
    assert "\n" not in state.message and "S3cretPW" not in state.message
    outcome = DayOutcome.from_result(state.result(raise_on_failure=False))
    assert outcome is not None and outcome.feeds > 150 and outcome.artifacts == []
    assert outcome.cockpit_problem in state.message
    assert (embedded / "feeds" / "wfscp.ics").is_file()


def test_record_completion_form_lands_in_the_audit_trail_as_done_from_the_ui(embedded):
    jobs.daily_compliance(as_of=D("2026-11-24"))
    form = CompletionForm(
        item="wfscp:lsp-meeting:2026-11-11",
        evidence="https://example.org/minutes/lsp-2026-11-11.pdf",
        completed_on=D("2026-11-11"),
        completed_by="Partnership Manager",
    )
    state = jobs.record_completion(form=form, as_of=D("2026-11-24"), return_state=True)
    # anyone holding the Prefect login can type any name: it is kept as typed, marked
    # unverified, with the one identity the server knows (the run that recorded it)
    typed = (
        f"typed as Partnership Manager (not verified), via Prefect flow run "
        f"{state.state_details.flow_run_id}"
    )
    assert state.result() == (
        "Joint Lead Safeguarding Partners meeting (with Cumberland SCP) "
        f"(wfscp:lsp-meeting:2026-11-11) completed on 2026-11-11 by {typed}"
    )
    row = occurrence("wfscp:lsp-meeting:2026-11-11")
    assert row.evidence_url == "https://example.org/minutes/lsp-2026-11-11.pdf"
    with session_scope(get_settings()) as s:
        entry = s.exec(
            select(TrailEntry).where(TrailEntry.entity_id == "wfscp:lsp-meeting:2026-11-11")
        ).one()
    assert (entry.action, entry.channel, entry.actor) == ("completed", "prefect-ui", typed)


def test_record_return_with_review_and_follow_up(embedded):
    jobs.daily_compliance(as_of=D("2026-11-24"))
    form = ReturnForm(
        item="wfscp:section-11-audit:2026-10-31:nwas",
        evidence="https://example.org/s11/nwas.pdf",
        submitted_on=D("2026-10-28"),
        recorded_by="Business Support Officer",
        rating="amber",
        review_note="training gaps",
        follow_ups=[{"description": "Refresh level 3 training", "due": "2027-01-31"}],
    )
    jobs.record_return(form=form, as_of=D("2026-11-24"))
    with session_scope(get_settings()) as s:
        audit_return = s.exec(select(AuditReturn).where(AuditReturn.subject == "nwas")).all()
    rated = [r for r in audit_return if r.rag]
    [(rag, by)] = [(r.rag, r.reviewed_by) for r in rated]
    assert rag == "amber"
    assert by.startswith("typed as Business Support Officer (not verified), via Prefect flow run ")


def test_incident_clock_creates_the_statutory_deadlines(embedded):
    jobs.daily_compliance(as_of=D("2027-03-24"))
    form = IncidentForm(
        partnership="wfscp",
        reference="SI-2027-001",
        aware_on=D("2027-03-24"),
        kind="serious-incident",
        recorded_by="LA duty manager",
    )
    created = jobs.start_incident_clock(form=form, as_of=D("2027-03-24"))
    assert created == (
        "serious-incident SI-2027-001: clocks started: wfscp:rapid-review:SI-2027-001, "
        "wfscp:serious-incident-notification:SI-2027-001"
    )
    assert occurrence("wfscp:serious-incident-notification:SI-2027-001").due == D("2027-04-02")
    with pytest.raises(ValueError):
        IncidentForm(
            partnership="wfscp", reference="Jane Smith", aware_on=D("2027-03-24"), recorded_by="x y"
        )


def test_open_audit_cycle_requests_every_return(embedded):
    result = jobs.open_audit_cycle(
        partnership="wfscp", rule="section-175-audit", as_of=D("2027-01-11")
    )
    assert result["cycle"] == "wfscp:section-175-audit:2027-03-31"
    assert result["requests"] == 148
    with session_scope(get_settings()) as s:
        returns = s.exec(select(AuditReturn)).all()
    requested = [r for r in returns if r.requested_at is not None]
    assert len(requested) == 148
    dsl_mail = [
        f
        for f in (embedded / "outbox").glob("*.eml")
        if b"dsl-wf-p001@example.org" in f.read_bytes()
    ]
    body = email.message_from_bytes(dsl_mail[0].read_bytes(), policy=policy.default)
    text = body.get_body(("plain",)).get_content()
    assert "New request" in text and "Section 175 safeguarding audit" in text


def test_send_invites_only_sends_invites(embedded):
    result = jobs.send_invites(as_of=D("2026-10-05"))
    assert result["sent_by_kind"] == {"invite": result["messages_sent"]}
    assert result["messages_sent"] >= 2


@pytest.mark.parametrize("in_process", [False, True], ids=["poster-process", "in-process"])
def test_a_failed_post_fails_the_flow_with_its_error(embedded, in_process):
    """Artifacts are posted by a process of their own, or here when they are few
    (flows/publish.py); a post that fails still fails its task and the run, with its
    error, and the others are posted."""
    from prefect import flow, task
    from prefect.artifacts import MarkdownArtifact

    from govcal.flows.publish import Publisher, as_posted
    from govcal.flows.tasks import publish_dashboard, run_runtime, sync_task

    @task(name="bad-post")
    def bad_post() -> None:
        with Publisher(in_process=in_process) as post:  # the server's rules, checked there
            post(
                as_posted(
                    [
                        MarkdownArtifact.model_construct(markdown="x", key="Not A Key"),
                        MarkdownArtifact(markdown="y", key="posted-after-a-bad-one"),
                    ]
                )
            )

    @flow(name="day-with-a-bad-post")
    def day_with_a_bad_post() -> list[str]:
        runtime = run_runtime()
        sync_task(runtime, D("2026-10-05"))
        keys = publish_dashboard(runtime, D("2026-10-05"))
        bad_post()
        return keys

    state = day_with_a_bad_post(return_state=True)
    assert state.is_failed() and "Artifact key must only contain lowercase" in state.message
    assert "did not take 1 of the cockpit's artifacts (1 posted)" in state.message
    assert "compliance-summary-wfscp" in artifacts("compliance-summary-wfscp")
    assert artifacts("posted-after-a-bad-one")["posted-after-a-bad-one"].data == "y"


def test_the_rule_files_a_run_is_given_reach_every_task(embedded, tmp_path):
    """`govcal run --rules FOLDER`: the sync, the mail, the dashboard and the feeds all
    work from that folder's rules, not the configured ones."""
    from tests.support.paths import ROOT

    shipped = (ROOT / "rules" / "partnerships" / "westmorland-furness.yaml").read_text()
    folder = tmp_path / "own-rules"
    folder.mkdir()
    renamed = "title: Joint LSP meeting held at Kendal"
    (folder / "wfscp.yaml").write_text(
        shipped.replace(
            "title: Joint Lead Safeguarding Partners meeting (with Cumberland SCP)", renamed
        )
    )
    result = jobs.daily_compliance(as_of=D("2026-10-05"), rules=str(folder))
    assert [s["partnership"] for s in result["synced"]] == ["wfscp"]  # the folder's only
    assert occurrence("wfscp:lsp-meeting:2026-11-11").title == "Joint LSP meeting held at Kendal"
    subjects = [
        email.message_from_bytes(f.read_bytes(), policy=policy.default)["Subject"]
        for f in sorted((embedded / "outbox").glob("*.eml"))
    ]
    assert any(s.startswith("Invitation: Joint LSP meeting held at Kendal") for s in subjects)
    assert "Kendal" in (embedded / "feeds" / "wfscp.ics").read_text()
    import json

    rows = json.loads(artifacts("compliance-wfscp")["compliance-wfscp"].data)
    lsp = next(r for r in rows if r["Id"] == "wfscp:lsp-meeting:2026-11-11")
    assert lsp["What"].startswith("Joint LSP meeting")
