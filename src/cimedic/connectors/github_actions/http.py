"""HTTP layer of the GitHub connector: headers, rate limits, retries, ETags, redirect downloads.

Rules implemented, with their GitHub documentation:

* "Getting started with the REST API": send ``Accept: application/vnd.github+json``,
  ``X-GitHub-Api-Version: 2022-11-28`` and a ``User-Agent``.
* "Rate limits for the REST API" and "Best practices for using the REST API": the
  ``X-RateLimit-Limit/Remaining/Used/Reset/Resource`` headers are tracked in :class:`RateLimit`;
  on 403/429 with ``Retry-After`` wait that many seconds; with ``X-RateLimit-Remaining: 0``
  wait until ``X-RateLimit-Reset`` (epoch seconds, plus 1 s for clock skew); on other
  secondary-limit answers wait one minute, then exponentially longer (60, 120, 240 s, ...).
  Nothing is *sent* while the ``core`` limit is exhausted or such a wait runs, from any
  thread, and reset times are compared in GitHub's clock (the ``Date`` header), not the local
  one: :class:`~cimedic.connectors.github_actions.ratelimit.RateGate`. A wait longer than
  ``max_wait`` seconds, or more than ``max_retries`` retries, raises :class:`RateLimitError`
  (a closed gate: "rate limit exhausted until HH:MM:SS UTC", without sending).
* "Use conditional requests" (same page): ``If-None-Match`` with a stored ``ETag``; a 304 does
  not count against the primary rate limit.
* Server errors (5xx) and network errors are retried after 1, 2 and 4 s.
* "Download job logs for a workflow run" / "Download an artifact": the API answers 302 with a
  short-lived ``Location`` on another host; it is fetched without the ``Authorization``
  header (the URL is signed).

All rate-limit and back-off waiting goes through the injected ``sleep`` and ``clock`` (seconds),
so tests never sleep (the gate's only real wait is for answers of requests in flight). Shared
state (counters, rate limit, gate) is guarded by locks: one :class:`Transport` may serve a
thread pool.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx

from cimedic.connectors.github_actions.mapping import error_message
from cimedic.connectors.github_actions.ratelimit import (
    EXHAUSTED,
    SECONDARY_FIRST_WAIT,
    RateGate,
    RateLimit,
    utc_time,
)
from cimedic.model.providers import EtagStore, LogDownload, ProviderError

if TYPE_CHECKING:  # auth imports this module (errors, headers)
    from cimedic.connectors.github_actions.auth import Auth

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
BASE_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": API_VERSION,
    "User-Agent": "cimedic",
}
SERVER_BACKOFF = (1.0, 2.0, 4.0)
"""Seconds to wait before each retry of a 5xx / network error."""
_REDIRECTS = (301, 302, 303, 307, 308)


class GitHubError(ProviderError):
    """A GitHub request failed: HTTP ``status`` (0 for a network error), the ``url`` and a
    ``message`` (GitHub's JSON ``message`` and ``documentation_url`` when it sent them)."""

    def __init__(self, status: int, url: str, message: str) -> None:
        super().__init__(status, url, message, provider="github")
        Exception.__init__(self, f"GitHub {status} for {url}: {message}")


class RateLimitError(GitHubError):
    """Rate limited for longer than allowed (``wait`` seconds needed), or retries exhausted."""

    def __init__(self, status: int, url: str, message: str, wait: float | None = None) -> None:
        self.wait = wait
        super().__init__(status, url, message)


@dataclass
class Stats:
    """Request counters (for benchmarks). ``requests``: API requests answered (all statuses);
    ``not_modified``: 304 answers; ``primary_cost``: answers that count against the primary rate
    limit (all but 304); ``waited_seconds``: total sleep; ``downloads`` / ``downloaded_bytes``:
    fetches from redirect targets (they do not count against the API limit)."""

    requests: int = 0
    not_modified: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    waited_seconds: float = 0.0
    primary_cost: int = 0
    downloads: int = 0
    downloaded_bytes: int = 0


class MemoryEtagStore:
    """A thread-safe in-memory :class:`EtagStore`."""

    def __init__(self) -> None:
        self._etags: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> str | None:
        with self._lock:
            return self._etags.get(url)

    def put(self, url: str, etag: str) -> None:
        with self._lock:
            self._etags[url] = etag


def _public_url(url: httpx.URL) -> str:
    """A URL fit for messages: the query of a signed download URL is dropped."""
    return str(url.copy_with(query=None))


class Transport:
    """Sends GitHub API requests with headers, auth, rate-limit waits, retries and ETags.

    ``sleep(seconds)`` and ``clock() -> epoch seconds`` are injected. Raises
    :class:`GitHubError` for 4xx answers other than rate limits, and after the retries of
    5xx / network errors; :class:`RateLimitError` when a rate-limit wait would exceed
    ``max_wait`` seconds or ``max_retries`` retries were spent.
    """

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        auth: Auth | None,
        etags: EtagStore | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        max_retries: int,
        max_wait: float,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.etags = etags if etags is not None else MemoryEtagStore()
        self.sleep = sleep
        self.clock = clock
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._stats = Stats()
        self.gate = RateGate(clock)

    # ------------------------------------------------------------------ state

    @property
    def rate_limit(self) -> RateLimit:
        """A snapshot of the last seen rate-limit headers."""
        return self.gate.rate_limit

    def server_now(self) -> float:
        """GitHub's clock (epoch seconds), as measured from its ``Date`` headers."""
        return self.gate.server_now()

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters."""
        with self._lock:
            return replace(self._stats, by_status=Counter(self._stats.by_status))

    def _count(self, response: httpx.Response) -> None:
        with self._lock:
            self._stats.requests += 1
            self._stats.by_status[response.status_code] += 1
            if response.status_code == 304:
                self._stats.not_modified += 1
            else:
                self._stats.primary_cost += 1

    def _acquire(self, url: str, waited_until: float | None = None) -> None:
        """Pass the gate (waiting with the injected sleep; ``waited_until``: server time this
        request already waited for); :class:`RateLimitError` without sending when it stays
        closed longer than ``max_wait``."""
        closed = self.gate.acquire(self.max_wait, self._wait, waited_until)
        if closed is not None:
            raise RateLimitError(
                403 if closed.why == EXHAUSTED else 429,
                url,
                f"{closed.why} until {utc_time(closed.until)} (GitHub's clock): not sent, the wait of "
                f"{closed.wait:.0f} s exceeds max_wait {self.max_wait:.0f} s",
                closed.wait,
            )

    def _wait(self, seconds: float) -> None:
        with self._lock:
            self._stats.waited_seconds += seconds
        self.sleep(seconds)

    # ------------------------------------------------------------------ requests

    def url(self, path: str) -> str:
        """Absolute URL of an API ``path`` (absolute URLs, e.g. ``Link`` targets, pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _headers(self, auth: Auth | None) -> dict[str, str]:
        headers = dict(BASE_HEADERS)
        auth = auth if auth is not None else self.auth
        if auth is not None:
            headers.update(auth.headers())
        return headers

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        conditional: bool = False,
        follow_redirects: bool = True,
        auth: Auth | None = None,
    ) -> httpx.Response:
        """Send one API request and return its 2xx/3xx response.

        Redirects (GitHub answers 301/307 for renamed or transferred repositories) are followed
        unless ``follow_redirects`` is False; httpx drops ``Authorization`` when a redirect
        leaves the API host. With ``conditional``, ``If-None-Match`` carries the stored ETag and
        a 200's ``ETag`` is stored; a 304 is returned as is. ``auth`` replaces the transport's
        own auth for this request (e.g. an App auth bound to the repository's installation).
        """
        rate_retries = 0
        server_retries = 0
        secondary = 0
        waited_until: float | None = None  # server time a rate-limit wait of this request ended
        while True:
            request = self.http.build_request(
                method, self.url(path), params=params, headers=self._headers(auth)
            )
            key = str(request.url)
            if conditional and (etag := self.etags.get(key)):
                request.headers["If-None-Match"] = etag
            self._acquire(key, waited_until)
            try:
                response = self.http.send(request, follow_redirects=follow_redirects)
                response.read()
            except httpx.TransportError as err:
                self.gate.release(None)
                if server_retries >= min(self.max_retries, len(SERVER_BACKOFF)):
                    raise GitHubError(0, key, f"network error: {err!r}") from err
                self._wait(SERVER_BACKOFF[server_retries])
                server_retries += 1
                continue
            except BaseException:
                self.gate.release(None)
                raise
            self._count(response)
            status = response.status_code
            message = self._message(response) if status in (403, 429) else ""
            limited = self.gate.release(response, secondary, message)
            if status < 400:
                if conditional and status == 200 and (etag := response.headers.get("etag")):
                    self.etags.put(key, etag)
                return response
            if limited is not None:
                wait = limited.wait
                secondary += limited.secondary
                if rate_retries >= self.max_retries:
                    raise RateLimitError(
                        status, key, f"still rate limited after {rate_retries} retries: {message}", wait
                    )
                if wait > self.max_wait:
                    raise RateLimitError(
                        status,
                        key,
                        f"rate limited until {utc_time(limited.until)} (GitHub's clock), {wait:.0f} s "
                        f"(> max_wait {self.max_wait:.0f} s): {message}",
                        wait,
                    )
                log.warning("GitHub rate limit on %s: waiting %.0f s (%s)", key, wait, message)
                self._wait(wait)  # other threads wait at the gate when the limit is ``shared``
                waited_until = limited.until
                rate_retries += 1
                continue
            if status >= 500 and server_retries < min(self.max_retries, len(SERVER_BACKOFF)):
                log.warning("GitHub %s on %s: retrying", status, key)
                self._wait(SERVER_BACKOFF[server_retries])
                server_retries += 1
                continue
            raise GitHubError(status, key, self._message(response))

    def send_once(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` once through the gate and count its answer, whatever its status (no
        retry: for requests that must not be repeated, e.g. creating an issue). Raises
        :class:`RateLimitError` when the gate stays closed longer than ``max_wait``, and
        ``httpx.TransportError`` on a network error."""
        self._acquire(str(request.url))
        try:
            response = self.http.send(request)
            response.read()
        except BaseException:
            self.gate.release(None)
            raise
        self._count(response)
        self.gate.release(response)
        return response

    def _message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        message = error_message(body)
        if message:
            return message
        text = response.text.strip()[:200]
        return text or response.reason_phrase or f"HTTP {response.status_code}"

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body of ``response``; :class:`GitHubError` naming the URL if it is not JSON."""
        try:
            return response.json()
        except ValueError as err:
            raise GitHubError(
                response.status_code, str(response.request.url), f"response is not valid JSON: {err}"
            ) from None

    # ------------------------------------------------------------------ downloads

    def download(self, path: str, max_bytes: int | None = None, auth: Auth | None = None) -> LogDownload:
        """GET ``path``, follow its redirect without ``Authorization``, stream the body.

        Keeps at most the last ``max_bytes`` bytes when given. A failing download host (5xx,
        network) is retried with a fresh redirect after 1, 2, 4 s; other failures raise
        :class:`GitHubError` (the signed URL's query is left out of messages).
        """
        attempt = 0
        while True:
            response = self.send("GET", path, follow_redirects=False, auth=auth)
            if response.status_code not in _REDIRECTS:
                return _tail(iter([response.content]), max_bytes)
            location = response.headers.get("location")
            if not location:
                raise GitHubError(
                    response.status_code, str(response.request.url), "redirect without Location"
                )
            target = response.request.url.join(location)
            request = self.http.build_request(
                "GET", target, headers={"User-Agent": BASE_HEADERS["User-Agent"]}
            )
            request.headers.pop("Authorization", None)  # signed URL on another host: no token
            try:
                blob = self.http.send(request, stream=True, auth=None, follow_redirects=True)
                try:
                    if blob.status_code < 300:
                        result = _tail(blob.iter_bytes(), max_bytes)
                        with self._lock:
                            self._stats.downloads += 1
                            self._stats.downloaded_bytes += result.size
                        return result
                    blob.read()
                    status, text = blob.status_code, blob.text[:200]
                finally:
                    blob.close()
            except httpx.TransportError as err:
                status, text = 0, f"network error: {err!r}"
            if (status == 0 or status >= 500) and attempt < min(self.max_retries, len(SERVER_BACKOFF)):
                self._wait(SERVER_BACKOFF[attempt])
                attempt += 1
                continue
            raise GitHubError(status, _public_url(target), text or "download failed")


def _tail(chunks: Iterable[bytes], max_bytes: int | None) -> LogDownload:
    buf = bytearray()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        buf += chunk
        if max_bytes is not None and len(buf) > 2 * max_bytes + 65536:
            del buf[: len(buf) - max_bytes]
    if max_bytes is not None and len(buf) > max_bytes:
        del buf[: len(buf) - max_bytes]
    return LogDownload(content=bytes(buf), size=size, truncated=max_bytes is not None and size > max_bytes)


__all__ = [
    "API_VERSION",
    "SECONDARY_FIRST_WAIT",
    "EtagStore",
    "GitHubError",
    "LogDownload",
    "MemoryEtagStore",
    "RateLimit",
    "RateLimitError",
    "Stats",
    "Transport",
]
