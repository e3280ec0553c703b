"""Time windows given on the command line (``stats --since``, ``sync --since``, ``reprocess --since``).

A window start is either relative (``7d``: the last seven days) or absolute (an ISO 8601 date
or date-time, taken as UTC when it has no offset).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["parse_moment", "parse_since", "resolve_since"]

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(r"(\d+)\s*([mhdw])")


def parse_since(text: str) -> timedelta | datetime:
    """Parse a window start: ``<N>m``, ``<N>h``, ``<N>d`` or ``<N>w`` (minutes, hours, days,
    weeks back from now; ``N`` a positive integer) gives a ``timedelta``; an ISO 8601 date
    (``2024-05-01``, midnight UTC) or date-time (``2024-05-01T12:30``, ``...Z``,
    ``...+02:00``) gives an aware UTC ``datetime`` (UTC is assumed without an offset).

    Raises ``ValueError`` with a message naming the accepted forms otherwise.
    """
    value = text.strip()
    m = _RELATIVE.fullmatch(value.lower())
    if m:
        n = int(m.group(1))
        if n <= 0:
            raise ValueError(f"invalid --since {text!r}: the duration must be positive")
        return timedelta(**{_UNITS[m.group(2)]: n})
    try:
        return parse_moment(value)
    except ValueError:
        raise ValueError(
            f"invalid --since {text!r}: expected a duration like 30m, 12h, 7d or 2w, "
            "or an ISO date or date-time like 2024-05-01 or 2024-05-01T12:00Z"
        ) from None


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date (midnight) or date-time as an aware UTC ``datetime``; UTC is assumed
    without an offset. Raises ``ValueError`` (Python's message) for anything else."""
    when = datetime.fromisoformat(text.strip())
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def resolve_since(since: timedelta | datetime | None, now: datetime | None = None) -> datetime | None:
    """The window start as an aware UTC ``datetime``: ``now - since`` for a ``timedelta``, the
    value itself (naive taken as UTC) for a ``datetime``, ``None`` for ``None`` (unbounded)."""
    if since is None:
        return None
    if isinstance(since, timedelta):
        return (now or datetime.now(UTC)) - since
    return since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
