"""Repository health on the demo store (SQLite and PostgreSQL): thresholds threaded through
``current_health``, ``notify_pending`` and ``build_report``; the health view with the recorded
state, since when it holds and the latest run's link; recording without notifying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.model.history import HistoryFilter
from cimedic.model.notify import EventKind, HealthState, HealthThresholds
from cimedic.services.health import current_health, health_view, record_health
from cimedic.services.notify import current_health as reexported
from cimedic.services.notify import notify_pending
from cimedic.services.reports import build_report, render_markdown
from cimedic.store import queries
from cimedic.store.health import health_records
from cimedic.store.repository import Store

NOW = datetime(2026, 11, 20, tzinfo=UTC)
REPO = "hashicorp-demo/terraform"
WEEK = 7 * 86400.0
STRICT = HealthThresholds(window_seconds=WEEK, degraded_rate=0.05)


@pytest.fixture
def demo_now() -> datetime:
    return NOW


@pytest.fixture
def demo(demo_store: Store) -> Store:
    """A private copy of the demo store at NOW (SQLite and PostgreSQL), built once per session."""
    return demo_store


def _last_red_default_run_at(store: Store) -> datetime:
    """Creation time of the latest red default-branch run that no other default-branch run
    shares (one push starts several workflows at the same second)."""
    facts = queries.run_facts(store.engine, HistoryFilter(repository=REPO))
    main = [f for f in facts if f.branch == f.default_branch and f.conclusion is not None and f.created_at]
    times = [f.created_at for f in main]
    red = [
        f.created_at
        for f in main
        if f.conclusion is not None and f.conclusion.is_failure and times.count(f.created_at) == 1
    ]
    assert red, "the demo history has red default-branch runs"
    return max(t for t in red if t is not None)


def test_thresholds_are_threaded_through_notify_and_reports(demo: Store) -> None:
    assert reexported is current_health  # old imports keep working
    (day,) = current_health(demo, NOW)
    assert (day.state, day.runs, day.failed) == (HealthState.HEALTHY, 6, 0)
    (week,) = current_health(demo, NOW, window_seconds=WEEK)
    assert week.state is HealthState.HEALTHY and week.failed > 0 and week.failure_rate is not None
    assert 0.05 <= week.failure_rate < 0.2  # the demo week: a few red runs, under the default rate
    (strict,) = current_health(demo, NOW, window_seconds=WEEK, degraded_rate=0.05)
    assert strict.state is HealthState.DEGRADED and ">= 5%" in strict.reason

    # notify: the health of the pass and the health-change event follow the thresholds
    assert [h.state for h in notify_pending(demo, [], NOW, dry_run=True).health] == [HealthState.HEALTHY]
    outcome = notify_pending(demo, [], NOW, dry_run=True, thresholds=STRICT)
    assert [h.state for h in outcome.health] == [HealthState.DEGRADED]
    changes = [n for n in outcome.notifications if n.kind is EventKind.HEALTH_CHANGE]
    assert len(changes) == 1 and changes[0].title == f"{REPO} is degraded"
    assert "last 168 h: " in changes[0].body
    assert health_records(demo) == {}  # a dry run writes nothing

    # reports: the health section follows the thresholds
    report = build_report(demo, "weekly", now=NOW, thresholds=STRICT)
    assert [h.state for h in report.health] == [HealthState.DEGRADED]
    assert f"- {REPO}: **degraded**" in render_markdown(report)
    assert [h.state for h in build_report(demo, "daily", now=NOW).health] == [HealthState.HEALTHY]


def test_health_view_knows_since_when_and_links_the_latest_run(demo: Store) -> None:
    recorded_at = NOW - timedelta(hours=2)
    (h,) = record_health(demo, recorded_at)
    assert h.state is HealthState.HEALTHY
    rec = health_records(demo)[REPO]
    assert (rec.state, rec.changed_at) == (HealthState.HEALTHY, recorded_at)

    (v,) = health_view(demo, NOW)
    assert (v.state, v.recorded_state, v.since) == (HealthState.HEALTHY, HealthState.HEALTHY, recorded_at)
    assert v.latest_run_id and v.latest_run_url == (
        f"https://github.com/{REPO}/actions/runs/{v.latest_run_id}"
    )
    assert v.computed_at == NOW and v.window_seconds == 86400.0 and v.degraded_rate == 0.2

    # recording the same state again keeps "since"; the strict thresholds change it
    record_health(demo, NOW - timedelta(hours=1))
    assert health_records(demo)[REPO].changed_at == recorded_at
    (strict,) = health_view(demo, NOW, thresholds=STRICT)
    assert strict.state is HealthState.DEGRADED and strict.since is None
    assert strict.recorded_state is HealthState.HEALTHY

    # just after the last red default-branch run: failing, and the link is that run's
    red_at = _last_red_default_run_at(demo)
    (failing,) = health_view(demo, red_at + timedelta(seconds=1), REPO)
    assert failing.state is HealthState.FAILING and failing.latest_red is True
    assert failing.latest_run_at == red_at and failing.since is None

    # long before the history: unknown; a repository the store does not know: nothing
    (old,) = health_view(demo, NOW - timedelta(days=60))
    assert old.state is HealthState.UNKNOWN and old.runs == 0 and old.latest_run_url is None
    assert health_view(demo, NOW, "nobody/nothing") == []
    # a state recorded after the moment asked about gives no "since"
    (before,) = health_view(demo, recorded_at - timedelta(minutes=1))
    assert before.state is HealthState.HEALTHY and before.since is None
