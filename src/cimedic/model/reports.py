"""The daily / weekly report (``cimedic report``): every figure of the period and of the
period before it, so each change is computed, never guessed.

Conventions as in :mod:`cimedic.model.metrics`: aware UTC times, durations in seconds, rates
as fractions in [0, 1], ``None`` when the population is empty. ``docs/reports.md`` defines
each figure.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from cimedic.model.findings import FindingsSummary
from cimedic.model.notify import RepoHealth


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Period(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class PeriodFigures(_Frozen):
    """Figures of one window ``[since, until)``: runs (latest attempt), outcome counts and
    rates, run duration (mean, p50, p95), job queue time (p50, p95), mean step time."""

    since: datetime
    until: datetime
    runs: int = 0
    completed: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    success_rate: float | None = None
    failure_rate: float | None = None
    duration_mean_seconds: float | None = None
    duration_p50_seconds: float | None = None
    duration_p95_seconds: float | None = None
    queue_p50_seconds: float | None = None
    queue_p95_seconds: float | None = None
    step_mean_seconds: float | None = None
    reruns: int = 0


class ClusterLine(_Frozen):
    """A failure cluster of the period: ``occurrences`` in the period, ``new`` (first seen in
    it) or recurring."""

    id: str
    title: str
    category: str
    occurrences: int
    new: bool
    url: str | None = None


class FlakyLine(_Frozen):
    """A test or job whose flaky verdict changed: ``status`` ``new`` or ``fixed``."""

    repository: str
    subject: str
    kind: str
    status: str


class AnomalyLine(_Frozen):
    """An anomaly with onset in the period."""

    kind: str
    scope: str
    summary: str
    onset_at: datetime
    ongoing: bool


class ActionLine(_Frozen):
    """An action taken in the period (from the action audit)."""

    at: datetime | None
    kind: str
    target: str
    status: str


class SeriesPoint(_Frozen):
    """One bucket of the chart: runs created in ``[start, start + bucket)``."""

    start: datetime
    succeeded: int = 0
    failed: int = 0
    other: int = 0
    duration_mean_seconds: float | None = None


class Report(_Frozen):
    """The report of one period (``current``) against the period just before (``previous``)."""

    period: Period
    repository: str | None = None
    generated_at: datetime
    current: PeriodFigures
    previous: PeriodFigures
    clusters: tuple[ClusterLine, ...] = ()
    new_clusters: int = 0
    recurring_clusters: int = 0
    flaky: tuple[FlakyLine, ...] = ()
    anomalies: tuple[AnomalyLine, ...] = ()
    findings: FindingsSummary | None = None
    actions: tuple[ActionLine, ...] = ()
    actions_available: bool = False
    health: tuple[RepoHealth, ...] = ()
    series: tuple[SeriesPoint, ...] = ()
    bucket_seconds: float = 3600.0
    narrative: str | None = None
    narrative_note: str | None = None

    def figures(self) -> dict[str, float]:
        """Every number of the report by name (what a narrative may quote; see
        :func:`cimedic.agent.narrative.grounded_narrative`)."""
        out: dict[str, float] = {}
        for label, fig in (("current", self.current), ("previous", self.previous)):
            for name, value in fig.model_dump().items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out[f"{label}.{name}"] = float(value)
        out["clusters"] = float(len(self.clusters))
        out["new_clusters"] = float(self.new_clusters)
        out["recurring_clusters"] = float(self.recurring_clusters)
        for i, c in enumerate(self.clusters):
            out[f"cluster.{i}.occurrences"] = float(c.occurrences)
        out["flaky_new"] = float(sum(1 for f in self.flaky if f.status == "new"))
        out["flaky_fixed"] = float(sum(1 for f in self.flaky if f.status == "fixed"))
        out["anomalies"] = float(len(self.anomalies))
        for section in self.findings.sections if self.findings else ():
            for n in section.counts:
                out[f"findings.{section.name}.{n.key}"] = float(n.count)
        out["actions"] = float(len(self.actions))
        for h in self.health:
            out[f"health.{h.repository}.runs"] = float(h.runs)
            out[f"health.{h.repository}.failed"] = float(h.failed)
            if h.failure_rate is not None:
                out[f"health.{h.repository}.failure_rate"] = h.failure_rate
        for name, a, b in _changes(self):
            if a is not None and b is not None and b:
                out[f"change.{name}"] = (a - b) / b
        return out


def _changes(r: Report) -> list[tuple[str, float | None, float | None]]:
    c, p = r.current, r.previous
    return [
        ("runs", float(c.runs), float(p.runs)),
        ("duration_mean", c.duration_mean_seconds, p.duration_mean_seconds),
        ("duration_p95", c.duration_p95_seconds, p.duration_p95_seconds),
        ("queue_p50", c.queue_p50_seconds, p.queue_p50_seconds),
        ("queue_p95", c.queue_p95_seconds, p.queue_p95_seconds),
        ("step_mean", c.step_mean_seconds, p.step_mean_seconds),
    ]


def relative_change(current: float | None, previous: float | None) -> float | None:
    """``(current - previous) / previous``; ``None`` when either is unknown or previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


__all__ = [
    "ActionLine",
    "AnomalyLine",
    "ClusterLine",
    "FlakyLine",
    "Period",
    "PeriodFigures",
    "Report",
    "SeriesPoint",
    "relative_change",
]
