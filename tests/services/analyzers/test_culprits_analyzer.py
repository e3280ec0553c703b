"""The built-in ``culprits`` analyzer on the demo history: the culprit reports it stores on
refresh, with and without the provider's compare API (``AnalyzerDeps.compare``; here GitHub's
REST API served by the replay), and its section of the findings summary."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.model.ci import CommitRef
from cimedic.services.analyzers import AnalyzerDeps
from cimedic.services.analyzers.culprits import make
from cimedic.services.demo import DEMO_TOKEN
from cimedic.store.anomalies import load_culprits
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.github_replay import GitHubReplay


def test_refresh_without_compare_uses_the_stored_runs(demo: Store, demo_now: datetime) -> None:
    analyzer = make(AnalyzerDeps())
    assert analyzer.name == "culprits"
    result = analyzer.refresh(demo, window=timedelta(days=30), now=demo_now)
    assert result.count("culprit_reports") == 8 and result.line == "8 culprit reports"
    stored = load_culprits(demo)
    assert len(stored) == 8 and not any(r.compare_used for r in stored)


def test_refresh_asks_the_compare_api_given_in_the_deps(demo: Store, demo_now: datetime) -> None:
    replay = GitHubReplay(build_demo_history(now=demo_now), token=DEMO_TOKEN)
    client = GitHubClient(
        httpx.Client(transport=replay.transport()),
        base_url="https://api.github.com",
        auth=TokenAuth(DEMO_TOKEN),
    )
    asked: list[tuple[str, str, str]] = []

    def compare(full_name: str, base: str, head: str) -> list[CommitRef]:
        asked.append((full_name, base, head))
        return client.compare_commits(full_name, base, head)

    result = make(AnalyzerDeps(compare=compare)).refresh(demo, window=timedelta(days=30), now=demo_now)
    assert result.count("culprit_reports") == 8
    assert asked and all(name == "hashicorp-demo/terraform" for name, _b, _h in asked)
    used = [r for r in load_culprits(demo) if r.compare_used]
    assert used and all(r.compare_error is None for r in used)


def test_summary_counts_the_stored_reports_of_the_window(demo: Store, demo_now: datetime) -> None:
    analyzer = make(AnalyzerDeps())
    section = analyzer.summary(demo, since=demo_now - timedelta(days=30), now=demo_now)
    assert (section.name, section.title, section.command) == (
        "culprits",
        "culprit reports",
        "cimedic culprits",
    )
    assert [(c.key, c.count) for c in section.counts] == [("culprit_reports", 8)]
    assert section.text == "8 culprit reports" and section.top == ()
    assert analyzer.summary(demo, since=demo_now, now=demo_now).text == "0 culprit reports"
