"""`/cockpit/<partnership>/<table>.csv`: a cockpit table as CSV, the latest rows, for an
address the flow signed (flows/cockpit_csv.py) and linked from the summary. Anything
else, a wrong signature or a table the partnership does not have, is one 404."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from govcal.flows import cockpit_csv, dashboard
from govcal.models.db import session_scope

if TYPE_CHECKING:
    from govcal.web.app import Web

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,80}")


async def table_csv(web: Web, request: Request) -> Response:
    pid = request.path_params["partnership"]
    name = request.path_params["table"]
    sig = request.query_params.get("sig", "")
    known = {p.id: p for p in web.runtime.partnerships}
    if not (
        _NAME.fullmatch(pid)
        and _NAME.fullmatch(name)
        and pid in known
        and cockpit_csv.signed(web.secret, pid, name, sig)
    ):
        return PlainTextResponse("No such table.\n", status_code=404)
    day = web.runtime.today()

    def read() -> str | None:
        with session_scope(web.runtime.settings, checked=True) as session:
            board = dashboard.build(session, known[pid], day)
        rows = cockpit_csv.tables(board).get(name)
        return None if rows is None else cockpit_csv.to_csv(rows)

    text = await run_in_threadpool(read)
    if text is None:
        return PlainTextResponse("No such table.\n", status_code=404)
    filename = f"{pid}-{name}-{day.isoformat()}.csv"
    return Response(
        text.encode("utf-8-sig"),  # the mark that makes a spreadsheet read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "private, no-store",
        },
    )
