"""A school submits its S175 return from the reminder's link, on its own page (what is
due, the last review's RAG and its follow-up actions); a Lead Partner acknowledges an
escalated S11 round from theirs, and the republished summary says so."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import httpx
import pytest

from tests.support.web import Site, at_once, day_sent, public_data, serve

S175_DAY = date(2027, 3, 3)  # 28 days before the S175 returns of 2027 are due
S11_DAY = date(2026, 11, 16)  # the S11 round of 2026 is escalated to the Lead Partners


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


@pytest.fixture
def folder(sample_data, tmp_path, monkeypatch):
    port = public_data(sample_data, tmp_path, monkeypatch)
    return port, tmp_path


def _key(page: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', page).group(1)


def _govcal(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "govcal.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def _last_year_reviewed(school: str) -> None:
    """The business team recorded and reviewed the school's 2026 return: amber, with a
    follow-up action due in April 2027."""
    from govcal.models import actions, records
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.sync import sync_partnership
    from govcal.rules.loader import load_partnership

    team = records.Actor("business-team")
    wfscp = load_partnership("wfscp")
    with session_scope(get_settings()) as session:
        sync_partnership(session, wfscp, S175_DAY)
    with session_scope(get_settings()) as session:
        actions.record_return(
            session,
            f"wfscp:section-175-audit:2026-03-31:{school}",
            "https://example.org/s175-2026.pdf",
            team,
            submitted_on=date(2026, 3, 20),
            today=date(2026, 4, 1),
            partnerships=[wfscp],
            rag="amber",
            follow_ups=[("Update the safer recruitment policy", date(2027, 4, 30))],
        )


@contextmanager
def _school_link(folder) -> Iterator[str]:
    """School 32's return link from the S175 reminders, its last review recorded (amber,
    one follow-up action), while the app serves the day."""
    port, tmp_path = folder
    _last_year_reviewed("wf-p032")
    day_sent(tmp_path / "outbox", S175_DAY, _noon(S175_DAY))
    serving = serve(port, now=_noon(S175_DAY))
    try:
        site = Site(f"http://127.0.0.1:{port}", tmp_path / "outbox", serving)
        yield next(u for to, u, _m in site.links("Submit our return") if "wf-p032" in to)
    finally:
        serving.stop()


def test_a_school_submits_its_s175_return_from_its_own_page(folder):
    with _school_link(folder) as url:
        cycle = "wfscp:section-175-audit:2027-03-31"
        before = _govcal("returns", cycle, "--as-of", str(S175_DAY))
        page = httpx.get(url).text
        assert "What is due for Windermere Sample Primary School 32" in page
        assert 'rated <strong class="tag tag-amber">amber</strong>' in page
        assert "Update the safer recruitment policy – due 30 April 2027" in page
        key = _key(page)

        follow = re.search(r'name="follow_up" value="(\d+)"', page).group(1)
        marked = httpx.post(
            url, data={"form_key": key, "follow_up": follow}, follow_redirects=True
        ).text
        assert "done 3 March 2027" in marked and "Mark this action done" not in marked

        form = {"form_key": key, "day": "01/03/2027", "evidence": "https://e.org/s175.pdf"}
        answer = httpx.post(url, data=form)
        assert answer.status_code == 303
        assert "returned on 2027-03-01" in httpx.get(url).text
        after = _govcal("returns", cycle, "--as-of", str(S175_DAY))
    row = next(line for line in after.splitlines() if "Windermere Sample Primary School 32" in line)
    was = next(
        line for line in before.splitlines() if "Windermere Sample Primary School 32" in line
    )
    assert row != was and "2027-03-01" in row


def test_a_follow_up_marked_done_by_several_clicks_at_once_is_recorded_once(folder):
    """A double click (or two colleagues) on "Mark this action done": one record in the
    trail, and every click lands on the page showing the action done."""
    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.trail import TrailEntry

    with _school_link(folder) as url:
        page = httpx.get(url).text
        follow = re.search(r'name="follow_up" value="(\d+)"', page).group(1)
        form = {"form_key": _key(page), "follow_up": follow}
        answers = at_once([(url, form)] * 6)
        assert [a.status_code for a in answers] == [303] * 6
        shown = httpx.get(url + "?done=1").text
    assert "done 3 March 2027" in shown and "Mark this action done" not in shown
    with session_scope(get_settings()) as session:
        actions = session.exec(select(TrailEntry.action)).all()
    assert actions.count("follow-up-done") == 1
    assert actions.count("email-link-used") == 1


def test_a_schools_page_reads_the_database_in_a_handful_of_statements(folder):
    """The page a school's link opens (its return, what is due, the last review and its
    follow-up actions) and the answer it records, as statements: on a server database
    each is a round trip, and 200 people open theirs in the same minute."""
    from sqlalchemy import event

    from govcal.models.db import get_engine
    from govcal.models.settings import get_settings

    port, tmp_path = folder
    _last_year_reviewed("wf-p032")
    day_sent(tmp_path / "outbox", S175_DAY, _noon(S175_DAY))
    serving = serve(port, now=_noon(S175_DAY))
    statements: list[str] = []

    def seen(_conn, _cursor, sql, *_args) -> None:
        statements.append(sql)

    engine = get_engine(get_settings())
    event.listen(engine, "before_cursor_execute", seen)
    try:
        site = Site(f"http://127.0.0.1:{port}", tmp_path / "outbox", serving)
        url = next(u for to, u, _m in site.links("Submit our return") if "wf-p032" in to)
        page = httpx.get(url).text
        assert "Update the safer recruitment policy" in page  # the whole page, review included
        opened = len(statements)
        form = {"form_key": _key(page), "evidence": "https://e.org/s175.pdf"}
        assert httpx.post(url, data=form).status_code == 303
        answered = len(statements) - opened
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        serving.stop()
    assert opened <= 5, statements[:opened]
    assert answered <= 11, statements[opened:]


def test_acknowledging_a_round_reads_its_members_and_escalations_once(folder):
    """A Lead Partner's answer to a round's escalation, as statements: the round is read
    once for the page's checks and once by the use case, not again inside it."""
    from sqlalchemy import event

    from govcal.models.db import get_engine
    from govcal.models.settings import get_settings

    port, tmp_path = folder
    day_sent(tmp_path / "outbox", S11_DAY, _noon(S11_DAY))
    serving = serve(port, now=_noon(S11_DAY))
    statements: list[str] = []

    def seen(_conn, _cursor, sql, *_args) -> None:
        statements.append(sql)

    engine = get_engine(get_settings())
    try:
        site = Site(f"http://127.0.0.1:{port}", tmp_path / "outbox", serving)
        wanted = site.links("Acknowledge this escalation", "Section 11 self-assessment audit")
        url = next(u for to, u, _m in wanted if "lsp-wfc@" in to)
        page = httpx.get(url).text
        event.listen(engine, "before_cursor_execute", seen)
        try:
            answer = httpx.post(url, data={"form_key": _key(page), "note": "Seen"})
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert answer.status_code == 303
        shown = httpx.get(url).text
    finally:
        serving.stop()
    assert "escalation acknowledged by" in shown
    reads = [s for s in statements if "FROM audit_cycle" in s.replace("\n", " ")]
    assert len(reads) <= 2, statements  # the page's check, the use case's
    assert len(statements) <= 52, statements  # 40 of them: each agency's ack and trail row


