"""The cockpit's artifacts when Prefect's API fails: a hung, unreachable or refusing
server ends the posting in bounded time with one line, and the poster process never
outlives the run that started it (flows/publish.py, flows/post_artifacts.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govcal.prefect_env import configure_prefect

configure_prefect()

from prefect.artifacts import MarkdownArtifact  # noqa: E402
from prefect.settings import PREFECT_API_URL, temporary_settings  # noqa: E402

from govcal.flows.publish import Publisher, PublishError, as_posted  # noqa: E402
from tests.smtp_server import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def hung_api() -> Iterator[str]:
    """An API that takes every connection and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    taken: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):  # the 0.1 s timeout: look at `done` again
                taken.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/api"
    done.set()
    thread.join()
    for connection in taken:
        connection.close()
    server.close()


@pytest.mark.parametrize("in_process", [False, True], ids=["poster-process", "in-process"])
def test_a_hung_api_ends_the_posting_in_bounded_time_with_one_line(hung_api, in_process):
    started = time.monotonic()
    with (
        temporary_settings({PREFECT_API_URL: hung_api}),
        pytest.raises(PublishError) as failed,
        Publisher(in_process=in_process, deadline=3) as post,
    ):
        post(as_posted([MarkdownArtifact(markdown="x", key="compliance-summary-x")]))
    assert time.monotonic() - started < 25  # 3 s, the poster's start and its grace
    message = str(failed.value)
    assert "did not take 1 of the cockpit's artifacts (0 posted)" in message
    assert "within 3 s" in message and "\n" not in message


@pytest.mark.parametrize("in_process", [False, True], ids=["poster-process", "in-process"])
def test_an_unreachable_api_is_named_without_the_password_in_its_url(monkeypatch, in_process):
    monkeypatch.setenv("PREFECT_CLIENT_MAX_RETRIES", "0")
    url = f"http://govcal:S3cretPW@127.0.0.1:{free_port()}/api"  # nothing listens there
    with (
        temporary_settings({PREFECT_API_URL: url}),
        pytest.raises(PublishError) as failed,
        Publisher(in_process=in_process, deadline=20) as post,
    ):
        post(as_posted([MarkdownArtifact(markdown="x", key="compliance-summary-x")]))
    message = str(failed.value)
    assert "could not reach Prefect's API (is the server up?)" in message
    assert "S3cretPW" not in message and "\n" not in message


POSTER = textwrap.dedent(
    """
    import sys, time
    from govcal.prefect_env import configure_prefect
    configure_prefect()
    from prefect.artifacts import MarkdownArtifact
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from govcal.flows.publish import Publisher, as_posted
    with temporary_settings({PREFECT_API_URL: sys.argv[1]}):
        with Publisher(deadline=612.5) as post:
            post(as_posted([MarkdownArtifact(markdown="x", key="compliance-summary-x")]))
            print("posting", flush=True)
            time.sleep(600)
    """
)


def as_in_a_terminal() -> None:
    """Ctrl-C as a terminal delivers it: a job started in the background (CI) inherits
    SIGINT ignored, and Python then never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def posters(deadline: str) -> list[int]:
    """The artifact posters running with this deadline (their command line names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"govcal.flows.post_artifacts" in words and deadline.encode() in words:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_the_poster_dies_with_the_run_that_started_it(hung_api, tmp_path, stop):
    run = subprocess.Popen(
        [sys.executable, "-c", POSTER, hung_api],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=as_in_a_terminal,
        env={**os.environ, "GOVCAL_DATA_DIR": str(tmp_path)},
    )
    try:
        assert run.stdout is not None and run.stdout.readline().strip() == "posting"
        assert len(posters("612.5")) == 1
        run.send_signal(stop)
        run.wait(timeout=10)  # Ctrl-C too: the run is not held by a hung API
        deadline = time.monotonic() + 10
        while posters("612.5") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert posters("612.5") == []
    finally:
        run.kill()
        for pid in posters("612.5"):
            os.kill(pid, signal.SIGKILL)
