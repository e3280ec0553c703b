"""Request bodies are bounded before anything reads them whole, and before authentication: a
``POST`` whose ``Content-Length`` is over the route's cap is answered 413 at once; a body sent
without a length (chunked) is read up to the cap and refused as soon as it goes over, so an
unsigned 100 MB request costs at most the cap in memory.

Caps (:data:`WEBHOOK_MAX_BYTES`, :data:`JSON_MAX_BYTES`): webhook routes take what GitHub sends
at most ("Webhook events and payloads": payloads are capped at 25 MB); every other route takes
JSON bodies of at most 1 MiB.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["JSON_MAX_BYTES", "WEBHOOK_MAX_BYTES", "BodyLimit", "cap_for"]

WEBHOOK_MAX_BYTES = 25 * 1024 * 1024
"""Bytes a webhook delivery may have (GitHub caps payloads at 25 MB)."""
JSON_MAX_BYTES = 1024 * 1024
"""Bytes the body of any other request may have."""

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def cap_for(path: str) -> int:
    """The body cap of a request path, bytes."""
    return WEBHOOK_MAX_BYTES if path.startswith("/webhooks/") else JSON_MAX_BYTES


async def _refuse(send: Callable[[Any], Awaitable[None]], cap: int) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Request body too large",
            "status": 413,
            "detail": f"the body of this route may have at most {cap} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware enforcing :func:`cap_for` on every HTTP request body."""

    def __init__(self, app: ASGIApp, cap: Callable[[str], int] = cap_for) -> None:
        self.app = app
        self.cap = cap

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        cap = self.cap(str(scope.get("path", "")))
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = cap + 1
            if declared > cap:
                await _refuse(send, cap)
                return
        # read the body up to the cap (whatever the declared length), then hand it over
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _refuse(send, cap)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
