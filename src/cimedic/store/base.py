"""Shared plumbing of the store: the engine, dialect-aware upserts and UTC time conversion.

The store keeps times as naive UTC (:func:`to_db`) and hands out aware UTC (:func:`from_db`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, select, text

from cimedic.store.engine import ensure_schema, make_engine, safe_url


def to_db(value: datetime | None) -> datetime | None:
    """Aware datetime → naive UTC (how the store keeps times)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime | None) -> datetime | None:
    """Naive UTC from the database → aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


class StoreBase:
    """Engine and upsert helpers of the store at ``url`` (SQLAlchemy URL).

    Unless ``migrate_schema=False``, the schema version is checked with one query and Alembic
    runs only when it is not the newest (:func:`cimedic.store.engine.ensure_schema`). With
    ``create=False`` a SQLite file whose directory does not exist is refused instead of the
    directory being created. Raises :class:`cimedic.store.engine.StoreError` when the database
    cannot be opened or migrated.
    """

    def __init__(
        self,
        url: str,
        *,
        migrate_schema: bool = True,
        engine: Engine | None = None,
        create: bool = True,
    ) -> None:
        self.url = url
        self.engine = engine or make_engine(url, create=create)
        if migrate_schema:
            ensure_schema(self.engine)
        self.dialect = self.engine.dialect.name

    @property
    def location(self) -> str:
        """The store URL with any password hidden."""
        return safe_url(self.url)

    def ping(self) -> str | None:
        """``SELECT 1`` on the store: None when it answers, else the error (type and message,
        credentials masked in the URL)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}".replace(str(self.engine.url), self.location)
        return None

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ upsert helpers
    def _insert(self, table: Any) -> Any:
        # the dialect's INSERT (for ON CONFLICT); imported here, as a SQLite store never needs
        # the PostgreSQL dialect (~50 ms of imports at every start)
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    def _upsert(self, conn: Any, table: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        cols = [c for c in rows[0] if c not in keys and c != "id"]
        if cols:
            stmt = stmt.on_conflict_do_update(
                index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols}
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        conn.execute(stmt, list(rows))

    def _id_of(self, conn: Any, table: Any, **where: Any) -> int:
        cond = and_(*(table.c[k] == v for k, v in where.items()))
        return int(conn.execute(select(table.c.id).where(cond)).scalar_one())

    def upsert(self, table: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
        """Insert ``rows`` into ``table``, updating the other columns of rows whose ``keys``
        (a unique constraint) already exist; one transaction. For analyzer modules of the store."""
        with self.engine.begin() as conn:
            self._upsert(conn, table, rows, keys)
