"""`govcal pack`: the evidence pack of a partnership's year, for the annual report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govcal.cli.common import (
    AsOfOption,
    PartnershipOption,
    database,
    out,
    parse_day,
    today,
)
from govcal.models.settings import get_settings


def pack(
    year: Annotated[
        int, typer.Option("--year", min=2000, max=2099, help="The reporting year, e.g. 2025.")
    ],
    partnership: PartnershipOption = None,
    start_month: Annotated[
        int,
        typer.Option("--start-month", min=1, max=12, help="4 for an April-March year."),
    ] = 1,
    folder: Annotated[
        Path | None, typer.Option("--out", help="Folder to write to (default: data/packs).")
    ] = None,
    as_of: AsOfOption = None,
) -> None:
    """Write the evidence pack (markdown, a self-contained HTML file and a CSV) for one year."""
    from govcal.notifications.pack import build_pack, write_pack
    from govcal.rules.pack import Outcome, percent

    settings = get_settings()
    day = parse_day(as_of, "--as-of") or today()
    chosen = partnership or settings.default_partnership
    with database() as session:
        built = build_pack(session, chosen, year, day, start_month=start_month)
    markdown, html, table = write_pack(built, folder or settings.data_dir / "packs")
    f = built.figures
    out.print(f"{built.partnership_name}, {built.period}: {f.total} obligations due.")
    out.print(
        f"On time {f.outcomes[Outcome.ON_TIME]} ({percent(f.on_time_rate)} of {f.fell_due} "
        f"that fell due), late {f.outcomes[Outcome.LATE]}, missed {f.outcomes[Outcome.MISSED]}; "
        f"{f.escalated} escalated ({f.escalated_to_lead_partners} to the Lead Partners)."
    )
    for c in f.cycles:
        out.print(
            f"{c.title} due {c.due}: {c.returned} of {c.total} returned "
            f"({percent(c.return_rate)}), {c.on_time} on time, {c.late} late."
        )
    out.print(f"Wrote {html}")
    out.print(f"Wrote {markdown}")
    out.print(f"Wrote {table}")
