"""Database errors as one line for interfaces (which do not import SQLAlchemy)."""

from __future__ import annotations

__all__ = ["describe_store_error"]


def describe_store_error(exc: BaseException) -> str | None:
    """One line for a database error raised while reading or writing the store (SQLAlchemy's
    error family: unreachable server, missing table, ...), without SQLAlchemy's "Background on
    this error" link; None for any other exception."""
    from sqlalchemy.exc import SQLAlchemyError

    if not isinstance(exc, SQLAlchemyError):
        return None
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(line for line in lines if not line.startswith("(Background on this error"))
    return f"cannot use the store: {type(exc).__name__}: {text}"
