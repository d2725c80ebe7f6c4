"""The sample partnership's history: the first run shows a partnership at work."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlmodel import Session, select

from govcal.models import queries
from govcal.models.calendar import Lifecycle, OccurrenceRow
from govcal.models.db import get_engine
from govcal.models.directory_import import import_directory
from govcal.models.sample_history import apply_history, history_file
from govcal.models.status import closed_on, status_rows
from govcal.models.trail import TrailEntry
from govcal.rules.state import State
from tests.support.paths import SAMPLE_DIRECTORY

TODAY = date(2026, 11, 24)


def load(url, wfscp, history):
    with Session(get_engine(url)) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        report = apply_history(s, wfscp, history)
        s.commit()
    return report


def test_the_sample_year_is_mostly_done_with_a_few_overdue_and_a_clock_running(db_url, wfscp):
    report = load(db_url, wfscp, history_file(SAMPLE_DIRECTORY / "wfscp"))
    assert report.problems == []
    with Session(get_engine(db_url)) as s:
        rows = status_rows(s, TODAY, partnership_id="wfscp", ahead_days=14)
        states = Counter(r.status.state for r in rows)
        assert states[State.OVERDUE] == 6
        overdue = sorted(r.row.public_id for r in rows if r.status.state is State.OVERDUE)
        assert "wfscp:scrutineer-evaluation:2026-09-30" in overdue
        assert "wfscp:lsp-meeting:2026-11-11" in overdue
        clock = next(
            r
            for r in rows
            if r.row.rule_id == "serious-incident-notification" and r.status.state.is_open
        )
        assert clock.row.public_id == "wfscp:serious-incident-notification:SI-2026-014"
        assert clock.status.describe() == "due in 3 days"

        every = s.exec(
            select(OccurrenceRow).where(
                OccurrenceRow.partnership_id == "wfscp", OccurrenceRow.due < TODAY
            )
        ).all()
        done = [o for o in every if o.lifecycle == Lifecycle.COMPLETED.value]
        assert len(done) / len(every) > 0.95
        assert all(o.evidence_url.startswith("https://example.org/") for o in done)
        late = [o for o in done if o.completed_at > o.due]
        assert 10 < len(late) < len(done) / 4  # some late, most on time

        cycles = {c.public_id: c for c in queries.audit_cycles(s, "wfscp")}
        counts = queries.return_counts(s, [c.id for c in cycles.values()])
        assert counts[cycles["wfscp:section-175-audit:2026-03-31"].id] == (147, 148)
        assert counts[cycles["wfscp:section-11-audit:2026-10-31"].id] == (17, 20)
        assert cycles["wfscp:section-11-audit:2026-10-31"].opened_at is not None

        moved = queries.occurrence(s, "wfscp:safeguarding-accountability-meeting:2026-12-08")
        assert moved.rescheduled
        assert moved.starts_at.astimezone(wfscp.tz).strftime("%Y-%m-%d %H:%M") == "2026-12-15 10:00"

        called_off = queries.occurrence(s, "wfscp:safeguarding-accountability-meeting:2025-10-14")
        assert called_off.lifecycle == Lifecycle.CANCELLED.value
        assert called_off.reason.startswith("Not quorate in the half-term week")
        assert closed_on(called_off, wfscp.tz) == date(2025, 10, 7)  # history's day, not today

        def closed(day: date) -> set[str]:
            rows = status_rows(s, day, partnership_id="wfscp")
            return {r.row.public_id for r in rows if not r.status.state.is_open}

        assert called_off.public_id in closed(date(2025, 10, 20))
        assert called_off.public_id not in closed(date(2025, 10, 6))  # not closed yet then

        trail = s.exec(select(TrailEntry).where(TrailEntry.action == "completed")).all()
        assert len(trail) == len(done) and {t.actor for t in trail} == {"sample-loader"}


def test_a_bad_history_row_is_reported_by_line_and_the_rest_still_lands(db_url, wfscp, tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(
        "date,action,id,by,evidence,rag,follow_up,follow_up_due,to,note\n"
        "2026-05-13,complete,wfscp:lsp-meeting:2026-05-13,PM,https://example.org/m.pdf,,,,,\n"
        "2026-05-14,complete,wfscp:lsp-meeting:2026-05-14,PM,https://example.org/m.pdf,,,,,\n"
        "2026-05-15,celebrate,wfscp:lsp-meeting:2026-05-13,PM,,,,,,\n",
        encoding="utf-8",
    )
    report = load(db_url, wfscp, path)
    assert report.applied == Counter({"complete": 1})
    lines = [str(p) for p in report.problems]
    assert lines[0].startswith(f"{path}:3: no occurrence 'wfscp:lsp-meeting:2026-05-14'")
    assert lines[1] == f"{path}:4: action 'celebrate' is not one of: " + (
        "incident, open-cycle, complete, review, waive, cancel, reschedule"
    )
