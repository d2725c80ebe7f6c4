"""The summary at a fixed address: /cockpit/<partnership>.<signature> shows the
partnership's summary as of the moment it is opened, built from the database the same
way the daily run builds the summary artifact (so it is never an old version, as a
bookmarked artifact in Prefect's UI is). The address is signed (models/cockpit_links.py);
markdown is rendered with raw HTML off, so text people typed stays text."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from govcal.flows import dashboard
from govcal.flows.runtime import Runtime
from govcal.models.cockpit_links import checked_partnership
from govcal.models.db import session_scope
from govcal.models.settings import SettingsError

_render = MarkdownIt("js-default")  # CommonMark, raw HTML escaped, no unsafe link schemes


async def summary_html(runtime: Runtime, secret: str, token: str) -> tuple[str, Markup] | None:
    """(the partnership's name, its summary as HTML), or None for an address that is
    not ours or a partnership that is not configured."""
    pid = checked_partnership(secret, token)
    if pid is None:
        return None
    try:
        partnership = runtime.partnership(pid)
    except SettingsError:
        return None

    def build() -> str:
        with session_scope() as session:
            return dashboard.build(session, partnership, runtime.today()).markdown()

    text = await run_in_threadpool(build)
    return partnership.name, Markup(_render.render(text))  # raw HTML in the text is escaped
