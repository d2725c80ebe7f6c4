"""The `govcal` command line: a thin edge over rules/, models/, notifications/, flows/."""

from __future__ import annotations

import typer

from govcal.cli import calendar, feeds, notify, records, run, serve, status

app = typer.Typer(
    help="govcal keeps a Safeguarding Children Partnership to its governance calendar.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(calendar.rules_app, name="rules")
app.add_typer(records.db_app, name="db")
app.command()(run.run)
app.command()(serve.serve)
app.command()(calendar.plan)
app.command()(records.sync)
app.command("import")(records.import_)
app.command()(status.status)
app.command()(status.returns)
app.command()(records.complete)
app.command()(records.waive)
app.command()(records.reopen)
app.command()(records.reschedule)
app.command()(records.cancel)
app.command()(records.review)
app.command()(records.incident)
app.command()(notify.notify)
app.command()(feeds.feeds)


def main() -> None:
    """Settings are checked before any command runs: a value nobody can use (an unknown
    transport, TLS mode or database scheme; a missing secret block) is one line per
    problem on stderr and exit code 2, never a traceback or a silent fallback."""
    import sys

    from models.settings import SettingsError, get_settings

    try:
        get_settings()
        app()
    except SettingsError as exc:
        for line in exc.lines:
            print(f"Error: {line}", file=sys.stderr)
        sys.exit(2)
