"""Anomalies of the CI history: duration regressions, queue-time spikes, failure-rate spikes.

What :mod:`cimedic.analysis.anomalies` finds and ``cimedic anomalies`` prints; the store keeps
them as JSON of these models (``Anomaly.model_dump(mode="json")``), ``docs/anomalies.md``
defines every field. Conventions:

- times are timezone-aware UTC ``datetime`` values; durations are **seconds**;
- a failure rate is a **fraction in [0, 1]**;
- ``relative_change`` is a fraction (``0.42`` = +42 %), ``absolute_change`` is in the unit of the
  series (seconds for ``duration`` and ``queue``, rate points for ``failure_rate``);
- run ids are the store's ``workflow_runs.id`` values, job ids ``jobs.id``.

:class:`SeriesPoint` and :class:`TimelineEntry` are the flat records the store hands to the
analyzers (plain frozen dataclasses, cheap by the hundred thousand, like
:mod:`cimedic.model.history`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from cimedic.model.ci import Conclusion

__all__ = [
    "Anomaly",
    "AnomalyKind",
    "AnomalyScan",
    "AnomalyScope",
    "CommitInfo",
    "DetectorInfo",
    "ScopeLevel",
    "SegmentStats",
    "SeriesPoint",
    "TimelineEntry",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AnomalyKind(StrEnum):
    """What changed: ``duration`` (a run, job or step got slower), ``queue`` (jobs wait longer for
    a runner), ``failure_rate`` (a burst of failures above the usual rate)."""

    DURATION = "duration"
    QUEUE = "queue"
    FAILURE_RATE = "failure_rate"


class ScopeLevel(StrEnum):
    """Level of the series: a workflow's runs, a job, a step, or the jobs of one runner label set."""

    WORKFLOW = "workflow"
    JOB = "job"
    STEP = "step"
    RUNNER = "runner"


