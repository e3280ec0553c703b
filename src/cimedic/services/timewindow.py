"""Time windows given on the command line (``stats --since``, ``sync --since``, ``reprocess --since``).

A window start is either relative (``7d``: the last seven days) or absolute (an ISO 8601 date
or date-time, taken as UTC when it has no offset). Every window start lies at or after
:data:`EPOCH` (1970-01-01T00:00Z, the Unix epoch: no CI provider has a run before it): an
absolute start before it is refused with ``ValueError``; a relative window is at most
:data:`MAX_WINDOW` (36500 days, the customary "everything" of ``--since 36500d``), longer ones
are refused, and one reaching back before the epoch starts at the epoch. Nothing overflows
Python's ``datetime`` (years 1 to 9999) past these checks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["EPOCH", "MAX_WINDOW", "parse_moment", "parse_since", "resolve_since"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest window start (1970-01-01T00:00Z)."""
MAX_WINDOW = timedelta(days=36500)
"""The longest relative window (36500 days, about 100 years)."""

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"(\d+)\s*([mhdw])")
_LIMIT = "the window must start at or after 1970-01-01T00:00Z"
_MAX = "a window is at most 36500d (5214w, 876000h, 52560000m)"


def parse_since(text: str) -> timedelta | datetime:
    """Parse a window start: ``<N>m``, ``<N>h``, ``<N>d`` or ``<N>w`` (minutes, hours, days,
    weeks back from now; ``N`` a positive integer, at most :data:`MAX_WINDOW`) gives a
    ``timedelta``; an ISO 8601 date (``2024-05-01``, midnight UTC) or date-time
    (``2024-05-01T12:30``, ``...Z``, ``...+02:00``) at or after 1970-01-01T00:00Z gives an
    aware UTC ``datetime`` (UTC is assumed without an offset).

    Raises ``ValueError`` with a message naming the accepted forms otherwise, and one naming the
    limit for a longer window (``1000000d``) or an earlier start (``1969-12-31``).
    """
    value = text.strip()
    m = _RELATIVE.fullmatch(value.lower())
    if m:
        n = int(m.group(1))
        if n <= 0:
            raise ValueError(f"invalid --since {text!r}: the duration must be positive")
        if n * _SECONDS[m.group(2)] > MAX_WINDOW.total_seconds():
            raise ValueError(f"invalid --since {text!r}: {_MAX}")
        return timedelta(**{_UNITS[m.group(2)]: n})
    try:
        return parse_moment(value)
    except _WindowLimitError as exc:
        raise ValueError(f"invalid --since {text!r}: {exc}") from None
    except ValueError:
        raise ValueError(
            f"invalid --since {text!r}: expected a duration like 30m, 12h, 7d or 2w, "
            "or an ISO date or date-time like 2024-05-01 or 2024-05-01T12:00Z"
        ) from None


class _WindowLimitError(ValueError):
    """A well-formed moment outside the accepted range."""


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date (midnight) or date-time as an aware UTC ``datetime``; UTC is assumed
    without an offset. Raises ``ValueError`` (Python's message) for anything else, and one
    naming the limit for a moment before 1970-01-01T00:00Z or one that overflows in UTC."""
    when = datetime.fromisoformat(text.strip())
    try:
        when = _utc(when)
    except OverflowError:
        raise _WindowLimitError(f"{text.strip()!r} is out of range in UTC") from None
    if when < EPOCH:
        raise _WindowLimitError(_LIMIT)
    return when


def resolve_since(since: timedelta | datetime | None, now: datetime | None = None) -> datetime | None:
    """The window start as an aware UTC ``datetime``: ``now - since`` (``now`` default the
    current UTC time) for a ``timedelta``, not before :data:`EPOCH`; the value itself (naive
    taken as UTC) for a ``datetime``; ``None`` for ``None`` (unbounded).

    Raises ``ValueError`` naming the limit for a ``timedelta`` longer than :data:`MAX_WINDOW`
    or a ``datetime`` before 1970-01-01T00:00Z (or one that overflows in UTC)."""
    if since is None:
        return None
    if isinstance(since, timedelta):
        if since > MAX_WINDOW:
            raise ValueError(f"invalid window: {_MAX}")
        return max(_utc(now or datetime.now(UTC)) - since, EPOCH)
    try:
        start = _utc(since)
    except OverflowError:
        raise ValueError(f"invalid window start: {_LIMIT}") from None
    if start < EPOCH:
        raise ValueError(f"invalid window start: {_LIMIT}")
    return start


def _utc(when: datetime) -> datetime:
    """``when`` as an aware UTC datetime (naive taken as UTC); ``OverflowError`` out of range."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
