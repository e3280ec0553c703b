"""GitHub webhook deliveries: signature check and parsing into :class:`WebhookEvent`.

GitHub docs: "Validating webhook deliveries" (``X-Hub-Signature-256: sha256=<hex>`` is the
HMAC-SHA256 of the raw body keyed with the webhook secret; compare in constant time) and
"Webhook events and payloads" (``X-GitHub-Event`` names the event; ``workflow_run``,
``workflow_job``, ``check_run``, ``ping``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

from cimedic.connectors.github_actions.mapping import MappingError, map_delivery
from cimedic.model.events import WebhookEvent

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"

MAX_BODY_BYTES = 25 * 1024 * 1024
"""Largest delivery body parsed (bytes): GitHub caps webhook payloads at 25 MB (GitHub docs,
"Webhook events and payloads": "Payloads are capped at 25 MB")."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects parsed. GitHub's ``workflow_run`` / ``workflow_job`` /
``check_run`` payloads and every other GitHub JSON in the test data nest at most 18 levels
(measured on ``../shared/data/github``); a 200,000-deep body made ``json.loads`` raise
``RecursionError``."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``body`` nests arrays/objects deeper than ``limit`` levels, decided
    without parsing: strings are removed, then the innermost empty ``[]``/``{}`` pairs are peeled
    off one level per pass (each pass is a regex substitution in C, so 25 MB take about a
    second). Brackets that stop pairing up (invalid JSON) give ``True`` only when more than
    ``limit`` of them are left open (``[`` * 200,000 unclosed would also exhaust the parser's
    recursion); otherwise ``False``, and the parser reports the syntax error."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        peeled = _INNERMOST.sub(b"", brackets)
        if not peeled:
            return False
        if len(peeled) == len(brackets):
            return brackets.count(b"[") + brackets.count(b"{") > limit
        brackets = peeled
    return True


class WebhookError(ValueError):
    """A delivery could not be parsed: the message says which event and what/where is wrong."""


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` (the ``X-Hub-Signature-256`` value, ``sha256=<hex>``) is the
    HMAC-SHA256 of the raw ``body`` under ``secret``. Constant-time; a missing or malformed
    header, or an empty secret, gives ``False``."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8", "replace"))


def parse_delivery(event: str, body: bytes) -> WebhookEvent:
    """Parse a delivery of event ``event`` (``X-GitHub-Event``) with raw JSON ``body``.

    ``workflow_run`` sets ``run``; ``workflow_job`` sets ``job``; ``check_run`` sets ``job``
    for check runs of GitHub Actions (``None`` for other apps); ``ping`` and other events carry
    only ``action``, ``repository`` and ``installation_id``. Raises :class:`WebhookError` for a
    body that is not a JSON object, or a missing / malformed event object (the message names the
    event, the object and the field), for a body over :data:`MAX_BODY_BYTES` or nested deeper
    than :data:`MAX_JSON_DEPTH` (both checked before parsing). NUL characters in strings are
    removed (PostgreSQL text cannot hold them). Verify the signature first
    (:func:`verify_signature`).
    """
    if not event:
        raise WebhookError("webhook delivery: empty event name (X-GitHub-Event header)")
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError(
            f"{event} delivery: body of {len(body)} bytes is over the {MAX_BODY_BYTES}-byte cap"
        )
    if json_depth_exceeds(body):
        raise WebhookError(f"{event} delivery: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WebhookError(f"{event} delivery: body is not valid JSON: {err}") from None
    if not isinstance(payload, dict):
        raise WebhookError(f"{event} delivery: body is a JSON {type(payload).__name__}, not an object")
    try:
        return map_delivery(event, payload)
    except MappingError as err:
        raise WebhookError(f"{event} delivery: {err}") from None


__all__ = [
    "EVENT_HEADER",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "SIGNATURE_HEADER",
    "WebhookError",
    "json_depth_exceeds",
    "parse_delivery",
    "verify_signature",
]
