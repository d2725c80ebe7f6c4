"""The production topology, started as separate processes by scripts/deploy-local:
PostgreSQL, a Prefect server on it, govcal web, and two workers with data folders of
their own. The national day for 20 partnerships runs in shares across the pool; one
worker is lost mid-run (killed with every flow run it started, as a machine would be)
and the day still completes, every message sent once, every feed served by the web app,
and evidence recorded on one worker read back on the other.

What costs time here is Prefect's, not govcal's: a flow-run process per share (imports
and the deployment's pull step) and the zombie automation's 90 s without a heartbeat. So
the day runs in two shares of ten, the worker is lost as soon as it has taken a share,
and the evidence is read back while the automation waits out those 90 s."""

from __future__ import annotations

import http.client
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench.generate import generate
from tests.smtp_server import SmtpServer
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DAY = "2035-11-26"
_spec = importlib.util.spec_from_file_location("run_local", ROOT / "deploy" / "run_local.py")
assert _spec is not None and _spec.loader is not None
run_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_local)


def _govcal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "govcal"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def topology(tmp_path, smtp):
    data = tmp_path / "national"
    generate(data, partnerships=20, schools=200)
    root = tmp_path / "topology"
    settings = {
        "GOVCAL_RULES_PATH": str(data / "rules"),
        "GOVCAL_DEFAULT_PARTNERSHIP": "syn-001",
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_HOST": "127.0.0.1",
        "GOVCAL_SMTP_PORT": str(smtp.port),
        "GOVCAL_SMTP_SECURITY": "none",
        # a free worker asks for work every second, not every 5 s: the day waits on
        # each share's pickup, a retry's too
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    command = [
        str(ROOT / "scripts" / "deploy-local"),
        "start",
        str(root),
        "--deploy",
        "national-day",
        "--deploy",
        "daily-share",
        *(f"--env={k}={v}" for k, v in settings.items()),
    ]
    started = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        shown = json.loads((root / "topology.json").read_text())
        env = run_local.environment_of(shown, "ops")
        loaded = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.phases",
                "sync",
                "--data",
                str(data),
                "--db",
                env["GOVCAL_DATABASE_URL"],
                "--as-of",
                DAY,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        yield shown
    finally:
        run_local.stop(root)


@contextmanager
def _client(topology: dict[str, Any]) -> Iterator[Any]:
    """A Prefect client of the topology's server (its URL and login)."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    given = {PREFECT_API_URL: topology["api"], PREFECT_API_AUTH_STRING: topology["login"]}
    with temporary_settings(updates=given), get_client(sync_client=True) as client:
        yield client


def _machine_of(topology: dict[str, Any], run: Any) -> str | None:
    """Which worker a flow run's process descends from, if it is running."""
    if not run.infrastructure_pid:
        return None
    pid = int(str(run.infrastructure_pid).rsplit(":", 1)[-1])
    for name in ("worker-1", "worker-2"):
        if pid in run_local.tree(topology["processes"][name]):
            return name
    return None


def _shares(client: Any) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["national-day"]))
    )


def _evidence_on_one_machine(topology: dict[str, Any]) -> dict[str, bytes]:
    """Three completions recorded with a file on worker-1's machine."""
    from sqlmodel import col, select

    from govcal.models import OccurrenceRow
    from govcal.models.db import session_scope

    one = run_local.environment_of(topology, "worker-1")
    with session_scope(one["GOVCAL_DATABASE_URL"]) as session:
        open_ids = session.exec(
            select(OccurrenceRow.public_id)
            .where(
                OccurrenceRow.lifecycle == "open",
                col(OccurrenceRow.due) < date(2026, 11, 1),
                col(OccurrenceRow.partnership_id).in_(["syn-001", "syn-002", "syn-003"]),
            )
            .order_by(OccurrenceRow.public_id)
        ).all()[:3]
    inbox = Path(one["GOVCAL_DATA_DIR"]) / "evidence-inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    kept = {}
    for number, public_id in enumerate(open_ids):
        content = f"%PDF-1.4 minutes {number} of {public_id}".encode()
        (inbox / f"minutes-{number}.pdf").write_bytes(content)
        done = _govcal(
            one, "complete", public_id, "--evidence", f"minutes-{number}.pdf", "--on", "2026-11-02"
        )
        assert done.returncode == 0, done.stderr
        kept[public_id] = content
    assert len(kept) == 3
    return kept


