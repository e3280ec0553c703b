"""Recovery metrics: MTTR of the default branch and the DORA "Four Keys" metrics.

Pure functions over :class:`~cimedic.model.history.RunFact` records (no I/O). Both metrics
rest on the same *recovery* walk (:func:`recoveries`): per workflow, completed runs in trigger
order; a red run after a green one opens an incident at its completion, the next green run
closes it at its completion. Durations are seconds, times aware UTC.

Sources of the definitions:

- MTTR: CircleCI's mean time to recovery of CI workflows, the time from a failed run to the
  next successful run (CircleCI Insights, https://circleci.com/docs/insights-glossary/, and
  "Feedback loops: the key to improving mean time to recovery", CircleCI blog, 2020), here
  restricted to the default branch, where red means broken for everyone.
- DORA: the DORA research program, https://dora.dev/guides/dora-metrics-four-keys/, and
  Google's Four Keys project, https://github.com/dora-team/fourkeys/blob/main/METRICS.md
  (deployment frequency, lead time for changes, change failure rate, time to restore
  service). CI history has no production incidents, so the proxies are deployment
  *workflow runs*; see :class:`~cimedic.model.metrics.DoraMetrics`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from fnmatch import fnmatchcase

from cimedic.analysis.quantiles import median, percentile
from cimedic.model.ci import Conclusion, Status
from cimedic.model.history import RunFact
from cimedic.model.metrics import DoraMetrics, MttrStats

__all__ = ["dora", "is_deployment", "mttr", "on_default_branch", "recoveries"]

# Taken as the default branch when the repository's is unknown (GitHub's and git's defaults).
FALLBACK_DEFAULT_BRANCHES = ("main", "master")


def _when(run: RunFact) -> datetime | None:
    """Completion time of a completed run (``updated_at``), else its ``created_at``."""
    return run.updated_at or run.created_at


def workflow_key(run: RunFact) -> tuple[str, str]:
    """Identity of a run's workflow: (repository, workflow path, or name when the path is unknown)."""
    return (run.repository, run.workflow_path or run.workflow_name or "")


def recoveries(
    runs: Sequence[RunFact], key: Callable[[RunFact], Hashable] = workflow_key
) -> tuple[list[float], int]:
    """Recovery times (seconds) of red streaks, per ``key`` (default: repository and workflow).

    The completed runs of each key are walked in ``created_at`` order (then ``run_id``). A red
    run (:attr:`Conclusion.is_failure`) while green opens an incident at its completion time
    (``updated_at``, else ``created_at``); the next ``success`` run closes it at its own
    completion, and the difference (at least 0) is a recovery time. Other conclusions
    (cancelled, skipped, neutral, ...) neither open nor close an incident. Returns
    ``(recovery times, number of incidents still open at the end)``.
    """
    groups: dict[Hashable, list[RunFact]] = defaultdict(list)
    for r in runs:
        if r.status is Status.COMPLETED and r.conclusion is not None and _when(r) is not None:
            groups[key(r)].append(r)
    times: list[float] = []
    still_open = 0
    for group in groups.values():
        group.sort(key=lambda r: (r.created_at or _when(r) or datetime.min, r.run_id))
        opened: datetime | None = None
        for r in group:
            at = _when(r)
            assert r.conclusion is not None and at is not None  # filtered above
            if r.conclusion.is_failure:
                if opened is None:
                    opened = at
            elif r.conclusion is Conclusion.SUCCESS and opened is not None:
                times.append(max(0.0, (at - opened).total_seconds()))
                opened = None
        if opened is not None:
            still_open += 1
    return times, still_open


def on_default_branch(run: RunFact) -> bool:
    """Whether the run is on its repository's default branch (``main``/``master`` when unknown)."""
    if run.branch is None:
        return False
    if run.default_branch:
        return run.branch == run.default_branch
    return run.branch in FALLBACK_DEFAULT_BRANCHES


def mttr(runs: Sequence[RunFact]) -> MttrStats:
    """Mean time to recovery of the default branch (see :class:`~cimedic.model.metrics.MttrStats`).

    Recovery times come from :func:`recoveries` over the runs on the default branch, per
    repository and workflow; mean and median in seconds.
    """
    times, still_open = recoveries([r for r in runs if on_default_branch(r)])
    return MttrStats(
        incidents=len(times),
        open_incidents=still_open,
        mean_seconds=math.fsum(times) / len(times) if times else None,
        median_seconds=median(times),
    )


def is_deployment(run: RunFact, patterns: Sequence[str]) -> bool:
    """Whether the run's workflow matches one of the fnmatch ``patterns`` (case-sensitive), by
    its name, its path or the path's file name (``deploy.yml`` matches
    ``.github/workflows/deploy.yml``)."""
    names = [n for n in (run.workflow_name, run.workflow_path) if n]
    if run.workflow_path:
        names.append(run.workflow_path.rsplit("/", 1)[-1])
    return any(fnmatchcase(n, p) for n in names for p in patterns)


def _window_days(runs: Sequence[RunFact], since: datetime | None, until: datetime | None) -> float | None:
    """Length of the window in days; an open end is the earliest / latest run time of ``runs``."""
    created = [r.created_at for r in runs if r.created_at is not None]
    start = since or (min(created) if created else None)
    end = until or (max(created) if created else None)
    if start is None or end is None or end <= start:
        return None
    return (end - start).total_seconds() / 86400.0


def dora(
    runs: Sequence[RunFact],
    patterns: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> DoraMetrics | None:
    """DORA Four Keys proxies over the runs of the deployment workflows matching ``patterns``.

    ``since``/``until`` (aware UTC) bound the window used for the deployment frequency (an
    open end is taken from the runs' ``created_at``). Returns ``None`` when ``patterns`` is
    empty or no run matches. Definitions: :class:`~cimedic.model.metrics.DoraMetrics`.
    """
    if not patterns:
        return None
    matched = [r for r in runs if is_deployment(r, patterns)]
    if not matched:
        return None
    done = [r for r in matched if r.status is Status.COMPLETED and r.conclusion is not None]
    ok = [r for r in done if r.conclusion is Conclusion.SUCCESS]
    failed = [r for r in done if r.conclusion is not None and r.conclusion.is_failure]
    deployments = len(ok) + len(failed)
    days = _window_days(runs, since, until)
    lead_times: list[float] = []
    for r in ok:
        start = r.commit_timestamp or r.created_at
        if r.updated_at is not None and start is not None:
            lead_times.append(max(0.0, (r.updated_at - start).total_seconds()))
    restore_times, unrestored = recoveries(done)
    return DoraMetrics(
        workflows=tuple(sorted({r.workflow_name or r.workflow_path or "" for r in matched})),
        window_days=days,
        deployments=deployments,
        successful_deployments=len(ok),
        failed_deployments=len(failed),
        deployments_per_day=len(ok) / days if days else None,
        deployments_per_week=len(ok) * 7 / days if days else None,
        lead_time_median_seconds=median(lead_times),
        lead_time_p90_seconds=percentile(lead_times, 90),
        change_failure_rate=len(failed) / deployments if deployments else None,
        restores=len(restore_times),
        unrestored=unrestored,
        time_to_restore_median_seconds=median(restore_times),
    )
