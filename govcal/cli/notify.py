"""`govcal notify`: plan and send reminders, escalations and invites."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import typer

from flows.steps import notify as notify_step
from govcal.cli.common import AsOfOption, RulesOption, database, load_rules, out, parse_day, today
from govcal.settings import get_settings
from notifications.render import Sender
from notifications.transport import from_settings


def notify(
    as_of: AsOfOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent to whom; send nothing.")
    ] = False,
    rules: RulesOption = None,
) -> None:
    """Plan what is due today and send it (one digest per person, one invite per meeting)."""
    settings = get_settings()
    day = parse_day(as_of, "--as-of") or today()
    partnerships = load_rules(rules)
    sender = Sender(settings.mail_from_name, settings.mail_from)
    if dry_run:
        _dry_run(partnerships, day, sender, settings.invite_window_days)
        return
    transport = from_settings(settings)
    with database() as session:
        report = notify_step(
            session, partnerships, day, transport, sender, dry_run=dry_run,
            invite_window_days=settings.invite_window_days,
        )  # fmt: skip
    counts = report.counts(new_only=not dry_run)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing new"
    out.print(f"As of {day}: {'would plan' if dry_run else 'newly planned'} {summary}.")
    if not dry_run:
        d = report.delivery
        where = settings.effective_outbox_dir if transport.name == "outbox" else settings.smtp_host
        out.print(
            f"Delivered {d.messages_sent} message(s) ({d.rows_sent} notices) via "
            f"{transport.name} ({where}); {d.rows_retry} to retry, {d.rows_refused} refused."
        )
        for error in d.errors[:20]:
            out.print(f"  ! {error}", markup=False)


def _dry_run(partnerships, day, sender: Sender, window: int) -> None:
    """Exactly the messages the next real run would send: one line each, by recipient."""
    from flows.preview import preview

    with database() as session:
        messages = preview(session, partnerships, day, sender, invite_window_days=window)
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
