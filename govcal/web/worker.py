"""One worker process of `govcal web --workers N`: uvicorn starts N processes, each
importing this factory, so every worker has its own runtime, connection pool and
republisher (settings come from the environment the command was started with)."""

from __future__ import annotations

import socket
from typing import Any


def app() -> Any:
    """The app as one worker serves it."""
    from govcal.flows.runtime import build_runtime
    from govcal.prefect_env import configure_prefect
    from govcal.web.app import create_app
    from govcal.web.republish import republisher

    configure_prefect(reuse_server=True)
    runtime = build_runtime()
    return create_app(runtime, republish=republisher(runtime))


def default_workers() -> int:
    """One worker per core this process may run on: a page is Python work, and one
    process runs Python on one core at a time."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity call on this platform
        return max(1, os.cpu_count() or 1)


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket the worker processes share, made as a TCP socket by name: accepted
    connections inherit its protocol number, and asyncio sets TCP_NODELAY only on those
    that say TCP. uvicorn's own (Config.bind_socket) leaves it 0, so with --workers every
    keep-alive answer waited on the client's delayed ACK, about 40 ms a request
    (uvicorn issue 3149)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # the workers are spawned, and take it over
    return sock


def run_workers(factory: str, count: int, **options: Any) -> None:
    """`count` worker processes of the app `factory` ("module:function") under uvicorn's
    supervisor, sharing one listening socket made by listening_socket()."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(factory, factory=True, workers=count, **options)
    Multiprocess(config, sockets=[listening_socket(config.host, config.port)]).run()