@pytest.mark.xdist_group("prefect")
def test_a_lead_partner_acknowledges_the_s11_round_and_the_summary_says_so(folder, prefect_api):
    from govcal.flows.runtime import build_runtime
    from govcal.web.republish import Republisher
    from tests.test_flows import artifacts

    port, tmp_path = folder
    day_sent(tmp_path / "outbox", S11_DAY, _noon(S11_DAY))
    republish = Republisher(build_runtime())
    serving = serve(port, now=_noon(S11_DAY), republish=republish)
    try:
        site = Site(f"http://127.0.0.1:{port}", tmp_path / "outbox", serving)
        wanted = site.links("Acknowledge this escalation", "Section 11 self-assessment audit")
        url = next(u for to, u, _m in wanted if "lsp-wfc@" in to)
        page = httpx.get(url).text
        assert "Section 11 self-assessment audit 2026 (20 of 20 agencies not returned)" in page
        answer = httpx.post(url, data={"form_key": _key(page), "note": "Raised at the LSP call"})
        assert answer.status_code == 303
        assert republish.wait(tried=1)  # queued after the response, posted soon after
    finally:
        serving.stop()
    summary = artifacts("compliance-summary-wfscp")["compliance-summary-wfscp"].data
    said = re.findall(r"acknowledged by [^\n|]*by email link", summary)
    assert said and "Westmorland and Furness Council" in said[0] and "16 Nov 2026" in said[0]
