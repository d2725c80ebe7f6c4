"""Sync, completion and the audit trail against a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import func, select

from govcal.models import OccurrenceRow, TrailEntry
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.queries import NotFound
from govcal.models.records import (
    Actor,
    Evidence,
    RecordError,
    cancel,
    complete,
    parse_evidence,
    reopen,
    reschedule,
    start_incident,
    waive,
)
from govcal.models.sync import sync_partnership
from govcal.rules.loader import load_partnerships
from tests.support.paths import SAMPLE_DIRECTORY
from tests.support.rules import VALID_HEADER

D = date.fromisoformat
LONDON = ZoneInfo("Europe/London")
ME = Actor("business.team@example.org")
LINK = Evidence(url="https://example.org/minutes/2026-05-13.pdf")


def trail_count(url: str) -> int:
    with session_scope(url) as s:
        return s.exec(select(func.count()).select_from(TrailEntry)).one()


def occurrence(url: str, public_id: str) -> OccurrenceRow:
    with session_scope(url) as s:
        return s.exec(select(OccurrenceRow).where(OccurrenceRow.public_id == public_id)).one()


def test_sync_twice_changes_nothing(db_url, wfscp):
    with session_scope(db_url) as s:
        first = sync_partnership(s, wfscp, D("2026-11-24"))
    assert first.created > 50 and first.window == (D("2025-05-24"), D("2028-05-24"))
    trail = trail_count(db_url)
    with session_scope(db_url) as s:
        again = sync_partnership(s, wfscp, D("2026-11-24"))
        total = s.exec(select(func.count()).select_from(OccurrenceRow)).one()
    assert (again.created, again.updated, again.orphaned) == (0, 0, 0)
    assert again.unchanged == first.created == total
    assert trail_count(db_url) == trail  # nothing changed, nothing logged


def test_completion_waiver_and_reopen_write_the_audit_trail(db_url, wfscp):
    with session_scope(db_url) as s:
        sync_partnership(s, wfscp, D("2026-11-24"))
    meeting = "wfscp:lsp-meeting:2026-05-13"
    with session_scope(db_url) as s:
        complete(s, meeting, LINK, ME, on=D("2026-05-20"), today=D("2026-11-24"))
    row = occurrence(db_url, meeting)
    assert (row.lifecycle, row.completed_at, row.completed_by) == (
        "completed",
        D("2026-05-20"),
        ME.name,
    )
    assert row.evidence_url == LINK.url

    with session_scope(db_url) as s:
        waive(s, "wfscp:cdop-annual-report:2026-09-30", "Report merged with Cumberland's", ME)
        reopen(s, meeting, ME, reason="minutes were the draft")
    row = occurrence(db_url, meeting)
    assert row.lifecycle == "open" and row.completed_at is None and row.evidence_url is None

    with session_scope(db_url) as s:
        entries = s.exec(select(TrailEntry).order_by(TrailEntry.id)).all()
    actions = [(e.action, e.entity_id) for e in entries if e.entity == "occurrence"]
    assert actions == [
        ("completed", meeting),
        ("waived", "wfscp:cdop-annual-report:2026-09-30"),
        ("reopened", meeting),
    ]
    completed = next(e for e in entries if e.action == "completed")
    assert completed.actor == ME.name and completed.channel == "cli"
    assert completed.before["lifecycle"] == "open"
    assert completed.after["evidence_url"] == LINK.url
    reopened = next(e for e in entries if e.action == "reopened")
    assert reopened.before["completed_at"] == "2026-05-20" and reopened.reason


def test_the_audit_trail_cannot_be_changed_or_deleted(db_url, wfscp):
    with session_scope(db_url) as s:
        sync_partnership(s, wfscp, D("2026-11-24"))
    for statement in ("UPDATE audit_trail SET actor = 'someone else'", "DELETE FROM audit_trail"):
        with pytest.raises(DatabaseError, match="append-only"), session_scope(db_url) as s:
            s.exec(text(statement))
    assert trail_count(db_url) == 1


@pytest.mark.parametrize(
    ("attempt", "message"),
    [
        (
            lambda s: complete(
                s,
                "wfscp:lsp-meeting:2026-05-13",
                LINK,
                ME,
                on=D("2026-11-25"),
                today=D("2026-11-24"),
            ),
            "is in the future",
        ),
        (
            lambda s: complete(
                s,
                "wfscp:lsp-meting:2026-05-13",
                LINK,
                ME,
                on=D("2026-05-13"),
                today=D("2026-11-24"),
            ),
            "did you mean wfscp:lsp-meeting:2026-05-13",
        ),
        (lambda s: waive(s, "wfscp:lsp-meeting:2026-05-13", "  ", ME), "a reason is required"),
        (lambda s: reopen(s, "wfscp:lsp-meeting:2026-05-13", ME), "already open"),
    ],
)
def test_bad_requests_give_a_clear_error_and_change_nothing(db_url, wfscp, attempt, message):
    with session_scope(db_url) as s:
        sync_partnership(s, wfscp, D("2026-11-24"))
    before = trail_count(db_url)
    with pytest.raises((RecordError, NotFound), match=message), session_scope(db_url) as s:
        attempt(s)
    assert trail_count(db_url) == before
    assert occurrence(db_url, "wfscp:lsp-meeting:2026-05-13").lifecycle == "open"


def test_completing_twice_is_refused_and_keeps_the_first_record(db_url, wfscp):
    with session_scope(db_url) as s:
        sync_partnership(s, wfscp, D("2026-11-24"))
        complete(
            s, "wfscp:lsp-meeting:2026-05-13", LINK, ME, on=D("2026-05-14"), today=D("2026-11-24")
        )
    other = Evidence(url="https://example.org/other.pdf")
    refused = pytest.raises(RecordError, match="already completed on 2026-05-14")
    with refused, session_scope(db_url) as s:
        complete(
            s,
            "wfscp:lsp-meeting:2026-05-13",
            other,
            Actor("x"),
            on=D("2026-06-01"),
            today=D("2026-11-24"),
        )
    row = occurrence(db_url, "wfscp:lsp-meeting:2026-05-13")
    assert (row.completed_at, row.evidence_url) == (D("2026-05-14"), LINK.url)


def test_evidence_must_be_a_web_link_or_a_file(tmp_path):
    """Links are taken here; files go to the evidence store (tests/test_input_evidence.py)."""
    assert parse_evidence("https://example.org/report").url == "https://example.org/report"
    assert parse_evidence(str(tmp_path / "minutes.pdf")) is None  # a file: the store decides
    for bad, reason in [
        ("", "required"),
        ("javascript:alert(1)", "'javascript:' scheme"),
        ("file:///etc/passwd", "'file:' scheme"),
        ("ftp://example.org/x", "'ftp:' scheme"),
        ("https://", "not a complete link"),
    ]:
        with pytest.raises(RecordError, match=re.escape(reason)):
            parse_evidence(bad)


RULES_V1 = (
    VALID_HEADER
    + """\
  - id: board
    title: Board meeting
    kind: meeting
    owner: business-team
    attendees: [lsp]
    schedule:
      every: monthly on the second Tuesday
      start: 2026-01-13 10:00
    evidence: Minutes
    source: test
  - id: newsletter
    title: Newsletter
    kind: publication
    owner: business-team
    schedule:
      every: monthly
      start: 2026-01-31
    evidence: Link
    source: test
