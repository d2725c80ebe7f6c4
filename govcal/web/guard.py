"""What every response of the web app carries, and what every request must keep to:
security headers, a body size limit, rate limits per client and per token, and an
access log that never writes a token. A plain ASGI middleware (no dependency)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

MAX_BODY = 16 * 1024  # bytes: a note, a link and a day fit many times over
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_SECRET_PARTS = ("a", "feeds", "cockpit", "packs")  # paths whose next part is a token
_TOKEN = re.compile(rf"^/({'|'.join(_SECRET_PARTS)})/[^/?]+")
_PLAIN = re.compile(r"^/(healthz|static/[A-Za-z0-9_-]+\.(css|png|svg|ico))$")  # none
log = logging.getLogger("govcal.web")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def redacted(path: str) -> str:
    """A path as it may be logged: the app's own plain paths whole; any other only by its
    first part, so a token is never written, however a client mangled its link
    (//a/..., /A/..., /static/../a/...)."""
    if _PLAIN.match(path):
        return path
    head = path.split("/", 2)[1] if path.startswith("/") else ""
    return f"/{head}/***" if head in _SECRET_PARTS else "/***"


class Buckets:
    """Token buckets by key: `rate` requests a minute, bursts up to `burst`. Bounded:
    the least recently seen keys are forgotten first."""

    def __init__(self, rate: float, burst: int, keep: int = 50_000) -> None:
        self.rate, self.burst, self.keep = rate / 60.0, burst, keep
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.pop(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1
            self._state[key] = (tokens - 1 if allowed else tokens, now)
            while len(self._state) > self.keep:
                self._state.popitem(last=False)
            return allowed


class Guard:
    """Wraps the app: limits first, headers on every answer, a redacted access log."""

    def __init__(self, app: Any, *, https: bool, per_client: Buckets, per_token: Buckets):
        self.app, self.https = app, https
        self.per_client, self.per_token = per_client, per_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        client = (scope.get("client") or ("unknown", 0))[0]
        status = {"code": 0}

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", [])) + HEADERS
                if self.https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            refusal = self._refusal(scope, path, client)
            if refusal is not None:
                await _plain(send_with_headers, *refusal)
                return
            body = await _read(receive)
            if body is None:
                await _plain(send_with_headers, 413, "The form sent is too large.")
                return
            await self.app(scope, _replay(body, receive), send_with_headers)
        finally:
            log.info("%s %s %s %s", client, scope.get("method"), redacted(path), status["code"])

    def _refusal(self, scope: Scope, path: str, client: str) -> tuple[int, str] | None:
        length = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > MAX_BODY:
            return 413, "The form sent is too large."
        feed = path.startswith("/feeds/")
        if not self.per_client.allow(f"{'feed' if feed else 'page'}|{client}"):
            return 429, "Too many requests from your address; try again in a minute."
        match = _TOKEN.match(path)
        if match and not self.per_token.allow(match.group(0)):
            return 429, "Too many requests for this link; try again in a minute."
        return None


async def _read(receive: Receive) -> bytes | None:
    """The whole body, or None past MAX_BODY whatever Content-Length said (a chunked
    body has none): read here, before the app sees any of it."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            return None
        if not message.get("more_body", False):
            return body


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = {"done": False}

    async def replay() -> dict[str, Any]:
        if not sent["done"]:
            sent["done"] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # a disconnect, as the server reports it

    return replay


async def _plain(send: Send, status: int, text: str) -> None:
    body = f"{text}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"retry-after", b"60"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
