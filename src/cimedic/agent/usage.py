"""LLM usage accounting: every call of a feature (tokens as the server reported them, wall-clock
seconds, ok or error, cache hit) is recorded in the store (``llm_usage``) and summarised by
feature and UTC day (``cimedic usage``).

The store is an opaque :data:`~cimedic.agent.ports.StoreHandle`; the records are written and
read through :mod:`cimedic.services.llm_usage`."""

from __future__ import annotations

from collections import defaultdict
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cimedic.model.explanations import UsageRecord, UsageRow, UsageSummary
from cimedic.services import llm_usage

if TYPE_CHECKING:
    from cimedic.agent.llm.base import LLMResult
    from cimedic.agent.ports import StoreHandle

__all__ = ["UsageLog", "usage_summary"]


class UsageLog:
    """Records the LLM calls of one ``feature`` into ``store`` (``store=None``: keeps them in
    :attr:`records` only, for callers without a store). Never raises on a store error."""

    def __init__(self, store: StoreHandle | None, feature: str) -> None:
        self.store = store
        self.feature = feature
        self.records: list[UsageRecord] = []

    def call(self, result: LLMResult) -> UsageRecord:
        """A successful call."""
        return self._add(
            UsageRecord(
                feature=self.feature,
                model=result.model,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                seconds=result.seconds,
                created_at=datetime.now(UTC),
            )
        )

    def error(self, model: str, error: str, seconds: float = 0.0) -> UsageRecord:
        """A failed call (server down, unusable answer)."""
        return self._add(
            UsageRecord(
                feature=self.feature,
                model=model,
                seconds=seconds,
                ok=False,
                error=error[:2000],
                created_at=datetime.now(UTC),
            )
        )

    def cache_hit(self, model: str) -> UsageRecord:
        """An answer served from the cache: no call, no tokens."""
        return self._add(
            UsageRecord(feature=self.feature, model=model, cached=True, created_at=datetime.now(UTC))
        )

    def _add(self, record: UsageRecord) -> UsageRecord:
        self.records.append(record)
        if self.store is not None:
            # accounting must never break the feature it accounts for
            with suppress(Exception):
                llm_usage.record_usage(self.store, record)
        return record


def usage_summary(
    store: StoreHandle, *, since: datetime | None = None, feature: str | None = None
) -> UsageSummary:
    """Usage since ``since`` (aware UTC; None = all), one row per (feature, UTC day), sorted
    by day then feature, with totals. ``calls`` counts model calls (cache hits excluded)."""
    records = llm_usage.usage_records(store, since=since, feature=feature)
    groups: dict[tuple[str, str], list[UsageRecord]] = defaultdict(list)
    for r in records:
        groups[(r.created_at.astimezone(UTC).date().isoformat(), r.feature)].append(r)
    rows = tuple(_row(feat, day, rs) for (day, feat), rs in sorted(groups.items()))
    return UsageSummary(
        since=since,
        rows=rows,
        calls=sum(r.calls for r in rows),
        cached=sum(r.cached for r in rows),
        errors=sum(r.errors for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        seconds=round(sum(r.seconds for r in rows), 3),
    )


def _row(feature: str, day: str, records: list[UsageRecord]) -> UsageRow:
    return UsageRow(
        feature=feature,
        day=day,
        calls=sum(1 for r in records if not r.cached),
        cached=sum(1 for r in records if r.cached),
        errors=sum(1 for r in records if not r.ok),
        prompt_tokens=sum(r.prompt_tokens for r in records),
        completion_tokens=sum(r.completion_tokens for r in records),
        seconds=round(sum(r.seconds for r in records), 3),
    )
