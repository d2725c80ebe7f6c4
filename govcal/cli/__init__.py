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
    app()
