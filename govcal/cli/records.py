"""Commands that change the database: migrate, sync, import, and record what people did."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from govcal import exit_codes
from govcal.cli.common import (
    AsOfOption,
    PartnershipOption,
    RulesOption,
    actor,
    database,
    err,
    home_zone,
    known_partnerships,
    load_rules,
    out,
    parse_day,
    parse_when,
    pick,
    today,
)
from govcal.models.settings import HORIZON_MOST, get_settings
from govcal.models.sync import SyncReport, sync_all

if TYPE_CHECKING:
    pass

person_app = typer.Typer(
    help="People in the directory: remove someone who has left.", no_args_is_help=True
)


def _pasted(text: str) -> str:
    """The id as pasted from an email ("Id: ...", quotes, a trailing full stop ignored)."""
    from govcal.rules.text import pasted_id

    return pasted_id(text) or text


OccurrenceArg = Annotated[
    str,
    typer.Argument(
        help="Occurrence id, as shown by `govcal plan` or `govcal status`.", callback=_pasted
    ),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: kept in the audit trail.")]


def print_sync(reports: list[SyncReport]) -> None:
    for r in reports:
        out.print(
            f"{r.partnership}: {r.created} created, {r.updated} moved by rule changes, "
            f"{r.orphaned} orphaned, {r.restored} restored, {r.unchanged} unchanged "
            f"({r.window[0]} to {r.window[1]})"
            + (f"; {r.returns_created} audit returns opened" if r.returns_created else "")
            + (f"; {r.left_alone()}" if r.left_alone() else "")
        )


def sync(
    partnership: PartnershipOption = None,
    as_of: AsOfOption = None,
    months: Annotated[
        int | None,
        typer.Option(
            "--months", help=f"Horizon back and forward, 1 to {HORIZON_MOST} (default 18)."
        ),
    ] = None,
    rules: RulesOption = None,
) -> None:
    """Expand the rules over the horizon and upsert occurrences (safe to rerun)."""
    partnerships = load_rules(rules)
    chosen = [pick(partnerships, partnership)] if partnership else partnerships
    day = parse_day(as_of, "--as-of") or today()
    if months is not None and not 1 <= months <= HORIZON_MOST:
        err.print(
            f"Error: --months must be from 1 to {HORIZON_MOST} (how far back and forward "
            f"to sync); {months} was given. Nothing was changed.",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(exit_codes.ERROR)
    horizon = months or get_settings().sync_horizon_months
    with database() as session:
        reports = sync_all(session, chosen, day, horizon_months=horizon, actor=actor().name)
    print_sync(reports)


def import_(
    path: Annotated[Path, typer.Argument(help="A CSV file, or a folder of them.")],
    partnership: PartnershipOption = None,
    rules: RulesOption = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="The people file is the whole list: end the roles of everyone it omits.",
        ),
    ] = False,
) -> None:
    """Import agencies, schools, people and roles from CSV (bad rows are reported)."""
    from govcal.models import actions

    chosen = pick(load_rules(rules), partnership)
    with database() as session:
        result = actions.import_people(session, path, chosen, actor(), replace=replace)
    for report in result.files:
        for notice in report.notices:
            err.print(f"Note: {notice}", markup=False)
        for problem in report.problems:
            err.print(str(problem), markup=False, soft_wrap=True)
        out.print(
            f"{report.file}: {report.kind or 'not imported'}: {report.created} created, "
            f"{report.updated} updated, {report.unchanged} unchanged, "
            f"{len(report.problems)} rejected"
        )
    for ended in result.ended:
        out.print(f"Ended: {ended.email}: {ended}", markup=False)
    if result.nothing_imported:
        err.print("Nothing was imported. Fix the file and import it again.")
        raise typer.Exit(1)
    if result.rejected:
        err.print(
            f"{result.rejected} row(s) rejected; the other rows were imported. Fix and re-import."
        )
        raise typer.Exit(1)


def _print_followed(followed: tuple[str, ...]) -> None:
    """The deadlines that moved with the changed item (the use case brought them in line)."""
    for line in followed:
        out.print(line[0].upper() + line[1:], markup=False)


def complete(
    occurrence: OccurrenceArg,
    evidence: Annotated[
        str,
        typer.Option("--evidence", help="An https:// link, or a file in the evidence folder."),
    ],
    by: Annotated[str | None, typer.Option("--by", help="Who completed it.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="When (default today).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A short note.")] = None,
) -> None:
    """Record that an occurrence was done, with its evidence."""
    from govcal.models import actions
    from govcal.models.evidence import EvidenceStore

    day = today()
    when = parse_day(on, "--on") or day
    store = EvidenceStore.configured(get_settings())
    with database() as session:
        result = actions.complete(
            session,
            occurrence,
            evidence,
            actor(by),
            on=when,
            today=day,
            partnerships=known_partnerships(),
            by=by,
            note=note,
            store=store,
        )
    out.print(f"{result.summary}.", markup=False)
    _print_followed(result.followed)


def waive(occurrence: OccurrenceArg, reason: ReasonOption) -> None:
    """Waive an occurrence that is not needed, with the reason."""
    from govcal.models import actions

    with database() as session:
        result = actions.waive(
            session, occurrence, reason, actor(), partnerships=known_partnerships()
        )
    out.print(result.summary, markup=False)


def reopen(
    occurrence: OccurrenceArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
) -> None:
    """Reopen a completed, waived or cancelled occurrence."""
    from govcal.models import actions

    with database() as session:
        result = actions.reopen(
            session, occurrence, actor(), reason, today=today(), partnerships=known_partnerships()
        )
    out.print(f"{result.summary}.", markup=False)
    _print_followed(result.followed)


def reschedule(
    occurrence: OccurrenceArg,
    reason: ReasonOption,
    to: Annotated[
        str | None,
        typer.Option("--to", help="New date, or 'YYYY-MM-DD HH:MM' local (or DD/MM/YYYY)."),
    ] = None,
    location: Annotated[
        str | None, typer.Option("--location", help="Where this one meeting is now held.")
    ] = None,
    allow_past: Annotated[
        bool,
        typer.Option("--allow-past", help="Accept a past date: to record when it really was."),
    ] = False,
) -> None:
    """Move one occurrence (e.g. a meeting), or change where it is held, without
    changing its rule. Invitees are sent the update, whatever the date."""
    from govcal.models import actions

    zone = home_zone(occurrence.split(":", 1)[0])  # wall-clock time where the partnership is
    when = parse_when(to, "--to", zone) if to is not None else None
    with database() as session:
        result = actions.reschedule(
            session,
            occurrence,
            when,
            reason,
            actor(),
            location=location,
            today=today(),
            partnerships=known_partnerships(),
            allow_past=allow_past,
        )
    out.print(f"{result.summary}.", markup=False)
    _print_followed(result.followed)


def cancel(occurrence: OccurrenceArg, reason: ReasonOption) -> None:
    """Cancel one occurrence (e.g. a meeting), without changing its rule."""
    from govcal.models import actions

    with database() as session:
        result = actions.cancel(
            session, occurrence, reason, actor(), today=today(), partnerships=known_partnerships()
        )
    out.print(result.summary, markup=False)
    _print_followed(result.followed)


def review(
    occurrence: OccurrenceArg,
    rag: Annotated[str, typer.Option("--rag", help="red, amber or green.")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    action: Annotated[
        list[str] | None, typer.Option("--action", help="A follow-up action (repeatable).")
    ] = None,
    action_due: Annotated[
        list[str] | None, typer.Option("--action-due", help="Its due date (one per --action).")
    ] = None,
) -> None:
    """Record the review of a submitted S11/S175 return, with follow-up actions."""
    from govcal.models import actions

    actions_ = action or []
    dues = [parse_day(d, "--action-due") for d in action_due or []]
    if len(actions_) != len(dues):
        err.print("Error: give one --action-due for each --action.")
        raise typer.Exit(2)
    follow_ups = [(a, d) for a, d in zip(actions_, dues, strict=True) if d]
    with database() as session:
        result = actions.review_return(
            session, occurrence, rag, actor(), note=note, follow_ups=follow_ups, on=today()
        )
    out.print(f"{result.summary}.", markup=False)


def incident(
    reference: Annotated[str, typer.Argument(help="Case reference only: never a name.")],
    aware: Annotated[str, typer.Option("--aware", help="Day the LA became aware.")],
    kind: Annotated[str, typer.Option("--kind", help="Event kind.")] = "serious-incident",
    partnership: PartnershipOption = None,
    rules: RulesOption = None,
) -> None:
    """Record a serious incident (by reference) so its statutory clocks start."""
    from govcal.models import actions

    chosen = pick(load_rules(rules), partnership)
    when = parse_day(aware, "--aware")
    assert when is not None
    with database() as session:
        result = actions.start_incident_clock(
            session, chosen, reference, actor(), aware_on=when, today=today(), kind=kind
        )
    out.print(f"{result.summary}.", markup=False)
    print_sync(list(result.synced))


def acknowledge(
    occurrence: OccurrenceArg,
    note: Annotated[str, typer.Option("--note", help="What the Lead Partners will do.")] = "",
) -> None:
    """A Lead Partner acknowledges an escalated item (as the Prefect form does)."""
    from govcal.models.escalations import acknowledge as record_acknowledgement

    with database() as session:
        by, at = record_acknowledgement(session, occurrence, actor(), note)
    out.print(
        f"{occurrence} escalation acknowledged by {by} on {at:%d %b %Y %H:%M} UTC.", markup=False
    )


@person_app.command("remove")
def person_remove(
    email: Annotated[str, typer.Argument(help="The person's email address.")],
    reason: ReasonOption,
    partnership: Annotated[
        str | None,
        typer.Option("--partnership", "-p", help="Only this partnership (default: all)."),
    ] = None,
) -> None:
    """End every role a person holds: from now on they receive nothing for them."""
    from govcal.models import actions

    with database() as session:
        result = actions.remove_person(
            session, email, actor(), reason=reason, partnership=partnership
        )
    out.print(f"{result.summary}.", markup=False)
