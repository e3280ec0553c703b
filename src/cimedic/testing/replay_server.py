"""Serve a :class:`GitHubReplay` over real loopback HTTP (``http.server`` in a background thread)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from cimedic.testing.github_replay import GitHubReplay


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replay: GitHubReplay
    url: str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = httpx.Request(
            self.command, self.server.url + self.path, headers=list(self.headers.items()), content=body
        )
        response = self.server.replay.respond(request, self.server.url, self.server.url)
        self.send_response_only(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        data = b"" if self.command == "HEAD" else response.content
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class ServedReplay:
    """A replay listening on ``url`` (``http://127.0.0.1:<port>``) until :meth:`close` or the end
    of its ``with`` block. Thread-safe: the replay's state is shared with its in-process users."""

    def __init__(self, replay: GitHubReplay, host: str = "127.0.0.1", port: int = 0) -> None:
        self.replay = replay
        self._server = _Server((host, port), _Handler)
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        self._server.replay, self._server.url = replay, self.url
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-replay", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ServedReplay:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
