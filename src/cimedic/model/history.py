"""Flat records the store hands to analyzers (one row per run, job or step aggregate).

These are what pipeline metrics, flaky-test and anomaly analysis read: small, typed, and
cheap to build by the hundred thousand (plain frozen dataclasses with ``slots``, not pydantic
models). Times are aware UTC ``datetime``; durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cimedic.model.ci import Conclusion, Status


@dataclass(frozen=True, slots=True)
class RunFact:
    """One workflow run (its latest attempt)."""

    run_id: int
    repository: str
    provider_id: str
    workflow_name: str | None
    workflow_path: str | None
    event: str | None
    branch: str | None
    default_branch: str | None
    head_sha: str
    status: Status
    conclusion: Conclusion | None
    run_attempt: int
    created_at: datetime | None
    run_started_at: datetime | None
    updated_at: datetime | None
    duration: float | None
    commit_timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobFact:
    """One job of one attempt."""

    job_id: int
    run_id: int
    repository: str
    workflow_name: str | None
    name: str
    run_attempt: int
    status: Status
    conclusion: Conclusion | None
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    queue: float | None
    duration: float | None
    category: str | None = None
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class StepAggregate:
    """Durations and outcomes of one step name in one job name, over a query window."""

    workflow_name: str | None
    job_name: str
    step_name: str
    count: int
    failures: int
    mean_duration: float | None
    max_duration: float | None
    total_duration: float


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Which part of the history a query covers. ``since``/``until`` bound ``created_at`` (UTC)."""

    repository: str | None = None
    workflow: str | None = None
    branch: str | None = None
    since: datetime | None = None
    until: datetime | None = None
