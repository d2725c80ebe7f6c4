"""Run the app under uvicorn in a thread of this process: `govcal serve` keeps it beside
its Prefect server this way (and the tests run the real app on a loopback port)."""

from __future__ import annotations

import threading
import time
from typing import Any


class Serving:
    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            access_log=False,
            log_level="warning",
            proxy_headers=True,
            server_header=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="govcal-web", daemon=True)

    def start(self, timeout: float = 30) -> Serving:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the web app did not start on port {self.port}")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", [])
        if servers and servers[0].sockets:
            return servers[0].sockets[0].getsockname()[1]
        return self.server.config.port

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
