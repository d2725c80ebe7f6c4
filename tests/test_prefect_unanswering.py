"""`govcal run` when Prefect's API is down or hung: the day's mail and feeds are done
all the same, one line says the dashboard was not posted, exit 5, in bounded time
(found: a 144-line traceback and no mail when down, over 400 s when hung)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govcal.exit_codes import COCKPIT
from tests.smtp_server import free_port
from tests.support.paths import GOVCAL

BOUND_S = 120  # the run itself takes 10-20 s on a busy 2-core machine


@pytest.fixture
def silent_api() -> Iterator[str]:
    """A server that accepts every connection and never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:  # closed: the test is over
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/api"
    listener.close()
    for connection in held:
        connection.close()


def run_against(
    api: str, folder: Path, **extra: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "GOVCAL_DATA_DIR": str(folder), "PREFECT_API_URL": api, **extra}
    env.pop("PREFECT_HOME", None)
    started = time.monotonic()
    result = subprocess.run(
        [*GOVCAL, "run", "--as-of", "2026-11-24"],
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND_S * 3,
        check=False,
    )
    return result, time.monotonic() - started


def assert_the_day_was_done(
    result: subprocess.CompletedProcess[str], folder: Path, why: str = "did not answer"
) -> None:
    assert result.returncode == COCKPIT, result.stderr[-2000:]
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "Error: the dashboard was not all posted to Prefect's API (mail "
        f"and feeds are done): Prefect's API {why}"
    )
    assert "127.0.0.1" not in line  # a URL is never repeated: it may carry a password
    mail = list((folder / "outbox").glob("*.eml"))
    assert mail and f"Sent {len(mail)} message(s)" in result.stdout
    assert (folder / "feeds" / "wfscp.ics").is_file()
    assert "As of 2026-11-24: 6 overdue" in result.stdout


def test_a_run_with_prefects_api_down_does_the_days_work_and_exits_5(tmp_path):
    result, took = run_against(f"http://127.0.0.1:{free_port()}/api", tmp_path / "data")
    assert_the_day_was_done(result, tmp_path / "data")
    assert took < BOUND_S


def test_a_run_with_an_api_that_never_answers_is_bounded(tmp_path, silent_api):
    result, took = run_against(silent_api, tmp_path / "data")
    assert_the_day_was_done(result, tmp_path / "data")
    assert took < BOUND_S


@pytest.mark.slow  # a real Prefect server, which asks for a login
@pytest.mark.xdist_group("prefect-server")
def test_a_run_with_the_wrong_login_does_the_days_work_and_says_so(tmp_path, prefect_server_url):
    api = f"{prefect_server_url}/api"
    result, took = run_against(api, tmp_path / "data", PREFECT_API_AUTH_STRING="not-the-login")
    assert_the_day_was_done(
        result, tmp_path / "data", "refused the login (HTTP 401): check PREFECT_API_AUTH_STRING"
    )
    assert took < BOUND_S
