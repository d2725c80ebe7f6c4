"""`govcal notify`: plan and send reminders, escalations and invites."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import typer

from flows.steps import notify as notify_step
from govcal.cli.common import AsOfOption, RulesOption, database, out, parse_day, runtime, today
from govcal.exit_codes import delivery_exit_code
from govcal.prefect_env import configure_prefect
from rules.notify_plan import Action


def notify(
    as_of: AsOfOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent to whom; send nothing.")
    ] = False,
    rules: RulesOption = None,
) -> None:
    """Plan what is due today and send it (one digest per person, one invite per meeting)."""
    day = parse_day(as_of, "--as-of") or today()
    run = runtime(rules)
    configure_prefect()  # a Secret block is read through Prefect, as the flows read it
    transport = run.transport()  # before any work: a missing secret block stops here
    with database() as session:
        report = notify_step(
            session, run.partnerships, day, transport, run.sender, dry_run=dry_run,
            invite_window_days=run.settings.invite_window_days,
        )  # fmt: skip
    if dry_run:
        by_recipient: dict[str, list[str]] = defaultdict(list)
        for p in report.planned:
            if p.action is Action.SEND:
                by_recipient[p.recipient].append(f"{p.kind.value} {p.stage}: {p.item.public_id}")
        for recipient, lines in sorted(by_recipient.items()):
            out.print(f"{recipient} ({len(lines)}):", markup=False)
            for line in lines:
                out.print(f"    {line}", markup=False)
        out.print("Dry run: nothing was sent or recorded.")
    counts = report.counts(new_only=not dry_run)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing new"
    out.print(f"As of {day}: {'would plan' if dry_run else 'newly planned'} {summary}.")
    if not dry_run:
        d = report.delivery
        out.print(
            f"Delivered {d.messages_sent} message(s) ({d.rows_sent} notices) via "
            f"{transport.name} ({run.where()}); {d.rows_retry} to retry, {d.rows_refused} refused."
        )
        for error in d.errors[:20]:
            out.print(f"  ! {error}", markup=False)
        code = delivery_exit_code(d.rows_retry, d.rows_refused)
        if code:
            raise typer.Exit(code)
