"""What every command shares: consoles, argument parsing, rule loading, error handling."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from govcal import exit_codes
from govcal.models import rule_cache
from govcal.models.settings import get_settings
from govcal.rules import dates
from govcal.rules.errors import GovcalError
from govcal.rules.model import DEFAULT_TIMEZONE, Partnership, active_partnerships
from govcal.rules.problems import RuleFileError

if TYPE_CHECKING:  # the database stack is imported by the commands that use it
    from sqlmodel import Session

    from govcal.flows.runtime import Runtime
    from govcal.models.records import Actor
    from govcal.models.settings import Settings

# Piped output (a file, `| less`, CI logs): tables laid out for 100 columns, as README
# promises, instead of Rich's 80; plain lines are never broken (soft wrap), so a line
# found with grep is the whole sentence.
PIPED_WIDTH = 100


def _piped_width() -> int:
    """COLUMNS when it is set (e.g. `COLUMNS=160 govcal status | less`), else 100."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and 40 <= int(columns) <= 1000 else PIPED_WIDTH


_piped = not sys.stdout.isatty()
out = Console(highlight=False, width=_piped_width() if _piped else None, soft_wrap=_piped)
err = Console(
    stderr=True,
    highlight=False,
    soft_wrap=True,
    width=None if sys.stderr.isatty() else _piped_width(),
)

RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="A rule file or folder (default: the shipped partnerships)."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Act as if today were this day (YYYY-MM-DD or DD/MM/YYYY)."),
]
PartnershipOption = Annotated[
    str | None, typer.Option("--partnership", "-p", help="Partnership id (default: wfscp).")
]


def partnerships(path: Path | None = None) -> list[Partnership]:
    """The partnerships of the rule files (the given file or folder, else the configured
    or shipped ones): parsed once per process, and read from the copy the last command
    left in the data folder while nothing they depend on has changed (rule_cache.py).
    Raises rules.loader.RuleFileError."""
    settings = get_settings()
    return rule_cache.load_partnerships(settings.rule_paths(path), settings.data_dir / "cache")


def known_partnerships(path: Path | None = None) -> list[Partnership]:
    """The partnerships, or none when the rule files have problems (a command that needs
    them reports the problems through load_rules; a recorded change then moves nothing
    that hangs on it, and the next sync brings it in line)."""
    try:
        return partnerships(path)
    except RuleFileError:
        return []


def home_zone(partnership_id: str | None = None) -> ZoneInfo:
    """The time zone of the partnership worked on (the default partnership if none is
    named), as its rule file says; the rule files' default zone if they cannot be read
    (the command that reads them reports why)."""
    wanted = partnership_id or get_settings().default_partnership
    found = {p.id: p.tz for p in known_partnerships()}
    return found.get(wanted, ZoneInfo(DEFAULT_TIMEZONE))


def zones() -> dict[str, ZoneInfo]:
    """Each loaded partnership's time zone, for the days status shows."""
    return {p.id: p.tz for p in known_partnerships()}


def today() -> date:
    """Today in the partnership's time zone: the only place the CLI reads the clock
    (the system's, as a runtime's `today`)."""
    return datetime.now(home_zone()).date()


def parse_day(value: str | None, option: str) -> date | None:
    """A day typed as an option (ISO or DD/MM/YYYY), refused with one line naming it."""
    if value is None:
        return None
    try:
        return dates.parse_day(value, option)
    except dates.DateInputError as exc:
        _refuse(exc)


def parse_when(value: str, option: str, zone: ZoneInfo | None = None) -> date | datetime:
    """A day, or a local wall-clock date-time ('2026-12-08 14:00', '08/12/2026 14:00')."""
    try:
        moment = dates.parse_moment(value, option)
    except dates.DateInputError as exc:
        _refuse(exc)
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=zone or home_zone())
    return moment


def _refuse(exc: Exception) -> NoReturn:
    """A typed value that is not a usable day is bad input (exit 1, as README says)."""
    err.print(f"Error: {exc}", markup=False, soft_wrap=True)  # one line; nothing touched yet
    raise typer.Exit(exit_codes.ERROR)


