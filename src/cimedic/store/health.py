"""Reads of the recorded repository health (table ``repo_health``, :mod:`cimedic.store.schema_notify`).

The notification pass writes the table (:func:`cimedic.store.notify.save_health`); this module
only reads it, for ``cimedic health`` and ``GET /api/v1/health``. Times come out aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from cimedic.model.notify import HealthState
from cimedic.store import schema as t
from cimedic.store.base import StoreBase, from_db
from cimedic.store.schema_notify import repo_health

__all__ = ["HealthRecord", "health_records"]


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """The last recorded health of one repository: its ``state``, since when it holds
    (``changed_at``) and when it was last confirmed (``updated_at``), both aware UTC."""

    repository: str
    state: HealthState
    changed_at: datetime | None
    updated_at: datetime | None


def health_records(store: StoreBase, repository: str | None = None) -> dict[str, HealthRecord]:
    """The recorded health of every repository (``owner/name`` → record), or of ``repository``."""
    q = select(
        t.repositories.c.full_name, repo_health.c.state, repo_health.c.changed_at, repo_health.c.updated_at
    ).join(t.repositories, t.repositories.c.id == repo_health.c.repo_id)
    if repository is not None:
        q = q.where(t.repositories.c.full_name == repository)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return {
        name: HealthRecord(name, HealthState(state), from_db(changed), from_db(updated))
        for name, state, changed, updated in rows
    }
