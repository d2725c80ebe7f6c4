"""`govcal web`: the app people reach from their emails and calendars, on its own."""

from __future__ import annotations

from typing import Annotated

import typer

from govcal.cli.common import database, err, out, runtime


def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.", min=0, max=65535)] = 8080,
) -> None:
    """Serve the signed links in emails and the calendar feeds (behind a reverse proxy
    in production: GOVCAL_PUBLIC_URL is the https address people reach). Ctrl-C stops."""
    import uvicorn

    from govcal.models.settings import SettingsError
    from govcal.prefect_env import configure_prefect
    from govcal.web.app import create_app
    from govcal.web.republish import Republisher

    configure_prefect(reuse_server=True)
    run = runtime()
    try:
        app = create_app(run, republish=Republisher())
    except SettingsError as exc:
        for line in exc.lines:
            err.print(f"Error: {line}", markup=False)
        raise typer.Exit(2) from None
    with database():
        pass  # creates and migrates the embedded database, or says what is wrong
    public = run.settings.public_url or "(GOVCAL_PUBLIC_URL not set: emails carry no links)"
    out.print(f"govcal web on http://{host}:{port} (people reach it at {public})", markup=False)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning",
                proxy_headers=True, server_header=False)  # fmt: skip
