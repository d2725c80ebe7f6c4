"""A Prefect API server kept by `govcal serve`, found and reused by `govcal run`.

Without a server, every `govcal run` starts Prefect's ephemeral API in-process and stops
it again: 9-17 s on this 2-core machine, most of a run. `govcal serve` keeps Prefect's
own server (`prefect server start`) on a loopback port with its home under the data
folder, and writes where it listens to `<data>/prefect/api-server.json`. `govcal run`
reads that file and, if the server answers, points PREFECT_API_URL at it: the same
flows run, recorded in the same Prefect database, and the server's UI shows them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

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


def start(prefect_home: Path, port: int = 4200) -> tuple[ApiServer, subprocess.Popen]:
    """Start `prefect server start` on 127.0.0.1:`port` (0: any free port) and wait for
    it to answer. Its log goes to `<prefect home>/api-server.log`."""
    if port == 0:
        port = _free_port()
    elif not _port_is_free(port):
        raise ApiServerError(f"port {port} on 127.0.0.1 is in use; pass --port N (0 picks one)")
    url = f"http://127.0.0.1:{port}/api"
    prefect_home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": url,
        "PREFECT_UI_API_URL": url,  # the UI must call this port, not the default 4200
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    log = (prefect_home / "api-server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
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
