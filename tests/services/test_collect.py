"""Collection end to end: the GitHub client talks real HTTP over loopback to the replay of
GitHub's REST API (real response shapes, real job logs), into a real store (SQLite and
PostgreSQL). Checks the request budget, idempotent re-sync, conditional polling, logs,
diagnoses, test reports and rate-limit handling."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from cimedic.bootstrap import StoreEtags
from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.services.collect import CollectOptions, Collector
from cimedic.services.diagnose import make_diagnoser
from cimedic.store import schema as t
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.github_replay import GitHubReplay

pytestmark = pytest.mark.timeout(120)  # the GitHub replay on loopback

TOKEN = "ghp_testtoken"
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
REPO = "hashicorp-demo/terraform"


@pytest.fixture(scope="module")
def diagnoser():  # type: ignore[no-untyped-def]
    return make_diagnoser()[0]


@pytest.fixture
def replay() -> GitHubReplay:
    return GitHubReplay(build_demo_history(now=NOW), token=TOKEN)


@pytest.fixture
def served(replay: GitHubReplay) -> Iterator[str]:
    with replay.serve() as server:
        yield server.url


def _collector(store: Store, url: str, diagnoser, sleeps: list[float] | None = None) -> Collector:  # type: ignore[no-untyped-def]
    client = GitHubClient(
        httpx.Client(timeout=10),
        base_url=url,
        auth=TokenAuth(TOKEN),
        etags=StoreEtags(store),
        sleep=(sleeps.append if sleeps is not None else (lambda _s: None)),
    )
    return Collector(store, client, diagnoser, CollectOptions(max_workers=4))


def test_sync_over_loopback_stores_everything_within_the_request_budget(
    store: Store, replay: GitHubReplay, served: str, diagnoser
) -> None:  # type: ignore[no-untyped-def]
    history = replay.history if hasattr(replay, "history") else build_demo_history(now=NOW)
    collector = _collector(store, served, diagnoser)
    report = collector.sync(REPO, since=NOW - timedelta(days=30), until=NOW)
    assert report.problems == []
    assert report.runs_ingested == len(history.runs) >= 50
    assert report.jobs == len(history.jobs)
    failed_jobs = [j for j in history.jobs if j.conclusion in ("failure", "timed_out")]
    assert report.logs_fetched == len(failed_jobs) and report.diagnosed == len(failed_jobs)
    assert report.test_reports >= 1
    counts = store.counts()
    assert counts["workflow_runs"] == len(history.runs) and counts["jobs"] == len(history.jobs)
    assert counts["diagnoses"] == len(failed_jobs)

    paths = [p for (_m, p, _s) in replay.requests]
    listing = [p for p in paths if p.split("?")[0].endswith("/actions/runs")]
    jobs = [p for p in paths if p.split("?")[0].endswith("/jobs")]
    logs = [p for p in paths if p.split("?")[0].endswith("/logs")]
    assert len(jobs) == len(history.runs)  # one jobs request per run, attempts included
    assert (len(listing) + len(jobs)) / len(history.runs) <= 1.05
    assert len(logs) == len(failed_jobs)
    assert all("filter=all" in p for p in jobs)

    with store.engine.connect() as conn:
        attempts = conn.execute(select(t.run_attempts.c.attempt)).scalars().all()
        flaky = conn.execute(select(t.test_cases).where(t.test_cases.c.status == "flaky")).all()
        signatures = conn.execute(select(t.diagnoses.c.signature)).scalars().all()
    assert 2 in attempts  # the re-run on the same head_sha
    assert flaky, "the Surefire flakyFailure test is stored as flaky"
    assert len(set(signatures)) < len(signatures), "the recurring failure has one signature"


def test_resync_is_idempotent_and_costs_only_the_listing(
    store: Store, replay: GitHubReplay, served: str, diagnoser
) -> None:  # type: ignore[no-untyped-def]
    collector = _collector(store, served, diagnoser)
    collector.sync(REPO, since=NOW - timedelta(days=30), until=NOW)
    before = store.counts()
    with store.engine.connect() as conn:
        rows_before = sorted(tuple(r) for r in conn.execute(select(t.jobs)).all())
    n = len(replay.requests)
    again = collector.sync(REPO, since=NOW - timedelta(days=30), until=NOW)
    assert again.runs_ingested == 0 and again.runs_unchanged == again.runs_seen
    assert store.counts() == before
    with store.engine.connect() as conn:
        assert sorted(tuple(r) for r in conn.execute(select(t.jobs)).all()) == rows_before
    new_paths = [p for (_m, p, _s) in replay.requests[n:]]
    assert not any(p.split("?")[0].endswith("/jobs") for p in new_paths)


def test_poll_of_an_unchanged_repository_is_a_free_304_then_sees_a_new_run(
    store: Store, replay: GitHubReplay, served: str, diagnoser
) -> None:  # type: ignore[no-untyped-def]
    collector = _collector(store, served, diagnoser)
    collector.sync(REPO, since=NOW - timedelta(days=30), until=NOW)
    first = collector.poll(REPO)  # stores the ETag of the first page
    remaining = replay.rate_remaining
    for _ in range(3):
        report = collector.poll(REPO)
        assert report.not_modified
        assert report.runs_ingested == 0
    assert replay.rate_remaining == remaining  # 304s cost no primary rate limit
    assert replay.requests[-1][2] == 304
    assert first.runs_seen > 0

    run = replay.mutate_add_run(failure="unit-env")
    report = collector.poll(REPO)
    assert not report.not_modified
    assert report.runs_ingested >= 1
    assert store.run_id(store.repository_id(REPO) or 0, str(run.id)) is not None
    assert report.logs_fetched >= 1 and report.diagnosed >= 1


def test_rate_limits_and_server_errors_are_waited_out_not_lost(
    store: Store, replay: GitHubReplay, served: str, diagnoser
) -> None:  # type: ignore[no-untyped-def]
    from cimedic.testing.github_replay import SECONDARY_RATE_LIMIT

    sleeps: list[float] = []
    collector = _collector(store, served, diagnoser, sleeps)
    replay.inject(r"/actions/runs/\d+/jobs", 429, headers={"Retry-After": "3"}, times=1)
    replay.inject(r"/actions/runs/\d+/jobs", 403, body=SECONDARY_RATE_LIMIT, times=1)
    replay.inject(r"/actions/jobs/\d+/logs", 502, times=1)
    report = collector.sync(REPO, since=NOW - timedelta(days=30), until=NOW)
    assert report.problems == []
    assert report.runs_ingested == len(build_demo_history(now=NOW).runs)
    assert 3.0 in sleeps and any(s >= 60 for s in sleeps)


def test_a_run_whose_jobs_cannot_be_read_is_stored_and_reported(
    store: Store, replay: GitHubReplay, served: str, diagnoser
) -> None:  # type: ignore[no-untyped-def]
    replay.inject(r"/actions/runs/\d+/jobs", 404, times=1)
    collector = _collector(store, served, diagnoser)
    report = collector.sync(REPO, since=NOW - timedelta(days=30), until=NOW)
    assert len(report.problems) == 1 and "jobs not read" in report.problems[0]
    assert store.counts()["workflow_runs"] == report.runs_seen
    # the next sync reads the missing jobs
    again = collector.sync(REPO, since=NOW - timedelta(days=30), until=NOW)
    assert again.runs_ingested == 1 and again.problems == []
