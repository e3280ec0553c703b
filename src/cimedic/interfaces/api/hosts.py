"""The ``Host`` header check of ``cimedic serve`` (against DNS rebinding: a page on another site
that resolves its name to 127.0.0.1 must not reach the API). A request whose ``Host`` is not
allowed gets 400 ``application/problem+json`` (RFC 9457) and reaches no route.

Starlette's ``TrustedHostMiddleware`` would do, but it cuts the header at the first ``:`` and
so never matches an IPv6 literal (``[::1]:8000``); this one parses ``[v6]:port`` too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = ["DEFAULT_HOSTS", "HostCheck", "host_of"]

DEFAULT_HOSTS = ("127.0.0.1", "localhost", "[::1]")
"""Always allowed: the loopback names."""

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def host_of(header: str) -> str:
    """The host part of a ``Host`` header, lower-cased, without the port: ``[::1]:8000`` →
    ``[::1]``, ``Example.org:80`` → ``example.org``."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end > 0 else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheck:
    """ASGI middleware: HTTP and WebSocket requests must name an allowed host (``*`` allows any)."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = {host_of(h) for h in allowed}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = host_of(headers.get(b"host", b"").decode("latin-1"))
        if host in self.allowed:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Host not allowed",
                "status": 400,
                "detail": f"Host {host!r} is not in allowed_hosts (CIMEDIC_ALLOWED_HOSTS)",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
