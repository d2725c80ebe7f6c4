"""The real web app on a loopback port, over a data folder whose outbox holds the day's
real messages (sent with GOVCAL_PUBLIC_URL pointing at that port)."""

from __future__ import annotations

import email
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from pathlib import Path
from threading import Barrier

import httpx

from govcal.web.serving import Serving
from tests.smtp_server import free_port
from tests.support.snapshots import copy_data

DAY = date(2026, 10, 6)  # the sample has escalations to the Lead Partners on this day
NOW = datetime(2026, 10, 6, 12, tzinfo=UTC)
LINK = re.compile(r"https?://127\.0\.0\.1:\d+/a/[A-Za-z0-9_.-]+")


def public_data(sample_data: Path, tmp_path: Path, monkeypatch) -> int:
    """The sample's data folder under `tmp_path`, with GOVCAL_PUBLIC_URL on a free loopback
    port (links in messages point at it); returns the port."""
    from govcal.models.settings import get_settings

    copy_data(sample_data, tmp_path / "data")
    port = free_port()
    monkeypatch.setenv("GOVCAL_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK", "true")
    get_settings.cache_clear()
    return port


@dataclass
class Site:
    base: str
    outbox: Path
    serving: Serving

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(self.outbox.glob("*.eml"))
        ]

    def links(
        self, label: str, about: str = ""
    ) -> list[tuple[str, str, email.message.EmailMessage]]:
        """(recipient, link, message) of every link under `label` in the text parts, of
        the entries whose text has `about` in it."""
        found = []
        for message in self.messages():
            text = message.get_body(preferencelist=("plain",)).get_content()
            for entry in re.split(r"\n(?=\d+\. )", text):
                if about not in entry:
                    continue
                for block in entry.split(f"{label} (")[1:]:
                    found.append((str(message["To"]), LINK.search(block).group(0), message))
        return found


def day_sent(outbox: Path, day: date = DAY, now: datetime = NOW) -> None:
    """Sync the sample as of `day` and send its messages into `outbox`."""
    from govcal.flows.runtime import build_runtime
    from govcal.flows.steps import notify
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.sync import sync_partnership
    from govcal.notifications.render import Sender
    from govcal.notifications.transport import FileOutbox

    runtime = build_runtime()
    wfscp = runtime.partnership("wfscp")
    with session_scope(get_settings()) as session:
        sync_partnership(session, wfscp, day)
    with session_scope(get_settings()) as session:
        notify(
            session,
            [wfscp],
            day,
            FileOutbox(outbox),
            Sender("govcal", "govcal@example.org"),
            now=now,
            settings=get_settings(),
        )


def serve(port: int, now: datetime = NOW, republish=None, **limits) -> Serving:
    from govcal.flows.runtime import build_runtime
    from govcal.web.app import create_app

    app = create_app(build_runtime(clock=lambda: now), republish=republish, **limits)
    return Serving(app, "127.0.0.1", port).start()


def at_once(posts: list[tuple[str, dict]]) -> list[httpx.Response]:
    """Every POST sent at the same instant, each on its own connection."""
    start = Barrier(len(posts))

    def post(url: str, form: dict) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            start.wait()
            return client.post(url, data=form)

    with ThreadPoolExecutor(len(posts)) as pool:
        return list(pool.map(lambda p: post(*p), posts))
