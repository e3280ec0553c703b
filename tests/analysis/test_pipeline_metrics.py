"""Pipeline metrics on small crafted histories, with the expected figures computed by hand."""

from __future__ import annotations

import json
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from cimedic.analysis.dora import dora, is_deployment, mttr, on_default_branch, recoveries
from cimedic.analysis.pipeline_metrics import compute_stats, percentile
from cimedic.analysis.quantiles import median, sorted_percentile
from cimedic.model.ci import Conclusion, Status
from cimedic.model.history import JobFact, RunFact, StepAggregate
from cimedic.model.metrics import GroupBy, PipelineStats, StatsFilters

T0 = datetime(2024, 5, 1, tzinfo=UTC)
_ids = iter(range(1, 1_000_000))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(
    conclusion: Conclusion | None,
    created: float,
    *,
    done: float | None = None,
    workflow: str = "CI",
    path: str | None = ".github/workflows/ci.yml",
    branch: str | None = "main",
    default_branch: str | None = "main",
    attempt: int = 1,
    duration: float | None = None,
    commit: datetime | None = None,
    repository: str = "acme/app",
) -> RunFact:
    """A run created at ``created`` minutes after T0 and completed at ``done`` minutes (default +5)."""
    completed = conclusion is not None
    end = at(done if done is not None else created + 5) if completed else None
    return RunFact(
        run_id=next(_ids),
        repository=repository,
        provider_id=str(next(_ids)),
        workflow_name=workflow,
        workflow_path=path,
        event="push",
        branch=branch,
        default_branch=default_branch,
        head_sha="a" * 40,
        status=Status.COMPLETED if completed else Status.IN_PROGRESS,
        conclusion=conclusion,
        run_attempt=attempt,
        created_at=at(created),
        run_started_at=at(created),
        updated_at=end,
        duration=duration if duration is not None else ((end - at(created)).total_seconds() if end else None),
        commit_timestamp=commit,
    )


def job(
    name: str,
    conclusion: Conclusion | None,
    *,
    workflow: str | None = "CI",
    queue: float | None = 10.0,
    duration: float | None = 60.0,
    attempt: int = 1,
    category: str | None = None,
) -> JobFact:
    return JobFact(
        job_id=next(_ids),
        run_id=1,
        repository="acme/app",
        workflow_name=workflow,
        name=name,
        run_attempt=attempt,
        status=Status.COMPLETED if conclusion is not None else Status.QUEUED,
        conclusion=conclusion,
        created_at=T0,
        started_at=T0 + timedelta(seconds=queue) if queue is not None else None,
        completed_at=None,
        queue=queue,
        duration=duration,
        category=category,
    )


S, F, C = Conclusion.SUCCESS, Conclusion.FAILURE, Conclusion.CANCELLED


# ------------------------------------------------------------------------------ percentiles


