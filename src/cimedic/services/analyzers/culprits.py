"""Built-in analyzer ``culprits``: the suspect commits of each failure episode
(:func:`cimedic.services.culprits.detect_culprits`, failures keyed by their failure cluster;
rules in ``docs/anomalies.md``). Uses the CI provider's compare API when
:attr:`AnalyzerDeps.compare` is given, else the stored runs only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model.findings import AnalyzerResult, FindingCount, FindingsSection

if TYPE_CHECKING:
    from cimedic.services.analyzers import AnalyzerDeps
    from cimedic.services.culprits import CompareFn
    from cimedic.store.repository import Store

__all__ = ["CulpritsAnalyzer", "make"]


def _count(n: int) -> FindingCount:
    return FindingCount(key="culprit_reports", count=n, singular="culprit report", plural="culprit reports")


class CulpritsAnalyzer:
    """Refresh: store the culprit reports of the episodes whose first red run lies in the
    window (replacing the stored ones of that scope). Summary: the stored reports whose first
    red run is at or after ``since``."""

    name = "culprits"

    def __init__(self, compare: CompareFn | None = None) -> None:
        self._compare = compare

    def refresh(
        self, store: Store, *, window: timedelta, now: datetime, repository: str | None = None
    ) -> AnalyzerResult:
        from cimedic.services.culprits import detect_culprits
        from cimedic.store.llm import job_cluster_map

        scan = detect_culprits(
            store,
            repository=repository,
            since=window,
            cluster_of=job_cluster_map(store),
            compare=self._compare,
            now=now,
        )
        return AnalyzerResult(name=self.name, counts=(_count(len(scan.reports)),))

    def summary(
        self,
        store: Store,
        *,
        since: datetime | None,
        now: datetime,
        repository: str | None = None,
        top: int = 3,
    ) -> FindingsSection:
        from cimedic.store.anomalies import load_culprits

        reports = load_culprits(store, repository=repository, since=since)
        return FindingsSection(
            name=self.name,
            title="culprit reports",
            command="cimedic culprits",
            counts=(_count(len(reports)),),
        )


def make(deps: AnalyzerDeps) -> CulpritsAnalyzer:
    """The ``cimedic.analyzers`` entry point ``culprits`` (``deps.compare``: the provider's
    compare API, or ``None``)."""
    return CulpritsAnalyzer(deps.compare)
