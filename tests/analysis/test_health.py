"""Repository health rules: unknown, failing (latest red), degraded (rate), healthy; changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.analysis.health import health_of_all, is_change, repo_health
from cimedic.model.ci import Conclusion, Status
from cimedic.model.history import RunFact
from cimedic.model.notify import HealthState

NOW = datetime(2024, 5, 2, 12, tzinfo=UTC)


def run(i: int, conclusion: str, hours_ago: float, branch: str = "main", repo: str = "o/r") -> RunFact:
    created = NOW - timedelta(hours=hours_ago)
    return RunFact(
        run_id=i, repository=repo, provider_id=str(i), workflow_name="ci", workflow_path=None, event="push",
        branch=branch, default_branch="main", head_sha="a" * 40, status=Status.COMPLETED,
        conclusion=Conclusion(conclusion), run_attempt=1, created_at=created, run_started_at=created,
        updated_at=created + timedelta(minutes=5), duration=300.0,
    )  # fmt: skip


def test_no_run_is_unknown() -> None:
    h = repo_health("o/r", [run(1, "failure", 30)], NOW)
    assert h.state is HealthState.UNKNOWN and h.runs == 0 and h.failure_rate is None


def test_latest_red_is_failing() -> None:
    h = repo_health("o/r", [run(1, "success", 5), run(2, "failure", 1)], NOW)
    assert h.state is HealthState.FAILING and h.latest_red and h.failed == 1 and h.failure_rate == 0.5


def test_rate_at_threshold_is_degraded_and_other_branches_do_not_count() -> None:
    runs = [run(i, "success", 10 - i) for i in range(4)] + [run(9, "failure", 8)]
    runs += [run(20, "failure", 0.5, branch="feature")]  # not the default branch
    runs += [run(21, "cancelled", 0.2)]  # neither green nor red
    h = repo_health("o/r", runs, NOW)
    assert h.state is HealthState.DEGRADED and h.runs == 5 and h.failed == 1
    assert repo_health("o/r", runs, NOW, degraded_rate=0.5).state is HealthState.HEALTHY


def test_all_green_is_healthy_and_all_repositories_are_covered() -> None:
    out = health_of_all([run(1, "success", 1), run(2, "failure", 1, repo="o/b")], NOW)
    assert [(h.repository, h.state) for h in out] == [
        ("o/b", HealthState.FAILING),
        ("o/r", HealthState.HEALTHY),
    ]


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        repo_health("o/r", [], NOW, window_seconds=0)
    with pytest.raises(ValueError):
        repo_health("o/r", [], NOW, degraded_rate=0)


def test_changes() -> None:
    assert not is_change(None, HealthState.HEALTHY)
    assert is_change(None, HealthState.FAILING)
    assert is_change(HealthState.FAILING, HealthState.HEALTHY)
    assert not is_change(HealthState.FAILING, HealthState.FAILING)
    assert not is_change(HealthState.FAILING, HealthState.UNKNOWN)
