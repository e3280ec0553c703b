"""Pipeline metrics (``cimedic stats``): pure functions over the store's flat history records.

No I/O: the caller (``cimedic.services.stats``) reads :class:`~cimedic.model.history.RunFact`,
:class:`~cimedic.model.history.JobFact` and :class:`~cimedic.model.history.StepAggregate`
records from the store and hands them to :func:`compute_stats`, which returns a
:class:`~cimedic.model.metrics.PipelineStats`. Durations are seconds, times aware UTC, rates
fractions in [0, 1], and a figure over an empty population is ``None``. The definitions are
in ``docs/metrics.md``; MTTR and the DORA metrics are in :mod:`cimedic.analysis.dora`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from cimedic.analysis.dora import dora, mttr
from cimedic.analysis.quantiles import percentile, sorted_percentile
from cimedic.model.ci import Conclusion, Status
from cimedic.model.history import JobFact, RunFact, StepAggregate
from cimedic.model.metrics import (
    CategoryShare,
    DurationStats,
    FailingItem,
    GroupBy,
    GroupStats,
    PipelineStats,
    QueueStats,
    RerunStats,
    RunStats,
    StatsFilters,
    StepStats,
    StepTiming,
)

__all__ = ["compute_stats", "dora", "mttr", "percentile"]

_NO_WORKFLOW = "(no workflow)"


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _completed(conclusion: Conclusion | None, status: Status) -> bool:
    return status is Status.COMPLETED and conclusion is not None


def run_stats(runs: Sequence[RunFact], job_count: int) -> RunStats:
    """Counts and outcome rates of ``runs`` (see :class:`~cimedic.model.metrics.RunStats`)."""
    done = [r for r in runs if _completed(r.conclusion, r.status)]
    succeeded = sum(1 for r in done if r.conclusion is Conclusion.SUCCESS)
    failed = sum(1 for r in done if r.conclusion is not None and r.conclusion.is_failure)
    cancelled = sum(1 for r in done if r.conclusion is Conclusion.CANCELLED)
    return RunStats(
        total=len(runs),
        completed=len(done),
        succeeded=succeeded,
        failed=failed,
        cancelled=cancelled,
        success_rate=_rate(succeeded, len(done)),
        failure_rate=_rate(failed, len(done)),
        cancelled_rate=_rate(cancelled, len(done)),
        jobs=job_count,
    )


def duration_stats(runs: Sequence[RunFact]) -> DurationStats:
    """p50/p90/p95 and mean of the durations (seconds) of the completed runs of ``runs``."""
    xs = sorted(r.duration for r in runs if r.status is Status.COMPLETED and r.duration is not None)
    return DurationStats(
        count=len(xs),
        mean_seconds=_mean(xs),
        p50_seconds=sorted_percentile(xs, 50),
        p90_seconds=sorted_percentile(xs, 90),
        p95_seconds=sorted_percentile(xs, 95),
    )


def queue_stats(jobs: Sequence[JobFact]) -> QueueStats:
    """p50/p95 of the jobs' queue times (``started_at - created_at``, seconds)."""
    xs = sorted(j.queue for j in jobs if j.queue is not None)
    return QueueStats(
        count=len(xs), p50_seconds=sorted_percentile(xs, 50), p95_seconds=sorted_percentile(xs, 95)
    )


def rerun_stats(runs: Sequence[RunFact]) -> RerunStats:
    """Share of runs with ``run_attempt > 1`` and how often their latest attempt succeeded."""
    reruns = [r for r in runs if r.run_attempt > 1]
    done = [r for r in reruns if _completed(r.conclusion, r.status)]
    ok = sum(1 for r in done if r.conclusion is Conclusion.SUCCESS)
    return RerunStats(
        reruns=len(reruns),
        rerun_rate=_rate(len(reruns), len(runs)),
        rerun_completed=len(done),
        rerun_succeeded=ok,
        rerun_success_rate=_rate(ok, len(done)),
    )


def _group(
    key: str,
    workflow: str | None,
    job: str | None,
    count: int,
    outcomes: Iterable[tuple[Conclusion | None, Status, float | None]],
) -> GroupStats:
    completed = failures = 0
    durations: list[float] = []
    for conclusion, status, duration in outcomes:
        if not _completed(conclusion, status):
            continue
        completed += 1
        if conclusion is not None and conclusion.is_failure:
            failures += 1
        if duration is not None:
            durations.append(duration)
    durations.sort()
    return GroupStats(
        key=key,
        workflow=workflow,
        job=job,
        count=count,
        completed=completed,
        failures=failures,
        failure_rate=_rate(failures, completed),
        mean_seconds=_mean(durations),
        p50_seconds=sorted_percentile(durations, 50),
        p95_seconds=sorted_percentile(durations, 95),
        max_seconds=durations[-1] if durations else None,
    )


