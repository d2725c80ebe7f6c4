"""A Prefect API server kept by `govcal serve`, found and reused by `govcal run`.

Without a server, every `govcal run` starts Prefect's ephemeral API in-process and stops
it again: 9-17 s on this 2-core machine, most of a run. `govcal serve` keeps Prefect's
own server (`prefect server start`) on a loopback port with its home under the data
folder, and writes where it listens to `<data>/prefect/api-server.json`. `govcal run`
reads that file and, if the server answers, points PREFECT_API_URL at it: the same
flows run, recorded in the same Prefect database, and the server's UI shows them.
Both servers ask for a login (Prefect's API auth string, govcal/prefect_env.py): the
kept one's is in `<prefect home>/api-auth` (0600), the ephemeral one's is made for the
run and never written down.

Without `govcal serve`, `govcal run` starts Prefect's own ephemeral API itself
(`start_ephemeral`): the same app, command and settings Prefect would start, but spawned
first thing, so its 3-5 s boot runs on the other core while govcal imports Prefect and
checks its database, instead of after them (and Prefect's server modules are not imported
a second time into govcal's own process, 2.5 s). It is stopped when the process exits.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcal.flows.children import dies_with_parent

STARTUP_TIMEOUT_S = 90.0  # about 12 s on a quiet 2-core machine; far more when busy


class ApiServerError(RuntimeError):
    """The server could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class ApiServer:
    url: str  # the API, e.g. http://127.0.0.1:4200/api
    pid: int

    @property
    def ui(self) -> str:
        return self.url.removesuffix("/api")


def marker(prefect_home: Path) -> Path:
    return prefect_home / "api-server.json"


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Prefect API answers its health check at `url` (loopback only)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def running(prefect_home: Path) -> ApiServer | None:
    """The server `govcal serve` keeps for this Prefect home, if it is up and answers."""
    try:
        info = json.loads(marker(prefect_home).read_text(encoding="utf-8"))
        server = ApiServer(str(info["url"]), int(info["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not server.url.startswith("http://127.0.0.1:") or not answers(server.url):
        return None
    return server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def child(command: list[str], *, env: dict[str, str], stdout: Any) -> subprocess.Popen:
    """A server process that never outlives the govcal process that started it
    (flows/children.py)."""
    return subprocess.Popen(
        command,
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=dies_with_parent(),
    )


def start(prefect_home: Path, port: int = 4200) -> tuple[ApiServer, subprocess.Popen]:
    """Start `prefect server start` on 127.0.0.1:`port` (0: any free port), asking for
    the login in `<prefect home>/api-auth`, and wait for it to answer. Its log goes to
    `<prefect home>/api-server.log`. This process's own calls log in too."""
    from govcal.prefect_env import UI_DEFAULTS, api_auth

    if port == 0:
        port = _free_port()
    elif not _port_is_free(port):
        raise ApiServerError(f"port {port} on 127.0.0.1 is in use; pass --port N (0 picks one)")
    url = f"http://127.0.0.1:{port}/api"
    prefect_home.mkdir(parents=True, exist_ok=True)
    auth = api_auth(prefect_home)
    os.environ["PREFECT_API_AUTH_STRING"] = auth
    env = {
        **UI_DEFAULTS,  # the operator's own choice of UI, if any, wins
        **os.environ,
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": url,
        "PREFECT_UI_API_URL": url,  # the UI must call this port, not the default 4200
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    log = (prefect_home / "api-server.log").open("ab")
    process = child(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
    )
    log.close()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not answers(url, timeout=2.0):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise ApiServerError(
                f"the Prefect server did not start on {url}; see {prefect_home / 'api-server.log'}"
            )
        time.sleep(0.25)
    server = ApiServer(url, process.pid)
    marker(prefect_home).write_text(json.dumps({"url": url, "pid": process.pid}), "utf-8")
    return server, process


def stop(process: subprocess.Popen, prefect_home: Path | None = None) -> None:
    """Stop the server (SIGINT, as Prefect expects) and forget it."""
    if prefect_home is not None:
        path = marker(prefect_home)
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == process.pid:
                path.unlink()
        except (OSError, ValueError):
            pass
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Ephemeral:
    url: str
    process: subprocess.Popen
    log: Path


_ephemeral: Ephemeral | None = None


def start_ephemeral(prefect_home: Path) -> str:
    """Spawn Prefect's ephemeral API (UI off, as Prefect does) on a free loopback port
    without waiting for it, and point PREFECT_API_URL at it: call before Prefect is
    imported. Once per process; stopped at exit, after Prefect has flushed its logs and
    events (those drain before `atexit` hooks run)."""
    global _ephemeral
    if _ephemeral is not None:
        return _ephemeral.url
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    spec = importlib.util.find_spec("prefect")  # its folder, without importing it
    assert spec is not None and spec.origin is not None
    auth = os.environ.get("PREFECT_API_AUTH_STRING") or secrets.token_urlsafe(24)
    os.environ["PREFECT_API_AUTH_STRING"] = auth  # this process (and its poster) log in
    env = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        "PREFECT_SERVER_API_AUTH_STRING": auth,
    }
    log_path = prefect_home / "ephemeral-api.log"
    log = log_path.open("ab")
    process = child(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(Path(spec.origin).parent.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        env=env,
        stdout=log,
    )
    log.close()
    _ephemeral = Ephemeral(url, process, log_path)
    atexit.register(stop_ephemeral)
    os.environ["PREFECT_API_URL"] = url
    return url


def wait_for_ephemeral() -> None:
    """Wait until the ephemeral API started by `start_ephemeral` answers."""
    if _ephemeral is None:
        return
    limit = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90"))
    deadline = time.monotonic() + limit
    while not answers(_ephemeral.url, timeout=2.0):
        if _ephemeral.process.poll() is not None or time.monotonic() > deadline:
            stop_ephemeral()
            raise ApiServerError(
                f"Prefect's local API did not start on {_ephemeral.url}; see {_ephemeral.log}"
            )
        time.sleep(0.05)


def stop_ephemeral() -> None:
    """Stop the ephemeral API as Prefect does (SIGTERM, then kill after 5 s)."""
    if _ephemeral is None or _ephemeral.process.poll() is not None:
        return
    _ephemeral.process.terminate()
    try:
        _ephemeral.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _ephemeral.process.kill()
        _ephemeral.process.wait()
