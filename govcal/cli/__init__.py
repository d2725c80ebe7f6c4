"""The `govcal` command line: a thin edge over rules/, models/, notifications/, flows/.

Each command's module is imported only when that command runs, so `govcal plan` never
pays for SQLAlchemy, Prefect or the mail stack. `govcal --help` lists the commands from
their docstrings read as source (ast), without importing them. The garbage collector
is paused while a command starts (collector.py).
"""

from __future__ import annotations

import ast
import importlib
from functools import cache
from pathlib import Path

import click
import typer
from typer.core import TyperGroup

from govcal.cli import coercion, collector

# name -> (module, attribute): a command function or a typer.Typer of subcommands.
COMMANDS: dict[str, tuple[str, str]] = {
    "rules": ("govcal.cli.calendar", "rules_app"),
    "db": ("govcal.cli.db", "db_app"),
    "run": ("govcal.cli.run", "run"),
    "serve": ("govcal.cli.serve", "serve"),
    "web": ("govcal.cli.web", "web"),
    "plan": ("govcal.cli.calendar", "plan"),
    "sync": ("govcal.cli.records", "sync"),
    "import": ("govcal.cli.records", "import_"),
    "person": ("govcal.cli.records", "person_app"),
    "status": ("govcal.cli.status", "status"),
    "returns": ("govcal.cli.status", "returns"),
    "complete": ("govcal.cli.records", "complete"),
    "waive": ("govcal.cli.records", "waive"),
    "reopen": ("govcal.cli.records", "reopen"),
    "reschedule": ("govcal.cli.records", "reschedule"),
    "cancel": ("govcal.cli.records", "cancel"),
    "review": ("govcal.cli.records", "review"),
    "incident": ("govcal.cli.records", "incident"),
    "acknowledge": ("govcal.cli.records", "acknowledge"),
    "notify": ("govcal.cli.notify", "notify"),
    "mailbox": ("govcal.cli.mailbox", "mailbox"),
    "attendance": ("govcal.cli.attendance", "attendance_app"),
    "feeds": ("govcal.cli.feeds", "feeds"),
    "pack": ("govcal.cli.pack", "pack"),
}


@cache
def load(name: str) -> click.Command:
    """The click command for `name`, built by typer from its module (imported now)."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return _resume_when_started(group)
    single = typer.Typer(
        add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None
    )
    single.command(name)(target)
    return _resume_when_started(typer.main.get_command(single))


def _resume_when_started(command: click.Command) -> click.Command:
    """The command's own function (and each subcommand's) starts by resuming the garbage
    collector that `main` paused (collector.py)."""
    for sub in getattr(command, "commands", {}).values():
        _resume_when_started(sub)
    function = command.callback
    if function is not None:

        def started(*args, **kwargs):
            collector.resume()
            return function(*args, **kwargs)

        command.callback = started
    return command


@cache
def summary(name: str) -> str:
    """A command's help as written in its module's source, for the list in --help."""
    module, attribute = COMMANDS[name]
    path = Path(__file__).parent / f"{module.rsplit('.', 1)[1]}.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return ast.get_docstring(node) or ""
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == attribute for t in node.targets
        ):
            call = node.value
            for keyword in getattr(call, "keywords", []):
                if keyword.arg == "help" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
    return ""


class LazyCommands(TyperGroup):
    """A typer group whose commands are imported on first use."""

    listing = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        coercion.lighten(self, ctx)  # its --help flag, checked without pydantic
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if self.listing:  # --help only needs the name and the help text
            return click.Command(cmd_name, help=summary(cmd_name))
        command = load(cmd_name)
        coercion.lighten(command, ctx)  # options checked without pydantic (coercion.py)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    cls=LazyCommands,
    help="govcal keeps a Safeguarding Children Partnership to its governance calendar.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: typer's rich help imports pygments (0.4 s)
)


@app.callback()
def _root() -> None:
    pass  # a group of commands with no options of its own


def main() -> None:
    """Settings are checked before any command runs: a value nobody can use (an unknown
    transport, TLS mode or database scheme; a missing secret block) is one line per
    problem on stderr and exit code 2, never a traceback or a silent fallback. A wrong
    option is one line and exit code 2 too, without click's usage banner; a folder or
    file govcal cannot use is one line and exit code 1. The garbage collector is paused
    until the command's function starts (collector.py)."""
    import sys

    collector.pause()

    from typer._click import exceptions as clicked  # typer's own click, not the package

    from models.settings import SettingsError, get_settings

    try:
        get_settings()
        code = app(standalone_mode=False)
    except SettingsError as exc:
        for line in exc.lines:
            print(f"Error: {line}", file=sys.stderr)
        sys.exit(2)
    except clicked.NoArgsIsHelpError as exc:
        exc.show()  # `govcal` alone: the list of commands
        sys.exit(exc.exit_code)
    except clicked.UsageError as exc:
        hint = f" (see govcal {exc.ctx.info_name} --help)" if exc.ctx else ""
        if exc.ctx and exc.ctx.parent is None:
            hint = " (see govcal --help)"
        print(f"Error: {exc.format_message()}{hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except clicked.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
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
