"""The cockpit in a real browser: a Prefect server on a free loopback port, the
deployments from prefect.yaml, a worker, daily-compliance over the sample, and headless
Chromium at 1440x1000 reading what a person sees on the first screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cockpit_ui import CHROMIUM, browser, cockpit, log_in, settle, visible_text
from tests.support.markdown import as_shown

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("prefect-server"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs apt-get install chromium"),
]


def test_summary_and_completion_form_as_a_person_sees_them(tmp_path, prefect_server_url):
    with cockpit(tmp_path, prefect_server_url) as ui, browser() as page:
        rows = json.loads(ui.artifact("compliance-wfscp")["data"])
        summary = ui.artifact("compliance-summary-wfscp")["data"]
        lines = summary.splitlines()
        first = next(line for line in lines if line.startswith("- "))
        # with the sample's history an incident clock runs: it is the most urgent item
        heading = next(line for line in lines if line.startswith("## "))
        assert heading.startswith("## Statutory clocks running (") and "(0)" not in heading
        assert lines.index(heading) < lines.index(first)
        shown = as_shown(first)  # as the UI renders it: markdown's escapes gone
        title = as_shown(first.split("**")[1]).strip()  # the most urgent item, as listed
        owner = shown.split(" · ")[3].split(",")[0]  # its named owner
        urgent_id = first.rsplit("`", 2)[1]

        page.goto(ui.artifact_url("compliance-summary-wfscp"))
        settle(page, "Login")  # the server asks for a login before it shows anything
        assert title not in page.content()
        log_in(page, ui.base)
        page.goto(ui.artifact_url("compliance-summary-wfscp"))
        settle(page, "Statutory clocks running")
        seen = visible_text(page)
        assert title in seen and urgent_id in seen
        assert owner in seen and "(sample)" in owner  # a named person, not a role id
        assert "business-team" not in seen

        page.goto(ui.artifact_url("compliance-wfscp"))
        settle(page, "Where it stands")
        assert every_column_on_the_first_screen(page)

        page.goto(ui.form_url("record-completion"))
        settle(page, "Id from the email")
        seen = visible_text(page)
        assert "Id from the email" in seen and "Paste the id from the reminder email" in seen
        assert "str / None" not in seen

        target = next(
            r for r in rows if "-audit:" not in r["Id"] and r["Where it stands"].startswith("🔴")
        )
        assert target["Id"] in summary
        fields = page.locator("textarea")  # Id, Evidence, Done on, Your name, Note
        fields.nth(0).fill(f"Id: {target['Id']}.")
        fields.nth(1).fill("https://example.org/minutes.pdf")
        fields.nth(3).fill("Partnership Manager")
        run_id = ui.submit_form(page, "record-completion")
        ui.work()
        state = ui.finished(run_id)
        assert state["type"] == "COMPLETED", state["message"]

        after = ui.artifact("compliance-summary-wfscp")["data"]
        assert target["Id"] not in after.split("## Recently done")[0]  # no longer open
        page.goto(ui.artifact_url("compliance-summary-wfscp"))
        settle(page, "Statutory clocks running")
        still_open, done = visible_text(page).split("Recently done", 1)
        assert target["Id"] not in still_open and target["Id"] in done


def every_column_on_the_first_screen(page) -> bool:
    """Each header and each id cell of the open-items table ends inside the 1440 px
    window, and no id is cut short by an ellipsis (the id must be copyable)."""
    return page.evaluate(
        """() => {
        const cells = [...document.querySelectorAll('table tr')].map(r => r.lastElementChild);
        const heads = [...document.querySelectorAll('table th')];
        if (!heads.length || heads[heads.length - 1].textContent.trim() !== 'Id') return false;
        const inside = el => el.getBoundingClientRect().right <= window.innerWidth;
        const whole = el => [el, ...el.querySelectorAll('*')].every(
            e => e.scrollWidth <= e.clientWidth + 1);
        return heads.every(inside) && cells.every(c => inside(c) && whole(c));
    }"""
    )
