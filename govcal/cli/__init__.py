"""The `govcal` command line: a thin edge over rules/, models/, notifications/, flows/.

Each command's module is imported only when that command runs (click's documented lazy
group: `list_commands` and `get_command`), so `govcal plan` never pays for SQLAlchemy,
Prefect or the mail stack. `govcal --help` lists the commands with the one-line summary
kept beside each in COMMANDS (tests/test_cli_usage.py checks it against the command's
own help), so listing them imports none.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from typing import Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

# name -> (module, attribute, summary): a command function or a typer.Typer of
# subcommands, and the first sentence of its help, as `govcal --help` lists it.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "rules": ("govcal.cli.calendar", "rules_app", "Check and inspect the rule files."),
    "db": ("govcal.cli.db", "db_app", "Database schema, migrations, backups and restores."),
    "run": (
        "govcal.cli.run",
        "run",
        "Run the daily-compliance job once, in-process, on the embedded default.",
    ),
    "serve": (
        "govcal.cli.serve",
        "serve",
        "Run every scheduled deployment of prefect.yaml on its schedule, and keep a local "
        "Prefect server that `govcal run` reuses and the web app.",
    ),
    "forms-runner": (
        "govcal.cli.forms_runner",
        "forms_runner",
        "Run the forms submitted in the Prefect UI (prefect.yaml's `forms` queue of the "
        "`govcal` pool) in this process, which keeps govcal and Prefect loaded: a form's "
        "answer in about a second, not a worker's poll and a new process.",
    ),
    "web": (
        "govcal.cli.web",
        "web",
        "Serve the signed links in emails and the calendar feeds (the web app alone).",
    ),
    "plan": (
        "govcal.cli.calendar",
        "plan",
        "Show the occurrences in a window with due date, owner, kind, source and state.",
    ),
    "sync": (
        "govcal.cli.records",
        "sync",
        "Expand the rules over the horizon and upsert occurrences (safe to rerun).",
    ),
    "import": (
        "govcal.cli.records",
        "import_",
        "Import agencies, schools, people and roles from CSV (bad rows are reported).",
    ),
    "directory": (
        "govcal.cli.directory",
        "directory",
        "List the people and addresses of the directory, with failing addresses marked.",
    ),
    "person": (
        "govcal.cli.records",
        "person_app",
        "People in the directory: remove someone who has left.",
    ),
    "status": (
        "govcal.cli.status",
        "status",
        "What is overdue, due and coming up, and what was recently done.",
    ),
    "returns": (
        "govcal.cli.status",
        "returns",
        "One line per agency or school in an S11/S175 cycle: returned, late, reviewed.",
    ),
    "tables": (
        "govcal.cli.cockpit",
        "tables",
        "The cockpit's tables: name them, or print one as CSV for a spreadsheet.",
    ),
    "complete": (
        "govcal.cli.records",
        "complete",
        "Record that an occurrence was done, with its evidence.",
    ),
    "evidence": (
        "govcal.cli.evidence",
        "evidence",
        "Copy an occurrence's evidence file out of govcal's store (the same on every worker).",
    ),
    "waive": (
        "govcal.cli.records",
        "waive",
        "Waive an occurrence that is not needed, with the reason.",
    ),
    "reopen": (
        "govcal.cli.records",
        "reopen",
        "Reopen a completed, waived or cancelled occurrence.",
    ),
    "reschedule": (
        "govcal.cli.records",
        "reschedule",
        "Move one occurrence (such as a meeting), or change where it is held, without "
        "changing its rule.",
    ),
    "cancel": (
        "govcal.cli.records",
        "cancel",
        "Cancel one occurrence (such as a meeting), without changing its rule.",
    ),
    "review": (
        "govcal.cli.records",
        "review",
        "Record the review of a submitted S11/S175 return, with follow-up actions.",
    ),
    "incident": (
        "govcal.cli.records",
        "incident",
        "Record a serious incident (by reference) so its statutory clocks start.",
    ),
    "acknowledge": (
        "govcal.cli.records",
        "acknowledge",
        "A Lead Partner acknowledges an escalated item (as the Prefect form does).",
    ),
    "notify": (
        "govcal.cli.notify",
        "notify",
        "Plan what is due today and send it (one digest per person, one invite per meeting).",
    ),
    "mailbox": (
        "govcal.cli.mailbox",
        "mailbox",
        "Read the mailbox back: calendar answers, bounces, auto-replies.",
    ),
    "attendance": (
        "govcal.cli.attendance",
        "attendance_app",
        "Who is coming to a meeting, and who attended it.",
    ),
    "feeds": (
        "govcal.cli.feeds",
        "feeds",
        "Write one .ics feed per partnership, per body and per person.",
    ),
    "pack": (
        "govcal.cli.pack",
        "pack",
        "Write the evidence pack (markdown and a self-contained HTML file) for one year.",
    ),
}


@cache
def load(name: str) -> Any:
    """The command for `name`, built by typer from its module (imported now)."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer(
        add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None
    )
    single.command(name)(target)
    return typer.main.get_command(single)


class LazyCommands(TyperGroup):
    """A typer group whose commands are imported on first use."""

    listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self.listing:  # --help only needs the name and the summary
            return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][2])
        return load(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    cls=LazyCommands,
    help="govcal keeps a Safeguarding Children Partnership to its governance calendar.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: typer's rich help imports pygments (0.4 s)
)


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context) -> None:
    """`govcal` alone lists the commands on stderr (exit 2), as a wrong command does."""
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        print(ctx.get_help(), file=sys.stderr)
        raise typer.Exit(2)


def _usage_error(exc: typer.TyperException) -> NoReturn:
    """A wrong option or command: one line naming it and where to look, no usage banner."""
    ctx = getattr(exc, "ctx", None)  # a usage error carries the command it was typed for
    hint = ""
    if ctx is not None:
        where = "" if ctx.parent is None else f" {ctx.info_name}"
        hint = f" (see govcal{where} --help)"
    print(f"Error: {exc.format_message()}{hint}", file=sys.stderr)
    sys.exit(exc.exit_code)


def main() -> None:
    """Settings are checked before any command runs: a value nobody can use (an unknown
    transport, TLS mode or database scheme; a missing secret block) is one line per
    problem on stderr and exit code 2, never a traceback or a silent fallback. A wrong
    option is one line and exit code 2 too, without click's usage banner; a folder or
    file govcal cannot use is one line and exit code 1. Asking for help runs nothing, so
    it reads no settings."""
    from govcal.rules.errors import GovcalError

    try:
        if len(sys.argv) > 1 and "--help" not in sys.argv[1:]:
            from govcal.models.settings import get_settings

            get_settings()
        code = app(standalone_mode=False)
    except GovcalError as exc:  # settings, or one raised outside a command's database()
        from govcal.models.settings import SettingsError

        for line in exc.lines if isinstance(exc, SettingsError) else [str(exc)]:
            print(f"Error: {line}", file=sys.stderr)
        sys.exit(2 if isinstance(exc, SettingsError) else 1)
    except typer.TyperException as exc:  # typer's usage and click errors
        _usage_error(exc)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:  # `govcal status | head`: the reader has gone, as click does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as exc:  # a folder that is a file, a path under /proc, no permission
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"Error: cannot use{where}: {exc.strerror or exc}; check the GOVCAL_DATA_DIR, "
            "GOVCAL_FEEDS_DIR and GOVCAL_OUTBOX_DIR settings",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)
