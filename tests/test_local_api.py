"""`govcal serve` keeps a Prefect server; `govcal run` finds it and runs its flows there."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from govcal.local_api import marker, running
from govcal.prefect_env import configure_prefect
from tests.support.paths import GOVCAL
from tests.support.processes import wait_until


def test_no_marker_a_dead_server_or_a_remote_url_is_not_reused(tmp_path, monkeypatch):
    home = tmp_path / "prefect"
    home.mkdir()
    assert running(home) is None
    marker(home).write_text(json.dumps({"url": "http://127.0.0.1:9/api", "pid": 1}))
    assert running(home) is None  # nothing answers on port 9
    marker(home).write_text(json.dumps({"url": "http://example.org/api", "pid": 1}))
    assert running(home) is None  # only a loopback server of ours is reused
    marker(home).write_text("{not json")
    assert running(home) is None
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(home))
    assert configure_prefect() is None
    assert "PREFECT_API_URL" not in os.environ


def test_run_now_is_taken_by_a_serve_with_the_same_settings_only(tmp_path, monkeypatch):
    """`govcal run` hands its day to a running serve only if both read the same settings
    (else it would run on another database or transport); a stopped serve takes nothing."""
    from datetime import date

    from govcal import run_now
    from govcal.models.settings import get_settings

    monkeypatch.setenv("GOVCAL_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    days: list[date] = []

    def run_flow(day: date) -> dict:
        days.append(day)
        return {"state": "Completed", "message": "", "result": {"as_of": day.isoformat()}}

    serve = run_now.RunNowServer(tmp_path, run_flow, warm=None)
    try:
        outcome = run_now.ask(tmp_path, date(2026, 11, 24))
        assert outcome == {"state": "Completed", "message": "", "result": {"as_of": "2026-11-24"}}
        assert run_now.marker(tmp_path).stat().st_mode & 0o777 == 0o600  # the token's file
        monkeypatch.setenv("GOVCAL_MAIL_FROM_NAME", "Another installation")
        get_settings.cache_clear()  # a `govcal run` started with another environment
        with pytest.raises(run_now.Declined, match="runs with other settings"):
            run_now.ask(tmp_path, date(2026, 11, 25))  # said, then run in its own process
        monkeypatch.delenv("GOVCAL_MAIL_FROM_NAME")
        get_settings.cache_clear()
        real = run_now.marker(tmp_path).read_text()
        run_now.marker(tmp_path).write_text(real.replace('"token": "', '"token": "x'))
        with pytest.raises(run_now.Declined, match="did not accept the token"):
            run_now.ask(tmp_path, date(2026, 11, 25))
        run_now.marker(tmp_path).write_text("{not json")
        with pytest.raises(run_now.Declined, match="is damaged"):
            run_now.ask(tmp_path, date(2026, 11, 25))
        run_now.marker(tmp_path).write_text(real)
    finally:
        serve.close()
    get_settings.cache_clear()
    assert run_now.ask(tmp_path, date(2026, 11, 26)) is None  # no serve: nothing to say
    assert days == [date(2026, 11, 24)]


def test_a_relative_rules_path_from_another_folder_is_other_settings(tmp_path, monkeypatch):
    """GOVCAL_RULES_PATH=rules in two working folders names two rule sets: a serve
    started in one must not run the day of a `govcal run` started in the other."""
    from datetime import date

    from govcal import run_now
    from govcal.models.settings import get_settings

    for folder in ("a", "b"):
        (tmp_path / folder / "rules").mkdir(parents=True)
    monkeypatch.setenv("GOVCAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOVCAL_RULES_PATH", "rules")
    monkeypatch.chdir(tmp_path / "a")
    get_settings.cache_clear()
    days: list[date] = []
    serve = run_now.RunNowServer(
        tmp_path,
        lambda day: days.append(day) or {"state": "Completed", "message": "", "result": None},
        warm=None,
    )
    try:
        monkeypatch.chdir(tmp_path / "b")
        get_settings.cache_clear()
        with pytest.raises(run_now.Declined, match="runs with other settings"):
            run_now.ask(tmp_path, date(2026, 11, 24))
        monkeypatch.chdir(tmp_path / "a")
        get_settings.cache_clear()
        assert run_now.ask(tmp_path, date(2026, 11, 25))["state"] == "Completed"
    finally:
        serve.close()
        get_settings.cache_clear()
    assert days == [date(2026, 11, 25)]


def test_an_answer_that_is_not_a_runs_outcome_is_declined_not_a_crash(tmp_path):
    """Whatever else listens on the port run-now.json names (serve gone, port reused)
    gets no trust: an answer without a state is declined and the day runs here."""
    import threading
    from datetime import date
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from govcal import run_now

    class Other(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Other)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{other.server_address[1]}/run"
        run_now.marker(tmp_path).write_text(json.dumps({"url": url, "token": "t"}))
        with pytest.raises(run_now.Declined, match="not a run's outcome"):
            run_now.ask(tmp_path, date(2026, 11, 24))
    finally:
        other.shutdown()
        other.server_close()


def _login(login: str) -> dict[str, str]:
    """As Prefect's client and UI send it."""
    return {"Authorization": f"Basic {base64.b64encode(login.encode()).decode()}"}


