"""The cockpit's artifacts: what each partnership's board becomes, and how it is posted.

Each artifact is one call to Prefect's API server, about 11 ms of the server's CPU
whatever its size (a 200-byte table costs what a 33 KB one does), and the API has no bulk
endpoint: at 160 partnerships the 640 of them are about 7 s of the server's time, the
largest part of what the daily flow costs over the same steps as plain functions. One
async client in a background thread posts them, a few partnerships at a time (each
partnership's in order: summary, open items, returns), so that encoding the next
request overlaps the server's work on the last one.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from datetime import date
from typing import TYPE_CHECKING, Any

from prefect.artifacts import Artifact, MarkdownArtifact, TableArtifact
from prefect.client.orchestration import get_client
from prefect.utilities.context import get_task_and_flow_run_ids

if TYPE_CHECKING:
    from flows.dashboard import Dashboard

AT_ONCE = 4  # partnerships in flight: the server is one process, more would only queue
_DONE = None


def board_artifacts(board: Dashboard, as_of: date, sent: dict[str, int] | None) -> list[Artifact]:
    """One partnership's artifacts, under keys that stay the same from day to day (the UI
    shows the latest): the summary, the open items, one table per audit rule's cycle."""
    pid, stamp = board.partnership, f"as of {as_of:%d %b %Y}"
    return [
        MarkdownArtifact(
            markdown=board.markdown(sent), key=f"compliance-summary-{pid}",
            description=f"{board.name}: what needs attention, {stamp}",
        ),
        TableArtifact(
            table=board.table(), key=f"compliance-{pid}",
            description=f"{board.name}: open items, most urgent first, {stamp}",
        ),
    ] + [
        TableArtifact(table=cycle.rows, key=f"returns-{pid}-{cycle.rule_id}",
                      description=f"{cycle.describe()} ({stamp})")
        for cycle in board.cycles
    ]  # fmt: skip


class Publisher:
    """`with Publisher() as post: post([...])`: every batch is posted by the time the
    block ends; a failed call is raised there, as the plain call would have been."""

    def __init__(self) -> None:
        self._batches: queue.Queue[list[Artifact] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._task_run_id, self._flow_run_id = get_task_and_flow_run_ids()
        context = contextvars.copy_context()  # Prefect's settings (the API) come along
        self._thread = threading.Thread(target=context.run, args=(self._run,), daemon=True)

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __call__(self, batch: list[Artifact]) -> None:
        for artifact in batch:
            artifact.task_run_id = artifact.task_run_id or self._task_run_id
            artifact.flow_run_id = artifact.flow_run_id or self._flow_run_id
        self._batches.put(batch)

    def __exit__(self, *exc: Any) -> None:
        self._batches.put(_DONE)
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._post_all())
        except BaseException as error:  # handed to the task's thread in __exit__
            self._error = error

    async def _post_all(self) -> None:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(AT_ONCE)
        async with get_client() as client:

            async def post(batch: list[Artifact]) -> None:
                async with gate:
                    for artifact in batch:
                        await artifact.acreate(client)

            pending: set[asyncio.Task[None]] = set()
            while (batch := await loop.run_in_executor(None, self._batches.get)) is not _DONE:
                pending.add(asyncio.create_task(post(batch)))
                done = {t for t in pending if t.done()}
                pending -= done
                for t in done:
                    t.result()
            await asyncio.gather(*pending)
