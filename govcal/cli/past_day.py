"""A run that sends mail for a day before the one mail last went out for is refused.

`--as-of` is for trying a day out (with `--dry-run`) or for a fresh database; on a live
one, an earlier day mails reminders and escalations that are stale by now."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from govcal.cli.common import database, err
from govcal.models.ledger import last_mailed_day

AllowPastOption = Annotated[
    bool,
    typer.Option(
        "--allow-past-as-of",
        help="Send even though --as-of is before the day mail last went out for.",
    ),
]


def refuse_a_past_day(day: date, allowed: bool) -> None:
    """Exit 1 with one line, nothing done, when `day` is before the last mailed day."""
    if allowed:
        return
    with database() as session:
        last = last_mailed_day(session)
    if last is None or day >= last:
        return
    err.print(
        f"Error: --as-of {day} is before {last}, the day mail last went out for: a run for "
        f"an earlier day sends reminders that are stale now. See them with `govcal notify "
        f"--as-of {day} --dry-run`, or add --allow-past-as-of to send them anyway.",
        markup=False,
        soft_wrap=True,
    )
    raise typer.Exit(1)
