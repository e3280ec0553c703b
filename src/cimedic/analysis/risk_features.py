"""Failure-risk features of runs, from what is known when each run starts (pure).

:func:`extract_features` walks a run history (:class:`cimedic.model.risk.RiskRun`) in the order
the runs were triggered and gives every run a feature vector (:data:`FEATURES`, in that column
order) and the scores of the two baselines, using **only information available before the run
starts**:

- An earlier run's *outcome* (and its duration) is used only when it completed **strictly
  before** the run's ``created_at``. A run that started earlier but is still running is counted
  as *in flight*, and its outcome is not used, neither by the features nor by the baselines.
- An earlier run's *start* (it exists, its head commit) is used when it was triggered strictly
  before; runs triggered at the same instant (the workflows of one push, the stages of one
  Jenkins build) do not see each other.
- The run's own duration, outcome and test counts are never read. Change size
  (``churn``) and the count of open flaky tests are inputs known at trigger time; both are
  optional (``None`` → missing value): the store has no churn today, and open flaky tests come
  from the flaky-test detector when it provides them.

Scopes. A run's **job** is its workflow on its pull request (or, without a PR, on its head
branch): in LRTS, the Jenkins job of the PR. Its **line** is its workflow on its base branch
(LRTS: project + ``pr_base_branch``). Its **project** is the repository. Its **commit** is its
workflow on its head SHA (an earlier run of the same commit = a rebuild).

Baselines (the literature's standard comparisons: the previous build's outcome is the
strongest single predictor of a build's outcome in Ni & Li, "Cost-effective build outcome
prediction using cascaded classifiers", MSR 2017, and BuildFast, Chen et al., ASE 2020;
failures come in streaks, Jin & Servant, SmartBuildSkip, ICSE 2020):

- ``previous_outcome``: 1 when the last known outcome of the same job failed, 0 when it
  passed; without job history the line's last known outcome, then the project's, then 0.5.
- ``recent_failure_rate``: the failure rate of the job's last :data:`JOB_WINDOW` known
  outcomes; without job history the line's last :data:`LINE_WINDOW`; then the project's last
  :data:`PROJECT_WINDOW`; then 0.5.

Windows are fixed constants (never tuned per project; part of the benchmark data is held out).
Missing values are ``NaN``; the model handles them (native missing-value support of
``HistGradientBoostingClassifier``; imputation plus missing indicators for the logistic model).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cimedic.model.risk import RiskRun

__all__ = [
    "ACTIVITY_WINDOW",
    "FEATURES",
    "FEATURE_NAMES",
    "JOB_WINDOW",
    "LINE_WINDOW",
    "PROJECT_WINDOW",
    "FeatureRow",
    "FeatureSpec",
    "extract_features",
]

JOB_WINDOW = 5
"""Known outcomes of the same job in ``job_fail_rate`` and the recent-rate baseline (a PR job
rarely has more: the median PR of LRTS has 1 to 3 sampled builds)."""
LINE_WINDOW = 20
"""Known outcomes of the same line in ``line_fail_rate``."""
PROJECT_WINDOW = 50
"""Known outcomes of the project in ``project_fail_rate``."""
PROJECT_SHORT_WINDOW = 10
"""Known outcomes of the project in ``project_fail_rate_short`` (the trend next to the 50)."""
ACTIVITY_WINDOW = timedelta(hours=24)
"""Window of ``project_runs_24h`` (runs triggered in the project in the last day)."""

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """A feature: its column ``name`` and what it measures."""

    name: str
    description: str


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("job_prev_failed", "1/0: the last known outcome of the same job failed/passed"),
    FeatureSpec("job_fail_rate", f"failure rate of the job's last {JOB_WINDOW} known outcomes"),
    FeatureSpec("job_fail_streak", "consecutive failures at the end of the job's known outcomes"),
    FeatureSpec("job_known_runs", "log(1 + known outcomes of the job)"),
    FeatureSpec("job_started_runs", "log(1 + runs of the job triggered before this one)"),
    FeatureSpec("job_in_flight", "runs of the job triggered before and not yet finished"),
    FeatureSpec("job_prev_unlabelled", "1: the job's last finished run was cancelled/aborted"),
    FeatureSpec("job_hours_since_run", "log(1 + hours since the job's previous run was triggered)"),
    FeatureSpec("job_hours_since_green", "log(1 + hours since the job's last green run finished)"),
    FeatureSpec("job_last_duration", "log(1 + seconds) of the job's last finished run"),
    FeatureSpec(
        "job_prev_failed_tests", "log(1 + failed tests) of the job's last finished run with a report"
    ),
    FeatureSpec("commit_seen", "1: an earlier run of the same workflow built the same head commit"),
    FeatureSpec("commit_prev_failed", "1/0: the last known outcome on the same head commit"),
    FeatureSpec("line_prev_failed", "1/0: the last known outcome of the line (workflow + base branch)"),
    FeatureSpec("line_fail_rate", f"failure rate of the line's last {LINE_WINDOW} known outcomes"),
    FeatureSpec("line_fail_streak", "consecutive failures at the end of the line's known outcomes"),
    FeatureSpec("project_fail_rate", f"failure rate of the project's last {PROJECT_WINDOW} known outcomes"),
    FeatureSpec(
        "project_fail_rate_short", f"failure rate of the project's last {PROJECT_SHORT_WINDOW} known outcomes"
    ),
    FeatureSpec("project_hours_since_green", "log(1 + hours since the project's last green run finished)"),
    FeatureSpec("project_runs_24h", "log(1 + runs of the project triggered in the last 24 h)"),
    FeatureSpec("project_in_flight", "log(1 + runs of the project triggered before and not yet finished)"),
    FeatureSpec("churn_files", "log(1 + changed files); missing without a churn source"),
    FeatureSpec("churn_lines", "log(1 + added + deleted lines); missing without a churn source"),
    FeatureSpec("churn_deleted_share", "deleted / (added + deleted) lines; missing without churn"),
    FeatureSpec(
        "churn_files_rel",
        f"churn_files minus its median over the project's last {PROJECT_WINDOW} runs with churn",
    ),
    FeatureSpec(
        "churn_lines_rel",
        f"churn_lines minus its median over the project's last {PROJECT_WINDOW} runs with churn",
    ),
    FeatureSpec("job_rate_vs_project", "job_fail_rate minus project_fail_rate"),
    FeatureSpec("job_age_hours", "log(1 + hours since the job's first run was triggered)"),
    FeatureSpec("open_flaky_tests", "log(1 + tests known flaky and unfixed); missing without a source"),
    FeatureSpec("is_pull_request", "1: the run builds a pull request"),
    FeatureSpec("hour_sin", "sin(2π · UTC hour of the trigger / 24)"),
    FeatureSpec("hour_cos", "cos(2π · UTC hour of the trigger / 24)"),
    FeatureSpec("weekend", "1: triggered on a Saturday or Sunday (UTC)"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """One run's features (``values`` in :data:`FEATURE_NAMES` order, ``NaN`` = missing), its
    label (``run.failed``) and the two baseline scores in [0, 1]."""

    run: RiskRun
    values: tuple[float, ...]
    previous_outcome: float
    recent_failure_rate: float

    @property
    def key(self) -> str:
        return self.run.key

    @property
    def label(self) -> bool | None:
        return self.run.failed


@dataclass(slots=True)
class _Scope:
    """What is known about one job, line, commit or project at a moment."""

    window: int
    outcomes: deque[bool] = field(init=False)
    known: int = 0
    last_failed: bool | None = None
    streak: int = 0
    last_unlabelled: bool = False
    last_green_at: datetime | None = None
    last_duration: float | None = None
    last_failed_tests: int | None = None
    started: int = 0
    finished: int = 0
    last_start: datetime | None = None
    first_start: datetime | None = None

    def __post_init__(self) -> None:
        self.outcomes = deque(maxlen=self.window)

    def rate(self) -> float:
        return sum(self.outcomes) / len(self.outcomes) if self.outcomes else NAN

    def finish(self, run: RiskRun) -> None:
        self.finished += 1
        if run.duration is not None:
            self.last_duration = run.duration
        self.last_unlabelled = run.failed is None
        if run.failed is None:
            return
        if run.failed_tests is not None:
            self.last_failed_tests = run.failed_tests
        self.known += 1
        self.outcomes.append(run.failed)
        self.last_failed = run.failed
        self.streak = self.streak + 1 if run.failed else 0
        if not run.failed:
            self.last_green_at = run.completed_at


def _flag(value: bool | None) -> float:
    return NAN if value is None else float(value)


def _log_hours(later: datetime, earlier: datetime | None) -> float:
    if earlier is None:
        return NAN
    return math.log1p(max(0.0, (later - earlier).total_seconds()) / 3600.0)


def _churn_logs(run: RiskRun) -> tuple[float, float]:
    c = run.churn
    if c is None:
        return NAN, NAN
    return math.log1p(c.changed_files), math.log1p(c.additions + c.deletions)


def _median(values: deque[float] | None) -> float:
    if not values:
        return NAN
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _first(*values: float) -> float:
    for v in values:
        if not math.isnan(v):
            return v
    return 0.5


@dataclass(slots=True)
class _History:
    jobs: dict[tuple[str, str, str], _Scope] = field(default_factory=dict)
    lines: dict[tuple[str, str, str], _Scope] = field(default_factory=dict)
    commits: dict[tuple[str, str, str], _Scope] = field(default_factory=dict)
    projects: dict[str, _Scope] = field(default_factory=dict)
    project_short: dict[str, _Scope] = field(default_factory=dict)
    recent_starts: dict[str, deque[datetime]] = field(default_factory=dict)
    churn_files: dict[str, deque[float]] = field(default_factory=dict)
    churn_lines: dict[str, deque[float]] = field(default_factory=dict)

    def scopes(self, run: RiskRun) -> tuple[_Scope, _Scope, _Scope | None, _Scope, _Scope]:
        wf = run.workflow or ""
        job_id = f"pr:{run.pull_request}" if run.pull_request is not None else f"branch:{run.branch or ''}"
        job = self.jobs.setdefault((run.repository, wf, job_id), _Scope(JOB_WINDOW))
        base = run.base_branch if run.base_branch is not None else (run.branch or "")
        line = self.lines.setdefault((run.repository, wf, base), _Scope(LINE_WINDOW))
        commit = (
            self.commits.setdefault((run.repository, wf, run.head_sha), _Scope(1)) if run.head_sha else None
        )
        project = self.projects.setdefault(run.repository, _Scope(PROJECT_WINDOW))
        short = self.project_short.setdefault(run.repository, _Scope(PROJECT_SHORT_WINDOW))
        return job, line, commit, project, short

    def finish(self, run: RiskRun) -> None:
        for scope in self.scopes(run):
            if scope is not None:
                scope.finish(run)

    def start(self, run: RiskRun) -> None:
        for scope in self.scopes(run):
            if scope is not None:
                scope.started += 1
                scope.last_start = run.created_at
                if scope.first_start is None:
                    scope.first_start = run.created_at
        self.recent_starts.setdefault(run.repository, deque()).append(run.created_at)
        if run.churn is not None:
            files, lines = _churn_logs(run)
            self.churn_files.setdefault(run.repository, deque(maxlen=PROJECT_WINDOW)).append(files)
            self.churn_lines.setdefault(run.repository, deque(maxlen=PROJECT_WINDOW)).append(lines)

    def row(self, run: RiskRun) -> FeatureRow:
        job, line, commit, project, short = self.scopes(run)
        t = run.created_at
        starts = self.recent_starts.setdefault(run.repository, deque())
        while starts and starts[0] < t - ACTIVITY_WINDOW:
            starts.popleft()
        churn = run.churn
        lines = churn.additions + churn.deletions if churn is not None else None
        hour = t.hour + t.minute / 60.0
        pr = run.pull_request is not None or (run.event or "").startswith("pull_request")
        values = (
            _flag(job.last_failed),
            job.rate(),
            float(job.streak) if job.known else NAN,
            math.log1p(job.known),
            math.log1p(job.started),
            float(job.started - job.finished),
            float(job.last_unlabelled) if job.finished else NAN,
            _log_hours(t, job.last_start),
            _log_hours(t, job.last_green_at),
            math.log1p(job.last_duration) if job.last_duration is not None else NAN,
            math.log1p(job.last_failed_tests) if job.last_failed_tests is not None else NAN,
            float(commit is not None and commit.started > 0),
            _flag(commit.last_failed) if commit is not None else NAN,
            _flag(line.last_failed),
            line.rate(),
            float(line.streak) if line.known else NAN,
            project.rate(),
            short.rate(),
            _log_hours(t, project.last_green_at),
            math.log1p(len(starts)),
            math.log1p(project.started - project.finished),
            math.log1p(churn.changed_files) if churn is not None else NAN,
            math.log1p(lines) if lines is not None else NAN,
            churn.deletions / lines if churn is not None and lines else NAN,
            _churn_logs(run)[0] - _median(self.churn_files.get(run.repository)),
            _churn_logs(run)[1] - _median(self.churn_lines.get(run.repository)),
            job.rate() - project.rate(),
            _log_hours(t, job.first_start),
            math.log1p(run.open_flaky_tests) if run.open_flaky_tests is not None else NAN,
            float(pr),
            math.sin(2 * math.pi * hour / 24.0),
            math.cos(2 * math.pi * hour / 24.0),
            float(t.weekday() >= 5),
        )
        return FeatureRow(
            run=run,
            values=values,
            previous_outcome=_first(
                _flag(job.last_failed), _flag(line.last_failed), _flag(project.last_failed)
            ),
            recent_failure_rate=_first(job.rate(), line.rate(), project.rate()),
        )


def extract_features(runs: Iterable[RiskRun], *, targets: Container[str] | None = None) -> list[FeatureRow]:
    """Feature rows of the runs whose ``key`` is in ``targets`` (every run when ``None``),
    ordered by ``(created_at, key)``.

    ``runs`` is the whole history the features may look at (runs of several repositories are
    kept apart); only runs triggered before a target, and outcomes completed before it, reach
    its features (see the module doc). ``created_at`` and ``completed_at`` must be aware
    datetimes (any zone; compared as instants). Linear in the number of runs plus a heap of the
    pending completions: O(n log n).
    """
    ordered = sorted(runs, key=lambda r: (r.created_at, r.key))
    history = _History()
    pending: list[tuple[datetime, int, RiskRun]] = []
    rows: list[FeatureRow] = []
    i = 0
    seq = 0
    while i < len(ordered):
        t = ordered[i].created_at
        j = i
        while j < len(ordered) and ordered[j].created_at == t:
            j += 1
        group = ordered[i:j]
        while pending and pending[0][0] < t:
            history.finish(heapq.heappop(pending)[2])
        for run in group:
            if targets is None or run.key in targets:
                rows.append(history.row(run))
        for run in group:
            history.start(run)
            if run.completed_at is not None:
                heapq.heappush(pending, (run.completed_at, seq, run))
                seq += 1
        i = j
    return rows
