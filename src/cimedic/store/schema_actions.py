"""Tables of remediation audit (migration 0007); they share :data:`cimedic.store.schema.metadata`."""

from __future__ import annotations

from cimedic.store.schema import metadata  # noqa: F401
