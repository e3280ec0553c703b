"""Tables of failure clusters (migration 0002); they share :data:`cimedic.store.schema.metadata`."""

from __future__ import annotations

from cimedic.store.schema import metadata  # noqa: F401
