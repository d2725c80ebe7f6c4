"""The cockpit's summary, complete and true (issue 24), read as the Prefect UI renders it:
the sample partnership with its year of history, on set days. Its headline is the count
`govcal status` prints; a round names who is missing and their leads; each item says
what completes it; an incident's clocks carry its reference; what was done and what
changed are there; each table is a CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from govcal.flows import cockpit_csv
from govcal.models.db import session_scope
from govcal.models.settings import get_settings
from tests.support.markdown import as_shown
from tests.support.paths import GOVCAL
from tests.support.snapshots import copy_data

TODAY = date(2026, 11, 24)
S11 = "wfscp:section-11-audit:2026-10-31"


@pytest.fixture
def data(sample_history_data, tmp_path) -> Path:
    return copy_data(sample_history_data, tmp_path / "data")


def govcal(*args: str) -> str:
    result = subprocess.run(
        [*GOVCAL, *args], capture_output=True, text=True, check=False, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def board(day: date = TODAY, partnership=None):
    from govcal.flows import dashboard
    from govcal.rules.loader import load_partnership

    with session_scope(get_settings()) as session:
        return dashboard.build(session, partnership or load_partnership("wfscp"), day)


def shown(day: date = TODAY, partnership=None) -> list[str]:
    """The summary's lines as a reader sees them."""
    return as_shown(board(day, partnership).markdown()).splitlines()


def line_of(lines: list[str], text: str) -> str:
    return next(line for line in lines if text in line)


