"""One worker process of `govcal web --workers N`: uvicorn starts N processes, each
importing this factory, so every worker has its own runtime, connection pool and
republisher (settings come from the environment the command was started with)."""

from __future__ import annotations

from typing import Any


def app() -> Any:
    """The app as one worker serves it."""
    from govcal.flows.runtime import build_runtime
    from govcal.prefect_env import configure_prefect
    from govcal.web.app import create_app
    from govcal.web.republish import Republisher

    configure_prefect(reuse_server=True)
    runtime = build_runtime()
    return create_app(runtime, republish=Republisher(runtime))


def default_workers() -> int:
    """One worker per core this process may run on: a page is Python work, and one
    process runs Python on one core at a time."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity call on this platform
        return max(1, os.cpu_count() or 1)
