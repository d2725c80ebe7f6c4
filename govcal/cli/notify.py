"""`govcal notify`: plan and send reminders, escalations and invites."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Annotated

import typer

from govcal.cli.common import AsOfOption, RulesOption, database, out, parse_day, runtime, today
from govcal.cli.past_day import AllowPastOption, refuse_a_past_day
from govcal.exit_codes import delivery_exit_code
from govcal.flows.runtime import Runtime
from govcal.flows.steps import notify as notify_step
from govcal.models.ledger import waiting_for_retry
from govcal.models.types import utcnow
from govcal.prefect_env import configure_prefect


def notify(
    as_of: AsOfOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent to whom; send nothing.")
    ] = False,
    rules: RulesOption = None,
    allow_past_as_of: AllowPastOption = False,
) -> None:
    """Plan what is due today and send it (one digest per person, one invite per meeting)."""
    day = parse_day(as_of, "--as-of") or today()
    run = runtime(rules)
    if dry_run:
        _dry_run(run, day)
        return
    configure_prefect()  # a Secret block is read through Prefect, as the flows read it
    transport = run.transport()  # before any work: a missing secret block stops here
    if as_of is not None:  # today is never refused: a cron job must not stop over a test
        refuse_a_past_day(day, allow_past_as_of)
    with database() as session:
        report = notify_step(
            session,
            run.partnerships,
            day,
            transport,
            run.sender,
            settings=run.settings,
            invite_window_days=run.settings.invite_window_days,
            budget=timedelta(seconds=run.settings.delivery_time_budget),
        )
        waiting, first_due = waiting_for_retry(session, utcnow())
    counts = report.counts()
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing new"
    out.print(f"As of {day}: newly planned {summary}.")
    d = report.delivery
    out.print(
        f"Delivered {d.messages_sent} message(s) ({d.rows_sent} notices) via "
        f"{transport.name} ({run.where()}); {d.rows_retry} to retry, {d.rows_refused} refused."
    )
    for error in d.errors[:20]:
        out.print(f"  ! {error}", markup=False)
    if waiting and first_due is not None:
        out.print(
            f"{waiting} notice(s) wait to be retried after a temporary failure; the first "
            f"is due again at {first_due:%Y-%m-%d %H:%M} UTC (run notify after that)."
        )
    code = delivery_exit_code(max(d.rows_retry, waiting), d.rows_refused)
    if code:
        raise typer.Exit(code)


def _dry_run(run: Runtime, day: date) -> None:
    """Exactly the messages the next real run would send: one line each, by recipient."""
    from govcal.flows.preview import preview

    with database(run.settings) as session:
        messages = preview(
            session,
            run.partnerships,
            day,
            run.sender,
            settings=run.settings,
            now=run.now(),
            invite_window_days=run.settings.invite_window_days,
            lease=timedelta(seconds=run.settings.claim_lease),
        )
    by_recipient: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        for recipient in message.recipients:
            by_recipient[recipient].append(f"{message.kind}: {message.subject}")
    for recipient, lines in sorted(by_recipient.items()):
        out.print(f"{recipient} ({len(lines)}):", markup=False)
        for line in lines:
            out.print(f"    {line}", markup=False)
    out.print(
        f"As of {day}: the next run would send {len(messages)} message(s) to "
        f"{len(by_recipient)} recipient(s). Dry run: nothing was sent or recorded."
    )
