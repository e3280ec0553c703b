"""Problem details (RFC 9457, ``application/problem+json``) for answers that refuse a request."""

from __future__ import annotations

from fastapi.responses import JSONResponse

__all__ = ["problem"]


def problem(status: int, title: str, detail: str) -> JSONResponse:
    """A ``application/problem+json`` answer with ``type`` ``about:blank``."""
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )
