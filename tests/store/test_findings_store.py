"""The analyzers' findings on the demo history, on SQLite and PostgreSQL: refreshed after
ingest, summarized for ``cimedic stats``, and the same on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.services.demo import run_demo
from cimedic.services.diagnose import make_diagnoser
from cimedic.services.findings import findings_summary, refresh_findings
from cimedic.services.stats import pipeline_stats
from cimedic.store.repository import Store

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def diagnoser():  # type: ignore[no-untyped-def]
    return make_diagnoser()[0]


def test_demo_findings_are_stored_and_visible_in_stats(store: Store, diagnoser) -> None:  # type: ignore[no-untyped-def]
    report = run_demo(store, diagnoser, now=NOW)
    assert report.findings is not None and report.findings.problems == []
    found = report.findings
    assert found.count("flaky", "flaky") >= 3 and found.count("flaky", "broken") >= 1
    assert found.count("culprits", "culprit_reports") >= 1
    summary = findings_summary(store, since=NOW - timedelta(days=30), now=NOW)
    # one definition of new vs recurring (as `cimedic failures`): the demo's 10 days lie inside
    # the 30-day window, so every cluster is new there; a later window sees recurring ones
    assert summary.count("clusters", "clusters") >= 5
    assert summary.count("clusters", "new_clusters") == summary.count("clusters", "clusters")
    assert summary.count("clusters", "recurring_clusters") == 0
    from cimedic.services.failures import list_clusters

    every = list_clusters(store, since=None, top=1000, now=NOW).clusters
    first, last = next((c.first_seen, c.last_seen) for c in every if c.first_seen and c.last_seen and c.first_seen < c.last_seen)
    recent = findings_summary(store, since=first + (last - first) / 2, now=NOW)
    assert recent.count("clusters", "recurring_clusters") >= 1
    assert recent.count("clusters", "new_clusters") + recent.count("clusters", "recurring_clusters") == recent.count(
        "clusters", "clusters"
    )
    assert summary.count("flaky", "flaky_tests") == 1 and summary.count("flaky", "flaky_jobs") == 2
    risk = summary.section("risk")
    # a model is stored; whether it scores depends on its hold-out evaluation (docs/risk.md)
    assert risk is not None and risk.note.startswith("model ") and risk.count("scored_runs") is not None
    if "unusable" in risk.note:  # a model that does not beat its baselines scores nothing
        assert risk.count("scored_runs") == 0
    assert any(line.kind == "failure cluster" and "go mod tidy" in line.title for line in summary.top)
    stats = pipeline_stats(store, since=timedelta(days=30), now=NOW)
    assert stats.findings == summary
    # a second refresh changes no verdict and no count
    again = refresh_findings(store, now=NOW)
    assert again.results[:3] == found.results[:3]  # flaky, anomalies, culprits
    # the same summary, but for the failure risk (a second model may have been trained)
    resummarized = findings_summary(store, since=NOW - timedelta(days=30), now=NOW)
    assert [s for s in resummarized.sections if s.name != "risk"] == [
        s for s in summary.sections if s.name != "risk"
    ]
