"""One helper for tests that serve an ASGI app over real loopback HTTP (uvicorn in a thread)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class ServedApp:
    """``with ServedApp(app) as url:`` serves ``app`` on 127.0.0.1 (a free port) in a thread and
    yields its base URL; stops it on exit. ``root_path`` as uvicorn's (a proxy's path prefix).
    Fails the test when uvicorn has not started within ``start_seconds``."""

    def __init__(self, app: Any, root_path: str = "", start_seconds: float = 10.0) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", root_path=root_path)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.start_seconds = start_seconds

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + self.start_seconds
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
