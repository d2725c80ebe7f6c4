"""A form's run named for what it did ("Joint LSP meeting 11 Nov completed by Jo
Bloggs"), so the Runs list of the Prefect UI reads as who did what, and when.

A name holds what the records hold anyway and shows elsewhere: an item's title and due
day, an incident's case reference, the name the person typed. Never a refused value (a
refused incident reference may be a child's name): a refusal is named by its form alone.
Prefect shows a name as plain text; control and direction characters are dropped all
the same, on one line, and it is cut to a length the Runs list shows whole.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from govcal.rules.text import shown

LONGEST = 120
TYPED_AT_MOST = 40  # of the typed name: the rest of the line says what was done


def _one_line(text: str, limit: int) -> str:
    line = " ".join(shown(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def done_name(what: str, due: date | None, verb: str, by: str) -> str:
    """`what` (a title or reference) `due` `verb` by `by`: one line of LONGEST at most."""
    day = f" {due:%d %b %Y}" if due else ""
    tail = f" {verb} by {_one_line(by, TYPED_AT_MOST)}"
    return _one_line(what, LONGEST - len(tail) - len(day)) + day + tail


def refused_name(form_title: str) -> str:
    return f"{form_title}: refused, nothing changed"


def name_this_run(name: str) -> None:
    """Rename the flow run in progress (Prefect's client API); outside a run, or when the
    API does not answer, the run keeps its name: the work is done and recorded anyway."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if not run_id:
        return
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(UUID(str(run_id)), name=name)
    except Exception:  # a name is a convenience, never worth a failed run
        return
