"""The built-in ``flaky`` analyzer on the demo history: the verdicts it stores on refresh, and
its section of the findings summary (counts with their words, the top lines, the quarantine)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cimedic.services.analyzers import AnalyzerDeps
from cimedic.services.analyzers.flaky import make
from cimedic.services.flaky import quarantine_add
from cimedic.store.repository import Store

REPO = "hashicorp-demo/terraform"
FLAKY_TEST = "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest::createWebhook"


def test_refresh_stores_the_verdicts_of_the_window(demo: Store, demo_now: datetime) -> None:
    analyzer = make(AnalyzerDeps())
    assert analyzer.name == "flaky"
    result = analyzer.refresh(demo, window=timedelta(days=30), now=demo_now)
    assert result.name == "flaky"
    assert (result.count("flaky"), result.count("broken")) == (3, 1)
    assert result.line == "3 flaky, 1 broken"
    # the same history again: the same verdicts
    again = analyzer.refresh(demo, window=timedelta(days=30), now=demo_now, repository=REPO)
    assert again == result
    # a repository without history: nothing
    none = analyzer.refresh(demo, window=timedelta(days=30), now=demo_now, repository="acme/none")
    assert none.line == "0 flaky, 0 broken"


def test_summary_counts_the_stored_verdicts_and_the_quarantine(demo: Store, demo_now: datetime) -> None:
    analyzer = make(AnalyzerDeps())
    since = demo_now - timedelta(days=30)
    section = analyzer.summary(demo, since=since, now=demo_now)
    assert (section.name, section.title, section.command) == ("flaky", "flaky", "cimedic flaky")
    assert [(c.key, c.count) for c in section.counts] == [
        ("flaky_tests", 1),
        ("flaky_jobs", 2),
        ("broken_subjects", 1),
        ("quarantined_tests", 0),
    ]
    assert section.text == "1 flaky test, 2 flaky jobs, 1 broken, 0 quarantined"
    assert [(line.kind, line.title) for line in section.top] == [
        ("flaky test", FLAKY_TEST),
        ("flaky job", "Build Terraform CLI Packages / Build for linux_arm64"),
        ("flaky job", "Quick Checks / Unit Tests"),
    ]
    assert all(line.command == "cimedic flaky" and "same commit" in line.detail for line in section.top)
    assert len(analyzer.summary(demo, since=since, now=demo_now, top=1).top) == 1

    quarantine_add(demo, REPO, FLAKY_TEST, reason="flaky", owner="ann", now=demo_now)
    quarantined = analyzer.summary(demo, since=since, now=demo_now, repository=REPO)
    assert quarantined.count("quarantined_tests") == 1
    assert quarantined.text.endswith("1 broken, 1 quarantined")
    other = analyzer.summary(demo, since=since, now=demo_now, repository="acme/none")
    assert other.text == "0 flaky tests, 0 flaky jobs, 0 broken, 0 quarantined" and other.top == ()
