"""`govcal web`: the app people reach from their emails and calendars, on its own."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from govcal.cli.common import err, out, runtime


def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.", min=0, max=65535)] = 8080,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="Processes (default: one per core)."),
    ] = None,
) -> None:
    """Serve the signed links in emails and the calendar feeds (behind a reverse proxy
    in production: GOVCAL_PUBLIC_URL is the https address people reach). Ctrl-C stops."""
    import uvicorn

    from govcal.models.db import DatabaseUnavailable
    from govcal.models.settings import SettingsError
    from govcal.prefect_env import configure_prefect
    from govcal.web.app import create_app
    from govcal.web.republish import republisher
    from govcal.web.worker import default_workers, run_workers

    configure_prefect(reuse_server=True)
    run = runtime()
    count = workers or default_workers()
    try:  # settings, key and database checked (the embedded ones made) before any worker
        # with several workers this app only checks: each worker makes its own republisher
        app = create_app(run, republish=republisher(run) if count == 1 else None)
    except SettingsError as exc:
        for line in exc.lines:
            err.print(f"Error: {line}", markup=False)
        raise typer.Exit(2) from None
    except DatabaseUnavailable as exc:
        err.print(f"Error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    public = run.settings.public_url or "(GOVCAL_PUBLIC_URL not set: emails carry no links)"
    processes = f"{count} worker process{'es' if count > 1 else ''}"
    said = f"govcal web on http://{host}:{port}, {processes} (people reach it at {public})"
    out.print(said, markup=False)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "warning",
        "proxy_headers": True,
        "server_header": False,
    }
    if count == 1:
        uvicorn.run(app, **options)
    else:  # uvicorn's supervisor: each worker imports the app factory
        try:
            run_workers("govcal.web.worker:app", count, **options)
        except OSError as exc:
            err.print(f"Error: cannot listen on {host}:{port}: {exc.strerror}", markup=False)
            raise typer.Exit(1) from None
