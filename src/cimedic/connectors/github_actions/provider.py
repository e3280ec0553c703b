"""The GitHub Actions provider plug-in (entry point ``github`` of ``cimedic.providers``).

It builds a :class:`~cimedic.connectors.github_actions.client.GitHubClient` (which is the
:class:`~cimedic.model.providers.CIProvider`) and a webhook receiver from the ``github_*``
settings, given as :class:`GitHubConfig` (``github_token`` → ``token``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.connectors.github_actions.http import RateLimitError
from cimedic.connectors.github_actions.webhooks import parse_delivery, verify_signature
from cimedic.model.events import WebhookEvent
from cimedic.model.providers import Delivery, EtagStore, ProviderError, WebhookRejected

__all__ = ["DELIVERY_ID", "GitHubConfig", "GitHubPlugin", "GitHubWebhooks", "plugin"]

DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""An acceptable ``X-GitHub-Delivery``: GitHub sends a GUID (36 characters); any short token of
letters, digits and ``. _ : -`` up to 128 characters is accepted (the store keys deliveries by
it, ``raw_events.key`` is ``String(255)``)."""


class GitHubConfig(BaseModel):
    """The ``github_*`` settings (see ``docs/configuration.md``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    api_url: str = "https://api.github.com"
    token: str | None = None
    app_id: str | None = None
    app_private_key: str | None = None
    app_installation_id: str | None = None
    webhook_secret: str | None = None


class GitHubWebhooks:
    """GitHub deliveries: ``X-Hub-Signature-256`` checked with the webhook secret,
    ``X-GitHub-Event`` and ``X-GitHub-Delivery`` required (GitHub docs, "Validating webhook
    deliveries", "Best practices for using webhooks")."""

    provider = "github"
    handled_events = frozenset({"workflow_run", "workflow_job", "check_run", "ping"})

    def __init__(self, secret: str | None) -> None:
        self._secret = secret

    def verify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        """Raises :class:`WebhookRejected`: 503 without a secret, 400 without the event or
        delivery header or with a delivery id that is not :data:`DELIVERY_ID` (or an event name
        over 64 characters), 401 for a missing or wrong signature."""
        if not self._secret:
            raise WebhookRejected(503, "webhook secret not configured (set CIMEDIC_GITHUB_WEBHOOK_SECRET)")
        event, delivery = headers.get("x-github-event"), headers.get("x-github-delivery")
        if not event or not delivery:
            raise WebhookRejected(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
        if not DELIVERY_ID.fullmatch(delivery):
            raise WebhookRejected(
                400,
                "X-GitHub-Delivery is not a delivery id (a GUID; at most 128 letters, digits, '.', '_', ':', '-')",
            )
        if len(event) > 64:
            raise WebhookRejected(400, "X-GitHub-Event is over 64 characters")
        if not verify_signature(self._secret, body, headers.get("x-hub-signature-256")):
            raise WebhookRejected(401, "invalid or missing X-Hub-Signature-256")
        return Delivery(event=event, delivery_id=delivery)

    def parse(self, event: str, body: bytes) -> WebhookEvent:
        """:func:`cimedic.connectors.github_actions.webhooks.parse_delivery`."""
        return parse_delivery(event, body)


class GitHubPlugin:
    """The GitHub Actions provider."""

    id = "github"
    name = "GitHub Actions"
    config_model = GitHubConfig

    def configured(self, config: BaseModel) -> bool:
        assert isinstance(config, GitHubConfig)
        return bool(config.token or config.app_id)

    def check_full_name(self, full_name: str) -> None:
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"a GitHub repository is OWNER/NAME, got {full_name!r}")

    def create(
        self, config: BaseModel, *, etags: EtagStore | None = None, transport: object | None = None
    ) -> GitHubClient:
        """A client for ``config.api_url`` with token or GitHub App auth (``ValueError`` when
        the app settings are incomplete or the key unusable)."""
        import httpx

        from cimedic.connectors.github_actions.auth import auth_from_settings

        assert isinstance(config, GitHubConfig)
        http = httpx.Client(
            transport=transport,  # type: ignore[arg-type]
            timeout=httpx.Timeout(30.0, connect=10.0),
            follow_redirects=False,
        )
        auth = auth_from_settings(
            token=config.token,
            app_id=config.app_id,
            private_key=config.app_private_key,
            installation_id=config.app_installation_id,
            http=http,
            base_url=config.api_url,
        )
        return GitHubClient(http, base_url=config.api_url, auth=auth, etags=etags)

    def webhook_receiver(self, config: BaseModel) -> GitHubWebhooks:
        assert isinstance(config, GitHubConfig)
        return GitHubWebhooks(config.webhook_secret)

    def hint(self, error: ProviderError, config: BaseModel) -> str:
        assert isinstance(config, GitHubConfig)
        has_auth = self.configured(config)
        token = (
            "set github_token (CIMEDIC_GITHUB_TOKEN) or a GitHub App (github_app_id, github_app_private_key)"
        )
        if error.status == 0:
            return f"check the network and github_api_url (CIMEDIC_GITHUB_API_URL, now {config.api_url})"
        if error.status == 401:
            return (
                "GitHub refused the credentials: check github_token (CIMEDIC_GITHUB_TOKEN) or the GitHub App"
            )
        if isinstance(error, RateLimitError) or error.status == 429:
            return "rate limited: wait, or " + token if not has_auth else "rate limited: wait for the reset"
        if error.status in (403, 404) and not has_auth:
            return token + " (a private repository answers 404 without one)"
        if error.status == 404:
            return "check the repository name and that the token may read its Actions"
        if error.status == 403:
            return "the token lacks a permission (actions: read; actions: write to re-run)"
        return ""


plugin = GitHubPlugin()
"""The entry point's object."""