def test_the_national_day_runs_across_two_workers_and_completes_when_one_is_lost(
    topology, smtp, tmp_path
):
    from prefect.deployments import run_deployment
    from sqlmodel import col, select

    from govcal.models.db import session_scope
    from govcal.models.feed_tokens import FeedToken
    from govcal.models.ledger import LedgerEntry
    from govcal.models.served_feeds import ServedFeed

    evidence = _evidence_on_one_machine(topology)
    with _client(topology) as client:
        parent = run_deployment(
            "national-day/national-day",
            timeout=0,
            as_subflow=False,
            parameters={"as_of": DAY, "share_size": 10, "late_after_minutes": 15},
        )
        home = wait_until(
            lambda: _machine_of(topology, client.read_flow_run(parent.id)),
            300,
            "the national day to start on a worker",
        )
        other = "worker-2" if home == "worker-1" else "worker-1"

        def taken_by_other() -> bool:
            """A share's process started on `other` (Pending: the automation watches a
            run from the moment a worker takes it, deploy/zombie-shares.yaml)."""
            return any(_machine_of(topology, r) == other for r in _shares(client))

        wait_until(taken_by_other, 300, f"a share taken by {other}")
        run_local.lose(Path(topology["root"]), other)
        _evidence_read_on_both_machines(topology, evidence, tmp_path)  # in the 90 s

        def finished() -> Any:
            run = client.read_flow_run(parent.id)
            return run if run.state and run.state.is_final() else None

        day = wait_until(finished, 900, "the national day to end")
        assert day.state.is_completed(), day.state.message
        shares = _shares(client)
        summary = [a for a in client.read_artifacts() if a.key == "national-day"]
    assert summary and "**20 ran, 0 failed, 0 late.**" in summary[0].data
    retried = [r for r in shares if r.name.endswith("-try-2")]
    assert retried and all(r.state.is_completed() for r in retried)  # the lost share, again

    url = topology["env"]["GOVCAL_DATABASE_URL"]
    with session_scope(url) as session:
        rows = session.exec(select(LedgerEntry.status, LedgerEntry.message_key)).all()
        tokens = session.exec(
            select(FeedToken.token).join(ServedFeed, col(ServedFeed.key) == col(FeedToken.email))
        ).all()
    assert {status for status, _key in rows} <= {"sent", "skipped", "flagged"}
    ids = [str(r.message["Message-ID"]).strip("<>") for r in smtp.recorder.received]
    assert ids and max(Counter(ids).values()) == 1  # not one message twice
    keys = {i.split("@")[0].rsplit(".", 1)[0] for i in ids}  # KEY.HOST@DOMAIN
    assert keys == {key for status, key in rows if status == "sent"}  # and none missing

    assert len(tokens) > 20 * 10  # a feed per person with a role, and each group's
    port = int(topology["web"].rsplit(":", 1)[1])
    with ThreadPoolExecutor(4) as pool:  # both of govcal web's processes kept busy
        served = list(pool.map(lambda n: _feed(port, n, tokens[n]), range(len(tokens))))
    assert all(served), f"{served.count(False)} of {len(tokens)} feeds not served"


def _feed(port: int, number: int, token: str) -> bool:
    """A calendar fetched from a loopback address of its own per hundred feeds (govcal
    web allows 120 a minute from each)."""
    source = (f"127.0.1.{1 + number // 100}", 0)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=source)
    try:
        connection.request("GET", f"/feeds/{token}.ics")
        response = connection.getresponse()
        return response.status == 200 and response.read().startswith(b"BEGIN:VCALENDAR")
    finally:
        connection.close()


def _evidence_read_on_both_machines(
    topology: dict[str, Any], evidence: dict[str, bytes], tmp_path: Path
) -> None:
    for machine in ("worker-1", "worker-2"):
        env = run_local.environment_of(topology, machine)
        for number, (public_id, content) in enumerate(evidence.items()):
            out = tmp_path / f"{machine}-{number}.pdf"
            copied = _govcal(env, "evidence", public_id, "--out", str(out))
            assert copied.returncode == 0, copied.stderr
            assert out.read_bytes() == content
