"""Tables of notifications and reports (migration 0008); they share :data:`cimedic.store.schema.metadata`."""

from __future__ import annotations

from cimedic.store.schema import metadata  # noqa: F401
