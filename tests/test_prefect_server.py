"""End to end against a real `prefect server` on 127.0.0.1 (the one the browser test
uses too): deploy from prefect.yaml, trigger daily-compliance through the API, let a
process worker run it, and read the dashboard table back through the API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cockpit_ui import api_headers
from tests.support.processes import wait_until

pytestmark = [pytest.mark.xdist_group("prefect-server"), pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture
def prefect_server(tmp_path, prefect_server_url):
    """The real server shared by this xdist group; this test's own data folder and
    Prefect client home."""
    api = f"{prefect_server_url}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "GOVCAL_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_API_URL": api,
    }
    return api, env


def cli(env, *args: str, timeout: float = 180) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_deploy_trigger_work_and_read_the_dashboard_through_the_api(prefect_server):
    api, env = prefect_server
    from typer.testing import CliRunner

    from govcal.cli import app

    # the directory imported in this process, into the same data folder (isolated_settings):
    # set-up; `govcal import` keeps its own interpreter in test_cli_records
    sample = ROOT / "models" / "sample_directory" / "wfscp"
    assert CliRunner().invoke(app, ["import", str(sample)]).exit_code == 0
    cli(env, BIN / "prefect", "work-pool", "create", "govcal", "--type", "process", "--overwrite")
    deployed = cli(env, BIN / "prefect", "--no-prompt", "deploy", "--all")
    assert "daily-compliance/daily-compliance" in deployed

    deployments = httpx.post(
        f"{api}/deployments/filter", json={"limit": 50}, headers=api_headers()
    ).json()
    names = {d["name"] for d in deployments}
    assert {"daily-compliance", "send-invites", "publish-feeds", "Record a completion"} <= names
    daily = next(d for d in deployments if d["name"] == "daily-compliance")
    schedules = httpx.get(
        f"{api}/deployments/{daily['id']}/schedules", headers=api_headers()
    ).json()
    assert schedules[0]["schedule"]["cron"] == "0 7 * * 1-5"
    assert schedules[0]["schedule"]["timezone"] == "Europe/London"

    started = cli(
        env,
        BIN / "prefect",
        "deployment",
        "run",
        "daily-compliance/daily-compliance",
        "--param",
        "as_of=2026-10-05",
    )
    run_id = re.search(r"flow-run/([0-9a-f-]{36})", started).group(1)
    cli(env, BIN / "prefect", "worker", "start", "--pool", "govcal", "--run-once", timeout=300)

    def finished():
        state = httpx.get(f"{api}/flow_runs/{run_id}", headers=api_headers()).json()["state"]
        return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    state = wait_until(finished, 120, "the flow run to finish")
    assert state["type"] == "COMPLETED", state

    found = httpx.post(
        f"{api}/artifacts/filter",
        json={
            "artifacts": {"key": {"any_": ["compliance-wfscp"]}},
            "limit": 5,
            "offset": 0,
            "sort": "CREATED_DESC",
        },
        headers=api_headers(),
    ).json()
    assert found, "no compliance-wfscp artifact"
    rows = json.loads(found[0]["data"])
    ids = {r["Id"] for r in rows}
    assert "wfscp:lsp-meeting:2026-11-11" in ids
    assert list(rows[0]) == ["What", "Due", "Owner", "Id"]
    outbox = Path(env["GOVCAL_DATA_DIR"]) / "outbox"
    assert len(list(outbox.glob("*.eml"))) > 20  # the worker wrote the reminders


def test_an_emails_form_link_is_found_on_a_server_that_asks_for_a_login(prefect_server):
    """Every Prefect server govcal starts asks for a login: the look-up that turns a bare
    GOVCAL_UI_URL into the record-completion form's own address logs in as Prefect's
    client does, or every email would send people to the Deployments list instead."""
    from govcal.flows.ui_links import RECORD, act_url

    api, _env = prefect_server
    headers = api_headers()
    flow = httpx.post(f"{api}/flows/", json={"name": RECORD[0]}, headers=headers, timeout=30)
    flow.raise_for_status()
    made = httpx.post(
        f"{api}/deployments/",
        headers=headers,
        timeout=30,
        json={
            "name": RECORD[1],
            "flow_id": flow.json()["id"],
            "entrypoint": "flows/jobs.py:x",
        },
    )
    made.raise_for_status()
    base = api.removesuffix("/api")
    assert act_url(base + "/") == f"{base}/deployments/deployment/{made.json()['id']}/run"
