"""The web app: routes, each a few lines over models/link_answers.py and
models/served_feeds.py. Built by `create_app`, served by uvicorn (`govcal web`, or
beside the Prefect server by `govcal serve`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from govcal.flows.runtime import Runtime, build_runtime, web_secret
from govcal.models import link_answers
from govcal.models.action_links import LinkAction, form_key
from govcal.models.db import Database, ensure_schema, read_scope, session_scope
from govcal.models.settings import SettingsError
from govcal.rules.errors import Refused, Unavailable
from govcal.web.guard import Buckets, Guard

HERE = Path(__file__).resolve().parent
SERVICE = "Safeguarding partnership calendar"
_pages = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # compiled once per process: the templates ship with the code
)
_FEED = re.compile(r"[A-Za-z0-9_-]{16,64}\.ics")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,40}\.[A-Za-z0-9_-]{20,40}")
_BUTTONS = {
    LinkAction.ACKNOWLEDGE: ("Acknowledge an escalation", "Acknowledge this escalation"),
    LinkAction.DONE: ("Record that it was done", "Record that it was done"),
    LinkAction.RETURN: ("Your organisation's return", "Submit our return"),
    LinkAction.ATTEND: ("Answer an invitation", "Send my answer"),
}
_PACK_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}
Republish = Callable[[str, date], None]
THREADS = 8  # database work at once per process: what the connection pool holds (5 + 10)
T = TypeVar("T")


def _no_pack() -> Response:
    """One answer for a forged, unknown or expired address: nothing to tell them apart."""
    return PlainTextResponse(
        "No such evidence pack: its address is wrong or has expired. Make the pack again "
        "from the Prefect UI (Make the evidence pack).\n",
        status_code=404,
    )


_KEPT = ("evidence", "day", "note", "answer", "deputy")  # what a page shows again


def _page(name: str, status: int = 200, **context) -> HTMLResponse:
    html = _pages.get_template(name).render(service=SERVICE, **context)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def _not_understood(status: int) -> HTMLResponse:
    """A form that did not come from our page as a browser sends it."""
    return _page(
        "refused.html.j2",
        status,
        page_title="Form not understood",
        heading="Form not understood",
        message="Send the form from its page.",
    )


class Web:
    """The app's state: the runtime, the signing key, the clock and the republisher."""

    def __init__(self, runtime: Runtime, secret: str, republish: Republish | None) -> None:
        self.runtime, self.secret, self.republish = runtime, secret, republish
        self.database = Database.of(runtime.settings)  # named once, not per request
        self._limiter: anyio.CapacityLimiter | None = None
        chosen = runtime.partnership() if runtime.partnerships else None
        self.mailbox = (chosen.business_team_mailbox if chosen else None) or (
            runtime.settings.mail_from
        )

    async def _in_thread(self, work: Callable[[], T]) -> T:
        """Database work off the event loop, a few at a time: more threads than pooled
        connections would only queue for one, and each holds the GIL in turn."""
        if self._limiter is None:  # made in the running loop, on the first request
            self._limiter = anyio.CapacityLimiter(THREADS)
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)

    def dead(self) -> HTMLResponse:
        """One page for every link that cannot be used: nothing to tell them apart."""
        return _page(
            "dead.html.j2", 404, page_title="This link cannot be used", mailbox=self.mailbox
        )

    def _act_page(
        self,
        token: str,
        view,
        *,
        error: str = "",
        done: str = "",
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        caption, button = _BUTTONS[view.action]
        key = form_key(self.secret, token.partition(".")[0])
        return _page(
            "act.html.j2",
            status,
            page_title=view.title,
            view=view,
            caption=caption,
            button=button,
            org=view.organisation,
            action=f"/a/{token}",
            view_key=key,
            error=error,
            done=done,
            values=dict.fromkeys(_KEPT, "") | (values or {}),
        )

    async def _view(self, token: str) -> Any:
        """What the link stands for, read off the event loop; None for a dead link."""
        runtime = self.runtime

        def read():
            with session_scope(self.database, checked=True) as session:
                return link_answers.open_link(
                    session,
                    self.secret,
                    token,
                    now=runtime.now(),
                    today=runtime.today(),
                    partnerships=runtime.partnerships,
                )

        try:
            return await self._in_thread(read)
        except link_answers.LinkDead:
            return None

    async def show(self, request: Request) -> Response:
        token = request.path_params["token"]
        if not _TOKEN.fullmatch(token):
            return self.dead()
        view = await self._view(token)
        if view is None:
            return self.dead()
        if view.already:
            return _page("already.html.j2", page_title="Recorded", already=view.already)
        done = request.query_params.get("done", "")
        return self._act_page(token, view, done="a follow-up action" if done else "")

    async def record(self, request: Request) -> Response:
        token = request.path_params["token"]
        if not _TOKEN.fullmatch(token):
            return self.dead()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return _not_understood(415)
        body = (await request.body()).decode("utf-8", errors="replace")
        try:  # a form of ours has at most 6 fields; empty ones (&&&) count too
            form = dict(parse_qsl(body, keep_blank_values=True, max_num_fields=10))
        except ValueError:
            return _not_understood(400)
        client = request.client.host if request.client else "unknown"
        runtime = self.runtime

        def write():
            with session_scope(self.database, checked=True) as session:
                return link_answers.answer(
                    session,
                    self.secret,
                    token,
                    form,
                    now=runtime.now(),
                    today=runtime.today(),
                    partnerships=runtime.partnerships,
                    client=client,
                )

        try:
            answered = await self._in_thread(write)
        except link_answers.LinkDead:
            return self.dead()
        except link_answers.FormRefused:
            return _page(
                "refused.html.j2",
                403,
                page_title="Open the link again",
                heading="Open the link from your email again",
                message="This form did not come from the page your link opens, or it "
                "has been changed.",
            )
        except Refused as exc:  # what was typed: the page again, saying what to change
            return await self._again(token, str(exc), form)
        except Unavailable:
            return _page(
                "refused.html.j2",
                503,
                page_title="Try again later",
                heading="Sorry, the service is unavailable",
                message="Try again in a few minutes.",
            )
        where = f"/a/{token}?done=1" if "follow_up" in form else f"/a/{token}"
        later = None  # the cockpit is queued once the person has their answer
        if answered.recorded and self.republish is not None:
            later = BackgroundTask(self.republish, answered.partnership_id, runtime.today())
        return RedirectResponse(where, status_code=303, background=later)

    async def _again(self, token: str, error: str, form: dict[str, str]) -> Response:
        """The page again with what was wrong; what they typed is kept."""
        view = await self._view(token)
        if view is None:
            return self.dead()
        kept = {k: form.get(k, "")[:2000] for k in _KEPT}
        return self._act_page(token, view, error=error, values=kept, status=400)

    async def feed(self, request: Request) -> Response:
        from govcal.models.served_feeds import Feed, by_token

        name = request.path_params["name"]
        if not _FEED.fullmatch(name):
            return PlainTextResponse("No such feed.\n", status_code=404)

        def unchanged(feed: Feed) -> bool:  # dates on the wire: the real clock's, as stamped
            return _not_modified(
                request, f'"{feed.etag}"', _second(feed.changed_at), datetime.now(UTC)
            )

        def read() -> Feed | None:
            with read_scope(self.database) as connection:
                return by_token(connection, name.removesuffix(".ics"), unless=unchanged)

        found = await self._in_thread(read)
        if found is None:
            return PlainTextResponse("No such feed.\n", status_code=404)
        etag = f'"{found.etag}"'
        changed = _second(found.changed_at)
        headers = {
            "etag": etag,
            "last-modified": format_datetime(changed, usegmt=True),
            "cache-control": "private, max-age=900",
        }
        if unchanged(found):
            return Response(status_code=304, headers=headers)
        return Response(found.content, media_type="text/calendar; charset=utf-8", headers=headers)

    async def pack(self, request: Request) -> Response:
        """An evidence pack made by the UI's form, as a download: HTML or CSV."""
        from govcal.models.pack_files import find

        token, dot, kind = request.path_params["name"].rpartition(".")
        if not dot or kind not in _PACK_TYPES or not _TOKEN.fullmatch(token):
            return _no_pack()
        runtime = self.runtime

        def read():
            with session_scope(self.database, checked=True) as session:
                found = find(session, self.secret, token, now=runtime.now())
                return None if found is None else (found.stem, getattr(found, kind))

        found = await self._in_thread(read)
        if found is None:
            return _no_pack()
        stem, content = found
        headers = {
            "content-disposition": f'attachment; filename="{stem}.{kind}"',
            "cache-control": "private, no-store",
        }
        return Response(content.encode("utf-8"), media_type=_PACK_TYPES[kind], headers=headers)

    async def table_csv(self, request: Request) -> Response:
        from govcal.web.tables import table_csv

        return await table_csv(self, request)

    async def cockpit(self, request: Request) -> Response:
        from govcal.web.cockpit import cockpit

        try:
            found = await cockpit(self.runtime, self.secret, request.path_params["token"])
        except Unavailable:
            return _page(
                "refused.html.j2",
                503,
                page_title="Try again later",
                heading="Sorry, the service is unavailable",
                message="Try again in a few minutes.",
            )
        if found is None:
            return self.dead()
        ui = (self.runtime.settings.ui_url or "").rstrip("/")
        return _page(
            "cockpit.html.j2",
            page_title=found.name,
            summary=found.summary,
            tables=found.tables,
            ui_url=ui,
        )

    async def health(self, _request: Request) -> Response:
        return PlainTextResponse("ok\n")


def _second(when: datetime) -> datetime:
    """Last-Modified's precision: a whole second, in UTC."""
    return when.astimezone(UTC).replace(microsecond=0)


def _not_modified(request: Request, etag: str, changed: datetime, now: datetime) -> bool:
    """RFC 9110's conditional GET: If-None-Match (any of its tags, weakly compared, or
    *) decides when given; else If-Modified-Since, ignored when it is not a date or is
    later than now (a client with a wrong clock would never be sent a change)."""
    wanted = request.headers.get("if-none-match")
    if wanted is not None:
        tags = [t.strip().removeprefix("W/") for t in wanted.split(",")]
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            when = parsedate_to_datetime(since)
            return changed <= when <= now
        except (TypeError, ValueError, OverflowError, IndexError):
            return False
    return False


def create_app(
    runtime: Runtime | None = None,
    *,
    republish: Republish | None = None,
    per_client_minute: int = 120,
    per_token_minute: int = 30,
) -> Guard:
    """The app as uvicorn serves it. Raises SettingsError without a signing key, and
    DatabaseUnavailable when the database cannot be used (its schema is checked here,
    once, not on every request)."""
    runtime = runtime or build_runtime()
    secret = web_secret(runtime.settings)
    if not secret:
        raise SettingsError(
            [
                "govcal web needs GOVCAL_WEB_SECRET (or GOVCAL_WEB_SECRET_BLOCK) with a "
                "configured database: every process that signs or checks links must share it"
            ]
        )
    ensure_schema(runtime.settings)
    web = Web(runtime, secret, republish)
    app = Starlette(
        routes=[
            Route("/a/{token}", web.show, methods=["GET", "HEAD"]),
            Route("/a/{token}", web.record, methods=["POST"]),
            Route("/feeds/{name}", web.feed, methods=["GET", "HEAD"]),
            Route("/packs/{name}", web.pack, methods=["GET", "HEAD"]),
            Route("/cockpit/{partnership}/{table}.csv", web.table_csv, methods=["GET"]),
            Route("/cockpit/{token}", web.cockpit, methods=["GET", "HEAD"]),
            Route("/healthz", web.health, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ],
    )
    app.router.redirect_slashes = False  # its redirect would name the request's Host
    https = (runtime.settings.public_url or "").startswith("https://")
    return Guard(
        app,
        https=https,
        per_client=Buckets(per_client_minute, per_client_minute),
        per_token=Buckets(per_token_minute, per_token_minute),
    )
