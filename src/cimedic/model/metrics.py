"""Pipeline metrics: the result of ``cimedic stats`` (what crosses from analysis to the CLI and API).

Every figure is computed by :func:`cimedic.analysis.pipeline_metrics.compute_stats` from the
flat history records of :mod:`cimedic.model.history`; ``docs/metrics.md`` defines each one.
Conventions:

- times are timezone-aware UTC ``datetime`` values; durations are **seconds** (``float``);
- rates and shares are **fractions in [0, 1]** (not percentages);
- a figure whose population is empty is ``None`` (JSON ``null``), never 0, so "no data" and
  "zero" stay apart;
- percentiles use linear interpolation between closest ranks (numpy's default ``"linear"``
  method, Hyndman & Fan type 7).

``PipelineStats.model_dump(mode="json")`` is the JSON printed by ``cimedic stats --format json``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from cimedic.model.findings import FindingsSummary


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GroupBy(StrEnum):
    """Dimension of the per-group breakdown (``cimedic stats --by``)."""

    WORKFLOW = "workflow"
    JOB = "job"
    STEP = "step"


class StatsFilters(_Frozen):
    """The filters the statistics were computed with (``None``: not filtered).

    ``workflow`` matches a workflow's name or its file path (``ci.yml`` matches
    ``.github/workflows/ci.yml``); ``branch`` is the run's head branch.
    """

    repository: str | None = None
    workflow: str | None = None
    branch: str | None = None


class RunStats(_Frozen):
    """Counts and outcome rates of the workflow runs in the window (each run in its latest attempt).

    ``completed`` counts runs with status ``completed``; the rates are shares of ``completed``
    (``None`` when no run completed): ``failure_rate`` counts the conclusions that
    :attr:`cimedic.model.Conclusion.is_failure` calls red (failure, timed_out,
    startup_failure), ``cancelled_rate`` the cancelled ones. Other conclusions (skipped,
    neutral, action_required, ...) are in the denominator but in none of the three rates.
    ``jobs`` counts the jobs (of every attempt) created in the window.
    """

    total: int = 0
    completed: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    success_rate: float | None = None
    failure_rate: float | None = None
    cancelled_rate: float | None = None
    jobs: int = 0


class DurationStats(_Frozen):
    """Run duration percentiles in seconds over ``count`` completed runs with a known duration.

    A run's duration is ``updated_at - run_started_at`` of its latest attempt (``created_at``
    when the start is unknown), as the store computes it for completed runs.
    """

    count: int = 0
    mean_seconds: float | None = None
    p50_seconds: float | None = None
    p90_seconds: float | None = None
    p95_seconds: float | None = None


class QueueStats(_Frozen):
    """Job queue time percentiles in seconds (``started_at - created_at`` of each job, every
    attempt) over ``count`` jobs with both timestamps."""

    count: int = 0
    p50_seconds: float | None = None
    p95_seconds: float | None = None


class RerunStats(_Frozen):
    """Re-runs: ``reruns`` runs have ``run_attempt > 1``; ``rerun_rate = reruns / runs``.

    ``rerun_success_rate = rerun_succeeded / rerun_completed``: of the re-run runs whose latest
    attempt has completed, the share whose latest attempt succeeded (re-runs still in progress
    are left out).
    """

    reruns: int = 0
    rerun_rate: float | None = None
    rerun_completed: int = 0
    rerun_succeeded: int = 0
    rerun_success_rate: float | None = None


class MttrStats(_Frozen):
    """Mean time to recovery of the default branch (CircleCI's MTTR of CI workflows: from a
    failed run to the next successful run, https://circleci.com/docs/insights-glossary/).

    Per (repository, workflow), the completed runs on the repository's default branch are taken
    in trigger order (``created_at``); an *incident* starts at the completion (``updated_at``)
    of a red run that follows a green one (or opens the window) and ends at the completion of
    the next green (``success``) run of the same workflow. Cancelled and other neutral runs
    neither open nor close an incident. ``incidents`` counts the closed incidents, whose
    durations give ``mean_seconds`` / ``median_seconds``; ``open_incidents`` counts red
    streaks not yet closed at the end of the window. When a repository's default branch is
    unknown, ``main`` and ``master`` are taken as default branches.
    """

    incidents: int = 0
    open_incidents: int = 0
    mean_seconds: float | None = None
    median_seconds: float | None = None


class GroupStats(_Frozen):
    """One row of the ``--by workflow|job|step`` breakdown.

    ``key`` is the display label (``workflow``, ``workflow / job`` or ``workflow / job / step``).
    ``count`` is runs (by workflow), jobs of every attempt (by job) or step executions (by step);
    ``failure_rate = failures / completed``. Durations are seconds: for workflows and jobs
    ``p50``/``p95`` over completed items with a duration and their mean; for steps the store
    aggregates in SQL, so only ``mean_seconds`` and ``max_seconds`` are given (percentiles are
    ``None``) and ``completed`` equals ``count``.
    """

    key: str
    workflow: str | None = None
    job: str | None = None
    step: str | None = None
    count: int = 0
    completed: int = 0
    failures: int = 0
    failure_rate: float | None = None
    mean_seconds: float | None = None
    p50_seconds: float | None = None
    p95_seconds: float | None = None
    max_seconds: float | None = None


class StepTiming(_Frozen):
    """Duration of one step name in one job name: ``count`` executions, mean / max / total seconds."""

    workflow: str | None
    job: str
    step: str
    count: int
    mean_seconds: float | None
    max_seconds: float | None
    total_seconds: float


class StepStats(_Frozen):
    """Step times: ``mean_seconds`` = total step seconds / step executions over the window
    (the average time of one step), and the ``slowest`` steps by mean duration (at most ``--top``)."""

    executions: int = 0
    mean_seconds: float | None = None
    slowest: tuple[StepTiming, ...] = ()


class FailingItem(_Frozen):
    """A job (``step`` is ``None``) or step that failed ``failures`` times out of ``count``
    (completed jobs of every attempt, or step executions); ``rate = failures / count``."""

    workflow: str | None
    job: str
    step: str | None = None
    failures: int
    count: int
    rate: float | None


class CategoryShare(_Frozen):
    """A failure category of the stored diagnoses: ``count`` diagnosed jobs and their ``share``
    of all diagnosed jobs in the window."""

    category: str
    count: int
    share: float


class DoraMetrics(_Frozen):
    """DORA "Four Keys" metrics, on the proxies CI history allows.

    Definitions follow the DORA research program (https://dora.dev/guides/dora-metrics-four-keys/)
    and Google's Four Keys project (https://github.com/dora-team/fourkeys/blob/main/METRICS.md).
    A *deployment* is a completed run of a workflow matching the ``deployment_workflows`` setting (fnmatch globs,
    case-sensitive, against the workflow name, its path or the path's file name) with a
    success or red conclusion; cancelled and skipped runs are not deployments.

    - ``deployments_per_day`` / ``deployments_per_week``: *deployment frequency*, successful
      deployments divided by the window's length in days (x7 for weeks).
    - ``lead_time_median_seconds`` / ``lead_time_p90_seconds``: *lead time for changes*, per
      successful deployment ``updated_at`` (run completion) minus the head commit's time
      (``commit_timestamp``; the run's ``created_at`` when the commit time is unknown).
    - ``change_failure_rate``: *change failure rate*, ``failed_deployments / deployments``.
    - ``time_to_restore_median_seconds``: *time to restore service*, per deployment workflow
      from the completion of a failed deployment (the first after a success) to the
      completion of the next successful deployment of the same workflow; ``restores`` counts
      those, ``unrestored`` the failures with no later success in the window.
    """

    workflows: tuple[str, ...] = ()
    window_days: float | None = None
    deployments: int = 0
    successful_deployments: int = 0
    failed_deployments: int = 0
    deployments_per_day: float | None = None
    deployments_per_week: float | None = None
    lead_time_median_seconds: float | None = None
    lead_time_p90_seconds: float | None = None
    change_failure_rate: float | None = None
    restores: int = 0
    unrestored: int = 0
    time_to_restore_median_seconds: float | None = None


class PipelineStats(_Frozen):
    """Pipeline metrics of one window of CI history (``cimedic stats``).

    ``since``/``until`` bound the runs' and jobs' ``created_at`` (UTC, ``since`` included,
    ``until`` excluded; ``None``: unbounded). ``by`` is the breakdown dimension of ``groups``
    (empty without ``--by``). ``dora`` is ``None`` when no deployment workflow is configured or
    none matched a run of the window. See ``docs/metrics.md`` for every figure.
    """

    since: datetime | None = None
    until: datetime | None = None
    filters: StatsFilters = StatsFilters()
    by: GroupBy | None = None
    runs: RunStats = RunStats()
    duration: DurationStats = DurationStats()
    queue: QueueStats = QueueStats()
    reruns: RerunStats = RerunStats()
    mttr: MttrStats = MttrStats()
    groups: tuple[GroupStats, ...] = ()
    steps: StepStats = StepStats()
    failing_jobs: tuple[FailingItem, ...] = ()
    failing_steps: tuple[FailingItem, ...] = ()
    categories: tuple[CategoryShare, ...] = ()
    dora: DoraMetrics | None = None
    findings: FindingsSummary | None = None

    @property
    def is_empty(self) -> bool:
        """True when the window holds no run and no job."""
        return self.runs.total == 0 and self.runs.jobs == 0


__all__ = [
    "CategoryShare",
    "DoraMetrics",
    "DurationStats",
    "FailingItem",
    "GroupBy",
    "GroupStats",
    "MttrStats",
    "PipelineStats",
    "QueueStats",
    "RerunStats",
    "RunStats",
    "StatsFilters",
    "StepStats",
    "StepTiming",
]
