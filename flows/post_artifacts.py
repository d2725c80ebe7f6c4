"""The cockpit's artifact poster: a process of its own, started by flows/publish.Publisher.

    python -m flows.post_artifacts < artifacts.jsonl

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

Writes one JSON line on stdout: `{"posted": n, "unchanged": n, "failed": n, "errors":
[the first few], "seconds": {...}}` (when the client was imported, the input ended and
the last post was answered, from the process's start). Exit
status 0 when every artifact is posted or unchanged, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

STARTED = time.perf_counter()

AT_ONCE = 4  # requests in flight: the server is one process, more would only queue
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


async def post_all(artifacts: AsyncIterator[dict[str, Any]], started: float) -> dict[str, Any]:
    """Post each artifact (flows/publish.as_posted) through this process's Prefect
    client; the report counts them and keeps the first errors. `started`: when the
    figures in report["seconds"] count from."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    report: dict[str, Any] = {"posted": 0, "unchanged": 0, "failed": 0, "errors": []}
    seconds = report["seconds"] = {"imported": round(time.perf_counter() - started, 3)}
    gate = asyncio.Semaphore(AT_ONCE)
    deferred: list[dict[str, Any]] = []

    async with get_client() as client:

        async def post(fields: dict[str, Any]) -> None:
            async with gate:
                try:
                    await client.create_artifact(artifact=ArtifactCreate(**fields))
                    report["posted"] += 1
                except Exception as error:  # told to the parent, which fails the task
                    report["failed"] += 1
                    if len(report["errors"]) < ERRORS_KEPT:
                        said = " ".join(str(error).split())  # one line, however it was put
                        report["errors"].append(f"{fields.get('key')}: {said[:300]}")

        pending: list[asyncio.Task[None]] = []
        async for given in artifacts:
            fields = dict(given)
            if fields.pop("only_if_changed", False):
                deferred.append(fields)
            else:
                pending.append(asyncio.create_task(post(fields)))
        seconds["input_ended"] = round(time.perf_counter() - started, 3)
        if deferred:
            latest = await _latest(client, sorted({f["key"] for f in deferred}))
            for fields in deferred:
                if latest.get(fields["key"]) == (fields["data"], fields["description"]):
                    report["unchanged"] += 1
                else:
                    pending.append(asyncio.create_task(post(fields)))
        await asyncio.gather(*pending)
    seconds["posted"] = round(time.perf_counter() - started, 3)
    return report


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

    report = asyncio.run(post_all(from_stdin(), STARTED))
    print(json.dumps(report), flush=True)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
