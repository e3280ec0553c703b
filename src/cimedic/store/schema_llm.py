"""Tables of llm usage and explanations (migration 0006); they share :data:`cimedic.store.schema.metadata`."""

from __future__ import annotations

from cimedic.store.schema import metadata  # noqa: F401
