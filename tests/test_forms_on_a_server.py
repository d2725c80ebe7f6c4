"""The forms as the business team meets them on a real Prefect server, run by the
README's process worker: found by their tag, named for people; each run named for what
it did; a refusal one red line (a Failed state's message) with no traceback in its logs;
the evidence pack downloadable from govcal's web app."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import httpx
import pytest

from govcal.flows.form_names import FORM_TAG, FORM_TITLES, JOB_TAG
from tests.cockpit_ui import Cockpit, api_headers, cockpit
from tests.smtp_server import free_port

pytestmark = [pytest.mark.xdist_group("prefect-server"), pytest.mark.slow]
SECRET = "forms-on-a-server-" + "s" * 32


def start(ui: Cockpit, flow: str, parameters: dict) -> str:
    """A run of a form's deployment, as the UI's Submit creates it; its id."""
    made = ui.post(
        f"/deployments/{ui.deployment(flow)['id']}/create_flow_run", {"parameters": parameters}
    )
    return made["id"]  # type: ignore[call-overload]


def run_of(ui: Cockpit, run_id: str) -> dict:
    return httpx.get(f"{ui.api}/flow_runs/{run_id}", headers=api_headers(), timeout=10).json()


def logs_of(ui: Cockpit, run_id: str) -> list[dict]:
    return ui.post(
        "/logs/filter",
        {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": 200},
    )  # type: ignore[return-value]


def test_forms_found_named_answered_in_one_line_and_the_pack_downloaded(
    tmp_path, prefect_server_url, monkeypatch
):
    from govcal.models.settings import get_settings
    from tests.support.web import serve

    port = free_port()
    with cockpit(tmp_path, prefect_server_url) as ui:
        # the Deployments list as the UI asks for it (V2: NAME_ASC, ten a page), filtered
        # by the forms' tag: every form on the first page, and nothing else
        page = ui.post(
            "/deployments/paginate",
            {
                "page": 1,
                "limit": 10,
                "sort": "NAME_ASC",
                "deployments": {"tags": {"all_": [FORM_TAG]}},
            },
        )
        names = [d["name"] for d in page["results"]]  # type: ignore[call-overload]
        assert page["count"] == 10 and set(names) == set(FORM_TITLES.values()) - {  # type: ignore[call-overload]
            "Make the evidence pack"
        }
        jobs = ui.post("/deployments/filter", {"deployments": {"tags": {"all_": [JOB_TAG]}}})
        assert "daily-compliance" in {d["name"] for d in jobs}  # type: ignore[union-attr]

        rows = json.loads(ui.artifact("compliance-wfscp")["data"])
        target = next(r for r in rows if "-audit:" not in r["Id"] and "incident" not in r["Id"])
        good = start(
            ui,
            "record-completion",
            {
                "form": {
                    "item": target["Id"],
                    "evidence": "https://example.org/minutes.pdf",
                    "completed_by": "Jo Bloggs",
                }
            },
        )
        bad = start(
            ui,
            "record-completion",
            {
                "form": {
                    "item": "the LSP meeting",
                    "evidence": "https://example.org/minutes.pdf",
                    "completed_by": "Jo Bloggs",
                }
            },
        )
        ui.env["GOVCAL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        ui.env["GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK"] = "true"
        ui.env["GOVCAL_WEB_SECRET"] = SECRET  # the worker signs, the web app checks
        pack = start(ui, "evidence-pack", {"partnership": "wfscp", "year": "2026"})
        ui.work()
        done, refused, packed = (ui.finished(r) for r in (good, bad, pack))

        assert done["type"] == "COMPLETED", done
        assert target["Id"] in done["message"] and "Jo Bloggs" in done["message"]
        assert run_of(ui, good)["name"].endswith("completed by Jo Bloggs")

        assert refused["type"] == "FAILED"
        assert refused["message"].startswith("'the LSP meeting' is not an id; paste it")
        assert "\n" not in refused["message"]
        assert run_of(ui, bad)["name"] == "Record a completion: refused, nothing changed"
        logged = logs_of(ui, bad)  # the cockpit's worker sends WARNING and above
        assert not [g for g in logged if g["level"] >= 40], logged  # no red ERROR
        assert not [g for g in logged if "Traceback" in g["message"]]

        assert packed["type"] == "COMPLETED", packed
        keys = ("evidence-pack-wfscp-2026-html", "evidence-pack-wfscp-2026-csv")
        found = {
            k: re.search(r"\]\((http://[^)]+)\)", ui.artifact(k)["data"]).group(1) for k in keys
        }  # type: ignore[union-attr]
        assert found["evidence-pack-wfscp-2026-html"] in packed["message"]  # the first screen

        for name in ("GOVCAL_DATA_DIR", "GOVCAL_WEB_SECRET", "GOVCAL_DATABASE_URL"):
            if name in ui.env:  # the worker's own settings
                monkeypatch.setenv(name, ui.env[name])
        get_settings.cache_clear()
        site = serve(port, now=datetime.now(UTC))
        try:
            html = httpx.get(found["evidence-pack-wfscp-2026-html"], timeout=30)
            table = httpx.get(found["evidence-pack-wfscp-2026-csv"], timeout=30)
        finally:
            site.stop()
        assert html.status_code == 200 and "Evidence pack" in html.text
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert table.status_code == 200 and rows and rows[0]["Id"].startswith("wfscp:")
