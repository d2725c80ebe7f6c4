"""The evidence-pack flow: a partnership's year as a markdown artifact and an HTML file.

Run from the UI (deployment `evidence-pack`) before the annual report is written; the
HTML file lands in the data folder's `packs/`, self-contained, ready to attach.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed

from govcal.flows.runtime import build_runtime
from govcal.models.db import session_scope
from govcal.notifications.pack import build_pack, render_markdown, write_pack
from govcal.rules.errors import GovcalError
from govcal.rules.text import markdown_text


@flow(name="evidence-pack")
def evidence_pack(
    partnership: str = "wfscp",
    year: int | None = None,
    start_month: int = 1,
    as_of: date | None = None,
) -> Any:
    """Write the evidence pack for one reporting year (default: the current one) and
    publish it as the artifact `evidence-pack-PARTNERSHIP-YEAR`. Returns the HTML path;
    a partnership or year that cannot be used ends the run with one line saying why."""
    runtime = build_runtime()
    day = as_of or runtime.today()
    try:
        with session_scope(runtime.settings) as session:
            pack = build_pack(session, partnership, year or day.year, day, start_month=start_month)
    except GovcalError as exc:
        return Failed(message=str(exc))
    _markdown, html = write_pack(pack, runtime.settings.data_dir / "packs")
    create_markdown_artifact(
        markdown=render_markdown(pack) + f"\n\nPrintable HTML pack: `{html}`\n",
        key=pack.stem,
        description=(
            f"{markdown_text(pack.partnership_name)}: evidence pack {pack.period} as of {day}"
        ),
    )
    return Completed(message=f"wrote {html}", data=str(html))
