"""The app as bench/web.py serves it: `govcal web`'s own app, on the benchmark's fixed
day and with rate limits raised (every simulated person shares one loopback address).
uvicorn imports `app` in each worker process, as `govcal web --workers N` does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2027, 3, 3, 12, tzinfo=UTC)


def app() -> Any:
    from govcal.flows.runtime import build_runtime
    from govcal.web.app import create_app

    return create_app(
        build_runtime(clock=lambda: NOW), per_client_minute=1_000_000, per_token_minute=100
    )
