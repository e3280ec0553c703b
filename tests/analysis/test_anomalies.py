"""Anomaly detectors on crafted series: a +50 % step is found at its onset with its size, noise
alone gives nothing, a burst of failures is a failure-rate spike, queue waits spike, and every
finding lists the commits between its last normal run and its onset."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from cimedic.analysis.anomalies import (
    binomial_tail,
    commits_between,
    detect_failure_bursts,
    detect_level_shifts,
    find_anomalies,
    wilson_interval,
)
from cimedic.analysis.changepoints import detect_shifts, mann_whitney_p
from cimedic.model.anomalies import AnomalyKind, AnomalyScope, ScopeLevel, SeriesPoint, TimelineEntry
from cimedic.model.ci import CommitRef, Conclusion

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SCOPE = AnomalyScope(repository="octo/app", level=ScopeLevel.JOB, workflow="CI", job="test")


def _points(values: list[float]) -> list[SeriesPoint]:
    return [
        SeriesPoint(run_id=i + 1, created_at=T0 + timedelta(hours=i), value=v, head_sha=f"sha{i + 1}")
        for i, v in enumerate(values)
    ]


def _noisy(n: int, level: float, seed: int, spread: float = 0.06) -> list[float]:
    rng = random.Random(seed)
    return [level * math.exp(rng.gauss(0, spread)) for _ in range(n)]


def test_a_fifty_percent_step_is_found_at_its_onset_with_its_size() -> None:
    values = _noisy(40, 411.0, 1) + _noisy(25, 411.0 * 1.5, 2)
    found = detect_level_shifts(_points(values), AnomalyKind.DURATION, SCOPE)
    assert len(found) == 1
    a = found[0]
    assert a.onset_run_id == 41 and a.last_normal_run_id == 40
    assert a.onset_at == T0 + timedelta(hours=40)
    assert a.relative_change == pytest.approx(0.5, abs=0.06)
    assert a.before.median == pytest.approx(411, rel=0.05) and a.after.median == pytest.approx(616, rel=0.05)
    assert a.absolute_change == pytest.approx(a.after.median - a.before.median)  # type: ignore[operator]
    assert a.ongoing and a.ended_at is None
    assert a.runs_before[-1] == 40 and a.runs_after[0] == 41 and len(a.runs_before) == 20
    assert a.p_value is not None and a.p_value < 0.01
    assert re.fullmatch(r"median 6m \d\ds → 10m \d\ds \(\+4\d%\)", a.summary), a.summary
    assert a.detector.name == "pelt-robust" and a.detector.parameters["min_segment"] == 5


def test_noise_and_single_outliers_give_nothing() -> None:
    for seed in range(20):
        values = _noisy(120, 300.0, seed, spread=0.1)
        values[17] *= 6  # one stuck run
        values[80] *= 4
        assert detect_level_shifts(_points(values), AnomalyKind.DURATION, SCOPE) == [], seed


def test_decreases_and_small_or_tiny_shifts_are_not_regressions() -> None:
    faster = _noisy(30, 600.0, 3) + _noisy(30, 300.0, 4)
    assert detect_shifts(faster).shifts[0].relative < -0.4  # found ...
    assert detect_level_shifts(_points(faster), AnomalyKind.DURATION, SCOPE) == []  # ... not reported
    small = _noisy(30, 600.0, 5, 0.02) + _noisy(30, 660.0, 6, 0.02)  # +10 %: below MIN_RELATIVE_CHANGE
    assert detect_level_shifts(_points(small), AnomalyKind.DURATION, SCOPE) == []
    tiny = _noisy(30, 4.0, 7, 0.02) + _noisy(30, 8.0, 8, 0.02)  # doubles, but by 4 s
    assert detect_level_shifts(_points(tiny), AnomalyKind.DURATION, SCOPE) == []


def test_a_shift_that_recovers_has_an_end() -> None:
    values = _noisy(30, 100.0, 9) + _noisy(10, 220.0, 10) + _noisy(30, 100.0, 11)
    (a,) = detect_level_shifts(_points(values), AnomalyKind.DURATION, SCOPE)
    assert a.onset_run_id == 31 and not a.ongoing and a.ended_at == T0 + timedelta(hours=39)
    assert a.after.count == 10


def test_since_keeps_only_later_onsets() -> None:
    values = _noisy(30, 100.0, 12) + _noisy(30, 200.0, 13)
    pts = _points(values)
    assert detect_level_shifts(pts, AnomalyKind.DURATION, SCOPE, since=T0 + timedelta(hours=31)) == []
    assert len(detect_level_shifts(pts, AnomalyKind.DURATION, SCOPE, since=T0 + timedelta(hours=30))) == 1


def test_queue_spike_uses_the_queue_floor() -> None:
    rng = random.Random(14)
    waits = [rng.uniform(0, 8) for _ in range(40)] + [rng.uniform(200, 400) for _ in range(8)]
    runner = AnomalyScope(repository="octo/app", level=ScopeLevel.RUNNER, runner_labels=("ubuntu-latest",))
    (a,) = detect_level_shifts(_points(waits), AnomalyKind.QUEUE, runner)
    assert a.kind is AnomalyKind.QUEUE and a.onset_run_id == 41 and a.absolute_change > 150
    assert a.summary.startswith("median queue")
    jitter = [rng.uniform(0, 9) for _ in range(60)]  # seconds of jitter are no spike
    assert detect_level_shifts(_points(jitter), AnomalyKind.QUEUE, runner) == []


def test_failure_rate_burst_is_found_with_wilson_intervals() -> None:
    rng = random.Random(15)
    outcomes = [1.0 if rng.random() < 0.05 else 0.0 for _ in range(40)]
    outcomes[38] = outcomes[39] = 0.0
    outcomes += [1.0, 1.0, 0.0, 1.0, 1.0, 1.0] + [0.0] * 15
    (a,) = detect_failure_bursts(_points(outcomes), SCOPE)
    assert a.kind is AnomalyKind.FAILURE_RATE
    assert a.onset_run_id == 41 and a.last_normal_run_id == 40
    assert a.after.failures == 5 and a.after.count == 6 and not a.ongoing
    assert a.before.rate is not None and a.before.rate < 0.2
    assert a.after.rate_low is not None and a.after.rate_low > a.before.rate
    assert a.p_value is not None and a.p_value < 0.01
    assert a.absolute_change == pytest.approx(a.after.rate - a.before.rate)  # type: ignore[operator]


def test_sporadic_failures_and_noisy_branches_are_no_burst() -> None:
    sporadic = [0.0] * 10 + [1.0] + [0.0] * 10 + [1.0, 0.0, 1.0] + [0.0] * 10
    assert detect_failure_bursts(_points(sporadic), SCOPE) == []
    rng = random.Random(16)
    noisy = [
        1.0 if rng.random() < 0.35 else 0.0 for _ in range(200)
    ]  # a PR branch failing a third of the time
    assert len(detect_failure_bursts(_points(noisy), SCOPE)) <= 1
    short = [0.0, 0.0, 1.0, 1.0, 1.0]  # too little baseline
    assert detect_failure_bursts(_points(short), SCOPE) == []


def test_statistics_helpers() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-3)
    assert wilson_interval(5, 10)[0] == pytest.approx(0.2366, abs=1e-3)
    assert binomial_tail(3, 3, 0.5) == pytest.approx(0.125)
    assert binomial_tail(0, 5, 0.3) == 1.0 and binomial_tail(6, 5, 0.3) == 0.0
    # same as scipy.stats.mannwhitneyu(method="asymptotic") on a case with ties
    assert mann_whitney_p([1, 2, 2, 3, 4], [3, 4, 5, 5, 6, 7]) == pytest.approx(0.02127, abs=1e-4)
    assert mann_whitney_p([], [1.0]) == 1.0 and mann_whitney_p([2, 2], [2, 2]) == 1.0
    with pytest.raises(ValueError):
        detect_shifts([1.0, -1.0])


def _run(
    i: int, sha: str, *, branch: str = "main", workflow: str = "CI", pr: int | None = None
) -> TimelineEntry:
    return TimelineEntry(
        repository="octo/app",
        run_id=i,
        created_at=T0 + timedelta(hours=i),
        head_sha=sha,
        workflow=workflow,
        branch=branch,
        event="push",
        conclusion=Conclusion.SUCCESS,
        pr_number=pr,
    )


def test_commits_between_lists_head_commits_after_the_last_normal_run() -> None:
    runs = [_run(1, "a"), _run(2, "b"), _run(3, "c", workflow="Other"), _run(4, "c"), _run(5, "d")]
    commits = {
        "b": CommitRef(sha="b", message="Merge pull request #12 from octo/x\n\nx", author="Ann"),
        "c": CommitRef(sha="c", message="Bump foo", author="Bob"),
    }
    got = commits_between(
        runs, commits, after=T0 + timedelta(hours=1), upto=T0 + timedelta(hours=4), repository="octo/app"
    )
    assert [c.sha for c in got] == ["b", "c"]
    assert got[0].pr_number == 12 and got[0].author == "Ann" and got[0].title.startswith("Merge")
    assert got[1].run_ids == (3, 4)
    only_ci = commits_between(
        runs, commits, after=T0 + timedelta(hours=2), upto=T0 + timedelta(hours=5), repository="octo/app",
        workflow="CI",
    )  # fmt: skip
    assert [c.sha for c in only_ci] == ["c", "d"] and only_ci[0].run_ids == (4,)


def test_find_anomalies_groups_series_and_fills_commits() -> None:
    entries: list[TimelineEntry] = []
    commits: dict[str, CommitRef] = {}
    durations = _noisy(30, 400.0, 17) + _noisy(15, 640.0, 18)
    for i, d in enumerate(durations, start=1):
        sha = f"s{i:03d}"
        commits[sha] = CommitRef(sha=sha, message=f"change {i}", author="Ann")
        when = T0 + timedelta(hours=i)
        run = TimelineEntry(
            "octo/app", i, when, sha, "CI", "main", "push", Conclusion.SUCCESS, duration=d + 30
        )
        job = TimelineEntry(
            "octo/app", i, when, sha, "CI", "main", "push", Conclusion.SUCCESS, job="test", job_id=1000 + i,
            duration=d, queue=3.0, labels=("ubuntu-latest",),
        )  # fmt: skip
        step = TimelineEntry(
            "octo/app", i, when, sha, "CI", "main", "push", Conclusion.SUCCESS, job="test", job_id=1000 + i,
            step="go test", duration=d - 20,
        )  # fmt: skip
        entries += [run, job, step]
    found = find_anomalies(entries, commits, kinds=[AnomalyKind.DURATION, AnomalyKind.QUEUE])
    levels = sorted(a.scope.level.value for a in found)
    assert levels == ["job", "step", "workflow"]
    for a in found:
        assert a.onset_run_id == 31
        assert [c.sha for c in a.commits] == ["s031"] and a.commits[0].message == "change 31"
    assert find_anomalies(entries, commits, kinds=[AnomalyKind.FAILURE_RATE]) == []
