"""LLM usage records (``llm_usage``: one per model call or cache hit of a feature; ``cimedic
usage``), for :mod:`cimedic.agent.usage`, which reaches the store only through services.
Delegates to :mod:`cimedic.store.llm`. Times are aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from cimedic.model.explanations import UsageRecord
from cimedic.store import llm as db
from cimedic.store.repository import Store

__all__ = ["record_usage", "usage_records"]


def record_usage(store: Store, record: UsageRecord) -> None:
    """Append one usage record (raises what the store raises; callers that must not fail
    suppress it)."""
    db.record_usage(store, record)


def usage_records(
    store: Store, *, since: datetime | None = None, feature: str | None = None
) -> list[UsageRecord]:
    """Usage records created at or after ``since`` (all when None), of ``feature`` when given,
    oldest first."""
    return db.load_usage(store, since=since, feature=feature)
