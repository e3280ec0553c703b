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

from cimedic.connectors.github_actions.mapping import MappingError, map_delivery
from cimedic.model.events import WebhookEvent

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"


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
    event, the object and the field). Verify the signature first (:func:`verify_signature`).
    """
    if not event:
        raise WebhookError("webhook delivery: empty event name (X-GitHub-Event header)")
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


__all__ = ["EVENT_HEADER", "SIGNATURE_HEADER", "WebhookError", "parse_delivery", "verify_signature"]
