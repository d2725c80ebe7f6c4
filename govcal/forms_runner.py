"""The business team's forms run the moment they are submitted, in a process that is warm.

A form submitted in the Prefect UI waits for whoever picks its run up. Prefect's process
worker asks its server every 10 s (PREFECT_WORKER_QUERY_SECONDS), then starts a new
Python process per run that imports Prefect and govcal again before doing 0.1-1.5 s of
work: 7-17 s from Submit to the answer. Prefect's own runner (`flow.serve`) asks every
10 s too and also starts a process per run (`run_flow_in_subprocess`, a spawned
interpreter). Both costs are the wait, not govcal's work.

prefect.yaml puts the forms in a queue of their own (`forms` in the `govcal` pool). This
runner keeps govcal and Prefect imported: it asks the server for that queue's scheduled
runs every POLL_S (the same call a worker makes, so the UI shows the queue ready and the
runner as a worker of the pool), claims each run by proposing Pending (the server
accepts one claimant only), and runs the flow in a thread of this process with Prefect's
own engine (`prefect.flow_engine.run_flow`): the run's states, logs, result and pause
are Prefect's as under a worker. A form that pauses for a choice holds its thread until
resumed (pause_flow_run, polled every second), never a process.

`govcal serve` keeps one beside its server; `govcal forms-runner` runs one against any
Prefect server (production: beside `prefect worker start --pool govcal --work-queue
default`, which leaves the forms to it; a worker of every queue would race it for them).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

POOL = "govcal"
QUEUE = "forms"  # prefect.yaml's forms
POLL_S = 0.5  # a run waits at most this long to be picked up; one small query each time
HEARTBEAT_S = 30.0  # how often the UI is told the runner is alive (the pool's status)
MOST_AT_ONCE = 16  # runs in hand, paused ones included; more wait Scheduled for a slot
# imported before the first form, not by it, and before the loop's thread starts (two
# threads importing the same modules at once can deadlock on Python's import locks)
WARM = (
    "govcal.flows.jobs",
    "govcal.flows.evidence_pack",
    "prefect.flow_engine",
    "prefect.client.schemas.responses",
    "prefect.states",
)
LAYERS = ("rules", "models", "notifications", "flows")  # installed as govcal.<layer>

log = logging.getLogger("govcal.forms_runner")


def flow_of(entrypoint: str) -> Any | None:
    """The flow an entrypoint of prefect.yaml names (`flows/jobs.py:record_completion`),
    from govcal's installed package, already imported: None if it is not govcal's."""
    path, _, name = entrypoint.partition(":")
    parts = path.removesuffix(".py").split("/")
    if not name or not path.endswith(".py") or parts[0] not in LAYERS:
        return None
    module = importlib.import_module(".".join(["govcal", *parts]))
    return getattr(module, name, None)


@dataclass
class FormsRunner:
    """Picks up and runs the pool's flow runs in this process until `stop`."""

    pool: str = POOL
    queue: str = QUEUE
    poll_s: float = POLL_S
    name: str = "govcal-forms-runner"
    _stop: threading.Event = field(default_factory=threading.Event)
    _in_hand: set[UUID] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _flows: dict[UUID, Any] = field(default_factory=dict)  # deployment id -> flow
    _thread: threading.Thread | None = None

    def start(self) -> FormsRunner:
        """Make sure the pool (a process pool: a plain Prefect worker can serve it too)
        and its forms queue exist, then poll in a background thread."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.exceptions import ObjectAlreadyExists

        for module in WARM:
            importlib.import_module(module)

        with get_client(sync_client=True) as client:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_work_pool(WorkPoolCreate(name=self.pool, type="process"))
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_work_queue(name=self.queue, work_pool_name=self.pool)
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, wait_s: float = 10.0) -> None:
        """Stop picking runs up; runs in hand finish in their own threads."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait_s)

    def _loop(self) -> None:
        from prefect.client.orchestration import get_client

        beat = 0.0
        with get_client(sync_client=True) as client:
            while not self._stop.is_set():
                try:
                    if time.monotonic() - beat >= HEARTBEAT_S:
                        client.send_worker_heartbeat(self.pool, self.name, HEARTBEAT_S)
                        beat = time.monotonic()
                    self._pick_up(client)
                except Exception as exc:  # the server restarting: say it, ask again later
                    log.warning("forms runner: %s; asking again", exc)
                    self._stop.wait(5.0)
                self._stop.wait(self.poll_s)

    def _pick_up(self, client: Any) -> None:
        from prefect.client.schemas.responses import SetStateStatus
        from prefect.states import Crashed, Pending

        soon = datetime.now(UTC) + timedelta(seconds=1)
        for response in client.get_scheduled_flow_runs_for_work_pool(
            self.pool, work_queue_names=[self.queue], scheduled_before=soon
        ):
            run = response.flow_run
            with self._lock:
                if run.id in self._in_hand or len(self._in_hand) >= MOST_AT_ONCE:
                    continue
            claimed = client.set_flow_run_state(run.id, Pending())
            if claimed.status != SetStateStatus.ACCEPT:
                continue  # another runner or worker has it
            try:
                flow = self._flow(client, run)
            except Exception as exc:  # its code cannot be loaded here: the run says why
                client.set_flow_run_state(run.id, Crashed(message=f"not loaded: {exc}"[:300]))
                continue
            with self._lock:
                self._in_hand.add(run.id)
            threading.Thread(
                target=self._run, args=(flow, run.id), name=f"form-{run.id}", daemon=True
            ).start()

    def _flow(self, client: Any, run: Any) -> Callable[..., Any]:
        """The deployment's flow, resolved once per deployment."""
        found = self._flows.get(run.deployment_id)
        if found is None:
            entrypoint = client.read_deployment(run.deployment_id).entrypoint or ""
            found = flow_of(entrypoint)
            if found is None:  # not one of govcal's: Prefect loads it as a worker would
                from prefect.flow_engine import load_flow

                found = load_flow(run)
            self._flows[run.deployment_id] = found
        return found

    def _run(self, flow: Any, run_id: UUID) -> None:
        from prefect.client.orchestration import get_client
        from prefect.flow_engine import run_flow
        from prefect.states import Crashed

        try:
            with get_client(sync_client=True) as client:
                run = client.read_flow_run(run_id)
            run_flow(flow, flow_run=run, return_type="state")
        except BaseException as exc:  # the engine records a flow's own failure itself
            log.exception("forms runner: flow run %s crashed", run_id)
            try:
                with get_client(sync_client=True) as client:
                    if not (client.read_flow_run(run_id).state or Crashed()).is_final():
                        client.set_flow_run_state(run_id, Crashed(message=str(exc)[:300]))
            except Exception:
                log.exception("forms runner: could not mark %s crashed", run_id)
        finally:
            with self._lock:
                self._in_hand.discard(run_id)
