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
    assert report.findings.flaky >= 3 and report.findings.broken >= 1 and report.findings.culprits >= 1
    summary = findings_summary(store, since=NOW - timedelta(days=30), now=NOW)
    assert summary.clusters >= 5 and summary.recurring_clusters >= 1
    assert summary.flaky_tests == 1 and summary.flaky_jobs == 2
    assert summary.risk_model is not None and summary.scored_runs >= 1
    assert any(line.kind == "failure cluster" and "go mod tidy" in line.title for line in summary.top)
    stats = pipeline_stats(store, since=timedelta(days=30), now=NOW)
    assert stats.findings == summary
    # a second refresh changes no verdict and no count
    again = refresh_findings(store, now=NOW)
    assert (again.flaky, again.broken, again.culprits) == (
        report.findings.flaky,
        report.findings.broken,
        report.findings.culprits,
    )
    assert findings_summary(store, since=NOW - timedelta(days=30), now=NOW).model_copy(
        update={"risk_model": None, "scored_runs": 0}
    ) == summary.model_copy(update={"risk_model": None, "scored_runs": 0})
