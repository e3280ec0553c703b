"""Wiring: the one place that turns :class:`~cimedic.settings.Settings` into concrete objects
(the store, the GitHub client, the diagnoser). Interfaces (CLI, API) call these; services and
everything below take their collaborators as arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cimedic.settings import Settings
    from cimedic.store.repository import Store


def database_url(settings: Settings, db: str | None = None) -> str:
    """``--db`` over ``CIMEDIC_DATABASE_URL`` over SQLite at ``<data_dir>/cimedic.db``.

    A plain path (no ``://``) is taken as a SQLite file.
    """
    from cimedic.store.engine import sqlite_url

    url = db or settings.database_url
    if not url:
        return sqlite_url(settings.data_dir / "cimedic.db")
    if "://" not in url:
        from pathlib import Path

        return sqlite_url(Path(url))
    return url


def open_store(settings: Settings, db: str | None = None) -> Store:
    """Open (and migrate) the history store; raises ``StoreError`` with the URL when it cannot."""
    from cimedic.store.repository import Store

    return Store(database_url(settings, db))


class StoreEtags:
    """The store's ETag table as the GitHub client's ``EtagStore`` (survives restarts)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, url: str) -> str | None:
        return self._store.etag_get(url)

    def put(self, url: str, etag: str) -> None:
        self._store.etag_put(url, etag)


def github_client(settings: Settings, store: Store | None = None, *, transport: object | None = None):  # type: ignore[no-untyped-def]
    """A :class:`GitHubClient` for ``settings.github_api_url`` with token or GitHub App auth and,
    when a store is given, ETags kept in the store. ``transport`` (an ``httpx`` transport)
    replaces the network (the replay uses it)."""
    import httpx

    from cimedic.connectors.github_actions.auth import auth_from_settings
    from cimedic.connectors.github_actions.client import GitHubClient

    http = httpx.Client(
        transport=transport,  # type: ignore[arg-type]
        timeout=httpx.Timeout(30.0, connect=10.0),
        follow_redirects=False,
    )
    auth = auth_from_settings(
        token=settings.github_token,
        app_id=settings.github_app_id,
        private_key=settings.github_app_private_key,
        installation_id=settings.github_app_installation_id,
        http=http,
        base_url=settings.github_api_url,
    )
    return GitHubClient(
        http,
        base_url=settings.github_api_url,
        auth=auth,
        etags=StoreEtags(store) if store is not None else None,
    )


def diagnoser(settings: Settings):  # type: ignore[no-untyped-def]
    """The failure diagnoser with the bundled and configured knowledge bases; returns it with
    the knowledge-base problems found while loading."""
    from cimedic.services.diagnose import make_diagnoser

    return make_diagnoser(settings.kb_dirs)


def llm_client(settings: Settings):  # type: ignore[no-untyped-def]
    """The configured :class:`~cimedic.agent.llm.base.LLMClient` (an OpenAI-compatible server),
    or ``None`` when ``llm_base_url`` is unset (every feature but chat then works without it)."""
    if not settings.llm_base_url:
        return None
    from cimedic.agent.llm.openai_compat import OpenAICompatClient

    return OpenAICompatClient(
        settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key, timeout=settings.llm_timeout
    )


def notifiers(settings: Settings):  # type: ignore[no-untyped-def]
    """The configured notification channels, in order: apprise (``notify_urls``), GitHub issues
    (``notify_github_issues``), pull request comments (``notify_github_pr_comments``); both
    GitHub channels share one client. Empty when none is configured. Raises ``ValueError`` for
    an apprise URL it cannot use."""
    from cimedic.actions.notify import AppriseNotifier, GitHubIssueNotifier, GitHubPRCommentNotifier, Notifier

    out: list[Notifier] = []
    if settings.notify_urls:
        out.append(AppriseNotifier(settings.notify_urls))
    if settings.notify_github_issues or settings.notify_github_pr_comments:
        client = github_client(settings)
        if settings.notify_github_issues:
            out.append(GitHubIssueNotifier(client))
        if settings.notify_github_pr_comments:
            out.append(GitHubPRCommentNotifier(client))
    return out
