"""GitHub's rate limits, kept by the HTTP layer (:mod:`cimedic.connectors.github_actions.http`):
the last ``X-RateLimit-*`` headers, the server's clock, and a gate that every thread passes
before it sends a request.

Rules, from GitHub's docs "Rate limits for the REST API" and "Best practices for using the REST
API":

* "If you exceed your primary rate limit ... you should not try your request until after the
  time specified by the ``x-ratelimit-reset`` header" (epoch seconds, UTC). So when an answer
  of the ``core`` resource (``x-ratelimit-resource``; every endpoint cimedic calls is in it)
  says ``x-ratelimit-remaining: 0``, the gate closes until the reset plus :data:`RESET_MARGIN`;
  and at most ``remaining`` requests are in flight at once, so a thread pool cannot overshoot.
* On a 403/429 with ``retry-after``, wait that many seconds (delta-seconds or an HTTP-date); on
  a 403/429 with ``x-ratelimit-remaining: 0``, until the reset; on another secondary-limit
  answer, one minute, then exponentially longer (60, 120, 240 s, ...). These waits close the
  gate for every thread (secondary limits are per token too), except the primary limit of
  another resource than ``core``, which only the asking request waits for.
* Times are compared in the *server's* clock: each API answer's ``Date`` header (an HTTP-date,
  RFC 9110 section 6.6.1, read with :func:`email.utils.parsedate_to_datetime`) gives the offset
  of the local clock to GitHub's, so a skewed local clock neither sends before the reset nor
  waits an hour too long. Until an answer carries ``Date`` (or when none does), the local clock
  is used; an answer without ``Date`` keeps the last offset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

SECONDARY_FIRST_WAIT = 60.0
"""First wait (seconds) after a secondary rate limit without ``Retry-After``; doubled after."""
RESET_MARGIN = 1.0
"""Seconds waited past ``X-RateLimit-Reset`` (``Date`` has whole seconds: the offset may be 1 s short)."""
GATED_RESOURCES = (None, "core")
"""``X-RateLimit-Resource`` values that close the gate for every thread (none sent: ``core``)."""
IN_FLIGHT_POLL = 1.0
"""Real seconds between checks while waiting for the answers of requests in flight."""
EXHAUSTED = "rate limit exhausted"


@dataclass
class RateLimit:
    """Last seen ``X-RateLimit-*`` headers: ``reset`` is in epoch seconds (UTC); ``None`` when
    GitHub has not sent the header yet."""

    limit: int | None = None
    remaining: int | None = None
    reset: int | None = None
    used: int | None = None
    resource: str | None = None


@dataclass(frozen=True)
class Limited:
    """A rate-limited answer: wait ``wait`` seconds, until ``until`` (server epoch seconds);
    ``secondary``: a secondary limit without ``Retry-After``; ``shared``: every thread waits;
    ``why``: what for, in words."""

    wait: float
    until: float
    secondary: bool
    shared: bool
    why: str


@dataclass(frozen=True)
class Closed:
    """The gate stays closed ``wait`` seconds, until ``until`` (server epoch seconds), because of ``why``."""

    wait: float
    until: float
    why: str


def int_header(headers: httpx.Headers, name: str) -> int | None:
    """An integer header, or ``None`` when absent or not an integer."""
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def http_date(value: str | None) -> float | None:
    """Epoch seconds of an HTTP-date header value (``Date``), or ``None`` if absent or invalid."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def utc_time(epoch: float) -> str:
    """``HH:MM:SS UTC`` of epoch seconds."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def retry_after(headers: httpx.Headers, now: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds, or an HTTP-date against ``now``), or ``None``."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = http_date(value)
    return None if when is None else max(0.0, when - now)


def rate_limit_wait(response: httpx.Response, secondary: int, now: float, message: str) -> Limited | None:
    """The wait a rate-limited answer asks for, else ``None``. ``now``: server time;
    ``secondary``: secondary-limit answers already seen for this request; ``message``: GitHub's
    error message of the answer (a 403 naming a "secondary rate limit" is one)."""
    if response.status_code not in (403, 429):
        return None
    h = response.headers
    shared = h.get("x-ratelimit-resource") in GATED_RESOURCES
    after = retry_after(h, now)
    if after is not None:
        return Limited(after, now + after, False, shared, "rate limited (retry-after)")
    if h.get("x-ratelimit-remaining") == "0" and (reset := int_header(h, "x-ratelimit-reset")) is not None:
        wait = max(0.0, reset - now) + RESET_MARGIN
        return Limited(wait, now + wait, False, shared, EXHAUSTED)
    if response.status_code == 429 or "secondary rate limit" in message.lower():
        wait = SECONDARY_FIRST_WAIT * 2 ** min(secondary, 10)
        return Limited(wait, now + wait, True, True, "secondary rate limit")
    return None


class RateGate:
    """The rate-limit state of one token, shared by threads (see the module docstring).

    ``clock() -> epoch seconds`` is the local clock (injected). Call :meth:`acquire` before
    sending an API request and :meth:`release` with its answer (or ``None``) afterwards.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._rate = RateLimit()
        self._offset = 0.0  # server clock minus local clock, from the last ``Date`` header
        self._core_remaining: int | None = None
        self._core_reset: int | None = None
        self._pause_until: float | None = None
        self._pause_reason = ""
        self._in_flight = 0

    @property
    def rate_limit(self) -> RateLimit:
        """A snapshot of the last seen rate-limit headers (any resource)."""
        with self._cond:
            return replace(self._rate)

    def server_now(self) -> float:
        """The server's clock (epoch seconds): the local clock plus the offset measured from
        the last API answer's ``Date`` header (none yet: the local clock)."""
        with self._cond:
            return self.clock() + self._offset

    def observe(self, response: httpx.Response) -> None:
        """Take in an API answer's ``Date`` and ``X-RateLimit-*`` headers (not counted in flight)."""
        with self._cond:
            self._observe(response)

    def _observe(self, response: httpx.Response) -> None:
        h = response.headers
        server_time = http_date(h.get("date"))
        if server_time is not None:
            self._offset = server_time - self.clock()
        if "x-ratelimit-remaining" not in h:
            return
        rate = RateLimit(
            limit=int_header(h, "x-ratelimit-limit"),
            remaining=int_header(h, "x-ratelimit-remaining"),
            reset=int_header(h, "x-ratelimit-reset"),
            used=int_header(h, "x-ratelimit-used"),
            resource=h.get("x-ratelimit-resource"),
        )
        self._rate = rate
        if rate.resource not in GATED_RESOURCES or rate.remaining is None:
            return
        if rate.reset is None or self._core_reset is None or rate.reset > self._core_reset:
            self._core_remaining, self._core_reset = rate.remaining, rate.reset  # a new window
        elif rate.reset == self._core_reset:  # answers may arrive out of order: keep the lowest
            known = self._core_remaining
            self._core_remaining = rate.remaining if known is None else min(known, rate.remaining)
        # else: a late answer of an earlier window, no news

    def _closed_until(self, now: float) -> tuple[float, str] | None:
        ends: list[tuple[float, str]] = []
        if self._core_remaining == 0 and self._core_reset is not None:
            ends.append((self._core_reset + RESET_MARGIN, EXHAUSTED))
        if self._pause_until is not None:
            ends.append((self._pause_until, self._pause_reason))
        closed = [e for e in ends if now < e[0]]
        return max(closed) if closed else None

    def acquire(
        self, max_wait: float, wait: Callable[[float], None], waited_until: float | None = None
    ) -> Closed | None:
        """Wait until a request may be sent and count it in flight (``None``), or return the
        :class:`Closed` gate, counting nothing, when it would stay closed more than ``max_wait``
        seconds. A closed gate is waited for once with ``wait(seconds)`` (the injected sleep):
        the caller then counts as past that time (``waited_until``: server time it already
        waited for). When the window's last ``remaining`` requests are in flight, their answers
        are waited for (real time, :data:`IN_FLIGHT_POLL` s at a time)."""
        while True:
            with self._cond:
                now = max(self.clock() + self._offset, waited_until or 0.0)
                closed = self._closed_until(now)
                if closed is None:
                    if self._core_reset is not None and now >= self._core_reset + RESET_MARGIN:
                        self._core_remaining = None  # the window was reset: unknown until told
                    left = self._core_remaining
                    if left is None or left - self._in_flight > 0 or self._in_flight == 0:
                        self._in_flight += 1
                        return None
                    self._cond.wait(IN_FLIGHT_POLL)
                    continue
            until, why = closed
            if until - now > max_wait:
                return Closed(until - now, until, why)
            wait(until - now)
            waited_until = until

    def release(
        self, response: httpx.Response | None, secondary: int = 0, message: str = ""
    ) -> Limited | None:
        """End a request counted by :meth:`acquire`: take in its answer (``None``: none came)
        and, in the same step, close the gate for every thread when the answer is rate limited
        for all (:func:`rate_limit_wait`, whose result is returned)."""
        with self._cond:
            limited = None
            if response is not None:
                self._observe(response)
                limited = rate_limit_wait(response, secondary, self.clock() + self._offset, message)
                if (
                    limited is not None
                    and limited.shared
                    and (self._pause_until is None or limited.until > self._pause_until)
                ):
                    self._pause_until, self._pause_reason = limited.until, limited.why
            self._in_flight -= 1
            self._cond.notify_all()
            return limited
