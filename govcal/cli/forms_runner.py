"""`govcal forms-runner`: the business team's forms picked up the moment they are submitted."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated

import typer

from govcal.cli.common import database, err, out, runtime


def forms_runner(
    poll: Annotated[
        float,
        typer.Option("--poll", help="Seconds between two looks for submitted forms.", min=0.1),
    ] = 0.5,
) -> None:
    """Run the forms submitted in the Prefect UI (prefect.yaml's `forms` queue of the
    `govcal` pool) in this process, which keeps govcal and Prefect loaded: a form's answer
    in about a second, not a worker's poll and a new process. The server is
    PREFECT_API_URL's, or the one `govcal serve` keeps. Ctrl-C stops."""
    from govcal.forms_runner import FormsRunner
    from govcal.prefect_env import configure_prefect

    configure_prefect(reuse_server=True)
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        err.print(
            "Error: no Prefect server to take forms from: set PREFECT_API_URL (and "
            "PREFECT_API_AUTH_STRING), or start `govcal serve`, which runs the forms itself",
            markup=False,
        )
        raise typer.Exit(2)
    runtime().transport()  # a missing secret block is said now, not at the first form
    with database():
        pass  # creates and migrates the embedded database, or says what is wrong
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        runner = FormsRunner(poll_s=poll).start()
    except Exception as exc:  # the server refused or did not answer: one line
        err.print(f"Error: the Prefect server at {url} did not answer: {exc}", markup=False)
        raise typer.Exit(1) from None
    out.print(
        f"forms runner: the {runner.queue!r} queue of pool {runner.pool!r} on {url}, "
        f"looked at every {poll:g} s; press Ctrl-C to stop.",
        markup=False,
    )
    try:
        stop.wait()
    finally:
        runner.stop()
        out.print("forms runner stopped.")
