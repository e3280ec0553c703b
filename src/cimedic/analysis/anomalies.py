"""Anomalies of the stored history: duration regressions, queue-time spikes, failure-rate bursts.

Pure functions of :class:`~cimedic.model.anomalies.TimelineEntry` records (runs, jobs of every
attempt, steps) returning :class:`~cimedic.model.anomalies.Anomaly` findings.

- **Duration regressions** (per workflow, job and step, all branches pooled): the successful
  runs / jobs / steps in time order (a failed or cancelled one stops early, so its duration
  measures where it stopped, not how long the pipeline takes), searched for level shifts by
  :func:`cimedic.analysis.changepoints.detect_shifts`; an increase is a regression. Decreases
  are found too but not reported.
- **Queue-time spikes** (per runner label set): every job's wait for a runner
  (``started_at - created_at``), same detector with a 10 s floor and :data:`QUEUE_MIN_ABSOLUTE_S`.
- **Failure-rate bursts** (per workflow and per job, per branch): outcomes in time order (1 =
  failure, timed_out, startup_failure; 0 = success; others left out). A window of consecutive
  outcomes that starts and ends with a failure and holds at least :data:`MIN_FAILURES`
  failures in at most :data:`MAX_WINDOW` outcomes is a burst when, against the
  :data:`BASELINE_RUNS` outcomes before it (at least :data:`MIN_BASELINE`), its failure count
  is improbable: one-sided binomial tail ``P(X >= k | w, p0) <`` :data:`FAILURE_ALPHA`, with
  ``p0`` the centre of the baseline's 95 % Wilson score interval (Wilson 1927; the centre adds
  ``z²/2`` failures and successes, so a clean baseline does not give ``p0 = 0``), and its rate
  exceeds the baseline's by at least :data:`MIN_RATE_INCREASE`. Overlapping burst windows merge
  into one anomaly; its onset is the first failure.

Every anomaly carries the commits between its last normal run and its onset
(:func:`commits_between`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from cimedic.analysis.changepoints import (
    QUEUE_FLOOR_S,
    WILSON_Z,
    Shift,
    ShiftParams,
    binomial_tail,
    detect_shifts,
    wilson_centre,
    wilson_interval,
)
from cimedic.analysis.quantiles import percentile
from cimedic.model.anomalies import (
    Anomaly,
    AnomalyKind,
    AnomalyScope,
    CommitInfo,
    DetectorInfo,
    ScopeLevel,
    SegmentStats,
    SeriesPoint,
    TimelineEntry,
)
from cimedic.model.ci import CommitRef, Conclusion

__all__ = [
    "BASELINE_RUNS",
    "COMMITS_LISTED",
    "FAILURE_ALPHA",
    "MAX_WINDOW",
    "MIN_BASELINE",
    "MIN_FAILURES",
    "MIN_RATE_INCREASE",
    "QUEUE_MIN_ABSOLUTE_S",
    "RUNS_LISTED",
    "WILSON_Z",
    "binomial_tail",
    "commits_between",
    "detect_failure_bursts",
    "detect_level_shifts",
    "duration_series",
    "duration_text",
    "find_anomalies",
    "outcome_series",
    "pr_of_message",
    "queue_series",
    "segment_stats",
    "series_counts",
    "wilson_interval",
]

MIN_FAILURES = 3
"""A burst holds at least three failures (one or two failures are what flaky tests do)."""
MAX_WINDOW = 20
"""Longest window of consecutive outcomes examined for a burst."""
BASELINE_RUNS = 50
"""Outcomes before a window that form its baseline (the most recent ones)."""
MIN_BASELINE = 5
"""Fewest baseline outcomes needed to call anything a burst."""
FAILURE_ALPHA = 0.001
"""One-sided level of the binomial test of a burst window against its baseline: 0.02 split over
the :data:`MAX_WINDOW` window lengths tried at each position (Bonferroni). On simulated
histories it flags about 0.02, 0.06 and 0.24 false bursts per 100 runs at steady failure rates
of 5, 15 and 35 %, and finds 4 (6) failures in a row after a 10 % baseline 76 % (92 %) of the
time (``docs/anomalies.md``)."""
MIN_RATE_INCREASE = 0.20
"""A burst's failure rate exceeds the baseline rate by at least 20 points."""
QUEUE_MIN_ABSOLUTE_S = 30.0
"""Smallest change of the median queue time worth reporting, seconds."""
RUNS_LISTED = 20
"""Run ids listed on each side of an anomaly (the ones nearest the onset)."""
COMMITS_LISTED = 50
"""Commits listed between the last normal run and the onset (the newest)."""

