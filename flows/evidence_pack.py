"""The evidence-pack flow: a partnership's year as a markdown artifact and an HTML file.

Run from the UI (deployment `evidence-pack`) before the annual report is written; the
HTML file lands in the data folder's `packs/`, self-contained, ready to attach.
"""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from govcal.settings import get_settings
from models.db import session_scope
from notifications.pack import build_pack, render_markdown, write_pack
from rules.state import LONDON


@flow(name="evidence-pack")
def evidence_pack(
    partnership: str = "wfscp",
    year: int | None = None,
    start_month: int = 1,
    as_of: date | None = None,
) -> str:
    """Write the evidence pack for one reporting year (default: the current one) and
    publish it as the artifact `evidence-pack-PARTNERSHIP-YEAR`. Returns the HTML path."""
    day = as_of or datetime.now(LONDON).date()
    with session_scope() as session:
        pack = build_pack(session, partnership, year or day.year, day, start_month=start_month)
    _markdown, html = write_pack(pack, get_settings().data_dir / "packs")
    create_markdown_artifact(
        markdown=render_markdown(pack) + f"\n\nPrintable HTML pack: `{html}`\n",
        key=pack.stem,
        description=f"{pack.partnership_name}: evidence pack {pack.period} as of {day}",
    )
    return str(html)