def actor(by: str | None = None) -> Actor:
    from govcal.models.records import Actor
    from govcal.models.trail import Channel

    name = by or get_settings().actor or getpass.getuser()
    return Actor(name=name, channel=Channel.CLI)


def load_rules(path: Path | None = None) -> list[Partnership]:
    """The partnerships; GOVCAL_DEFAULT_PARTNERSHIP must name one of the shipped or
    configured ones (exit 2), so no command quietly works on all or none of them."""
    try:
        loaded = partnerships(path)
    except RuleFileError as exc:
        _rule_problems(exc)
    if path is None:  # a --rules file of its own need not hold the default
        check_default(loaded)
    return loaded


def check_default(partnerships: list[Partnership]) -> None:
    """The one check of GOVCAL_DEFAULT_PARTNERSHIP against the loaded partnerships."""
    default = get_settings().default_partnership
    known = sorted(p.id for p in partnerships)
    if partnerships and default not in known:
        err.print(
            f"Error: GOVCAL_DEFAULT_PARTNERSHIP='{default}' is not a loaded partnership; "
            f"use one of: {', '.join(known)}",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(exit_codes.SETTINGS)


def _rule_problems(exc: RuleFileError) -> NoReturn:
    for problem in exc.problems:
        err.print(str(problem), markup=False, soft_wrap=True)
    count = len(exc.problems)
    err.print(f"{count} problem{'s' if count != 1 else ''} found; nothing was loaded.")
    raise typer.Exit(1) from None


def runtime(rules: Path | None = None) -> Runtime:
    """What a command that sends or runs flows needs, built where the flows build theirs
    (flows/runtime.py; imported here only by those commands)."""
    from govcal.flows.runtime import build_runtime

    try:
        built = build_runtime(rules=rules)
    except RuleFileError as exc:
        _rule_problems(exc)
    for line in built.rule_warnings():  # one broken file: the others still run
        err.print(f"Warning: {line}", markup=False, soft_wrap=True)
    if rules is None:
        check_default(built.partnerships)
    return built


def in_force(day: date, wanted: str | None = None) -> list[str] | None:
    """The partnerships whose arrangements are in force on `day` (status leaves the
    superseded ones out); None when one was asked for by name: then it is shown (a name
    no rule file gives is refused, not shown as an empty list)."""
    if wanted:
        pick(load_rules(), wanted)
        return None
    return [p.id for p in active_partnerships(load_rules(), day)]


def pick(partnerships: list[Partnership], wanted: str | None) -> Partnership:
    by_id = {p.id: p for p in partnerships}
    chosen = wanted or get_settings().default_partnership
    if chosen not in by_id:
        err.print(f"No partnership '{chosen}'. Known: {', '.join(sorted(by_id))}.")
        raise typer.Exit(exit_codes.SETTINGS)
    return by_id[chosen]


@contextmanager
def database(settings: Settings | None = None) -> Iterator[Session]:
    """A transaction on the database the settings name (the command's own, unless
    given); a GovcalError inside it is one clear line on stderr (govcal_error)."""
    from govcal.models.db import session_scope

    chosen = settings or get_settings()  # unusable settings: main() says so, exit 2
    try:
        with session_scope(chosen) as session:
            yield session
    except GovcalError as exc:
        govcal_error(exc)


def govcal_error(exc: GovcalError) -> NoReturn:
    """The command line's one way to show a GovcalError: its lines on stderr, whether
    anything was kept, and the exit code README gives (2 for settings, 1 otherwise)."""
    from govcal.models.settings import SettingsError

    if isinstance(exc, RuleFileError):
        _rule_problems(exc)
    lines = exc.lines if isinstance(exc, SettingsError) else [str(exc)]
    for line in lines:
        err.print(f"Error: {line}", markup=False, soft_wrap=True)
    if exc.nothing_changed:
        err.print("Nothing was changed.")
    raise typer.Exit(exit_codes.SETTINGS if isinstance(exc, SettingsError) else 1) from None