DURATION_PARAMS = ShiftParams()
QUEUE_PARAMS = ShiftParams(min_absolute=QUEUE_MIN_ABSOLUTE_S, floor=QUEUE_FLOOR_S)
_MERGE_PR = re.compile(r"^Merge pull request #(\d+) ")
_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")


# --------------------------------------------------------------------------------- statistics


def segment_stats(values: Sequence[float]) -> SegmentStats:
    """Median, MAD (unscaled), mean and p90 of ``values`` (seconds); ``count`` only when empty."""
    if not values:
        return SegmentStats(count=0)
    xs = sorted(values)
    med = percentile(xs, 50)
    assert med is not None
    mad = percentile([abs(v - med) for v in xs], 50)
    return SegmentStats(count=len(xs), median=med, mad=mad, mean=sum(xs) / len(xs), p90=percentile(xs, 90))


def _rate_stats(outcomes: Sequence[float]) -> SegmentStats:
    n = len(outcomes)
    k = int(sum(1 for v in outcomes if v >= 0.5))
    low, high = wilson_interval(k, n)
    return SegmentStats(count=n, failures=k, rate=k / n if n else None, rate_low=low, rate_high=high)


def duration_text(seconds: float | None) -> str:
    """``42.0s``, ``6m 51s``, ``2h 05m`` (``-`` when unknown)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = round(seconds)
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def _pct(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:+.0f}%"


# --------------------------------------------------------------------------------- detectors


def _ids(points: Sequence[SeriesPoint]) -> tuple[int, ...]:
    seen: dict[int, None] = {}
    for pt in points:
        seen.setdefault(pt.run_id, None)
    return tuple(seen)


def detect_level_shifts(
    points: Sequence[SeriesPoint],
    kind: AnomalyKind,
    scope: AnomalyScope,
    *,
    since: datetime | None = None,
    params: ShiftParams | None = None,
) -> list[Anomaly]:
    """Increases of the level of ``points`` (seconds, time order) as ``duration`` or ``queue``
    anomalies of ``scope`` whose onset is at or after ``since``; commits are not filled (see
    :func:`commits_between`). ``params`` default to the duration or queue parameters.
    Raises ``ValueError`` for ``kind`` ``failure_rate`` or a negative value."""
    if kind is AnomalyKind.FAILURE_RATE:
        raise ValueError("failure rates are found by detect_failure_bursts")
    p = params or (QUEUE_PARAMS if kind is AnomalyKind.QUEUE else DURATION_PARAMS)
    result = detect_shifts([pt.value for pt in points], p)
    detector = DetectorInfo(
        name="pelt-robust",
        parameters={
            **p.as_dict(),
            "sigma": round(result.sigma or 0.0, 6),
            "penalty": round(result.penalty or 0.0, 6),
            "proposed_change_points": result.proposed,
        },
    )
    out: list[Anomaly] = []
    for shift in result.shifts:
        if not shift.increase:
            continue
        anomaly = _shift_anomaly(points, shift, kind, scope, detector)
        if since is None or anomaly.onset_at >= since:
            out.append(anomaly)
    return out


def _shift_anomaly(
    points: Sequence[SeriesPoint],
    shift: Shift,
    kind: AnomalyKind,
    scope: AnomalyScope,
    detector: DetectorInfo,
) -> Anomaly:
    before = points[shift.before_start : shift.index]
    after = points[shift.index : shift.after_end]
    b, a = segment_stats([pt.value for pt in before]), segment_stats([pt.value for pt in after])
    assert a.median is not None and b.median is not None
    rel = a.median / b.median - 1 if b.median > 0 else None
    onset, last = points[shift.index], before[-1]
    ongoing = shift.after_end == len(points)
    what = "median" if kind is AnomalyKind.DURATION else "median queue"
    summary = f"{what} {duration_text(b.median)} → {duration_text(a.median)} ({_pct(rel)})"
    return Anomaly(
        kind=kind,
        scope=scope,
        onset_at=onset.created_at,
        onset_run_id=onset.run_id,
        onset_run_provider_id=onset.run_provider_id,
        onset_job_id=onset.job_id,
        onset_head_sha=onset.head_sha,
        last_normal_run_id=last.run_id,
        last_normal_at=last.created_at,
        before=b,
        after=a,
        relative_change=rel,
        absolute_change=a.median - b.median,
        runs_before=_ids(before)[-RUNS_LISTED:],
        runs_after=_ids(after)[:RUNS_LISTED],
        ongoing=ongoing,
        ended_at=None if ongoing else after[-1].created_at,
        p_value=shift.p_value,
        detector=detector,
        summary=summary,
    )


def _burst_windows(x: Sequence[int]) -> list[tuple[int, int, float]]:
    """Flagged windows ``(start, end, p_value)`` (inclusive indices) of the 0/1 series ``x``."""
    prefix = [0]
    for v in x:
        prefix.append(prefix[-1] + v)
    flagged: list[tuple[int, int, float]] = []
    for end in range(len(x)):
        if not x[end]:
            continue
        for start in range(end, max(-1, end - MAX_WINDOW), -1):
            if not x[start]:
                continue
            k, w = prefix[end + 1] - prefix[start], end - start + 1
            b0 = max(0, start - BASELINE_RUNS)
            nb = start - b0
            if k < MIN_FAILURES or nb < MIN_BASELINE:
                continue
            fb = prefix[start] - prefix[b0]
            if k / w - fb / nb < MIN_RATE_INCREASE:
                continue
            pv = binomial_tail(k, w, wilson_centre(fb, nb))
            if pv < FAILURE_ALPHA:
                flagged.append((start, end, pv))
    return flagged


def detect_failure_bursts(
    points: Sequence[SeriesPoint], scope: AnomalyScope, *, since: datetime | None = None
) -> list[Anomaly]:
    """Failure-rate bursts of ``points`` (value 1.0 = failed, 0.0 = succeeded; time order) as
    ``failure_rate`` anomalies of ``scope`` whose onset is at or after ``since`` (module
    docstring: the test and its constants). Commits are not filled."""
    x = [1 if pt.value >= 0.5 else 0 for pt in points]
    groups: list[list[tuple[int, int, float]]] = []
    for window in sorted(_burst_windows(x)):
        if groups and window[0] <= max(w[1] for w in groups[-1]):
            groups[-1].append(window)
        else:
            groups.append([window])
    episodes: list[tuple[int, int, float]] = []
    for group in groups:  # onset: the start of the most significant window of the group
        start, _end, pv = min(group, key=lambda w: (w[2], w[0]))
        episodes.append((start, max(w[1] for w in group), pv))
    detector = DetectorInfo(
        name="binomial-burst",
        parameters={
            "min_failures": MIN_FAILURES,
            "max_window": MAX_WINDOW,
            "baseline_runs": BASELINE_RUNS,
            "min_baseline": MIN_BASELINE,
            "alpha": FAILURE_ALPHA,
            "min_rate_increase": MIN_RATE_INCREASE,
            "wilson_z": WILSON_Z,
        },
    )
    out: list[Anomaly] = []
    for start, end, pv in episodes:
        baseline = points[max(0, start - BASELINE_RUNS) : start]
        burst = points[start : end + 1]
        b, a = _rate_stats([pt.value for pt in baseline]), _rate_stats([pt.value for pt in burst])
        assert a.rate is not None and b.rate is not None
        onset, last = points[start], points[start - 1]
        ongoing = end == len(points) - 1
        if since is not None and onset.created_at < since:
            continue
        summary = (
            f"failure rate {b.rate * 100:.0f}% → {a.rate * 100:.0f}% "
            f"({a.failures} of {a.count} runs from the onset, baseline {b.failures} of {b.count})"
        )
        out.append(
            Anomaly(
                kind=AnomalyKind.FAILURE_RATE,
                scope=scope,
                onset_at=onset.created_at,
                onset_run_id=onset.run_id,
                onset_run_provider_id=onset.run_provider_id,
                onset_job_id=onset.job_id,
                onset_head_sha=onset.head_sha,
                last_normal_run_id=last.run_id,
                last_normal_at=last.created_at,
                before=b,
                after=a,
                relative_change=a.rate / b.rate - 1 if b.rate > 0 else None,
                absolute_change=a.rate - b.rate,
                runs_before=_ids(baseline)[-RUNS_LISTED:],
                runs_after=_ids(burst)[:RUNS_LISTED],
                ongoing=ongoing,
                ended_at=None if ongoing else burst[-1].created_at,
                p_value=pv,
                detector=detector,
                summary=summary,
            )
        )
    return out


# --------------------------------------------------------------------------------- series


def _order(points: list[SeriesPoint]) -> list[SeriesPoint]:
    return sorted(points, key=lambda p: (p.created_at, p.run_id, p.job_id or 0))


def _scope(e: TimelineEntry, branch: str | None = None) -> AnomalyScope:
    if e.step is not None:
        level = ScopeLevel.STEP
    elif e.job is not None:
        level = ScopeLevel.JOB
    else:
        level = ScopeLevel.WORKFLOW
    return AnomalyScope(
        repository=e.repository, level=level, workflow=e.workflow, job=e.job, step=e.step, branch=branch
    )


def duration_series(entries: Iterable[TimelineEntry]) -> dict[AnomalyScope, list[SeriesPoint]]:
    """Per workflow, job and step (all branches pooled): the durations of the successful ones,
    oldest first."""
    out: dict[AnomalyScope, list[SeriesPoint]] = defaultdict(list)
    for e in entries:
        if e.conclusion is Conclusion.SUCCESS and e.duration is not None:
            out[_scope(e)].append(
                SeriesPoint(e.run_id, e.created_at, e.duration, e.head_sha, e.job_id, e.run_provider_id)
            )
    return {k: _order(v) for k, v in out.items()}


def queue_series(entries: Iterable[TimelineEntry]) -> dict[AnomalyScope, list[SeriesPoint]]:
    """Per repository and runner label set: the queue times of the jobs that ran (not skipped),
    oldest first."""
    out: dict[AnomalyScope, list[SeriesPoint]] = defaultdict(list)
    for e in entries:
        if e.job is None or e.step is not None or e.queue is None or e.conclusion is Conclusion.SKIPPED:
            continue
        scope = AnomalyScope(
            repository=e.repository, level=ScopeLevel.RUNNER, runner_labels=tuple(sorted(e.labels))
        )
        out[scope].append(
            SeriesPoint(e.run_id, e.created_at, e.queue, e.head_sha, e.job_id, e.run_provider_id)
        )
    return {k: _order(v) for k, v in out.items()}


def outcome_series(entries: Iterable[TimelineEntry]) -> dict[AnomalyScope, list[SeriesPoint]]:
    """Per workflow and job, per branch: 1.0 for a red outcome (failure, timed_out,
    startup_failure), 0.0 for success (others left out), oldest first. Jobs count every attempt."""
    out: dict[AnomalyScope, list[SeriesPoint]] = defaultdict(list)
    for e in entries:
        if e.step is not None or e.conclusion is None or e.branch is None:
            continue
        if e.conclusion is Conclusion.SUCCESS:
            value = 0.0
        elif e.conclusion.is_failure:
            value = 1.0
        else:
            continue
        out[_scope(e, e.branch)].append(
            SeriesPoint(e.run_id, e.created_at, value, e.head_sha, e.job_id, e.run_provider_id)
        )
    return {k: _order(v) for k, v in out.items()}


# --------------------------------------------------------------------------------- commits


def pr_of_message(message: str | None) -> int | None:
    """The pull request a commit landed: GitHub's merge commit title ``Merge pull request #N from
    ...`` or squash-merge title ``Title (#N)``; ``None`` otherwise."""
    title = (message or "").split("\n", 1)[0]
    m = _MERGE_PR.match(title) or _SQUASH_PR.search(title)
    return int(m.group(1)) if m else None


def commits_between(
    runs: Iterable[TimelineEntry],
    commits: Mapping[str, CommitRef],
    *,
    after: datetime | None,
    upto: datetime,
    repository: str,
    workflow: str | None = None,
    branch: str | None = None,
    limit: int = COMMITS_LISTED,
) -> tuple[CommitInfo, ...]:
    """Head commits of the run-level ``runs`` of ``repository`` (and ``workflow``, ``branch``
    when given) created in ``(after, upto]``, oldest first, each once with the runs whose head
    it is, its message and author from ``commits`` (sha → commit) and its pull request (the
    run's, or ``Merge pull request #N`` in the message). At most ``limit``, the newest."""
    found: dict[str, tuple[datetime, list[int], int | None]] = {}
    for r in runs:
        if r.job is not None or r.repository != repository:
            continue
        if workflow is not None and r.workflow != workflow:
            continue
        if branch is not None and r.branch != branch:
            continue
        if r.created_at > upto or (after is not None and r.created_at <= after):
            continue
        when, ids, pr = found.setdefault(r.head_sha, (r.created_at, [], r.pr_number))
        ids.append(r.run_id)
        found[r.head_sha] = (min(when, r.created_at), ids, pr if pr is not None else r.pr_number)
    out: list[CommitInfo] = []
    for sha, (_when, ids, pr) in sorted(found.items(), key=lambda kv: (kv[1][0], kv[0])):
        c = commits.get(sha)
        message = c.message if c else None
        out.append(
            CommitInfo(
                sha=sha,
                message=message,
                author=c.author if c else None,
                timestamp=c.timestamp if c else None,
                pr_number=pr if pr is not None else pr_of_message(message),
                run_ids=tuple(sorted(set(ids))),
            )
        )
    return tuple(out[-limit:])


# --------------------------------------------------------------------------------- all together


def series_counts(entries: Sequence[TimelineEntry], kinds: Iterable[AnomalyKind]) -> dict[str, int]:
    """How many series of each kind are long enough to be examined: ``2 * MIN_SEGMENT`` points
    for durations and queue times, ``MIN_BASELINE + MIN_FAILURES`` outcomes for failure rates."""
    wanted = set(kinds)
    out: dict[str, int] = {}
    if AnomalyKind.DURATION in wanted:
        out["duration"] = sum(
            1 for v in duration_series(entries).values() if len(v) >= 2 * DURATION_PARAMS.min_segment
        )
    if AnomalyKind.QUEUE in wanted:
        out["queue"] = sum(
            1 for v in queue_series(entries).values() if len(v) >= 2 * QUEUE_PARAMS.min_segment
        )
    if AnomalyKind.FAILURE_RATE in wanted:
        out["failure_rate"] = sum(
            1 for v in outcome_series(entries).values() if len(v) >= MIN_BASELINE + MIN_FAILURES
        )
    return out


def find_anomalies(
    entries: Sequence[TimelineEntry],
    commits: Mapping[str, CommitRef],
    *,
    kinds: Iterable[AnomalyKind] = tuple(AnomalyKind),
    since: datetime | None = None,
) -> list[Anomaly]:
    """Every anomaly of ``kinds`` in the history ``entries`` (runs, jobs, steps) whose onset is
    at or after ``since``, with the commits between its last normal run and its onset (none for
    queue spikes); newest onset first. ``commits`` maps head SHAs to what the store knows."""
    wanted = set(kinds)
    runs = [e for e in entries if e.job is None]
    found: list[Anomaly] = []
    if AnomalyKind.DURATION in wanted:
        for scope, pts in duration_series(entries).items():
            found += detect_level_shifts(pts, AnomalyKind.DURATION, scope, since=since)
    if AnomalyKind.QUEUE in wanted:
        for scope, pts in queue_series(entries).items():
            found += detect_level_shifts(pts, AnomalyKind.QUEUE, scope, since=since)
    if AnomalyKind.FAILURE_RATE in wanted:
        for scope, pts in outcome_series(entries).items():
            found += detect_failure_bursts(pts, scope, since=since)
    out = []
    for a in found:
        if a.kind is not AnomalyKind.QUEUE:
            between = commits_between(
                runs,
                commits,
                after=a.last_normal_at,
                upto=a.onset_at,
                repository=a.scope.repository,
                workflow=a.scope.workflow,
                branch=a.scope.branch,
            )
            a = a.model_copy(update={"commits": between})
        out.append(a)
    out.sort(key=lambda a: (a.onset_at, a.kind.value, a.scope.key), reverse=True)
    return out
