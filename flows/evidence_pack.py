"""The evidence-pack flow: a partnership's year, to download from the run's page.

Run from the UI (deployment "Make the evidence pack") before the annual report is
written. The pack is stored in govcal's database and published as a markdown artifact
(read in the UI) and two link artifacts: the printable HTML page and the CSV, served by
govcal's web app at signed addresses that expire. A path on the worker's disk would be
nobody's to open. The command line (`govcal pack`) writes the same files locally.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.states import Completed, Failed

from govcal.flows.forms import (
    AsOfText,
    PackForm,
    PackMonth,
    PackPartnership,
    PackStart,
    PackYear,
    parse,
)
from govcal.flows.refusals import quiet_returned_failures
from govcal.flows.run_names import name_this_run
from govcal.flows.runtime import build_runtime, web_secret
from govcal.models import pack_files
from govcal.models.db import session_scope
from govcal.notifications.pack import (
    build_pack,
    render_csv,
    render_html,
    render_markdown,
)
from govcal.rules.errors import GovcalError
from govcal.rules.text import markdown_text

quiet_returned_failures()  # a refusal: one line, no traceback


@flow(name="evidence-pack", validate_parameters=False)
def evidence_pack(
    partnership: PackPartnership = "wfscp",  # a value of the enum
    year: PackYear = "",
    start_month: PackStart = PackMonth.JANUARY,
    as_of: AsOfText = "",
) -> Any:
    """Make the evidence pack for one reporting year, to download as a printable page
    (HTML) or a spreadsheet (CSV) from this run's Artifacts.

    Args:
        partnership: The partnership whose year it is.
        year: The reporting year, e.g. 2025 (April to March: the year it starts); leave
            empty for the current one.
        start_month: The month the reporting year starts (April for April to March).
        as_of: Leave empty (today). Only to draw the pack up as it stood on a past day.
    """
    runtime = build_runtime()
    try:
        given = {
            "partnership": getattr(partnership, "value", partnership),
            "year": year,
            "start_month": start_month,
            "as_of": as_of,
        }
        form = parse(PackForm, given)
        day = form.as_of or runtime.today()
        secret = web_secret(runtime.settings)
        with session_scope(runtime.settings) as session:
            pack = build_pack(
                session,
                form.partnership,
                form.year or day.year,
                day,
                start_month=form.start_month.number,
            )
            token = (
                pack_files.keep(
                    session,
                    secret,
                    partnership_id=pack.partnership,
                    stem=pack.stem,
                    html=render_html(pack),
                    csv=render_csv(pack),
                    now=runtime.now(),
                )
                if secret
                else None
            )
    except GovcalError as exc:
        name_this_run("Make the evidence pack: refused, nothing made")
        return Failed(message=str(exc))
    name_this_run(f"Evidence pack {pack.period} made")
    base = (runtime.settings.public_url or "").rstrip("/")
    links = {k: f"{base}/packs/{token}.{k}" for k in _KINDS} if base and token else {}
    for kind, link in links.items():
        create_link_artifact(
            link=link,
            key=f"{pack.stem}-{kind}",
            link_text=f"Download the evidence pack {pack.period} ({_KINDS[kind]})",
            description=f"{markdown_text(pack.partnership_name)}: evidence pack {pack.period} "
            f"as of {day}, {_KINDS[kind]}; the address works for {pack_files.KEPT_DAYS} days",
        )
    downloads = "".join(
        f"\n- [Download the {_KINDS[kind]}]({link})" for kind, link in links.items()
    )
    create_markdown_artifact(
        markdown=render_markdown(pack) + (f"\n\n## Download\n{downloads}\n" if links else ""),
        key=pack.stem,
        description=(
            f"{markdown_text(pack.partnership_name)}: evidence pack {pack.period} as of {day}"
        ),
    )
    if not links:
        return Completed(
            message=f"evidence pack {pack.period} made; the Artifacts tab shows it. No download: "
            "govcal's web app is not set up (ask whoever runs govcal)",
            data=pack.stem,
        )
    return Completed(
        message=f"evidence pack {pack.period} ready: download it from the Artifacts tab "
        f"(printable HTML {links['html']} or CSV {links['csv']})",
        data=links,
    )


_KINDS = {"html": "printable page, HTML", "csv": "spreadsheet, CSV"}
