"""Rows whose stored dates lie outside the supported range are skipped, with a warning.

Commands and forms refuse such dates at the door (rules/dates.py), but a database may
already hold one (an older version accepted 0001-01-02; someone edited a row by hand).
Date arithmetic on it overflows, so the readers that feed the engine, notify, status and
feeds pass their rows through `usable`: one warning line names each skipped record and
the rest of the run proceeds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from govcal.models.calendar import OccurrenceRow
from govcal.rules.dates import SUPPORTED, in_engine_range

log = logging.getLogger("govcal.data")


def bad_dates(row: OccurrenceRow) -> list[str]:
    """The names of the row's dates that lie outside the supported range."""
    named = {
        "due": row.due,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "completed_at": row.completed_at,
    }
    return [
        name for name, value in named.items() if value is not None and not in_engine_range(value)
    ]


def warn_skipped(
    record: str, what: str, fix: str = "fix it with `govcal reschedule` or `govcal reopen`"
) -> None:
    """One warning line naming a stored record left out of this run, and why."""
    log.warning(
        "Warning: skipped %s: its stored %s is outside the supported range %s; %s",
        record,
        what,
        SUPPORTED,
        fix,
    )


def usable(rows: Iterable[OccurrenceRow]) -> list[OccurrenceRow]:
    """The rows whose dates are all in range; a warning line for each one left out."""
    kept = []
    for row in rows:
        wrong = bad_dates(row)
        if wrong:
            warn_skipped(
                row.public_id, " and ".join(f"{name} {getattr(row, name)}" for name in wrong)
            )
            continue
        kept.append(row)
    return kept
