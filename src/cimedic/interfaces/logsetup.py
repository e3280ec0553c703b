"""Process logging for the long-running interfaces (``cimedic agent``, ``cimedic serve``): one
stderr handler on the root logger whose records are redacted first
(:class:`cimedic.analysis.redact.RedactingFilter`), so no secret from a build log, a URL or an
exception message reaches our own logs."""

from __future__ import annotations

import logging
import sys

from cimedic.analysis.redact import RedactingFilter

__all__ = ["configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record (test runners and
    daemons swap it), never to a stream that has been closed since."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # type: ignore[no-untyped-def]
        pass


def configure_logging(level: int = logging.INFO) -> logging.Handler:
    """Install (once per process) a redacting stderr handler on the root logger, at ``level`` for
    cimedic's and uvicorn's loggers and WARNING for libraries; redaction is also added to the
    handlers already there (e.g. uvicorn's); returns the cimedic handler."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_cimedic", False):
            return handler
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler._cimedic = True  # type: ignore[attr-defined]
    handler.setLevel(level)
    root.addHandler(handler)
    # our loggers and uvicorn's at ``level``; libraries (alembic, httpx, apscheduler, matplotlib)
    # at WARNING: their records reach the root handler only from WARNING up
    root.setLevel(logging.WARNING)
    for name in ("cimedic", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(level)
    for h in root.handlers + [
        h for n in ("uvicorn", "uvicorn.error", "uvicorn.access") for h in logging.getLogger(n).handlers
    ]:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
    return handler
