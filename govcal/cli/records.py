"""Commands that change the database: migrate, sync, import, and record what people did."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from govcal.cli.common import (
    AsOfOption,
    PartnershipOption,
    RulesOption,
    actor,
    database,
    err,
    load_rules,
    out,
    parse_day,
    parse_when,
    pick,
    today,
)
from govcal.settings import get_settings, redact_url
from models import records
from models.db import DatabaseUnavailable, upgrade
from models.directory_import import import_directory
from models.sync import SyncReport, follow_dependents, sync_all

if TYPE_CHECKING:
    from sqlmodel import Session

db_app = typer.Typer(help="Database schema and migrations.", no_args_is_help=True)

OccurrenceArg = Annotated[
    str, typer.Argument(help="Occurrence id, as shown by `govcal plan` or `govcal status`.")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: kept in the audit trail.")]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the latest schema."""
    url = get_settings().effective_database_url
    try:
        before, after = upgrade(url)
    except DatabaseUnavailable as exc:
        err.print(f"Error: {exc}", markup=False)
        raise typer.Exit(1) from None
    if before == after:
        out.print(f"{redact_url(url)} is up to date (revision {after}).")
    else:
        out.print(f"{redact_url(url)} migrated from {before or 'empty'} to {after}.")


def print_sync(reports: list[SyncReport]) -> None:
    for r in reports:
        out.print(
            f"{r.partnership}: {r.created} created, {r.updated} moved by rule changes, "
            f"{r.orphaned} orphaned, {r.restored} restored, {r.unchanged} unchanged "
            f"({r.window[0]} to {r.window[1]})"
            + (f"; {r.returns_created} audit returns opened" if r.returns_created else "")
        )


def sync(
    partnership: PartnershipOption = None,
    as_of: AsOfOption = None,
    months: Annotated[
        int | None, typer.Option("--months", help="Horizon back and forward (default 18).")
    ] = None,
    rules: RulesOption = None,
) -> None:
    """Expand the rules over the horizon and upsert occurrences (safe to rerun)."""
    partnerships = load_rules(rules)
    chosen = [pick(partnerships, partnership)] if partnership else partnerships
    day = parse_day(as_of, "--as-of") or today()
    horizon = months or get_settings().sync_horizon_months
    with database() as session:
        reports = sync_all(session, chosen, day, horizon_months=horizon, actor=actor().name)
    print_sync(reports)


def import_(
    path: Annotated[Path, typer.Argument(help="A CSV file, or a folder of them.")],
    partnership: PartnershipOption = None,
    rules: RulesOption = None,
) -> None:
    """Import agencies, schools, people and roles from CSV (bad rows are reported)."""
    chosen = pick(load_rules(rules), partnership)
    with database() as session:
        reports = import_directory(session, path, chosen, actor=actor().name)
    failed = 0
    for report in reports:
        for notice in report.notices:
            err.print(f"Note: {notice}", markup=False)
        for problem in report.problems:
            err.print(str(problem), markup=False)
        failed += len(report.problems)
        out.print(
            f"{report.file}: {report.kind or 'not imported'}: {report.created} created, "
            f"{report.updated} updated, {report.unchanged} unchanged, "
            f"{len(report.problems)} rejected"
        )
    if failed:
        err.print(f"{failed} row(s) rejected; the other rows were imported. Fix and re-import.")
        raise typer.Exit(1)


def _follow(session: Session, partnership_id: str, public_id: str) -> None:
    """Deadlines that hang on the changed item follow it at once (see follow_dependents)."""
    chosen = next((p for p in load_rules() if p.id == partnership_id), None)
    if chosen is None:
        return
    who = actor()
    report = follow_dependents(
        session, chosen, public_id, today(), actor=who.name, channel=who.channel
    )
    if report is not None and report.changes:
        out.print(f"Moved with it: {', '.join(report.changes)}")
    if report is not None and report.orphaned:
        out.print(f"{report.orphaned} deadline(s) that hung on it are cancelled with it")


