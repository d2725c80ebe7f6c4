"""Republish a partnership's cockpit after an answer, off the request: the person's
page never waits on Prefect's API. One thread; answers arriving while it posts are
folded into one more republish per partnership. A post that fails is logged in one
line and tried again with the next answer or the next daily run (the summary is rebuilt
from the database each time, so nothing is lost)."""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govcal.flows.runtime import Runtime

log = logging.getLogger("govcal.web")


class Republisher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime  # the app's: the same settings and rules as its pages
        self._wanted: dict[str, date] = {}
        self._lock = threading.Condition()
        self._busy = False
        self.tried = 0  # republishes attempted (posted, or failed and logged)
        self._thread = threading.Thread(target=self._run, name="govcal-republish", daemon=True)
        self._thread.start()

    def __call__(self, partnership_id: str, day: date) -> None:
        with self._lock:
            self._wanted[partnership_id] = day
            self._lock.notify_all()

    def wait(self, timeout: float = 120, tried: int = 0) -> bool:
        """True once nothing is waiting or being posted and at least `tried` republishes
        were attempted (for tests and shutdown: an answer queues its republish after the
        person's response is sent)."""
        with self._lock:
            return self._lock.wait_for(
                lambda: not self._wanted and not self._busy and self.tried >= tried, timeout
            )

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: bool(self._wanted))
                partnership_id, day = self._wanted.popitem()
                self._busy = True
            try:
                from govcal.flows.tasks import publish_dashboard

                publish_dashboard(self.runtime, day, only=partnership_id)
            except Exception as exc:  # the API down or refusing: said, never raised
                log.warning("cockpit of %s not republished: %s", partnership_id, type(exc).__name__)
            finally:
                with self._lock:
                    self._busy = False
                    self.tried += 1
                    self._lock.notify_all()


def republisher(runtime: Runtime) -> Republisher | None:
    """The app's republisher when a Prefect API is there to post to (the operator's
    PREFECT_API_URL, or the server `govcal serve` keeps, as configure_prefect found it).
    Without one, Prefect would start a temporary server of its own in every worker
    (about 200 MB each, left running if the worker is killed): the cockpit is then
    republished by the next daily run, and the web cockpit reads the database anyway."""
    import os

    return Republisher(runtime) if os.environ.get("PREFECT_API_URL") else None
