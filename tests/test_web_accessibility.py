"""Every page of the web app, and the HTML part of a digest and an invite, in headless
Chromium at 390 px (a phone): axe-core (npm, tests/axe) finds no WCAG 2.2 A or AA
violation, nothing is wider than the screen, and the pages work with scripts off.
GOVCAL_SCREENSHOT_DIR=docs/screenshots keeps a 390 px picture of each page."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest

from tests.cockpit_ui import CHROMIUM, CHROMIUM_ARGS
from tests.support.web import Site, day_sent, public_data, serve

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
PHONE = {"width": 390, "height": 844}
ATTEND = "Answer: I'll attend, I can't, or I'm sending a deputy"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs apt-get install chromium"),
]


@pytest.fixture
def pages(sample_data, tmp_path, monkeypatch):
    """(name, url or html) of every kind of page the app serves, from a real outbox."""
    assert AXE.exists(), "run: npm ci --prefix tests/axe (scripts/test does)"
    port = public_data(sample_data, tmp_path, monkeypatch)
    day_sent(tmp_path / "outbox")
    serving = serve(port)
    site = Site(f"http://127.0.0.1:{port}", tmp_path / "outbox", serving)
    done = next(u for to, u, _m in site.links("Record that this was done") if "business" not in to)
    ack = site.links("Acknowledge this escalation")[0][1]
    org = site.links("Submit our return")[0][1]
    used = site.links("Record that this was done")[-1][1]
    key = re.search(r'name="form_key" value="([^"]+)"', httpx.get(used).text).group(1)
    httpx.post(used, data={"form_key": key, "evidence": "https://example.org/m.pdf"})
    messages = site.messages()
    digest = next(m for m in messages if m["Subject"].startswith("Escalation"))
    invite = next(m for m in messages if m["Subject"].startswith(("Invitation", "Updated")))
    try:
        yield (
            site,
            [
                ("web-done", done, None),
                ("web-acknowledge", ack, None),
                ("web-return", org, None),
                ("web-problem", done, {"evidence": "not a link"}),
                ("web-recorded", used, None),
                ("web-dead", f"{site.base}/a/AAAAAAAAAAAAAAAA.{'B' * 32}", None),
                ("web-refused", org, {"form_key": "wrong"}),
                ("digest-html", digest.get_body(preferencelist=("html",)).get_content(), None),
                ("invite-html", invite.get_body(preferencelist=("html",)).get_content(), None),
            ],
        )
    finally:
        serving.stop()


def test_every_page_meets_wcag_22_aa_on_a_phone(pages):
    from playwright.sync_api import sync_playwright

    _site, wanted = pages
    axe = AXE.read_text()
    keep = os.environ.get("GOVCAL_SCREENSHOT_DIR")
    found: dict[str, list] = {}
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for scripts in (False, True):  # as people see it; then with axe injected
                context = chromium.new_context(
                    viewport=PHONE, java_script_enabled=scripts, bypass_csp=scripts
                )
                page = context.new_page()
                for name, where, form in wanted:
                    _open(page, where, form)
                    width = (
                        page.evaluate("document.documentElement.scrollWidth")
                        if scripts
                        else PHONE["width"]
                    )
                    assert width <= PHONE["width"], f"{name} is {width} px wide"
                    if not scripts:
                        assert page.locator("h1, p").count() > 0, name
                        if keep:
                            page.screenshot(path=str(Path(keep) / f"{name}.png"), full_page=True)
                        continue
                    page.evaluate(axe)
                    result = page.evaluate(
                        "opts => axe.run(document, opts)",
                        {"runOnly": {"type": "tag", "values": WCAG}},
                    )
                    found[name] = [
                        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                        for v in result["violations"]
                    ]
                context.close()
        finally:
            chromium.close()
    assert found and all(not v for v in found.values()), json.dumps(found, indent=1)


def _open(page, where: str, form: dict | None) -> None:
    """A page as a person reaches it: a link opened, a form sent, or an email's HTML."""
    if not where.startswith("http"):
        page.set_content(where)
        return
    page.goto(where)
    if form is None:
        return
    for field, value in form.items():
        if field == "form_key":  # a form sent from elsewhere: its key is not the page's
            page.evaluate("v => document.querySelector('input[name=form_key]').value = v", value)
        else:
            page.fill(f"#{field}", value)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
