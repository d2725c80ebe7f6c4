"""The evidence pack's figures against a hand-built year: every figure asserted exactly."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from govcal.models import records
from govcal.models.db import get_engine
from govcal.models.directory_import import import_directory
from govcal.models.ledger import Delivery, LedgerEntry
from govcal.models.sync import sync_partnership
from govcal.notifications.pack import build_pack, render_html, render_markdown
from govcal.rules.loader import load_partnership
from govcal.rules.pack import Outcome, percent

RULES = """\
partnership:
  id: testscp
  name: Test Safeguarding Children Partnership
  timezone: Europe/London
roles:
  lsp: Lead Safeguarding Partners
  dsp: Delegated Safeguarding Partners
  scrutineer: Independent Scrutineer
  business-team: Business team
  agency-lead: Safeguarding lead of an agency
obligations:
  - id: lsp-meeting
    title: LSP meeting
    kind: meeting
    owner: business-team
    attendees: [lsp]
    schedule: {every: quarterly, start: 2025-01-15 10:00}
    evidence: Minutes
    source: test
  - id: annual-report
    title: Annual report
    kind: publication
    owner: business-team
    schedule: {once: 2025-06-30}
    evidence: Link
    source: test
  - id: s11
    title: Section 11 audit
    kind: audit
    owner: agency-lead
    per: agency
    schedule: {every: annually in September, start: 2025-09-30}
    evidence: Return
    source: test