def test_percentile_hand_values() -> None:
    xs = [4.0, 1.0, 3.0, 2.0]
    assert percentile(xs, 50) == pytest.approx(2.5)
    assert percentile(xs, 90) == pytest.approx(3.7)  # h = 3 * 0.9 = 2.7 -> 3 + 0.7 * (4 - 3)
    assert percentile(xs, 95) == pytest.approx(3.85)
    assert percentile(xs, 0) == 1.0
    assert percentile(xs, 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile(xs, 101)
    with pytest.raises(ValueError):
        sorted_percentile(xs, -1)


@pytest.mark.parametrize("seed", range(20))
def test_percentile_matches_linear_interpolation_of_numpy(seed: int) -> None:
    """``statistics.quantiles(method="inclusive")`` is numpy's default "linear" method (type 7)."""
    rng = random.Random(seed)
    xs = [rng.lognormvariate(5, 1.5) for _ in range(rng.randint(2, 300))]
    cuts = statistics.quantiles(xs, n=100, method="inclusive")
    for q in (1, 5, 25, 50, 75, 90, 95, 99):
        assert percentile(xs, q) == pytest.approx(cuts[q - 1], rel=1e-12)
    try:
        import numpy
    except ImportError:
        return
    for q in (0, 12.5, 50, 90, 95, 100):
        assert percentile(xs, q) == pytest.approx(float(numpy.percentile(xs, q)), rel=1e-12)


# ------------------------------------------------------------------------------ runs, re-runs, durations


def test_rates_count_completed_runs_only() -> None:
    runs = [run(S, i) for i in range(6)]
    runs += [run(F, 10), run(F, 11), run(Conclusion.TIMED_OUT, 12), run(C, 13), run(None, 14)]
    s = compute_stats(runs, [], [], by=None, deployment_patterns=(), since=None, until=None)
    assert (s.runs.total, s.runs.completed, s.runs.succeeded, s.runs.failed, s.runs.cancelled) == (
        11,
        10,
        6,
        3,
        1,
    )
    assert s.runs.success_rate == pytest.approx(0.6)
    assert s.runs.failure_rate == pytest.approx(0.3)
    assert s.runs.cancelled_rate == pytest.approx(0.1)


def test_startup_failure_is_red_and_skipped_is_neither() -> None:
    runs = [run(Conclusion.STARTUP_FAILURE, 0), run(Conclusion.SKIPPED, 1), run(S, 2), run(S, 3)]
    s = compute_stats(runs, [], [], by=None, deployment_patterns=(), since=None, until=None)
    assert s.runs.failure_rate == pytest.approx(0.25)
    assert s.runs.success_rate == pytest.approx(0.5)
    assert s.runs.cancelled_rate == 0.0


def test_empty_history_gives_nones_not_zeros() -> None:
    s = compute_stats([], [], [], by="job", deployment_patterns=["deploy*"], since=T0, until=at(60))
    assert s.is_empty
    assert s.runs.success_rate is None and s.duration.p50_seconds is None and s.queue.p95_seconds is None
    assert s.reruns.rerun_rate is None and s.mttr.median_seconds is None and s.steps.mean_seconds is None
    assert s.groups == () and s.failing_jobs == () and s.categories == ()
    assert s.dora is None


def test_duration_percentiles_of_completed_runs() -> None:
    durations = [60.0, 120.0, 180.0, 240.0, 600.0]
    runs = [run(S, i, duration=d) for i, d in enumerate(durations)] + [run(None, 9)]
    s = compute_stats(runs, [], [], by=None, deployment_patterns=(), since=None, until=None)
    assert s.duration.count == 5
    assert s.duration.p50_seconds == 180.0
    assert s.duration.p90_seconds == pytest.approx(240 + 0.6 * 360)  # h = 4 * 0.9 = 3.6
    assert s.duration.p95_seconds == pytest.approx(240 + 0.8 * 360)
    assert s.duration.mean_seconds == pytest.approx(240.0)


def test_queue_time_percentiles_over_jobs() -> None:
    jobs = [job("build", S, queue=q) for q in (0.0, 5.0, 10.0, 20.0, 100.0)] + [job("x", None, queue=None)]
    s = compute_stats([], jobs, [], by=None, deployment_patterns=(), since=None, until=None)
    assert s.queue.count == 5
    assert s.queue.p50_seconds == 10.0
    assert s.queue.p95_seconds == pytest.approx(20 + 0.8 * 80)
    assert s.runs.jobs == 6


def test_reruns_and_their_success() -> None:
    runs = [
        run(S, 0),
        run(F, 1),
        run(S, 2, attempt=2),  # re-run that went green
        run(F, 3, attempt=2),  # re-run still red
        run(None, 4, attempt=3),  # re-run in progress: not in the success rate
    ]
    s = compute_stats(runs, [], [], by=None, deployment_patterns=(), since=None, until=None)
    assert s.reruns.reruns == 3
    assert s.reruns.rerun_rate == pytest.approx(3 / 5)
    assert (s.reruns.rerun_completed, s.reruns.rerun_succeeded) == (2, 1)
    assert s.reruns.rerun_success_rate == pytest.approx(0.5)


# ------------------------------------------------------------------------------ MTTR


def test_mttr_incidents_on_the_default_branch() -> None:
    runs = [
        run(S, 0),
        run(F, 10, done=15),  # incident opens at 15
        run(F, 20, done=25),  # still red: does not move the start
        run(C, 30, done=35),  # cancelled: neither
        run(S, 40, done=45),  # closes: 30 min
        run(F, 50, done=55),
        run(S, 60, done=62),  # closes: 7 min
        run(F, 70, done=75),  # open at the end
        # another workflow of the same branch: its own streaks
        run(F, 5, done=6, workflow="Lint", path=".github/workflows/lint.yml"),
        run(S, 8, done=9, workflow="Lint", path=".github/workflows/lint.yml"),  # 3 min
        # a feature branch is ignored
        run(F, 1, done=2, branch="feature"),
        run(S, 3, done=100, branch="feature"),
    ]
    m = mttr(runs)
    assert m.incidents == 3
    assert m.open_incidents == 1
    assert m.mean_seconds == pytest.approx((1800 + 420 + 180) / 3)
    assert m.median_seconds == pytest.approx(420)
    assert compute_stats(runs, [], [], by=None, deployment_patterns=(), since=None, until=None).mttr == m


def test_mttr_orders_by_trigger_time_not_by_input_order() -> None:
    runs = [run(S, 40, done=50), run(F, 10, done=20), run(S, 0, done=5)]
    assert recoveries(runs) == ([1800.0], 0)


def test_mttr_separates_repositories_with_the_same_workflow() -> None:
    runs = [run(F, 0, done=1, repository="acme/a"), run(S, 10, done=11, repository="acme/b")]
    assert mttr(runs).incidents == 0
    assert mttr(runs).open_incidents == 1


def test_default_branch_fallback() -> None:
    assert on_default_branch(run(S, 0, branch="master", default_branch=None))
    assert on_default_branch(run(S, 0, branch="main", default_branch=None))
    assert not on_default_branch(run(S, 0, branch="develop", default_branch=None))
    assert on_default_branch(run(S, 0, branch="develop", default_branch="develop"))
    assert not on_default_branch(run(S, 0, branch="main", default_branch="develop"))
    assert not on_default_branch(run(S, 0, branch=None))


# ------------------------------------------------------------------------------ DORA


DAY = 24 * 60


def _deploy(
    conclusion: Conclusion | None, created: float, done: float, commit: datetime | None = None
) -> RunFact:
    return run(
        conclusion, created, done=done, workflow="Deploy", path=".github/workflows/deploy.yml", commit=commit
    )


def _dora_history() -> list[RunFact]:
    return [
        _deploy(S, 1 * DAY + 600, 1 * DAY + 620, commit=at(1 * DAY + 540)),  # lead 80 min
        _deploy(F, 2 * DAY + 600, 2 * DAY + 720),  # failure at day 2 12:00
        _deploy(F, 3 * DAY + 600, 3 * DAY + 720),  # still failing
        _deploy(
            S, 3 * DAY + 780, 3 * DAY + 840
        ),  # restored at day 3 14:00 (26 h); lead 60 min (no commit time)
        _deploy(C, 4 * DAY, 4 * DAY + 10),  # cancelled: not a deployment
        _deploy(S, 5 * DAY + 480, 5 * DAY + 510, commit=at(4 * DAY + 510)),  # lead 24 h
        _deploy(F, 6 * DAY, 6 * DAY + 30),  # not restored in the window
        _deploy(None, 7 * DAY, 7 * DAY),  # in progress
        run(S, 0),  # not a deployment workflow
        run(F, 1),
    ]


def test_dora_on_a_crafted_history() -> None:
    d = dora(_dora_history(), ["deploy.yml"], since=T0, until=T0 + timedelta(days=14))
    assert d is not None
    assert d.workflows == ("Deploy",)
    assert d.window_days == pytest.approx(14.0)
    assert (d.deployments, d.successful_deployments, d.failed_deployments) == (6, 3, 3)
    assert d.deployments_per_day == pytest.approx(3 / 14)
    assert d.deployments_per_week == pytest.approx(1.5)
    assert d.lead_time_median_seconds == pytest.approx(4800)
    assert d.lead_time_p90_seconds == pytest.approx(4800 + 0.8 * (86400 - 4800))
    assert d.change_failure_rate == pytest.approx(0.5)
    assert (d.restores, d.unrestored) == (1, 1)
    assert d.time_to_restore_median_seconds == pytest.approx(26 * 3600)


def test_dora_is_none_without_patterns_or_matches() -> None:
    assert dora(_dora_history(), []) is None
    assert dora(_dora_history(), ["release*"]) is None
    s = compute_stats(_dora_history(), [], [], by=None, deployment_patterns=(), since=T0, until=at(14 * DAY))
    assert s.dora is None


def test_dora_open_window_uses_the_runs_span() -> None:
    d = dora(_dora_history(), ["Deploy"])
    assert d is not None
    assert d.window_days == pytest.approx(7.0)  # first run at T0, last created at day 7


def test_deployment_patterns_match_name_path_and_file_name() -> None:
    r = _deploy(S, 0, 1)
    assert is_deployment(r, ["Deploy"])
    assert is_deployment(r, ["Dep*"])
    assert is_deployment(r, [".github/workflows/deploy.*"])
    assert is_deployment(r, ["deploy.yml"])
    assert not is_deployment(r, ["deploy"])  # globs are case-sensitive
    assert not is_deployment(run(S, 0), ["deploy*"])


# ------------------------------------------------------------------------------ groups, steps, failures, categories


def _steps() -> list[StepAggregate]:
    return [
        StepAggregate("CI", "build", "Checkout", 10, 0, 2.0, 5.0, 20.0),
        StepAggregate("CI", "build", "Compile", 10, 1, 120.0, 300.0, 1200.0),
        StepAggregate("CI", "test", "Run tests", 8, 4, 300.0, 900.0, 2400.0),
        StepAggregate("CI", "test", "Upload", 8, 0, None, None, 0.0),
    ]


def _jobs() -> list[JobFact]:
    return [
        job("build", S, duration=100.0),
        job("build", F, duration=50.0, category="compilation"),
        job("build", S, duration=300.0, attempt=2),
        job("test", F, duration=400.0, category="test"),
        job("test", F, duration=500.0, category="test"),
        job("test", Conclusion.TIMED_OUT, duration=600.0, category="timeout"),
        job("test", S, duration=200.0),
        job("test", None, duration=None),
        job("lint", S, workflow="Lint", duration=10.0),
    ]


def test_by_job_breakdown() -> None:
    s = compute_stats([], _jobs(), _steps(), by="job", deployment_patterns=(), since=None, until=None)
    assert [g.key for g in s.groups] == ["CI / test", "CI / build", "Lint / lint"]
    test = s.groups[0]
    assert (test.count, test.completed, test.failures) == (5, 4, 3)
    assert test.failure_rate == pytest.approx(0.75)
    assert test.p50_seconds == pytest.approx(450.0)
    assert test.p95_seconds == pytest.approx(500 + 0.85 * 100)  # h = 3 * 0.95 = 2.85
    build = s.groups[1]
    assert (build.count, build.failures) == (3, 1) and build.p50_seconds == 100.0


def test_by_workflow_breakdown() -> None:
    runs = [run(S, 0, duration=100), run(F, 1, duration=300), run(S, 2, workflow="Lint", duration=10)]
    s = compute_stats(runs, [], [], by=GroupBy.WORKFLOW, deployment_patterns=(), since=None, until=None)
    assert s.by is GroupBy.WORKFLOW
    assert [(g.key, g.count, g.failure_rate, g.p50_seconds) for g in s.groups] == [
        ("CI", 2, 0.5, 200.0),
        ("Lint", 1, 0.0, 10.0),
    ]


def test_by_step_breakdown_uses_the_sql_aggregates() -> None:
    s = compute_stats([], [], _steps(), by="step", deployment_patterns=(), since=None, until=None)
    assert len(s.groups) == 4
    first = s.groups[0]
    assert first.key == "CI / build / Checkout" and first.count == 10 and first.p50_seconds is None
    assert s.groups[2].key == "CI / test / Run tests" and s.groups[2].failure_rate == pytest.approx(0.5)
    assert s.groups[2].mean_seconds == 300.0 and s.groups[2].max_seconds == 900.0


def test_unknown_by_and_bad_top_raise() -> None:
    with pytest.raises(ValueError):
        compute_stats([], [], [], by="team", deployment_patterns=(), since=None, until=None)
    with pytest.raises(ValueError, match="top"):
        compute_stats([], [], [], by=None, deployment_patterns=(), since=None, until=None, top=0)


def test_steps_failures_and_categories() -> None:
    s = compute_stats([], _jobs(), _steps(), by=None, deployment_patterns=(), since=None, until=None, top=2)
    assert s.steps.executions == 36
    assert s.steps.mean_seconds == pytest.approx(3620 / 36)
    assert [(t.step, t.mean_seconds) for t in s.steps.slowest] == [("Run tests", 300.0), ("Compile", 120.0)]
    assert [(f.job, f.failures, f.count) for f in s.failing_jobs] == [("test", 3, 4), ("build", 1, 3)]
    assert s.failing_jobs[0].rate == pytest.approx(0.75)
    assert [(f.step, f.failures, f.rate) for f in s.failing_steps] == [
        ("Run tests", 4, 0.5),
        ("Compile", 1, 0.1),
    ]
    assert [(c.category, c.count) for c in s.categories] == [("test", 2), ("compilation", 1), ("timeout", 1)]
    assert s.categories[0].share == pytest.approx(0.5)


def test_result_is_frozen_and_json_round_trips() -> None:
    runs = [*_dora_history(), run(S, 30, attempt=2)]
    s = compute_stats(
        runs,
        _jobs(),
        _steps(),
        by="job",
        deployment_patterns=["deploy.yml"],
        since=T0,
        until=at(14 * DAY),
        filters=StatsFilters(repository="acme/app"),
    )
    data = json.loads(json.dumps(s.model_dump(mode="json")))
    assert data["since"] == "2024-05-01T00:00:00Z"
    assert data["filters"] == {"repository": "acme/app", "workflow": None, "branch": None}
    assert data["by"] == "job" and data["dora"]["deployments"] == 6
    assert PipelineStats.model_validate(data) == s
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        s.runs.total = 0  # type: ignore[misc]