def _post(url: str, body: dict, login: str | None = None) -> list[dict]:
    headers = {"Content-Type": "application/json"}
    if login is not None:
        headers |= _login(login)
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_run_reuses_the_server_kept_by_serve_and_its_runs_are_recorded_there(tmp_path):
    env = {**os.environ, "GOVCAL_DATA_DIR": str(tmp_path / "data")}
    env.pop("PREFECT_HOME", None)
    env.pop("PREFECT_API_URL", None)
    serve = subprocess.Popen(
        [*GOVCAL, "serve", "--port", "0", "--web-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert serve.stdout is not None
    lines = []
    try:
        for line in serve.stdout:
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        ui = next(x for x in lines if x.startswith("Prefect server: ")).split()[2]
        api = f"{ui}/api"
        home = Path(env["GOVCAL_DATA_DIR"]) / "prefect"
        assert json.loads(marker(home).read_text())["url"] == api
        # the server asks for a login: without it nobody reads a Secret block or runs a form
        login_file = home / "api-auth"
        assert stat.S_IMODE(login_file.stat().st_mode) == 0o600
        login = login_file.read_text().strip()
        told = next(x for x in lines if x.startswith("It asks for a login"))
        assert str(login_file) in told and login not in "".join(lines)
        with pytest.raises(urllib.error.HTTPError) as refused:
            _post(f"{api}/block_documents/filter", {"include_secrets": True})
        assert refused.value.code == 401
        assert _post(f"{api}/block_documents/filter", {"include_secrets": True}, login) == []
        # set for a business team: the address opens V1, with no promotional content
        with urllib.request.urlopen(f"{ui}/ui-settings", timeout=30) as response:
            assert json.loads(response.read())["default_ui"] == "v1"
        request = urllib.request.Request(f"{api}/admin/settings", headers=_login(login))
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["server"]["ui"]["show_promotional_content"] is False
        # the summary's fixed address, served by the web app serve keeps
        address = next(x for x in lines if x.startswith("Summary of wfscp")).split()[-1]
        with urllib.request.urlopen(address, timeout=60) as response:
            assert "Statutory clocks running" in response.read().decode()

        run = subprocess.run(
            [*GOVCAL, "run", "--as-of", "2026-11-24"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert f"Prefect API: {api} (kept by `govcal serve`)" in run.stdout
        assert "Run by `govcal serve`, where Prefect is already loaded." in run.stdout
        assert "Sent " in run.stdout and "calendar feeds under" in run.stdout  # the summary

        flows = {f["id"]: f["name"] for f in _post(f"{api}/flows/filter", {}, login)}
        runs = _post(f"{api}/flow_runs/filter", {}, login)
        daily = [
            r["id"]
            for r in runs
            if r["state_type"] == "COMPLETED" and flows[r["flow_id"]] == "daily-compliance"
        ]
        assert daily
        tasks = _post(f"{api}/task_runs/filter", {"flow_runs": {"id": {"any_": daily}}}, login)
        names = {t["name"].rsplit("-", 1)[0] for t in tasks}
        assert {"sync-calendar", "publish-dashboard", "publish-feeds"} <= names  # one run
    finally:
        serve.send_signal(signal.SIGINT)
        rest, errors = serve.communicate(timeout=90)
    assert serve.returncode == 0, errors
    assert "govcal serve stopped." in rest
    assert not marker(home).exists()  # a stopped server is never offered to a run
    assert not (home / "run-now.json").exists()  # nor a stopped serve


def test_a_server_started_by_govcal_dies_with_it_even_on_kill_9(tmp_path):
    """serve killed with -9 must not leave its Prefect server holding the port (the next
    `govcal run` took the orphan for serve's): the kernel stops the child with it."""
    import sys

    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time\n"
            "from govcal.local_api import child\n"
            "server = child([sys.executable, '-c', 'import time; time.sleep(120)'],\n"
            "               env=dict(os.environ), stdout=None)\n"
            "print(server.pid, flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    server_pid = int(parent.stdout.readline())
    assert _alive(server_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    wait_until(lambda: not _alive(server_pid), 30, "the server to stop with its parent")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"  # a zombie has already exited
