"""The web app's settings: the public address is https (http only on loopback, when the
setting named for it says so), the signing key is kept private, and `govcal web` runs
the app on its own."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time

import httpx
import pytest

from govcal.web.worker import listening_socket
from tests.smtp_server import free_port
from tests.support.web import NOW, Site, day_sent, public_data


def _govcal(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "govcal.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | env,
    )


@pytest.mark.parametrize(
    ("url", "allow", "said"),
    [
        ("http://govcal.example.org", "false", "must be https"),
        ("http://127.0.0.1:8080", "false", "GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK=true"),
        ("http://10.0.0.5:8080", "true", "must be https"),
        ("govcal.example.org", "false", "is not an address"),
    ],
)
def test_a_public_address_that_would_carry_tokens_in_clear_is_refused(url, allow, said):
    env = {"GOVCAL_PUBLIC_URL": url, "GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK": allow}
    done = _govcal("plan", env=env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "Traceback" not in done.stderr


def test_https_and_allowed_loopback_are_accepted():
    for env in (
        {"GOVCAL_PUBLIC_URL": "https://govcal.example.org"},
        {
            "GOVCAL_PUBLIC_URL": "http://127.0.0.1:8080",
            "GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK": "true",
        },
    ):
        assert _govcal("plan", env=env).returncode == 0


def test_the_embedded_signing_key_is_made_once_and_kept_private(tmp_path):
    from govcal.flows.runtime import web_secret
    from govcal.models.settings import get_settings

    first = web_secret(get_settings())
    kept = get_settings().data_dir / "web-secret"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert web_secret(get_settings()) == first and len(first) >= 32


def test_a_configured_database_needs_a_shared_key(postgres_url):
    done = _govcal("web", "--port", str(free_port()), env={"GOVCAL_DATABASE_URL": postgres_url})
    assert done.returncode == 2
    assert "GOVCAL_WEB_SECRET" in done.stderr and "Traceback" not in done.stderr


def test_govcal_web_runs_the_app_alone(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "govcal.cli", "web", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.2)
        page = httpx.get(f"http://127.0.0.1:{port}/a/AAAAAAAAAAAAAAAA.{'B' * 32}")
        assert page.status_code == 404 and "This link cannot be used" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def _children(pid: int) -> dict[int, str]:
    """A process's children and their command lines, as `ps` would list them."""
    found = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                parent = int(stat_file.read().rsplit(")", 1)[1].split()[1])
            if entry.isdigit() and parent == pid:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    found[int(entry)] = cmdline.read().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_an_answer_starts_no_prefect_server_when_none_is_configured(
    sample_data, tmp_path, monkeypatch
):
    """`govcal web` alone (no PREFECT_API_URL, no `govcal serve`): an answer is recorded,
    and its worker never starts a temporary Prefect server of its own to republish the
    cockpit (about 200 MB a worker, left running if the worker is killed); the next
    daily run republishes it."""
    from govcal.web.serving import Serving
    from govcal.web.worker import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    import govcal.flows.runtime as runtime

    built = runtime.build_runtime  # the worker's runtime, on the day the mail went out
    monkeypatch.setattr(runtime, "build_runtime", lambda **kw: built(clock=lambda: NOW, **kw))
    port = public_data(sample_data, tmp_path, monkeypatch)
    day_sent(tmp_path / "outbox")
    saved = dict(os.environ)  # the worker's Prefect settings stay in this test
    before = set(_children(os.getpid()))  # another test's server in this process is not ours
    serving = Serving(app(), "127.0.0.1", port).start()
    try:
        site = Site(f"http://127.0.0.1:{port}", tmp_path / "outbox", serving)
        forms = (
            (url, re.search(r'name="form_key" value="([^"]+)"', httpx.get(url).text))
            for _to, url, _m in site.links("Record that this was done")
        )
        url, key = next((url, key.group(1)) for url, key in forms if key)
        form = {"form_key": key, "evidence": "https://example.org/minutes.pdf"}
        assert httpx.post(url, data=form).status_code == 303
        deadline = time.monotonic() + 6  # Prefect's own server would be spawned in 1-2 s
        while time.monotonic() < deadline:
            started = {p: c for p, c in _children(os.getpid()).items() if p not in before}
            assert not [c for c in started.values() if "prefect" in c]
            time.sleep(0.2)
    finally:
        serving.stop()
        os.environ.clear()
        os.environ.update(saved)


def test_govcal_web_workers_starts_that_many_processes(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "govcal.cli", "web", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:  # both workers up: each answers on the one port
            workers = [p for p, c in _children(process.pid).items() if "spawn_main" in c]
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            except httpx.TransportError:
                answered = False
            if answered and len(workers) == 2:
                break
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.2)
        for _ in range(4):  # whichever worker takes it, a link page is the app's
            page = httpx.get(f"http://127.0.0.1:{port}/a/AAAAAAAAAAAAAAAA.{'B' * 32}")
            assert page.status_code == 404 and "This link cannot be used" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        out, _err = process.communicate(timeout=30)
    assert "2 worker processes" in out
    assert not [p for p in workers if os.path.exists(f"/proc/{p}")]  # all stopped with it


def test_govcal_serve_keeps_the_app_beside_its_schedule(tmp_path):
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "govcal.cli",
        "serve",
        "--no-api-server",
        "--web-port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        out, _err = process.communicate(timeout=30)
    assert f"web app: http://127.0.0.1:{port}" in out and "govcal serve stopped." in out


def _nodelay_of_accepted(sock: socket.socket) -> list[int]:
    """TCP_NODELAY of a connection accepted on `sock` by an asyncio server, as each
    uvicorn worker accepts them."""
    seen: list[int] = []

    class Note(asyncio.Protocol):
        def connection_made(self, transport):
            accepted = transport.get_extra_info("socket")
            seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Note, sock=sock)
        reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        await reader.read()  # until the server closes it
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    return seen


def test_the_workers_shared_socket_leaves_nagle_off_for_every_connection():
    """With --workers, each answer on a kept-alive connection waited ~40 ms for the
    client's delayed ACK unless Nagle is off: asyncio turns it off only for connections
    whose socket says TCP, which the workers' shared socket must."""
    assert _nodelay_of_accepted(listening_socket("127.0.0.1", 0)) == [1]
