"""The cockpit in a real browser: a Prefect server on a free loopback port, the
deployments from prefect.yaml, a worker, daily-compliance over the sample, and headless
Chromium at 1440x1000 reading what a person sees on the first screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cockpit_ui import CHROMIUM, browser, cockpit, settle, visible_text

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("prefect-server"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs apt-get install chromium"),
]


def test_summary_and_completion_form_as_a_person_sees_them(tmp_path):
    with cockpit(tmp_path) as ui, browser() as page:
        rows = json.loads(ui.artifact("compliance-wfscp")["data"])
        summary = ui.artifact("compliance-summary-wfscp")["data"]
        first = next(line for line in summary.splitlines() if line.startswith("- "))
        title = first.split("**")[1]  # the most urgent item, as the summary lists it
        owner = first.split(" · ")[3].split(",")[0]  # its named owner
        urgent_id = first.rsplit("`", 2)[1]

        page.goto(ui.artifact_url("compliance-summary-wfscp"))
        settle(page, "Statutory clocks running")
        seen = visible_text(page)
        assert title in seen and urgent_id in seen
        assert owner in seen and "(sample)" in owner  # a named person, not a role id
        assert "business-team" not in seen

        page.goto(ui.form_url("record-completion"))
        settle(page, "Id from the email")
        seen = visible_text(page)
        assert "Id from the email" in seen and "Paste the id from the reminder email" in seen
        assert "str / None" not in seen

        target = next(r for r in rows if not r["Owner"].startswith("each of") and r["RAG"] == "🔴")
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
        assert target["Id"] not in after
        page.goto(ui.artifact_url("compliance-summary-wfscp"))
        settle(page, "Statutory clocks running")
        assert target["Id"] not in page.content()
