"""A form submitted through a real Prefect server's API is run by `govcal forms-runner`
(the runner `govcal serve` keeps too) and ends with its answer; one left without an id
pauses with its drop-down and, resumed with a choice, records it. Correctness only: the
time from Submit to the answer is measured by bench/forms.py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import httpx
import pytest

from govcal.flows.form_names import deployment_of
from tests.cockpit_ui import api_headers
from tests.support.processes import wait_until
from tests.test_prefect_server import BIN, ROOT, cli, prefect_server  # noqa: F401

pytestmark = [pytest.mark.xdist_group("prefect-server"), pytest.mark.slow]
LSP = "wfscp:lsp-meeting:2026-11-11"


def call(method: str, url: str, **kwargs) -> httpx.Response:
    """One API call, asked again while the server answers 503 (busy), as Prefect's own
    client does."""

    def answered():
        response = httpx.request(method, url, headers=api_headers(), timeout=30, **kwargs)
        return None if response.status_code == 503 else response

    response = wait_until(answered, 120, f"{method} {url} to be answered")
    response.raise_for_status()
    return response


def submit(api: str, name: str, parameters: dict) -> str:
    deployment = call("GET", f"{api}/deployments/name/{name}/{deployment_of(name)}")
    made = call(
        "POST",
        f"{api}/deployments/{deployment.json()['id']}/create_flow_run",
        json={"parameters": parameters},
    )
    return made.json()["id"]


def state_of(api: str, run_id: str, *types: str) -> dict | None:
    state = call("GET", f"{api}/flow_runs/{run_id}").json()["state"]
    return state if state["type"] in types else None


def test_forms_submitted_through_the_api_are_run_by_the_forms_runner(prefect_server):  # noqa: F811
    api, env = prefect_server
    env = {**env, "PREFECT_API_AUTH_STRING": os.environ["PREFECT_API_AUTH_STRING"]}
    sample = ROOT / "models" / "sample_directory" / "wfscp"
    cli(env, BIN / "govcal", "import", str(sample))
    cli(env, BIN / "govcal", "sync", "--as-of", "2026-11-24")
    cli(env, BIN / "prefect", "work-pool", "create", "govcal", "--type", "process", "--overwrite")
    cli(env, BIN / "prefect", "--no-prompt", "deploy", "--all")
    runner = subprocess.Popen(
        [BIN / "govcal", "forms-runner"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        form = {
            "item": LSP,
            "evidence": "https://example.org/minutes.pdf",
            "completed_by": "Jo Bloggs",
        }
        done = submit(api, "record-completion", {"form": form, "as_of": "24/11/2026"})
        final = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
        state = wait_until(lambda: state_of(api, done, *final), 180, "the form to be run")
        assert state["type"] == "COMPLETED", state
        assert state["message"].startswith("Joint Lead Safeguarding Partners meeting"), state
        assert f"({LSP}) completed on 2026-11-24" in state["message"]

        chosen = submit(
            api,
            "waive-item",
            {
                "form": {"item": "", "reason": "not needed this year", "by": "Jo Bloggs"},
                "as_of": "24/11/2026",
            },
        )
        paused = wait_until(lambda: state_of(api, chosen, "PAUSED", *final), 180, "the pause")
        assert paused["type"] == "PAUSED", paused
        keyset = paused["state_details"]["run_input_keyset"]

        def schema_saved():  # just after the pause, as the UI finds it
            url = f"{api}/flow_runs/{chosen}/input/{keyset['schema']}"
            found = httpx.get(url, headers=api_headers(), timeout=30)
            return found.json() if found.status_code == 200 else None

        schema = wait_until(schema_saved, 60, "the drop-down's schema")
        schema = json.loads(schema) if isinstance(schema, str) else schema
        labels = next(d["enum"] for d in schema["definitions"].values() if "enum" in d)
        call("POST", f"{api}/flow_runs/{chosen}/resume", json={"run_input": {"item": labels[0]}})
        waived = wait_until(lambda: state_of(api, chosen, *final), 180, "the resumed form")
        assert waived["type"] == "COMPLETED", waived
        assert re.search(r"\(wfscp:[^)]+\) waived: not needed this year", waived["message"])
    finally:
        runner.send_signal(signal.SIGINT)
        output, _ = runner.communicate(timeout=60)
    assert "forms runner: the 'forms' queue of pool 'govcal'" in output
    assert "Traceback" not in output, output
