"""`govcal serve`: keep the flows on schedule in-process until interrupted."""

from __future__ import annotations

import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from govcal.cli.common import database, out, runtime
from govcal.prefect_env import configure_prefect


def serve() -> None:
    """Run daily-compliance (working days 07:00), send-invites (07:30) and publish-feeds
    (hourly) on schedule, Europe/London time. Ctrl-C stops cleanly."""
    from flows.scheduler import configure, default_jobs, install

    configure_prefect()
    run = runtime()
    run.transport()  # a missing secret block is said now, not at the first 07:00 run
    with database():
        pass  # creates and migrates the embedded database, or says what is wrong
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or a service manager's stop
        signal.signal(signum, lambda *_: stop.set())
    scheduler = BackgroundScheduler()
    configure(scheduler, run.settings.effective_database_url)
    scheduler.start(paused=True)
    kept = install(scheduler, default_jobs())
    for job in scheduler.get_jobs():
        note = " (kept: a run missed while stopped catches up now)" if job.id in kept else ""
        out.print(f"scheduled {job.id}: next run {job.next_run_time:%Y-%m-%d %H:%M %Z}{note}")
    out.print("govcal serve is running; press Ctrl-C to stop.")
    scheduler.resume()
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        out.print("govcal serve stopped.")