def group_stats(
    by: GroupBy, runs: Sequence[RunFact], jobs: Sequence[JobFact], steps: Sequence[StepAggregate]
) -> tuple[GroupStats, ...]:
    """The ``--by`` breakdown, most frequent group first (ties by label).

    ``workflow``: runs grouped by workflow name (its path when unnamed); ``job``: jobs of every
    attempt grouped by (workflow name, job name); ``step``: the store's step aggregates, one per
    (workflow, job, step) name.
    """
    out: list[GroupStats] = []
    if by is GroupBy.WORKFLOW:
        by_wf: dict[str, list[RunFact]] = defaultdict(list)
        for r in runs:
            by_wf[r.workflow_name or r.workflow_path or _NO_WORKFLOW].append(r)
        for name, rs in by_wf.items():
            out.append(_group(name, name, None, len(rs), ((r.conclusion, r.status, r.duration) for r in rs)))
    elif by is GroupBy.JOB:
        by_job: dict[tuple[str | None, str], list[JobFact]] = defaultdict(list)
        for j in jobs:
            by_job[(j.workflow_name, j.name)].append(j)
        for (wf, name), js in by_job.items():
            label = f"{wf or _NO_WORKFLOW} / {name}"
            out.append(_group(label, wf, name, len(js), ((j.conclusion, j.status, j.duration) for j in js)))
    else:
        for s in steps:
            out.append(
                GroupStats(
                    key=f"{s.workflow_name or _NO_WORKFLOW} / {s.job_name} / {s.step_name}",
                    workflow=s.workflow_name,
                    job=s.job_name,
                    step=s.step_name,
                    count=s.count,
                    completed=s.count,
                    failures=s.failures,
                    failure_rate=_rate(s.failures, s.count),
                    mean_seconds=s.mean_duration,
                    max_seconds=s.max_duration,
                )
            )
    out.sort(key=lambda g: (-g.count, g.key))
    return tuple(out)


def step_stats(steps: Sequence[StepAggregate], top: int) -> StepStats:
    """Average time of one step (total seconds / executions) and the ``top`` slowest steps by mean."""
    executions = sum(s.count for s in steps)
    total = math.fsum(s.total_duration for s in steps)
    timed = [s for s in steps if s.mean_duration is not None]
    timed.sort(key=lambda s: (-(s.mean_duration or 0.0), s.workflow_name or "", s.job_name, s.step_name))
    slowest = tuple(
        StepTiming(
            workflow=s.workflow_name,
            job=s.job_name,
            step=s.step_name,
            count=s.count,
            mean_seconds=s.mean_duration,
            max_seconds=s.max_duration,
            total_seconds=s.total_duration,
        )
        for s in timed[:top]
    )
    return StepStats(
        executions=executions, mean_seconds=total / executions if executions else None, slowest=slowest
    )


def failing_jobs(jobs: Sequence[JobFact], top: int) -> tuple[FailingItem, ...]:
    """Jobs (by workflow and job name, every attempt) with the most red conclusions, at most ``top``.

    ``count`` is the completed jobs of that name; ties go to the higher rate, then the name.
    """
    counts: Counter[tuple[str | None, str]] = Counter()
    fails: Counter[tuple[str | None, str]] = Counter()
    for j in jobs:
        if not _completed(j.conclusion, j.status):
            continue
        key = (j.workflow_name, j.name)
        counts[key] += 1
        if j.conclusion is not None and j.conclusion.is_failure:
            fails[key] += 1
    items = [
        FailingItem(
            workflow=wf, job=name, failures=n, count=counts[(wf, name)], rate=_rate(n, counts[(wf, name)])
        )
        for (wf, name), n in fails.items()
    ]
    items.sort(key=lambda i: (-i.failures, -(i.rate or 0.0), i.workflow or "", i.job))
    return tuple(items[:top])


def failing_steps(steps: Sequence[StepAggregate], top: int) -> tuple[FailingItem, ...]:
    """Steps with the most failed executions (failure or timed_out), at most ``top``."""
    items = [
        FailingItem(
            workflow=s.workflow_name,
            job=s.job_name,
            step=s.step_name,
            failures=s.failures,
            count=s.count,
            rate=_rate(s.failures, s.count),
        )
        for s in steps
        if s.failures > 0
    ]
    items.sort(key=lambda i: (-i.failures, -(i.rate or 0.0), i.workflow or "", i.job, i.step or ""))
    return tuple(items[:top])


def categories(jobs: Sequence[JobFact]) -> tuple[CategoryShare, ...]:
    """Failure categories of the diagnosed jobs: count and share of all diagnosed jobs, largest first."""
    counts = Counter(j.category for j in jobs if j.category is not None)
    total = sum(counts.values())
    out = [CategoryShare(category=c, count=n, share=n / total) for c, n in counts.items()]
    out.sort(key=lambda c: (-c.count, c.category))
    return tuple(out)


def compute_stats(
    runs: Sequence[RunFact],
    jobs: Sequence[JobFact],
    steps: Sequence[StepAggregate],
    *,
    by: str | GroupBy | None,
    deployment_patterns: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    top: int = 10,
    filters: StatsFilters | None = None,
) -> PipelineStats:
    """All metrics of ``cimedic stats`` over one window of history.

    ``runs``/``jobs``/``steps`` are what the store's ``run_facts``/``job_facts``/
    ``step_aggregates`` return for the window ``[since, until)`` (aware UTC, ``None``:
    unbounded); ``by`` is ``None`` or ``workflow``/``job``/``step``; ``deployment_patterns``
    are the ``deployment_workflows`` globs (empty: no DORA metrics); ``top`` caps the lists
    (slowest steps, failing jobs and steps); ``filters`` is only recorded in the result.
    Raises ``ValueError`` for an unknown ``by`` or a ``top`` below 1.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, not {top}")
    group = GroupBy(by) if by is not None else None
    return PipelineStats(
        since=since,
        until=until,
        filters=filters or StatsFilters(),
        by=group,
        runs=run_stats(runs, len(jobs)),
        duration=duration_stats(runs),
        queue=queue_stats(jobs),
        reruns=rerun_stats(runs),
        mttr=mttr(runs),
        groups=group_stats(group, runs, jobs, steps) if group is not None else (),
        steps=step_stats(steps, top),
        failing_jobs=failing_jobs(jobs, top),
        failing_steps=failing_steps(steps, top),
        categories=categories(jobs),
        dora=dora(runs, deployment_patterns, since=since, until=until),
    )