def section(lines: list[str], title: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rest = lines[start + 1 :]
    end = next((i for i, line in enumerate(rest) if line.startswith(SECTION_TITLES)), len(rest))
    return [line for line in rest[:end] if line.strip()]


SECTION_TITLES = (
    "Statutory clocks",
    "Due in the next",
    "Overdue, by owner",
    "Escalated to",
    "Needs a decision",
    "Audit returns",
    "Who is coming",
    "Recently done",
    "Changes in the last",
    "Mail that could",
)


@pytest.mark.parametrize("day", [TODAY, date(2026, 4, 15)])
def test_the_headline_is_the_count_govcal_status_prints(data, day):
    """The command line said 6 overdue while the headings read 2 / 0 / 2: the headline
    gives the same numbers in the same words, each agency's return counted."""
    printed = govcal("status", "--partnership", "wfscp", "--as-of", day.isoformat())
    counts = [line for line in printed.splitlines() if line.strip()][-1].strip()
    lines = shown(day)
    assert lines[2].startswith(f"{counts} (")  # under the title and the day
    if day == TODAY:
        assert counts.startswith("6 overdue, ")


def test_a_round_names_who_has_not_returned_with_their_named_leads(data):
    from govcal.models.notify_inputs import directory

    with session_scope(get_settings()) as session:
        people = directory(session, ["wfscp"])
    holders = people.holders[("wfscp", "agency-lead")]
    leads = {agency: contact.name for agency, _school, contact in holders}
    line = line_of(shown(), "Section 11 self-assessment audit: 3 agencies not yet returned")
    named = [leads[code] for code in ("lsc-icb", "nenc-icb", "uhmb")]
    assert f"not yet returned: {'; '.join(named)}" in line
    assert "each safeguarding lead" not in line.lower()

    # in April, 11 schools had not returned their Section 175 audit: three, then the count
    line = line_of(shown(date(2026, 4, 15)), "Section 175 safeguarding audit: 11 schools")
    assert line.count("Designated Safeguarding Lead, ") == 3
    assert "and 8 more" in line


def test_each_item_says_what_completes_it_from_its_rule(data, wfscp):
    lines = shown()
    minutes = wfscp.rule("lsp-meeting").evidence
    meeting = line_of(lines, "Joint Lead Safeguarding Partners meeting (with Cumberland SCP) ·")
    assert f"done when: {minutes[0].lower()}{minutes[1:]}" in meeting
    s11 = line_of(lines, "3 agencies not yet returned")
    assert "done when: the agency's completed Section 11 return" in s11
    items = [line for line in lines if line.startswith(("🔴", "🟠", "🟢"))]
    assert items and all("done when: " in line for line in items)


def test_two_incidents_clocks_read_apart_in_the_summary_the_table_and_the_drop_down(data):
    from govcal.flows import dashboard
    from govcal.models import queries

    govcal("incident", "SI-2026-020", "--aware", "2026-11-20", "--partnership", "wfscp")
    lines = section(shown(), "Statutory clocks running")
    notify = [line for line in lines if "Notify the Child Safeguarding" in line]
    assert len(notify) == 2 and len(set(notify)) == 2
    assert any(" — SI-2026-014 · due" in line for line in notify)
    assert any(" — SI-2026-020 · due" in line for line in notify)
    table = board().table()  # titles cut to fit beside the whole id, which carries it
    assert {r["Id"] for r in table} >= {
        "wfscp:rapid-review:SI-2026-020",
        "wfscp:rapid-review:SI-2026-014",
    }
    whole = {r["What"] for r in cockpit_csv.tables(board())["open-items"]}
    assert "Rapid review completed and sent to the Panel — SI-2026-020" in whole  # the CSV
    with session_scope(get_settings()) as session:
        offered = dashboard.choices(session, "complete", TODAY, queries.all_subject_names(session))
    assert (
        offered[
            "Rapid review completed and sent to the Panel — SI-2026-020 · due 18 Dec "
            "2026 · due in 24 days"
        ]
        == "wfscp:rapid-review:SI-2026-020"
    )


def test_what_was_done_says_who_when_and_links_its_evidence_and_the_trail_shows_it(data):
    papers = "wfscp:sam-papers:2026-12-08"
    evidence = "https://example.org/wfscp/papers/sam-2026-12.pdf"
    govcal("complete", papers, "--evidence", evidence, "--by", "Jo Bloggs", "--on", "2026-11-23")
    done = section(shown(), "Recently done")
    line = line_of(done, "Papers circulated for the Safeguarding Accountability Meeting")
    assert "completed 23 Nov 2026 · by Jo Bloggs · evidence · " in line
    assert done.index(line) == 0  # newest first
    markdown = board().markdown()
    assert f"[evidence](<{evidence}>)" in markdown  # a link the reader can open

    # the audit trail is stamped when the change was made: the board of that day lists it
    changed = section(shown(datetime.now(UTC).date()), "Changes in the last 14 days")
    line = line_of(changed, papers)
    assert "Jo Bloggs (cli) · completed · Papers circulated for the Safeguarding" in line


def test_the_days_of_the_sections_come_from_the_partnerships_file(data, wfscp):
    """A partnership whose file says "soon" is 21 days and whose ladder flags for a
    decision at 10 days overdue reads so: the 13-day-late meeting needs a decision."""
    from govcal.rules.model import EscalationStep, Ladder

    ladder = Ladder(
        (14, 7, 0), (EscalationStep(1, ("owner",)), EscalationStep(10, flag="scrutineer"))
    )
    changed = dataclasses.replace(wfscp, due_soon_days=21, ladder=ladder)
    lines = shown(TODAY, changed)
    assert "Due in the next 21 days (2)" in lines  # the SAM's papers and the SAM itself
    decision = section(lines, "Needs a decision (10+ days overdue)")
    assert any("Joint Lead Safeguarding Partners meeting" in line for line in decision)
    default = shown()
    assert "Due in the next 14 days (1)" in default
    assert not any(
        "Joint Lead Safeguarding" in line for line in section(default, "Needs a decision")
    )


def test_each_table_is_a_csv_a_spreadsheet_opens_as_shown(data):
    names = govcal("tables", "--partnership", "wfscp", "--as-of", TODAY.isoformat())
    assert names.split() == [
        "open-items:",
        "8",
        "rows",
        "returns-section-11-audit:",
        "20",
        "rows",
        "returns-section-175-audit:",
        "148",
        "rows",
    ]
    printed = govcal("tables", "-p", "wfscp", "--as-of", TODAY.isoformat(), "--csv", "open-items")
    rows = list(csv.DictReader(io.StringIO(printed)))
    assert list(rows[0]) == ["What", "Due", "Owner", "Where it stands", "Id"]
    s11 = next(r for r in rows if r["Id"] == S11)
    assert s11["What"] == "Section 11 self-assessment audit: 3 agencies not yet returned"
    assert s11["Due"] == "31 Oct 2026"
    returns = govcal(
        "tables", "-p", "wfscp", "--as-of", TODAY.isoformat(), "--csv", "returns-section-11-audit"
    )
    missing = [r["Code"] for r in csv.DictReader(io.StringIO(returns))][:3]
    assert missing == ["lsc-icb", "nenc-icb", "uhmb"]


def test_a_title_typed_as_a_formula_is_shown_as_typed_in_the_csv():
    from govcal.flows.cockpit_csv import to_csv

    text = to_csv([{"What": '=HYPERLINK("http://x.example","Click")', "Id": "wfscp:x:1"}])
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["What"] == '\'=HYPERLINK("http://x.example","Click")'


def test_the_summary_links_each_table_as_a_csv_the_web_app_serves(data, monkeypatch):
    """Prefect has no CSV artifact: the summary links to the web app's address of each
    table, signed; the file is the rows `govcal tables` prints, and an address with a
    changed signature or table gets nothing."""
    import re

    import httpx

    from govcal.flows.tasks import build_dashboard_task, run_runtime
    from govcal.models.settings import get_settings
    from tests.smtp_server import free_port
    from tests.support.web import serve

    port = free_port()
    monkeypatch.setenv("GOVCAL_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK", "true")
    get_settings.cache_clear()
    posted = build_dashboard_task.fn(run_runtime(), TODAY, only="wfscp")
    [summary] = [a["data"] for a in posted if a["key"] == "compliance-summary-wfscp"]
    lines = section(as_shown(summary).splitlines(), "The tables as CSV")
    assert lines == [
        "Open items",
        "Section 11 self-assessment audit",
        "Section 175 safeguarding audit",
    ]
    link = re.search(r"\[Open items\]\(<([^>]+)>\)", summary).group(1)
    assert link.startswith(f"http://127.0.0.1:{port}/cockpit/wfscp/open-items.csv?sig=")
    serving = serve(port, now=datetime(2026, 11, 24, 12, tzinfo=UTC))
    try:
        got = httpx.get(link, timeout=10)
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("text/csv")
        assert "attachment" in got.headers["content-disposition"]
        printed = govcal(
            "tables", "-p", "wfscp", "--as-of", TODAY.isoformat(), "--csv", "open-items"
        )
        served = got.content.decode("utf-8-sig")  # a spreadsheet's byte-order mark first
        assert served.replace("\r\n", "\n") == printed  # the CLI's text read as text
        forged = link.replace("open-items.csv", "returns-section-11-audit.csv")
        assert httpx.get(forged, timeout=10).status_code == 404
        assert httpx.get(link[:-3] + "AAA", timeout=10).status_code == 404
    finally:
        serving.stop()
