"""A summary of the stored findings of the analyzers (failure clusters, flaky tests and jobs,
anomalies, culprits, failure risk), shown by ``cimedic stats`` next to the pipeline metrics."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FindingLine(_Frozen):
    """One finding worth a line: what (``title``), where, and the command that shows more."""

    kind: str
    title: str
    detail: str = ""
    command: str = ""


class FindingsSummary(_Frozen):
    """Counts over the stats window (clusters, anomalies, culprits, risky runs) or as last
    analysed (flaky verdicts, quarantine), plus the top lines of each kind.

    ``new_clusters``: first seen in the window; ``recurring_clusters``: seen more than once
    (in the window, or before it and again in it); a cluster can be both.
    ``high_risk_runs`` counts runs scored at or above ``high_risk_threshold`` (a probability).
    """

    clusters: int = 0
    new_clusters: int = 0
    recurring_clusters: int = 0
    flaky_tests: int = 0
    flaky_jobs: int = 0
    broken_subjects: int = 0
    quarantined_tests: int = 0
    anomalies: int = 0
    culprit_reports: int = 0
    risk_model: str | None = None
    scored_runs: int = 0
    high_risk_runs: int = 0
    high_risk_threshold: float = 0.5
    top: tuple[FindingLine, ...] = ()
