"""Artifacts posted to Prefect's API while the next partnership's cockpit is being built.

Each artifact is one call to the API server (about 17 ms of its time at 160 partnerships
under load, and no bulk endpoint exists). Posted one after the other from the task, they
added up to 640 calls x 17 ms after the boards were built. Here one async client in a
background thread posts them, a few partnerships at a time (each partnership's
artifacts in order: summary, table, returns), while the task's own thread goes on
reading the database for the next board: the server's work and govcal's overlap.

A flow can hold one Publisher open across its tasks (`with publishing():`): the
dashboard task then only hands its artifacts over and the flow goes on to the feeds
while they are posted (640 calls, about 7 s of the server's time at 160 partnerships).
Each artifact keeps the task run that made it; the flow waits for the last one and fails
with the error if a post failed.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.utilities.context import get_task_and_flow_run_ids

AT_ONCE = 4  # partnerships in flight: the server is one process, more would only queue
_DONE = None


class Publisher:
    """`with Publisher() as post: post([...])`: every batch is posted by the time the
    block ends; a failed call is raised there, as the plain call would have been."""

    def __init__(self) -> None:
        self._batches: queue.Queue[list[Artifact] | None] = queue.Queue()
        self._error: BaseException | None = None
        context = contextvars.copy_context()  # Prefect's settings (the API) come along
        self._thread = threading.Thread(target=context.run, args=(self._run,), daemon=True)

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __call__(self, batch: list[Artifact]) -> None:
        task_run_id, flow_run_id = get_task_and_flow_run_ids()  # the caller's, as a plain call
        for artifact in batch:
            artifact.task_run_id = artifact.task_run_id or task_run_id
            artifact.flow_run_id = artifact.flow_run_id or flow_run_id
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


_flows_publisher: contextvars.ContextVar[Publisher | None] = contextvars.ContextVar(
    "govcal_publisher", default=None
)


@contextmanager
def publishing() -> Iterator[Publisher]:
    """For a flow's body: its tasks' artifacts keep being posted after the task that made
    them has ended; all are posted when the block ends, a failed post raised there."""
    with Publisher() as post:
        token = _flows_publisher.set(post)
        try:
            yield post
        finally:
            _flows_publisher.reset(token)


def publisher() -> AbstractContextManager[Publisher]:
    """The flow's Publisher if it holds one open (`publishing`), else one for this task
    alone, joined when the task's block ends."""
    held = _flows_publisher.get()
    return nullcontext(held) if held is not None else Publisher()
