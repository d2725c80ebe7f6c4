"""govcal serve: jobs fire on schedule, survive a restart, and catch up a missed run once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from govcal.flows.scheduler import ScheduledJob, configure, default_jobs, install

LONDON = ZoneInfo("Europe/London")
RUNS = Path(os.environ.get("GOVCAL_TEST_RUNS_FILE", "/tmp/govcal-runs"))


def record_run() -> None:
    """A stand-in job (module level, so the job store can pickle a reference to it)."""
    with open(os.environ["GOVCAL_TEST_RUNS_FILE"], "a") as out:
        out.write("run\n")


def started(url: str, jobs: list[ScheduledJob]) -> tuple[BackgroundScheduler, threading.Event]:
    scheduler = BackgroundScheduler()
    configure(scheduler, url)
    fired = threading.Event()
    scheduler.add_listener(lambda _event: fired.set(), EVENT_JOB_EXECUTED)
    scheduler.start(paused=True)
    install(scheduler, jobs)
    scheduler.resume()
    return scheduler, fired


def runs(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_job_fires_on_its_schedule(tmp_path, monkeypatch):
    path = tmp_path / "runs"
    monkeypatch.setenv("GOVCAL_TEST_RUNS_FILE", str(path))
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    job = ScheduledJob("heartbeat", "tests.test_scheduler:record_run", IntervalTrigger(seconds=1))
    scheduler, fired = started(url, [job])
    try:
        assert fired.wait(timeout=10), "the job did not fire within 10 s"
    finally:
        scheduler.shutdown(wait=True)
    assert runs(path) >= 1


def test_a_run_missed_while_stopped_catches_up_once_after_restart(tmp_path, monkeypatch):
    path = tmp_path / "runs"
    monkeypatch.setenv("GOVCAL_TEST_RUNS_FILE", str(path))
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    daily = CronTrigger(day_of_week="mon-fri", hour=7, minute=0, timezone=LONDON)
    job = ScheduledJob("daily-compliance", "tests.test_scheduler:record_run", daily)
    friday_evening = datetime(2026, 11, 20, 18, 0, tzinfo=LONDON)
    with time_machine.travel(friday_evening, tick=True):
        scheduler, _ = started(url, [job])
        next_run = scheduler.get_job("daily-compliance").next_run_time
        scheduler.shutdown(wait=True)
    assert next_run == datetime(2026, 11, 23, 7, 0, tzinfo=LONDON)  # Monday, not Saturday
    assert runs(path) == 0

    # down all Monday and Tuesday: two 07:00 runs missed; restarted Tuesday 10:00
    with time_machine.travel(datetime(2026, 11, 24, 10, 0, tzinfo=LONDON), tick=True):
        scheduler, fired = started(url, [job])
        try:
            assert fired.wait(timeout=10), "the missed run did not catch up"
            assert scheduler.get_job("daily-compliance").next_run_time == datetime(
                2026, 11, 25, 7, 0, tzinfo=LONDON
            )
        finally:
            scheduler.shutdown(wait=True)
    assert runs(path) == 1  # coalesced: caught up once, not once per missed day


def test_govcal_serve_runs_every_schedule_of_prefect_yaml_at_the_same_times():
    """`govcal serve` had three jobs where prefect.yaml has five (the S11 and S175 cycles
    never opened in the embedded mode), and this test compared one cron string. Now each
    scheduled deployment must be a job with the same flow and parameters, firing when
    Prefect's own server would fire it (its CronSchedule), across a clock change."""
    import asyncio

    import yaml
    from prefect.server.schemas.schedules import CronSchedule

    deployments = yaml.safe_load(Path("prefect.yaml").read_text())["deployments"]
    scheduled = [d for d in deployments if d.get("schedules")]
    jobs = {j.id: j for j in default_jobs()}
    assert sorted(jobs) == sorted(d["name"] for d in scheduled)
    assert {"open-s11-cycle-wfscp", "open-s175-cycle-wfscp"} <= set(jobs)
    for d in scheduled:
        job, [schedule] = jobs[d["name"]], d["schedules"]
        assert job.args == (d["entrypoint"], d.get("parameters") or {})
        prefect = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
        for start in (
            datetime(2026, 3, 20, 6, 0, tzinfo=LONDON),
            datetime(2026, 10, 20, 6, 0, tzinfo=LONDON),
        ):
            expected = asyncio.run(prefect.get_dates(n=12, start=start))
            fired, at = [], start - timedelta(microseconds=1)
            for _ in range(12):
                at = job.trigger.get_next_fire_time(None, at + timedelta(microseconds=1))
                fired.append(at)
            assert [f.timestamp() for f in fired] == [e.timestamp() for e in expected], d["name"]


def test_govcal_serve_starts_lists_its_jobs_and_stops_cleanly(tmp_path):
    env = {**os.environ, "GOVCAL_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "govcal.cli", "serve", "--no-api-server"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if "press Ctrl-C" in line:
            break
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=60)
    output = "".join(lines) + rest
    assert process.returncode == 0, errors
    assert "scheduled daily-compliance: next run" in output
    assert "scheduled open-s11-cycle-wfscp: next run" in output  # every prefect.yaml schedule
    assert "scheduled open-s175-cycle-wfscp: next run" in output
    assert "scheduled publish-feeds" in output and "govcal serve stopped." in output
    assert (tmp_path / "data" / "govcal.db").exists()
