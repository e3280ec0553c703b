"""HTTP details of GitHub's REST API that the replay mimics: headers, error bodies, pagination
links and the ``created`` date filter.

- Response headers: the set GitHub sent in a recorded exchange (octokit/fixtures
  ``get-repository``, bundled as ``templates/octokit.get-repository.exchange.json``), with the
  per-response ones (``Date``, ``ETag``, ``Link``, ``X-RateLimit-*``, ``X-GitHub-Request-Id``)
  recomputed; plus ``x-github-api-version-selected``
  (https://docs.github.com/en/rest/about-the-rest-api/api-versions).
- Rate-limit headers and bodies: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api.
- ``Link`` header: ``<url>; rel="prev", <url>; rel="next", <url>; rel="last", <url>; rel="first"``,
  in that order, on ``/repositories/{id}/...`` URLs, exactly as in the recorded
  ``paginate-issues`` exchanges (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api).
- ``created``: GitHub's search date syntax (``2024-05-01``, ``>=2024-05-01``, ``<2024-05-01T12:00:00Z``,
  ``2024-05-01..2024-05-03``, ``2024-05-01..*``), https://docs.github.com/en/search-github/getting-started-with-searching-on-github/understanding-the-search-syntax#query-for-dates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlencode

from cimedic.testing.replay_objects import template

DOCS = "https://docs.github.com/rest"
_DYNAMIC = {
    "date", "content-length", "content-type", "etag", "last-modified", "link", "location", "connection",
    "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used",
    "x-ratelimit-resource", "x-github-request-id",
}  # fmt: skip
JSON_TYPE = "application/json; charset=utf-8"


@lru_cache(maxsize=1)
def recorded_headers() -> tuple[tuple[str, str], ...]:
    """The static part of the header set GitHub sent with a recorded ``GET /repos/{o}/{r}`` (in order)."""
    raw = template("octokit.get-repository.exchange.json")["rawHeaders"]
    pairs = zip(raw[::2], raw[1::2], strict=True)
    return tuple((k, v) for k, v in pairs if k.lower() not in _DYNAMIC)


def error_body(status: int, message: str, documentation_url: str = DOCS, **extra: object) -> bytes:
    """GitHub's error body: ``{"message", "documentation_url", "status"}`` (``status`` as a string)."""
    return json.dumps(
        {"message": message, **extra, "documentation_url": documentation_url, "status": str(status)}
    ).encode()


def validation_failed(resource: str, field: str, documentation_url: str) -> bytes:
    """A 422 ``Validation Failed`` body with one ``invalid`` error (shape of the recorded ``errors`` exchange)."""
    body = template("octokit.errors.exchange.json")["response"]
    body["errors"] = [{"resource": resource, "code": "invalid", "field": field}]
    body["documentation_url"] = documentation_url
    body["status"] = "422"
    return json.dumps(body).encode()


NOT_FOUND = error_body(404, "Not Found", f"{DOCS}")
BAD_CREDENTIALS = error_body(401, "Bad credentials")
CAP_422 = error_body(
    422, "Only the first 1000 results are available.", "https://docs.github.com/v3/#pagination"
)
SECONDARY_RATE_LIMIT = error_body(
    403,
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out "
    "to GitHub Support for help, please include the request ID 0680:9DE7:2E338C5:57FAD29:62D63515.",
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
)


def primary_rate_limit_body(user_id: int) -> bytes:
    """The 403 body of an exhausted primary rate limit."""
    return error_body(
        403,
        f"API rate limit exceeded for user ID {user_id}.",
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit",
    )


def link_header(base: str, params: list[tuple[str, str]], page: int, last: int) -> str | None:
    """GitHub's ``Link`` value for ``page`` of ``last`` pages of ``base`` (``None`` for a lone page).

    The request's query parameters keep their order; ``page`` replaces the request's or is appended.
    """

    def url(n: int) -> str:
        q = [(k, str(n) if k == "page" else v) for k, v in params]
        if not any(k == "page" for k, _ in params):
            q.append(("page", str(n)))
        return f"<{base}?{urlencode(q)}>"

    rels = []
    if page > 1:
        rels.append(f'{url(min(page - 1, max(last, 1)))}; rel="prev"')
    if page < last:
        rels += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        rels.append(f'{url(1)}; rel="first"')
    return ", ".join(rels) or None


def _bounds(text: str) -> tuple[datetime, datetime] | None:
    """``[start, end)`` of a date (the whole day) or a date-time (that second)."""
    text = text.strip().replace(" ", "+")
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return day, day + timedelta(days=1)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when, when + timedelta(seconds=1)


def created_filter(value: str) -> Callable[[datetime], bool] | None:
    """A predicate for the ``created`` query parameter, or ``None`` if ``value`` is not valid syntax."""
    value = value.strip()
    if ".." in value:
        lo_text, hi_text = value.split("..", 1)
        lo = None if lo_text.strip() == "*" else _bounds(lo_text)
        hi = None if hi_text.strip() == "*" else _bounds(hi_text)
        if (lo is None and lo_text.strip() != "*") or (hi is None and hi_text.strip() != "*"):
            return None
        return lambda c: (lo is None or c >= lo[0]) and (hi is None or c < hi[1])
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            b = _bounds(value[len(op) :])
            if b is None:
                return None
            start, end = b
            if op == ">=":
                return lambda c: c >= start
            if op == ">":
                return lambda c: c >= end
            if op == "<=":
                return lambda c: c < end
            return lambda c: c < start
    b = _bounds(value)
    if b is None:
        return None
    return lambda c: b[0] <= c < b[1]
