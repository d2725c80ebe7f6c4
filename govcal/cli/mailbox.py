"""`govcal mailbox`: read the partnership's mailbox back (replies, bounces, auto-replies)."""

from __future__ import annotations

import typer

from govcal import exit_codes
from govcal.cli.common import database, err, out, runtime
from govcal.prefect_env import configure_prefect


def mailbox() -> None:
    """Read the mailbox back: calendar answers, bounces, auto-replies (moved when read)."""
    from govcal.flows.mailbox import read_mailbox
    from govcal.notifications.imap import MailboxError

    run = runtime()
    if not run.settings.imap_host:
        err.print(
            "Error: GOVCAL_IMAP_HOST is not set: name the mailbox's IMAP server "
            "(see README, The mailbox read back).",
            markup=False,
        )
        raise typer.Exit(exit_codes.SETTINGS)
    configure_prefect()  # a Secret block is read through Prefect, as the flows read it
    try:
        with run.mailbox() as box, database() as session:
            report = read_mailbox(
                session,
                box,
                run.partnerships,
                mail_from=run.settings.mail_from,
                progress=lambda line: err.print(f"  {line}", markup=False),
            )
    except MailboxError as exc:
        err.print(f"Error: {exc}; nothing was read (a later run tries again).", markup=False)
        raise typer.Exit(exit_codes.LEFT_TO_RETRY) from None
    out.print(report.summary(), markup=False)
    for line in report.lines[:200]:
        out.print(f"  ! {line}", markup=False, soft_wrap=True)
    if len(report.lines) > 200:
        out.print(f"  ... and {len(report.lines) - 200} more", markup=False)
    for address, count in sorted(report.failing.items()):
        out.print(f"  failing: {address} ({count} hard bounces)", markup=False)