def complete(
    occurrence: OccurrenceArg,
    evidence: Annotated[str, typer.Option("--evidence", help="An https:// link or a file.")],
    by: Annotated[str | None, typer.Option("--by", help="Who completed it.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="When (default today).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A short note.")] = None,
) -> None:
    """Record that an occurrence was done, with its evidence."""
    day = today()
    when = parse_day(on, "--on") or day
    with database() as session:
        proof = records.parse_evidence(evidence, note)
        row = records.complete(session, occurrence, proof, actor(by), on=when, today=day, by=by)
        _follow(session, row.partnership_id, row.public_id)
    out.print(f"{row.public_id} completed on {row.completed_at} by {row.completed_by}.")


def waive(occurrence: OccurrenceArg, reason: ReasonOption) -> None:
    """Waive an occurrence that is not needed, with the reason."""
    with database() as session:
        row = records.waive(session, occurrence, reason, actor())
    out.print(f"{row.public_id} waived: {row.reason}")


def reopen(
    occurrence: OccurrenceArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
) -> None:
    """Reopen a completed, waived or cancelled occurrence."""
    with database() as session:
        row = records.reopen(session, occurrence, actor(), reason)
        _follow(session, row.partnership_id, row.public_id)
    out.print(f"{row.public_id} is open again (due {row.due}).")


def reschedule(
    occurrence: OccurrenceArg,
    to: Annotated[str, typer.Option("--to", help="New date, or 'YYYY-MM-DD HH:MM' London.")],
    reason: ReasonOption,
) -> None:
    """Move one occurrence (e.g. a meeting) without changing its rule."""
    when = parse_when(to, "--to")
    with database() as session:
        row = records.reschedule(session, occurrence, when, reason, actor())
        _follow(session, row.partnership_id, row.public_id)
    moment = row.starts_at.astimezone(when.tzinfo) if row.starts_at else row.due  # type: ignore[union-attr]
    out.print(f"{row.public_id} moved to {moment} (invite version {row.sequence}).")


def cancel(occurrence: OccurrenceArg, reason: ReasonOption) -> None:
    """Cancel one occurrence (e.g. a meeting), without changing its rule."""
    with database() as session:
        row = records.cancel(session, occurrence, reason, actor())
        _follow(session, row.partnership_id, row.public_id)
    out.print(f"{row.public_id} cancelled: {row.reason}")


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
    actions = action or []
    dues = [parse_day(d, "--action-due") for d in action_due or []]
    if len(actions) != len(dues):
        raise typer.BadParameter("give one --action-due for each --action", param_hint="--action")
    with database() as session:
        records.review_return(
            session, occurrence, rag, actor(), note=note,
            follow_ups=[(a, d) for a, d in zip(actions, dues, strict=True) if d],
        )  # fmt: skip
    out.print(f"{occurrence} reviewed: {rag.lower()}, {len(actions)} follow-up action(s).")


def incident(
    reference: Annotated[str, typer.Argument(help="Case reference only: never a name.")],
    aware: Annotated[str, typer.Option("--aware", help="Day the LA became aware.")],
    kind: Annotated[str, typer.Option("--kind", help="Event kind.")] = "serious-incident",
    partnership: PartnershipOption = None,
    rules: RulesOption = None,
) -> None:
    """Record a serious incident (by reference) so its statutory clocks start."""
    chosen = pick(load_rules(rules), partnership)
    day = today()
    when = parse_day(aware, "--aware")
    assert when is not None
    with database() as session:
        records.start_incident(
            session, chosen.id, reference, kind, when, actor(),
            known_kinds=chosen.events, today=day,
        )  # fmt: skip
        reports = sync_all(session, [chosen], day, actor=actor().name)
    out.print(f"{kind} {reference} recorded for {chosen.id}; clocks started.")
    print_sync(reports)