"""
)


def test_changing_a_rule_moves_future_open_items_and_never_loses_a_record(db_url, rule_file):
    [v1] = load_partnerships([rule_file(RULES_V1, "v1.yaml")])
    with session_scope(db_url) as s:
        sync_partnership(s, v1, D("2026-06-01"))
        complete(s, "testscp:board:2026-05-12", LINK, ME, on=D("2026-05-12"), today=D("2026-06-01"))
        reschedule(
            s,
            "testscp:board:2026-08-11",
            datetime(2026, 8, 18, 10, tzinfo=LONDON),
            "chair on leave",
            ME,
        )
        waive(s, "testscp:board:2026-09-08", "joint session with Cumberland", ME)

    # the meetings move to 14:00, and the newsletter rule is withdrawn
    v2_text = RULES_V1.replace("start: 2026-01-13 10:00", "start: 2026-01-13 14:00")
    v2_text = v2_text[: v2_text.index("  - id: newsletter")]
    [v2] = load_partnerships([rule_file(v2_text, "v2.yaml")])
    with session_scope(db_url) as s:
        report = sync_partnership(s, v2, D("2026-06-01"))

    done = occurrence(db_url, "testscp:board:2026-05-12")
    assert done.lifecycle == "completed" and done.evidence_url == LINK.url
    assert done.starts_at.astimezone(LONDON).hour == 10  # the past is not rewritten
    future = occurrence(db_url, "testscp:board:2026-07-14")
    assert future.starts_at.astimezone(LONDON).hour == 14 and future.sequence == 1
    moved = occurrence(db_url, "testscp:board:2026-08-11")
    assert moved.starts_at == datetime(2026, 8, 18, 10, tzinfo=LONDON)  # a person's move wins
    waived = occurrence(db_url, "testscp:board:2026-09-08")
    assert waived.lifecycle == "waived" and waived.starts_at.astimezone(LONDON).hour == 10
    news = occurrence(db_url, "testscp:newsletter:2026-03-31")
    assert news.orphaned and news.lifecycle == "open"  # kept, marked, not deleted
    assert report.orphaned > 0 and report.updated > 0

    # putting the rule back restores the orphans
    [v3] = load_partnerships([rule_file(RULES_V1, "v3.yaml")])
    with session_scope(db_url) as s:
        restored = sync_partnership(s, v3, D("2026-06-01"))
    assert restored.restored == report.orphaned
    assert not occurrence(db_url, "testscp:newsletter:2026-03-31").orphaned


def test_reschedule_and_cancel_bump_the_invite_sequence(db_url, wfscp):
    meeting = "wfscp:safeguarding-accountability-meeting:2026-12-08"
    with session_scope(db_url) as s:
        sync_partnership(s, wfscp, D("2026-11-24"))
        reschedule(s, meeting, datetime(2026, 12, 15, 9, 30, tzinfo=LONDON), "room clash", ME)
    row = occurrence(db_url, meeting)
    assert (row.due, row.sequence, row.rescheduled) == (D("2026-12-15"), 1, True)
    assert (row.ends_at - row.starts_at).total_seconds() == 2 * 3600
    with session_scope(db_url) as s:
        cancel(s, meeting, "no quorum", ME)
    row = occurrence(db_url, meeting)
    assert (row.lifecycle, row.sequence, row.reason) == ("cancelled", 2, "no quorum")
    with session_scope(db_url) as s:
        actions = s.exec(select(TrailEntry.action).where(TrailEntry.entity_id == meeting)).all()
    assert actions == ["rescheduled", "cancelled"]


def test_incident_reference_starts_the_statutory_clocks(db_url, wfscp):
    with session_scope(db_url) as s:
        sync_partnership(s, wfscp, D("2027-03-24"))
        start_incident(
            s, wfscp, "SI-2027-001", "serious-incident", D("2027-03-24"), ME, today=D("2027-03-24")
        )
        sync_partnership(s, wfscp, D("2027-03-24"))
    assert occurrence(db_url, "wfscp:serious-incident-notification:SI-2027-001").due == D(
        "2027-04-02"
    )
    assert occurrence(db_url, "wfscp:rapid-review:SI-2027-001").due == D("2027-04-23")
    with session_scope(db_url) as s:
        complete(
            s,
            "wfscp:serious-incident-notification:SI-2027-001",
            Evidence(url="https://example.org/panel/notification"),
            ME,
            on=D("2027-03-25"),
            today=D("2027-03-26"),
        )
        sync_partnership(s, wfscp, D("2027-03-26"))
    # the rapid review now counts from the day the notification was really sent
    assert occurrence(db_url, "wfscp:rapid-review:SI-2027-001").due == D("2027-04-19")


@pytest.mark.parametrize("reference", ["Jane Smith", "SI 2027 001", "x" * 41, "", "<b>SI</b>"])
def test_incident_references_that_could_carry_identity_are_refused(db_url, wfscp, reference):
    with pytest.raises(RecordError, match="never a child's name"), session_scope(db_url) as s:
        sync_partnership(s, wfscp, D("2027-03-24"))
        start_incident(
            s, wfscp, reference, "serious-incident", D("2027-03-24"), ME, today=D("2027-03-24")
        )


def test_section_175_returns_are_tracked_one_school_at_a_time(db_url, wfscp):
    from govcal.models import queries
    from govcal.models.records import review_return

    with session_scope(db_url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        report = sync_partnership(s, wfscp, D("2026-02-01"))
    assert report.cycles_created >= 2
    cycle_id = "wfscp:section-175-audit:2026-03-31"
    with session_scope(db_url) as s:
        for school in ("wf-p001", "wf-p002", "wf-s001"):
            complete(
                s,
                f"{cycle_id}:{school}",
                LINK,
                Actor(f"dsl-{school}@example.org"),
                on=D("2026-03-20"),
                today=D("2026-04-02"),
            )
        review_return(
            s,
            f"{cycle_id}:wf-s001",
            "amber",
            ME,
            note="training records incomplete",
            follow_ups=[("Update training matrix", D("2026-06-30"))],
            on=D("2026-04-02"),
        )
    with session_scope(db_url) as s:
        members = queries.returns_of(s, queries.audit_cycle(s, cycle_id))
    assert len(members) == 148
    submitted = {r.subject: o.completed_at for r, o in members if o.completed_at}
    assert submitted == {
        "wf-p001": D("2026-03-20"),
        "wf-p002": D("2026-03-20"),
        "wf-s001": D("2026-03-20"),
    }
    rated = {r.subject: r.rag for r, _o in members if r.rag}
    assert rated == {"wf-s001": "amber"}
    s11 = "wfscp:section-11-audit:2026-10-31"
    with session_scope(db_url) as s:
        assert len(queries.returns_of(s, queries.audit_cycle(s, s11))) == 20


def test_a_return_cannot_be_reviewed_before_it_is_submitted(db_url, wfscp):
    from govcal.models.records import review_return

    with session_scope(db_url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, D("2026-02-01"))
    with pytest.raises(RecordError, match="not been submitted"), session_scope(db_url) as s:
        review_return(s, "wfscp:section-175-audit:2026-03-31:wf-p001", "green", ME)
    refused = pytest.raises(RecordError, match="not one of: red, amber, green")
    with refused, session_scope(db_url) as s:
        review_return(s, "wfscp:section-175-audit:2026-03-31:wf-p001", "purple", ME)


def test_the_cycle_to_open_is_the_named_one_or_the_next_due(tmp_path, wfscp, migrated_copy):
    """The open-audit-cycle flow's choice, as a query: the schedule opens the coming
    cycle, a named period opens that one, and a day past every synced cycle says so."""
    from govcal.models.queries import audit_cycles, cycle_to_open

    url = migrated_copy(tmp_path / "cycles.db")
    with session_scope(url) as session:
        import_directory(session, SAMPLE_DIRECTORY / "wfscp", wfscp)  # the agencies
        sync_partnership(session, wfscp, date(2026, 9, 5))
    with session_scope(url) as session:
        s11 = [c for c in audit_cycles(session, "wfscp") if c.rule_id == "section-11-audit"]
        coming = next(c for c in s11 if c.due >= date(2026, 9, 5))
        assert cycle_to_open(session, "wfscp", "section-11-audit", date(2026, 9, 5)) == (
            coming.public_id
        )
        assert coming.due.year == 2026
        period = coming.public_id.rsplit(":", 1)[1]  # named: opened even once it is due
        later = date(coming.due.year + 1, 1, 1)
        assert cycle_to_open(session, "wfscp", "section-11-audit", later, period) == (
            coming.public_id
        )
        last = max(c.due for c in s11)
        with pytest.raises(NotFound, match="no section-11-audit cycle due on or after"):
            cycle_to_open(session, "wfscp", "section-11-audit", date(last.year + 1, 1, 1))
