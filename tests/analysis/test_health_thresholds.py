"""Health thresholds: the typed value and its defaults, and what a computed health carries (the
rate used, the latest counted run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from cimedic.analysis.health import DEGRADED_FAILURE_RATE, WINDOW_SECONDS, repo_health
from cimedic.model.ci import Conclusion, Status
from cimedic.model.history import RunFact
from cimedic.model.notify import HealthState, HealthThresholds

NOW = datetime(2024, 5, 2, 12, tzinfo=UTC)


def run(i: int, conclusion: str, hours_ago: float) -> RunFact:
    created = NOW - timedelta(hours=hours_ago)
    return RunFact(
        run_id=i, repository="o/r", provider_id=f"p{i}", workflow_name="ci", workflow_path=None, event="push",
        branch="main", default_branch="main", head_sha="a" * 40, status=Status.COMPLETED,
        conclusion=Conclusion(conclusion), run_attempt=1, created_at=created, run_started_at=created,
        updated_at=created + timedelta(minutes=5), duration=300.0,
    )  # fmt: skip


def test_defaults_are_the_analysis_defaults_and_hours_convert() -> None:
    th = HealthThresholds()
    assert (th.window_seconds, th.degraded_rate) == (WINDOW_SECONDS, DEGRADED_FAILURE_RATE) == (86400.0, 0.2)
    assert HealthThresholds.from_hours(168, 0.05) == HealthThresholds(
        window_seconds=604800.0, degraded_rate=0.05
    )
    for bad in ({"window_seconds": 0}, {"degraded_rate": 0}, {"degraded_rate": 1.5}):
        with pytest.raises(ValidationError):
            HealthThresholds(**bad)  # type: ignore[arg-type]


def test_a_wider_window_and_a_lower_rate_change_the_state() -> None:
    # one red run 30 h ago among greens: outside the default window, inside a 48 h one
    runs = [run(1, "failure", 30)] + [run(i, "success", 23 - 2 * (i - 2)) for i in range(2, 12)]
    default = repo_health("o/r", runs, NOW)
    assert default.state is HealthState.HEALTHY and default.failed == 0 and default.degraded_rate == 0.2
    wide = repo_health("o/r", runs, NOW, window_seconds=48 * 3600)
    assert wide.state is HealthState.HEALTHY and (wide.failed, wide.runs) == (1, 11)
    strict = repo_health("o/r", runs, NOW, window_seconds=48 * 3600, degraded_rate=0.05)
    assert strict.state is HealthState.DEGRADED and strict.degraded_rate == 0.05
    assert strict.window_seconds == 48 * 3600 and "9% >= 5%" in strict.reason
    # the latest counted run is named (provider id and creation time)
    assert strict.latest_run_id == "p11" and strict.latest_run_at == NOW - timedelta(hours=5)
    assert repo_health("o/r", [], NOW).latest_run_id is None
