"""Calendar commands: check the rule files and show the plan."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from dateutil.relativedelta import relativedelta
from rich.table import Table

from govcal.cli.common import (
    AsOfOption,
    PartnershipOption,
    RulesOption,
    err,
    load_rules,
    out,
    parse_day,
    pick,
    today,
)
from govcal.cli.tables import add_item, item_table, print_wide, show
from govcal.models.settings import get_settings
from govcal.rules.expand import expand
from govcal.rules.model import Partnership
from govcal.rules.plan import PlanRow, build_plan
from govcal.rules.problems import Problem
from govcal.rules.state import State

rules_app = typer.Typer(help="Check and inspect the rule files.", no_args_is_help=True)

_STATE_STYLE = {
    State.OVERDUE: "bold red",
    State.DUE: "bold yellow",
    State.DUE_SOON: "yellow",
    State.COMPLETED_LATE: "yellow",
    State.COMPLETED_ON_TIME: "green",
    State.WAIVED: "dim",
    State.CANCELLED: "dim",
}


@rules_app.command("check")
def rules_check(
    path: Annotated[Path | None, typer.Argument(help="Rule file or folder to check.")] = None,
    as_of: AsOfOption = None,
) -> None:
    """Validate rule files; summarise partnerships, rules and the next 12 months."""
    partnerships = load_rules(path)
    start = parse_day(as_of, "--as-of") or today()
    end = start + relativedelta(months=12)
    table = Table(title=f"Rule files OK: occurrences from {start} to {end}")
    columns = (
        "partnership",
        "name",
        "rules",
        "occurrences",
        "baseline",
        "inherited",
        "overridden",
        "local",
        "opted out",
        "file",
    )
    for column in columns:
        table.add_column(column, no_wrap=column == "partnership")  # an id: never broken
    layered = [(p, _layers(p)) for p in partnerships]
    for p, layers in layered:
        count = len(expand(p, start, end))
        table.add_row(
            p.id,
            p.name,
            str(len(p.rules)),
            str(count),
            p.baseline or "-",
            str(len(layers["inherited"])),
            str(len(layers["overridden"])),
            str(len(layers["local"])),
            str(len(p.opted_out)),
            p.source_file,
        )
    print_wide(out, table)
    for p, layers in layered:
        if layers["overridden"]:
            out.print(f"{p.id}: overrides {', '.join(layers['overridden'])} of {p.baseline}")
        for rule_id, _title, reason in p.opted_out:
            out.print(f"{p.id}: opted out of {rule_id} of {p.baseline}: {reason}")


def _layers(partnership: Partnership) -> dict[str, list[str]]:
    """The rule ids by where each comes from (Rule.origin): inherited from the statutory
    baseline, overridden, or local. Read from the loaded rules, so a command that finds
    them in the rule cache need not import the baseline's YAML schema (pydantic)."""
    found: dict[str, list[str]] = {"inherited": [], "overridden": [], "local": []}
    for rule in partnership.rules:
        found.setdefault(rule.origin, []).append(rule.id)
    return found


@rules_app.command("generate")
def rules_generate(
    csv_file: Annotated[
        Path, typer.Argument(help="CSV: id,name,local_authority,police_force,icbs")
    ],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write one <id>.yaml per row into.")],
) -> None:
    """Write a rule file of a few lines per partnership, over the WT2023 baseline."""
    from govcal.rules.files import display_path, read_rule_file
    from govcal.rules.generate import partnership_files

    label = display_path(csv_file)
    unreadable: Problem | None
    if csv_file.is_dir():  # read_rule_file would call it a rule file: it is the CSV's place
        folder = "is a folder, not a CSV file; give the CSV of partnerships (id,name,...)"
        text, unreadable = None, Problem(label, 0, folder)
    else:
        text, unreadable = read_rule_file(csv_file, label)
    files, problems = partnership_files(text, label) if text is not None else ({}, [])
    problems += [unreadable] if unreadable is not None else []
    if out_dir.exists() and not out_dir.is_dir():
        problems.append(Problem(display_path(out_dir), 0, "is a file; give a folder"))
    clashes = [name for name in files if (out_dir / name).exists()]
    if clashes:
        problems.append(
            Problem(
                display_path(out_dir),
                0,
                f"already holds {', '.join(clashes[:5])}"
                "; choose an empty folder (nothing was overwritten)",
            )
        )
    if problems:
        for problem in problems:
            err.print(str(problem), markup=False, highlight=False)
        err.print(f"{len(problems)} problem(s); nothing was written.")
        raise typer.Exit(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (out_dir / name).write_text(body, encoding="utf-8")
    out.print(
        f"Wrote {len(files)} rule files to {out_dir}; check them with `govcal rules check "
        f"{out_dir}`."
    )


def plan(
    partnership: PartnershipOption = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD or DD/MM/YYYY).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD or DD/MM/YYYY).")
    ] = None,
    as_of: AsOfOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    rules: RulesOption = None,
) -> None:
    """Show the occurrences in a window with due date, owner, kind, source and state."""
    chosen = pick(load_rules(rules), partnership)
    day = parse_day(as_of, "--as-of") or today()
    first = parse_day(start, "--from") or day
    last = parse_day(end, "--to") or first + relativedelta(months=12)
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}", param_hint="--to")
    rows = _recorded(chosen, first, last, day)
    if rows is None:
        rows = build_plan(chosen, first, last, day)
    if as_json:
        json.dump([row.as_json() for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = item_table()
    for row in rows:
        style = _STATE_STYLE.get(row.status.state, "")
        state = f"[{style}]{row.status.describe()}[/]" if style else row.status.describe()
        title = f"{row.rule.title} ({row.rule.kind.value})"
        add_item(table, row.due_display, state, title, row.occurrence.id, row.rule.owner)
    show(out, f"{chosen.name}: {first} to {last} (as of {day})", table)
    out.print(f"{len(rows)} occurrences. Sources of each rule: `govcal plan --json`.")


def _recorded(partnership: Partnership, first: date, last: date, day: date) -> list[PlanRow] | None:
    """The plan with the database's records over it, or None where there is no database
    (a fresh checkout, or one that cannot be reached: the rules alone are still useful)."""
    settings = get_settings()
    if settings.uses_embedded_database and not (settings.data_dir / "govcal.db").is_file():
        return None
    from govcal.models.db import DatabaseUnavailable, session_scope  # only with a database
    from govcal.models.recorded_plan import recorded_plan

    try:
        with session_scope(settings) as session:
            return recorded_plan(session, partnership, first, last, day)
    except DatabaseUnavailable as exc:
        err.print(f"Note: {exc}; showing the rules without recorded state.", markup=False)
        return None
