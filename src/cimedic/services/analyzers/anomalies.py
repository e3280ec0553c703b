"""Built-in analyzer ``anomalies``: change points in failure rate, duration and queue time
(:func:`cimedic.services.anomalies.detect_anomalies`, rules in ``docs/anomalies.md``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model.findings import AnalyzerResult, FindingCount, FindingLine, FindingsSection

if TYPE_CHECKING:
    from cimedic.services.analyzers import AnalyzerDeps
    from cimedic.store.repository import Store

__all__ = ["AnomaliesAnalyzer", "make"]


def _count(n: int) -> FindingCount:
    return FindingCount(key="anomalies", count=n, singular="anomaly", plural="anomalies")


class AnomaliesAnalyzer:
    """Refresh: store the anomalies with onset in the window (replacing the stored ones of the
    same window). Summary: the stored anomalies with onset in ``[since, now)``."""

    name = "anomalies"

    def refresh(
        self, store: Store, *, window: timedelta, now: datetime, repository: str | None = None
    ) -> AnalyzerResult:
        from cimedic.services.anomalies import detect_anomalies

        scan = detect_anomalies(store, repository=repository, since=window, now=now)
        return AnalyzerResult(name=self.name, counts=(_count(len(scan.anomalies)),))

    def summary(
        self,
        store: Store,
        *,
        since: datetime | None,
        now: datetime,
        repository: str | None = None,
        top: int = 3,
    ) -> FindingsSection:
        from cimedic.store.anomalies import load_anomalies

        found = [a for a in load_anomalies(store, repository=repository, since=since) if a.onset_at < now]
        lines = []
        for a in found[:top]:
            change = (
                f"{a.relative_change:+.0%}" if a.relative_change is not None else f"{a.absolute_change:+.0f}"
            )
            lines.append(
                FindingLine(
                    kind=f"anomaly ({a.kind.value})",
                    title=a.scope.label,
                    detail=change,
                    command="cimedic anomalies",
                )
            )
        return FindingsSection(
            name=self.name,
            title="anomalies",
            command="cimedic anomalies",
            counts=(_count(len(found)),),
            top=tuple(lines),
        )


def make(deps: AnalyzerDeps) -> AnomaliesAnalyzer:
    """The ``cimedic.analyzers`` entry point ``anomalies``."""
    return AnomaliesAnalyzer()
