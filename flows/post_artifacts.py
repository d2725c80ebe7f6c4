"""The cockpit's artifact poster: a process of its own, started by flows/publish.Publisher.

    python -m govcal.flows.post_artifacts [DEADLINE_S] < artifacts.jsonl

Why a process: each artifact is one call to Prefect's API, about 9 ms of the server's CPU
and 2 ms of the client's. Posted from a thread of the flow's own process, the client's
share fought for the interpreter lock with the feeds written meanwhile (at 160
partnerships the feeds took 8.7 s instead of 4.2); from here it runs beside them.

Reads one JSON object a line: `key`, `type`, `description`, `data` (as Prefect stores
it), `task_run_id`, `flow_run_id` and `only_if_changed`. Each is posted as it arrives, a
few at a time. Those marked `only_if_changed` wait for the end of the input; then the
latest version of each of their keys is read from the server (one request per 200 keys)
and only those whose data or description differ are posted: a returns table changes when
a return, a review or a follow-up is recorded, not every day, and its history in the UI is
then the history of the cycle. The server is asked, never a note kept elsewhere, so a new
or emptied server gets every artifact again.

Everything is posted within DEADLINE_S seconds (default 900) or counted as failed, each
request answered within 20 s (Prefect's client retries inside that). Writes one JSON
line on stdout: `{"posted": n, "unchanged": n, "failed": n, "errors":
[the first few], "seconds": {...}}` (when the client was imported, the input ended and
the last post was answered, from the process's start). Exit
status 0 when every artifact is posted or unchanged, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

STARTED = time.perf_counter()

AT_ONCE = 4  # requests in flight: the server is one process, more would only queue
REQUEST_TIMEOUT_S = 20.0  # one answer; Prefect's client retries within the deadline
POSTING_TIMEOUT_S = 900.0  # all of them: 640 artifacts take about 6 s
PAGE = 200  # the server's largest page
ERRORS_KEPT = 5


async def _latest(client: Any, keys: list[str]) -> dict[str, tuple[Any, str | None]]:
    """The data and description of each key's latest version on the server."""
    from prefect.client.schemas.filters import (
        ArtifactCollectionFilter,
        ArtifactCollectionFilterKey,
    )

    found: dict[str, tuple[Any, str | None]] = {}
    for start in range(0, len(keys), PAGE):
        page = ArtifactCollectionFilterKey(any_=keys[start : start + PAGE])
        chosen = ArtifactCollectionFilter(key=page)
        for latest in await client.read_latest_artifacts(artifact_filter=chosen, limit=PAGE):
            found[latest.key] = (latest.data, latest.description)
    return found


def deadline_for(count: int | None) -> float:
    """How long posting may take in all: half a second an artifact over a 30 s floor, at
    most POSTING_TIMEOUT_S (unknown counts get that). A hung API is then a failure with
    its reason, never a run that waits for ever."""
    if count is None:
        return POSTING_TIMEOUT_S
    return min(POSTING_TIMEOUT_S, 30.0 + 0.5 * count)


def reason(error: BaseException) -> str:
    """What went wrong, in a few words a person can act on: never a traceback, a URL (it
    may carry a password) or a page of links."""
    import httpx
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return str(error.errors()[0].get("msg", "not valid"))
    if isinstance(error, httpx.HTTPStatusError):
        said = error.response.reason_phrase or ""
        try:
            detail = error.response.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            detail = detail[0].get("msg")
        extra = f": {detail}" if isinstance(detail, str) else ""
        return f"HTTP {error.response.status_code} {said}{extra}"[:300]
    if isinstance(error, httpx.TimeoutException | TimeoutError):
        return "Prefect's API did not answer in time"
    if isinstance(error, httpx.TransportError | OSError):
        return "could not reach Prefect's API (is the server up?)"
    said = without_urls(" ".join(str(error).split()))
    return (said or type(error).__name__)[:300]


def without_urls(text: str) -> str:
    """The text with every URL replaced: one may carry a password (user:pass@host)."""
    return re.sub(r"\w+://\S+", "<the API>", text)


async def post_all(
    artifacts: AsyncIterator[dict[str, Any]], started: float, deadline: float
) -> dict[str, Any]:
    """Post each artifact (flows/publish.as_posted) through this process's Prefect
    client, within `deadline` seconds in all; the report counts them and keeps the first
    errors (never raised). `started`: when the figures in report["seconds"] count from."""
    report: dict[str, Any] = {"posted": 0, "unchanged": 0, "failed": 0, "errors": []}
    seconds = report["seconds"] = {}
    given: list[dict[str, Any]] = []

    def failed(fields: dict[str, Any] | None, error: BaseException) -> None:
        report["failed"] += 1
        if len(report["errors"]) < ERRORS_KEPT:
            key = fields.get("key") if fields else None
            report["errors"].append(f"{key}: {reason(error)}" if key else reason(error))

    try:
        async with asyncio.timeout(deadline):
            await _post(artifacts, given, report, failed, started)
    except TimeoutError:
        unanswered = len(given) - report["posted"] - report["unchanged"] - report["failed"]
        report["failed"] += max(unanswered, 1)
        report["errors"].insert(0, f"Prefect's API did not take them within {deadline:.0f} s")
    except Exception as error:  # the client could not even start: one reason for all
        failed(None, error)
    seconds["posted"] = round(time.perf_counter() - started, 3)
    return report


async def _post(
    artifacts: AsyncIterator[dict[str, Any]],
    given: list[dict[str, Any]],
    report: dict[str, Any],
    failed: Callable[[dict[str, Any] | None, BaseException], None],
    started: float,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    report["seconds"]["imported"] = round(time.perf_counter() - started, 3)
    gate = asyncio.Semaphore(AT_ONCE)
    deferred: list[dict[str, Any]] = []
    async with get_client(httpx_settings={"timeout": REQUEST_TIMEOUT_S}) as client:

        async def post(fields: dict[str, Any]) -> None:
            async with gate:
                try:
                    await client.create_artifact(artifact=ArtifactCreate(**fields))
                    report["posted"] += 1
                except Exception as error:  # told to the parent, which fails the task
                    failed(fields, error)

        pending: list[asyncio.Task[None]] = []
        async for each_one in artifacts:
            fields = dict(each_one)
            given.append(fields)
            if fields.pop("only_if_changed", False):
                deferred.append(fields)
            else:
                pending.append(asyncio.create_task(post(fields)))
        report["seconds"]["input_ended"] = round(time.perf_counter() - started, 3)
        if deferred:
            try:
                latest = await _latest(client, sorted({f["key"] for f in deferred}))
            except Exception:  # cannot tell what changed: post them all
                latest = {}
            for fields in deferred:
                if latest.get(fields["key"]) == (fields["data"], fields["description"]):
                    report["unchanged"] += 1
                else:
                    pending.append(asyncio.create_task(post(fields)))
        await asyncio.gather(*pending)


async def each(artifacts: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for fields in artifacts:
        yield fields


def main() -> int:
    async def from_stdin() -> AsyncIterator[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:  # drains stdin at once, so the flow never waits on the pipe
            for line in sys.stdin:
                if line.strip():
                    loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, daemon=True).start()
        while (line := await lines.get()) is not None:
            yield json.loads(line)

    deadline = float(sys.argv[1]) if len(sys.argv) > 1 else POSTING_TIMEOUT_S
    report = asyncio.run(post_all(from_stdin(), STARTED, deadline))
    print(json.dumps(report), flush=True)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
