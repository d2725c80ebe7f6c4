"""The cockpit at a fixed address: the business team's digest carries it at the top,
the real web app (uvicorn on a loopback port) shows the partnership's summary and tables
as they stand when opened (a completion recorded since is gone from it), and an address that
was not signed with the installation's key shows nothing."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.markdown import as_shown
from tests.support.web import DAY, Site, day_sent, public_data, serve

TOP = re.compile(r"The summary, always the latest: (http://127\.0\.0\.1:\d+/cockpit/\S+)")


@pytest.fixture
def site(sample_data, tmp_path, monkeypatch):
    port = public_data(sample_data, tmp_path, monkeypatch)
    day_sent(tmp_path / "outbox")
    serving = serve(port)
    yield Site(f"http://127.0.0.1:{port}", tmp_path / "outbox", serving)
    serving.stop()


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _summary() -> str:
    from govcal.flows import dashboard
    from govcal.flows.runtime import build_runtime
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        return dashboard.build(session, build_runtime().partnership("wfscp"), DAY).markdown()


def test_the_business_teams_digest_opens_the_latest_summary(site):
    digests = {str(m["To"]): m for m in site.messages() if "-digest-" in str(m["Message-ID"])}
    business = next(m for to, m in digests.items() if "business-team@example.org" in to)
    text = _text(business)
    address = TOP.search(text).group(1)
    assert text.index(address) < text.index("\n== ")  # at the top, before the first item
    team = ("business-team@", "partnership-manager@")  # the roles that run govcal
    others = [m for to, m in digests.items() if not any(t in to for t in team)]
    assert others and not any("/cockpit/" in _text(m) for m in others)

    page = httpx.get(address, timeout=30)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    first = next(line for line in _summary().splitlines() if line.startswith("- "))
    public_id = first.rsplit("`", 2)[1]
    title = as_shown(first.split("**")[1]).strip()
    assert "Statutory clocks running" in page.text and public_id in page.text
    assert title in as_shown(re.sub(r"<[^>]+>", "", page.text))
    assert "Open items, most urgent first" in page.text  # and the audit cycles, by code
    assert '<th scope="col">Code</th>' in page.text and ">nwas</td>" in page.text

    from govcal.flows.runtime import build_runtime
    from govcal.models import actions, records
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        actions.complete(
            session,
            public_id,
            "https://example.org/minutes.pdf",
            records.Actor("test-user"),
            on=DAY,
            today=DAY,
            partnerships=build_runtime().partnerships,
        )
    again = httpx.get(address, timeout=30)
    assert again.status_code == 200
    summary, tables = again.text.split("Open items, most urgent first", 1)
    still_open, recently_done = summary.split("Recently done", 1)
    assert public_id not in still_open and public_id in recently_done
    assert public_id not in tables.split("</table>", 1)[0]


def test_an_address_not_signed_here_shows_nothing(site):
    address = TOP.search(
        next(_text(m) for m in site.messages() if "business-team@example.org" in str(m["To"]))
    ).group(1)
    token = address.rsplit("/", 1)[1]
    partnership, signature = token.rsplit(".", 1)
    altered = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for wrong in (f"{partnership}.{altered}", partnership, f"cscp-2023.{signature}"):
        page = httpx.get(f"{site.base}/cockpit/{wrong}", timeout=30)
        assert page.status_code == 404, wrong
        assert "This link cannot be used" in page.text and "Statutory clocks" not in page.text


def test_table_cells_are_text_on_the_cockpit_page():
    """A table artifact's cell (rules.text.table_cell: as typed, an invisible character
    where Prefect's V1 would make markup) is escaped on govcal's page, never rendered."""
    from govcal.rules.text import INVISIBLE, table_cell
    from govcal.web.cockpit import _table

    typed = "*z* _u_ <b>x</b> [y](http://e.x) & co"
    (cell,) = _table("Returns", [{"Agency": table_cell(typed)}]).rows[0]
    assert str(cell).replace(INVISIBLE, "") == typed.replace("&", "&amp;").replace(
        "<", "&lt;"
    ).replace(">", "&gt;")
