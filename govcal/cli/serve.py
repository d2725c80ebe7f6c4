"""`govcal serve`: keep the flows on schedule, and a Prefect API for them, until stopped."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from govcal.cli.common import database, err, out, runtime
from govcal.prefect_env import auth_file, configure_prefect


def serve(
    port: Annotated[
        int,
        typer.Option(
            "--port",
            help="The Prefect server's port on 127.0.0.1 (0: any free); it asks for a login.",
        ),
    ] = 4200,
    api_server: Annotated[
        bool,
        typer.Option(
            "--api-server/--no-api-server",
            help="Keep a Prefect server (its UI too) that `govcal run` reuses.",
        ),
    ] = True,
    web_port: Annotated[
        int,
        typer.Option("--web-port", help="The web app's port on 127.0.0.1 (govcal web); -1: none."),
    ] = 8080,
    forms: Annotated[
        bool,
        typer.Option(
            "--forms/--no-forms",
            help="Run the forms submitted in the Prefect UI here (govcal forms-runner).",
        ),
    ] = True,
) -> None:
    """Run every scheduled deployment of prefect.yaml on its schedule (daily-compliance
    working days 07:00, send-invites 07:30, publish-feeds hourly, the S11 and S175 cycles
    opened), and keep a local Prefect server that `govcal run` reuses. Ctrl-C stops
    cleanly."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from govcal import local_api, run_now
    from govcal.flows.scheduler import ScheduleError, configure, default_jobs, install

    configure_prefect(reuse_server=False)
    run = runtime()
    run.transport()  # a missing secret block is said now, not at the first 07:00 run
    try:
        jobs = default_jobs(run.timezone.key)  # prefect.yaml's schedules, read once
    except ScheduleError as exc:
        err.print(f"Error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    with database():
        pass  # creates and migrates the embedded database, or says what is wrong
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or a service manager's stop
        signal.signal(signum, lambda *_: stop.set())
    home = Path(os.environ["PREFECT_HOME"])
    process = None
    if api_server and not os.environ.get("PREFECT_API_URL"):
        try:
            server, process = local_api.start(home, port)
        except local_api.ApiServerError as exc:
            err.print(f"Error: {exc}", markup=False)
            raise typer.Exit(1) from None
        os.environ["PREFECT_API_URL"] = server.url
        out.print(f"Prefect server: {server.ui} (its UI shows every run; `govcal run` reuses it)")
        out.print(
            f"It asks for a login: the password is the line in {auth_file(home)} (yours only; "
            f'for the prefect CLI: export PREFECT_API_AUTH_STRING="$(cat {auth_file(home)})")',
            markup=False,
        )
    # the forms' runner imports the flows here, before run-now warms them in a thread of
    # its own: two threads importing the same modules can deadlock on the import locks
    forms_runner = _start_forms() if forms and os.environ.get("PREFECT_API_URL") else None
    run_now_server = run_now.RunNowServer(home, run_now.daily_outcome) if process else None
    web = _start_web(run, web_port) if web_port >= 0 else None
    scheduler = BackgroundScheduler()
    configure(scheduler, run.settings.effective_database_url, run.timezone.key)
    scheduler.start(paused=True)
    kept = install(scheduler, jobs)
    for job in scheduler.get_jobs():
        note = " (kept: a run missed while stopped catches up now)" if job.id in kept else ""
        out.print(f"scheduled {job.id}: next run {job.next_run_time:%Y-%m-%d %H:%M %Z}{note}")
    out.print("govcal serve is running; press Ctrl-C to stop.")
    scheduler.resume()
    try:
        stop.wait()
    finally:
        if web is not None:
            web.stop()
        if run_now_server is not None:
            run_now_server.close()
        if forms_runner is not None:
            forms_runner.stop()
        scheduler.shutdown(wait=True)
        if process is not None:
            local_api.stop(process, home)
        out.print("govcal serve stopped.")


def _start_forms():
    """The forms' runner in this process (govcal/forms_runner.py): a problem with it is
    said and serve goes on without it."""
    from govcal.forms_runner import FormsRunner

    try:
        runner = FormsRunner().start()
    except Exception as exc:  # the server refused or did not answer
        err.print(f"Warning: the forms are not picked up here: {exc}", markup=False)
        return None
    out.print(
        f"forms: the {runner.queue!r} queue of pool {runner.pool!r} is run here "
        f"(deploy them with `prefect --no-prompt deploy --all`)",
        markup=False,
    )
    return runner


def _start_web(run, port: int):
    """The web app beside the Prefect server (links in emails, feeds); a problem with it
    is said and serve goes on without it."""
    from govcal.models.db import DatabaseUnavailable
    from govcal.models.settings import SettingsError
    from govcal.web.app import create_app
    from govcal.web.republish import Republisher
    from govcal.web.serving import Serving

    try:
        web = Serving(create_app(run, republish=Republisher(run)), "127.0.0.1", port).start()
    except (SettingsError, DatabaseUnavailable, OSError) as exc:
        said = "; ".join(exc.lines) if isinstance(exc, SettingsError) else str(exc)
        err.print(f"Warning: the web app is not running: {said}", markup=False)
        return None
    out.print(f"web app: http://127.0.0.1:{web.port} (links in emails, calendar feeds)")
    from govcal.cli.summary_link import summary_lines

    base = None if run.settings.public_url else f"http://127.0.0.1:{web.port}"
    for line in summary_lines(run, run.today(), base):
        out.print(line, markup=False, soft_wrap=True)
    return web
