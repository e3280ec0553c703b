"""The history store from the settings: its URL and opening it (with migrations)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cimedic.settings import Settings
    from cimedic.store.repository import Store

__all__ = ["StoreEtags", "database_url", "open_store"]


def database_url(settings: Settings, db: str | None = None) -> str:
    """``--db`` over ``CIMEDIC_DATABASE_URL`` over SQLite at ``<data_dir>/cimedic.db``.

    A plain path (no ``://``) is taken as a SQLite file.
    """
    from cimedic.store.engine import sqlite_url

    url = db or settings.database_url
    if not url:
        return sqlite_url(settings.data_dir / "cimedic.db")
    if "://" not in url:
        return sqlite_url(Path(url))
    return url


def open_store(settings: Settings, db: str | None = None, *, create: bool = False) -> Store:
    """Open the history store of ``--db`` / ``database_url`` (see :func:`database_url`),
    migrating it when its schema is not the newest.

    The default store (neither ``db`` nor ``database_url`` given) is created under
    ``data_dir`` as needed. A SQLite file named by ``db`` or ``database_url`` whose directory
    does not exist is refused unless ``create`` is true (``--create``), so a typo in a path
    does not silently start an empty store elsewhere. Raises ``StoreError`` with the URL
    (password hidden) when the store cannot be opened or migrated, and for a PostgreSQL URL
    without the ``postgres`` extra installed.
    """
    from cimedic.store.repository import Store

    default = not (db or settings.database_url)
    return Store(database_url(settings, db), create=create or default)


class StoreEtags:
    """The store's ETag table as a provider's :class:`~cimedic.model.providers.EtagStore`
    (survives restarts)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, url: str) -> str | None:
        return self._store.etag_get(url)

    def put(self, url: str, etag: str) -> None:
        self._store.etag_put(url, etag)