"""
AGENCIES = "code,name,type\na1,Alpha Trust,relevant-agency\na2,Beta Police,relevant-agency\n" + (
    "a3,Gamma Council,relevant-agency\n"
)
END_OF_YEAR = date(2025, 12, 31)
ME = records.Actor("test-user")


def url(name: str) -> records.Evidence:
    return records.Evidence(url=f"https://example.org/{name}.pdf")


@pytest.fixture
def year(tmp_path, db_url):
    """2025 of a small partnership: 4 meetings, a report and 3 S11 returns, recorded."""
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "agencies.csv").write_text(AGENCIES, encoding="utf-8")
    partnership = load_partnership("testscp", [tmp_path / "rules.yaml"])
    with Session(get_engine(db_url)) as s:
        import_directory(s, tmp_path / "agencies.csv", partnership)
        sync_partnership(s, partnership, date(2025, 6, 1))

        def done(public_id: str, on: date) -> None:
            records.complete(s, public_id, url(public_id), ME, on=on, today=END_OF_YEAR)

        done("testscp:lsp-meeting:2025-01-15", date(2025, 1, 15))  # on time
        done("testscp:lsp-meeting:2025-04-15", date(2025, 4, 20))  # 5 days late
        records.cancel(s, "testscp:lsp-meeting:2025-07-15", "Quorum not met", ME)
        # testscp:lsp-meeting:2025-10-15 is never done: missed
        done("testscp:annual-report:2025-06-30", date(2025, 6, 30))  # on time
        done("testscp:s11:2025-09-30:a1", date(2025, 9, 20))  # on time
        done("testscp:s11:2025-09-30:a2", date(2025, 10, 10))  # 10 days late
        records.review_return(s, "testscp:s11:2025-09-30:a1", "green", ME)
        records.review_return(s, "testscp:s11:2025-09-30:a2", "amber", ME)
        # a3 never returns: missed
        s.flush()
        ids = {
            o: records.queries.occurrence(s, o).id
            for o in ("testscp:lsp-meeting:2025-10-15", "testscp:s11:2025-09-30:a3")
        }
        for occurrence, stage, status in [
            ("testscp:lsp-meeting:2025-10-15", "escalation-1", Delivery.SENT),
            ("testscp:lsp-meeting:2025-10-15", "escalation-7", Delivery.SENT),
            ("testscp:lsp-meeting:2025-10-15", "escalation-14", Delivery.SENT),
            ("testscp:lsp-meeting:2025-10-15", "escalation-28", Delivery.FLAGGED),
            ("testscp:s11:2025-09-30:a3", "escalation-1", Delivery.SENT),
            ("testscp:s11:2025-09-30:a3", "escalation-14", Delivery.SKIPPED),  # not raised
            ("testscp:s11:2025-09-30:a3", "reminder-7", Delivery.SENT),  # not an escalation
        ]:
            s.add(
                LedgerEntry(
                    occurrence_id=ids[occurrence],
                    stage=stage,
                    status=status.value,
                    recipient=f"{stage}@example.org",
                    kind="escalation",
                )
            )
        s.commit()
    return db_url


def test_the_year_in_figures(year):
    with Session(get_engine(year)) as s:
        pack = build_pack(s, "testscp", 2025, END_OF_YEAR)
    f = pack.figures
    assert f.total == 8
    assert dict(f.outcomes) == {
        Outcome.ON_TIME: 3,
        Outcome.LATE: 2,
        Outcome.MISSED: 2,
        Outcome.CANCELLED: 1,
    }
    assert f.fell_due == 7 and percent(f.on_time_rate) == "43%" and percent(f.done_rate) == "71%"
    assert (f.escalated, f.escalated_to_lead_partners) == (2, 1)
    [cycle] = f.cycles
    assert (cycle.title, cycle.due, cycle.total) == ("Section 11 audit", date(2025, 9, 30), 3)
    assert (cycle.on_time, cycle.late, cycle.outstanding) == (1, 1, 1)
    assert percent(cycle.return_rate) == "67%" and dict(cycle.rag) == {"green": 1, "amber": 1}
    missed = next(i for i in pack.items if i.id == "testscp:lsp-meeting:2025-10-15")
    assert pack.outcome(missed) == "missed (77 days overdue)" and missed.escalations == (
        1,
        7,
        14,
        28,
    )


def test_a_replayed_day_ignores_what_was_recorded_after_it(year):
    with Session(get_engine(year)) as s:
        pack = build_pack(s, "testscp", 2025, date(2025, 4, 16))
    by_id = {i.id: pack.outcome(i) for i in pack.items}
    assert by_id["testscp:lsp-meeting:2025-04-15"] == "missed (1 day overdue)"
    assert by_id["testscp:lsp-meeting:2025-10-15"] == "not yet due"


def test_the_html_is_self_contained_and_the_markdown_lists_every_obligation(year):
    with Session(get_engine(year)) as s:
        pack = build_pack(s, "testscp", 2025, END_OF_YEAR)
    html = render_html(pack)
    assert not re.search(r"<script|<link|<img|src=|url\(|@import", html)  # nothing external
    assert "<style>" in html and "@media print" in html
    assert 'href="https://example.org/testscp:lsp-meeting:2025-04-15.pdf"' in html
    assert "late (5 days)" in html and "Gamma Council" in html
    markdown = render_markdown(pack)
    assert "| Done on time | 3 (43% of those that fell due) |" in markdown
    assert (
        "| 2025-10-15 | LSP meeting |  | missed (77 days overdue) |  "
        "| day 1, day 7, day 14, day 28 |" in markdown
    )
    assert "2 of 3 returned (67%); 1 on time (33%), 1 late, 1 outstanding" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| 2025-")]
    assert len(rows) == 5  # the 5 obligations; returns are counted per cycle


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_govcal_pack_prints_the_figures_and_writes_both_files(year, tmp_path, monkeypatch):
    from govcal.cli import app
    from govcal.models.settings import get_settings

    monkeypatch.setenv("GOVCAL_DATABASE_URL", year)
    monkeypatch.setenv("GOVCAL_RULES_PATH", str(tmp_path / "rules.yaml"))
    get_settings.cache_clear()
    result = CliRunner().invoke(
        app,
        [
            "pack",
            "-p",
            "testscp",
            "--year",
            "2025",
            "--as-of",
            "31/12/2025",
            "--out",
            str(tmp_path / "packs"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == [
        "Test Safeguarding Children Partnership, 2025: 8 obligations due.",
        "On time 3 (43% of 7 that fell due), late 2, missed 2; 2 escalated (1 to the Lead "
        "Partners).",
        "Section 11 audit due 2025-09-30: 2 of 3 returned (67%), 1 on time, 1 late.",
    ]
    assert (tmp_path / "packs" / "evidence-pack-testscp-2025.html").is_file()
    assert (tmp_path / "packs" / "evidence-pack-testscp-2025.md").is_file()
    unknown = CliRunner().invoke(app, ["pack", "-p", "nowhere", "--year", "2025"])
    assert unknown.exit_code == 1 and "no partnership 'nowhere'" in unknown.stderr
    ancient = CliRunner().invoke(app, ["pack", "--year", "1066"])
    assert (
        ancient.exit_code == 2
        and "Invalid value for '--year': Input should be greater than or equal to 2000"
        in (ancient.stderr)
    )


@pytest.mark.xdist_group("prefect")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_flows_pack_downloads_from_the_web_app_as_html_and_csv(
    year, tmp_path, monkeypatch, prefect_api
):
    """The UI's form leaves no file on the worker's disk to find: its run links the pack,
    served by govcal's web app, and the download is the pack (the CSV parses, one row per
    item); a forged address, or one past its 30 days, gets the same 404."""
    import csv
    import io
    from datetime import UTC, datetime, timedelta

    import httpx

    from govcal.models.settings import get_settings
    from tests.smtp_server import free_port
    from tests.support.web import serve

    port = free_port()
    monkeypatch.setenv("GOVCAL_DATABASE_URL", year)
    monkeypatch.setenv("GOVCAL_WEB_SECRET", "s" * 40)
    monkeypatch.setenv("GOVCAL_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK", "true")
    get_settings.cache_clear()
    from prefect.client.orchestration import get_client  # the shared test API: prefect_api
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from govcal.flows.evidence_pack import evidence_pack

    state = evidence_pack(partnership="testscp", year="2025", as_of="31/12/2025", return_state=True)
    assert state.is_completed(), state.message
    with get_client(sync_client=True) as client:  # the API is shared: ask for these keys
        key = ArtifactFilterKey(
            any_=[f"evidence-pack-testscp-2025{k}" for k in ("", "-html", "-csv")]
        )
        found = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(key=key))}
    assert (
        "| Done on time | 3 (43% of those that fell due) |"
        in found["evidence-pack-testscp-2025"].data
    )
    html_link, csv_link = (
        re.search(r"\]\((http://[^)]+)\)", found[f"evidence-pack-testscp-2025-{k}"].data).group(1)
        for k in ("html", "csv")
    )
    assert html_link in state.message and csv_link in state.message  # the run's first screen
    assert not (tmp_path / "data" / "packs").exists()  # nothing left on the worker's disk
    site = serve(port, now=datetime.now(UTC))
    try:
        page = httpx.get(html_link, timeout=30)
        table = httpx.get(csv_link, timeout=30)
        forged = httpx.get(html_link[:-10] + "AAAAA.html", timeout=30)
    finally:
        site.stop()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'filename="evidence-pack-testscp-2025.html"' in page.headers["content-disposition"]
    assert "Test Safeguarding Children Partnership" in page.text
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert table.status_code == 200 and len(rows) == 8  # 4 meetings, a report, 3 returns
    late = next(r for r in rows if r["Id"] == "testscp:s11:2025-09-30:a2")
    assert (late["Outcome"], late["Done on"], late["Review (RAG)"]) == (
        "late (10 days)",
        "2025-10-10",
        "amber",
    )
    assert forged.status_code == 404
    later = serve(port, now=datetime.now(UTC) + timedelta(days=31))
    try:
        expired = httpx.get(csv_link, timeout=30)
    finally:
        later.stop()
    assert expired.status_code == 404 and "has expired" in expired.text

    unknown = evidence_pack(partnership="nowhere", year="2025", return_state=True)
    bad_year = evidence_pack(partnership="testscp", year="1066", return_state=True)
    not_a_year = evidence_pack(partnership="testscp", year="last year", return_state=True)
    assert unknown.is_failed() and unknown.message.startswith("no partnership 'nowhere'")
    assert bad_year.is_failed() and "give a year from 2000 to 2097" in bad_year.message
    assert not_a_year.is_failed() and not_a_year.message.startswith(
        "Reporting year: 'last year' is not a year; write it as 2025"
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_titles_holding_markdown_are_text_in_the_pack_never_links_or_images(tmp_path, db_url):
    """The pack's markdown (its artifact) escaped `|` and HTML but not `[]()`: a title
    `[Click](url)` was a live link and `![x](url)` an image every reader fetched."""
    from markdown_it import MarkdownIt

    rules = RULES.replace("title: LSP meeting", "title: LSP meeting ![x](https://evil.example/p)")
    rules = rules.replace("title: Annual report", "title: '[Click here](https://evil.example)'")
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    partnership = load_partnership("testscp", [tmp_path / "rules.yaml"])
    with Session(get_engine(db_url)) as s:
        sync_partnership(s, partnership, date(2025, 6, 1))
        s.commit()
        pack = build_pack(s, "testscp", 2025, END_OF_YEAR)
    html = MarkdownIt("commonmark").enable("table").render(render_markdown(pack))
    assert "<img" not in html and "<a " not in html
    assert "LSP meeting ![x](https://evil.example/p)" in html and "[Click here](https:" in html