class AnomalyScope(_Frozen):
    """Which series the anomaly is in.

    ``workflow``/``job``/``step`` name the series at its ``level`` (``None`` above it);
    ``branch`` is set for per-branch series (failure rates), ``None`` when all branches are
    pooled (durations, queue); ``runner_labels`` names the runner label set of a ``runner``
    series (queue time).
    """

    repository: str
    level: ScopeLevel
    workflow: str | None = None
    job: str | None = None
    step: str | None = None
    branch: str | None = None
    runner_labels: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``workflow / job / step`` (or ``runner ubuntu-latest``) plus ``@branch`` when set."""
        if self.level is ScopeLevel.RUNNER:
            text = "runner " + (",".join(self.runner_labels) or "(no labels)")
        else:
            text = " / ".join(p for p in (self.workflow or "(no workflow)", self.job, self.step) if p)
        return f"{text} @{self.branch}" if self.branch else text

    @property
    def key(self) -> str:
        """A stable text key of the series (repository, level, names, branch, labels)."""
        parts = (
            self.repository,
            self.level.value,
            self.workflow or "",
            self.job or "",
            self.step or "",
            self.branch or "",
            ",".join(self.runner_labels),
        )
        return "\x1f".join(parts)


class SegmentStats(_Frozen):
    """Robust statistics of the runs on one side of a change.

    Durations (seconds): ``median``, ``mad`` (median absolute deviation, unscaled), ``mean`` and
    ``p90`` (linear interpolation). Failure rates: ``failures`` of ``count``, ``rate``
    (= failures / count) and its Wilson score interval at 95 % ``[rate_low, rate_high]``.
    Fields that do not apply to the kind are ``None``.
    """

    count: int
    median: float | None = None
    mad: float | None = None
    mean: float | None = None
    p90: float | None = None
    failures: int | None = None
    rate: float | None = None
    rate_low: float | None = None
    rate_high: float | None = None


class CommitInfo(_Frozen):
    """A commit between the last normal and the first anomalous run (or last green and first red).

    ``pr_number`` is the pull request the commit came from when known (the run's pull request,
    or ``Merge pull request #N`` in a merge commit's message); ``run_ids`` are the stored runs
    whose head it is; ``source`` says where it was found: ``stored_run`` (head commit of a
    stored run) or ``compare_api`` (the provider's compare API).
    """

    sha: str
    message: str | None = None
    author: str | None = None
    timestamp: datetime | None = None
    pr_number: int | None = None
    run_ids: tuple[int, ...] = ()
    source: str = "stored_run"

    @property
    def title(self) -> str:
        """The first line of the message (empty when unknown)."""
        return (self.message or "").split("\n", 1)[0]


class DetectorInfo(_Frozen):
    """The detector that found an anomaly and the parameters it ran with (names and values as in
    the module constants of :mod:`cimedic.analysis.changepoints` and
    :mod:`cimedic.analysis.anomalies`)."""

    name: str
    parameters: dict[str, float | int | str] = {}


class Anomaly(_Frozen):
    """One anomaly: a lasting shift (duration, queue) or a burst (failure rate) in one series.

    ``onset_at``/``onset_run_id``/``onset_head_sha``: the first anomalous run
    (``onset_run_provider_id``: its id at the provider, e.g. GitHub's run id);
    ``last_normal_run_id``/``last_normal_at``: the last run before it in the series (``None``
    when the series starts anomalous). ``before`` and ``after`` describe the runs on each side
    (``runs_before``/``runs_after``: their run ids, oldest first, at most 20 of each: the ones
    nearest the onset). ``ongoing`` is true when the anomalous segment lasts to the end of the
    series; otherwise ``ended_at`` is the creation time of its last run. ``commits`` are the
    head commits of the scope's runs created after the last normal run and up to the onset
    (duration and failure rate; empty for queue spikes, which commits do not cause).
    ``p_value``: the test that kept the change (Mann-Whitney U for shifts, one-sided binomial
    for failure bursts). ``summary`` is one line for people, e.g. ``median 6m 51s → 9m 44s (+42%)``.
    """

    kind: AnomalyKind
    scope: AnomalyScope
    onset_at: datetime
    onset_run_id: int
    onset_run_provider_id: str | None = None
    onset_job_id: int | None = None
    onset_head_sha: str | None = None
    last_normal_run_id: int | None = None
    last_normal_at: datetime | None = None
    before: SegmentStats
    after: SegmentStats
    relative_change: float | None = None
    absolute_change: float
    runs_before: tuple[int, ...] = ()
    runs_after: tuple[int, ...] = ()
    ongoing: bool = False
    ended_at: datetime | None = None
    p_value: float | None = None
    commits: tuple[CommitInfo, ...] = ()
    detector: DetectorInfo
    summary: str = ""

    @property
    def key(self) -> str:
        """Natural key of the finding: kind, scope and onset run (re-analysis replaces it)."""
        return f"{self.kind.value}\x1f{self.scope.key}\x1f{self.onset_run_id}"


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One observation of a series, in time order: ``value`` in seconds (duration, queue) or
    1.0 / 0.0 (failed / succeeded) for failure rates."""

    run_id: int
    created_at: datetime
    value: float
    head_sha: str | None = None
    job_id: int | None = None
    run_provider_id: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One run, job (of one attempt) or step of the history, flat, as the store hands it out.

    ``job``/``step`` are ``None`` for a run-level entry (``step`` ``None`` for a job). ``duration``
    and ``queue`` are seconds; ``signature``/``category``/``cause_id``/``summary``/``transient``
    come from the job's diagnosis when there is one; ``pr_number``/``pr_base`` from the first
    pull request the run belongs to; ``labels`` are the job's runner labels;
    ``run_provider_id`` is the run's id at the provider (GitHub's run id).
    """

    repository: str
    run_id: int
    created_at: datetime
    head_sha: str
    workflow: str | None
    branch: str | None
    event: str | None
    conclusion: Conclusion | None
    run_attempt: int = 1
    job: str | None = None
    job_id: int | None = None
    step: str | None = None
    duration: float | None = None
    queue: float | None = None
    labels: tuple[str, ...] = ()
    signature: str | None = None
    category: str | None = None
    cause_id: str | None = None
    summary: str | None = None
    transient: bool = False
    pr_number: int | None = None
    pr_base: str | None = None
    run_provider_id: str | None = None


class AnomalyScan(_Frozen):
    """What ``cimedic anomalies`` found: the window ``[since, until)`` (UTC; ``since`` ``None``:
    the whole history), the kinds searched, the number of series examined per kind, and the
    anomalies (newest onset first). ``AnomalyScan.model_dump(mode="json")`` is its JSON."""

    since: datetime | None
    until: datetime
    repository: str | None = None
    kinds: tuple[AnomalyKind, ...] = tuple(AnomalyKind)
    series: dict[str, int] = {}
    anomalies: tuple[Anomaly, ...] = ()
