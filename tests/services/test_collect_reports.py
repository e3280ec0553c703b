"""Test reports of collected runs, end to end: the GitHub client talks real HTTP over loopback to
the replay of GitHub's REST API, into a real store (SQLite and PostgreSQL). Checks that an
interrupted artifact phase loses nothing (the next sync or poll fetches exactly what is
missing), that the reports of each re-run attempt are kept, that downloads stay within the
hourly request budget with failed and re-run attempts first, and ``sync --reports``."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from cimedic.analysis.flaky import assess
from cimedic.bootstrap import StoreEtags
from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.inputs.junit import reports_from_zip
from cimedic.model.flaky import Verdict
from cimedic.services.collect import CollectOptions, Collector
from cimedic.store import flaky as flaky_store
from cimedic.store import schema as t
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.demo_model import DemoArtifact, DemoHistory, DemoRun
from cimedic.testing.github_replay import GitHubReplay

pytestmark = pytest.mark.timeout(180)  # the GitHub replay on loopback

TOKEN = "ghp_testtoken"
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)
REPO = "hashicorp-demo/terraform"
FLAKY_TEST = "adds_large_numbers"


def _junit(passed: bool, test: str = "adds_large_numbers", cls: str = "calc.AdderTest") -> bytes:
    outcome = (
        "" if passed else '<failure message="expected 4 but was 5" type="AssertionError">at calc</failure>'
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><testsuite name="{cls}" tests="1" '
        f'failures="{0 if passed else 1}"><testcase classname="{cls}" name="{test}" time="0.01">'
        f"{outcome}</testcase></testsuite>"
    ).encode()


def _add_artifact(
    history: DemoHistory, run: DemoRun, name: str, created: datetime, passed: bool
) -> DemoArtifact:
    ident = max(a.id for a in history.artifacts) + 1
    art = DemoArtifact(
        ident,
        run.repo,
        history.repos[0].id,
        run.id,
        name,
        {f"reports/TEST-{name}.xml": _junit(passed)},
        created,
        created + timedelta(days=90),
        run.head_branch,
        run.head_sha,
    )
    history.artifacts.append(art)
    return art


def _expected_reports(history: DemoHistory) -> int:
    return sum(len(reports_from_zip(a.zip_bytes(), f"{a.name}.zip")) for a in history.artifacts)


def _client(store: Store, url: str) -> GitHubClient:
    return GitHubClient(
        httpx.Client(timeout=10),
        base_url=url,
        auth=TokenAuth(TOKEN),
        etags=StoreEtags(store),
        sleep=lambda _s: None,
    )


def _collector(store: Store, provider: Any, **options: Any) -> Collector:
    return Collector(store, provider, None, CollectOptions(max_workers=4, fetch_logs=False, **options))


def _zips(replay: GitHubReplay, start: int = 0) -> list[str]:
    return [p for (_m, p, _s) in replay.requests[start:] if p.split("?")[0].endswith("/zip")]


def _blobs(replay: GitHubReplay, start: int = 0) -> list[str]:
    return [p for (_m, p, _s) in replay.requests[start:] if p.startswith("/_blobs/artifacts/")]


def _report_rows(store: Store) -> list[tuple[int, int | None, str]]:
    tr = t.test_reports
    with store.engine.connect() as conn:
        return [
            (r[0], r[1], r[2]) for r in conn.execute(select(tr.c.run_id, tr.c.run_attempt, tr.c.source)).all()
        ]


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs (no except clause catches it)."""


class DyingClient:
    """The real client, killed at the ``after``-th artifact download."""

    def __init__(self, inner: GitHubClient, after: int) -> None:
        self.inner, self.after, self.calls = inner, after, 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def download_artifact(self, full_name: str, artifact_id: str) -> bytes:
        with self.lock:
            self.calls += 1
            if self.calls > self.after:
                raise Killed
        return self.inner.download_artifact(full_name, artifact_id)


@pytest.fixture
def replay() -> GitHubReplay:
    return GitHubReplay(build_demo_history(now=NOW), token=TOKEN)


@pytest.fixture
def served(replay: GitHubReplay) -> Iterator[str]:
    with replay.serve() as server:
        yield server.url


def _states(store: Store) -> dict[str, int]:
    repo_id = store.repository_id(REPO)
    assert repo_id is not None
    return store.test_artifact_states(repo_id)


@pytest.mark.parametrize("again", ["sync", "poll"])
def test_after_an_interrupted_artifact_phase_the_next_sync_or_poll_fetches_exactly_the_missing_reports(
    store: Store, replay: GitHubReplay, served: str, again: str
) -> None:
    history = replay.history
    dying = DyingClient(_client(store, served), after=10)
    with pytest.raises(Killed):
        _collector(store, dying).sync(REPO, since=SINCE, until=NOW)
    states = _states(store)
    fetched_before = states.get("fetched", 0)
    assert 0 < fetched_before < len(history.artifacts) == sum(states.values())
    missing = states["pending"]

    start = len(replay.requests)
    collector = _collector(store, _client(store, served))
    report = collector.sync(REPO, since=SINCE, until=NOW) if again == "sync" else collector.poll(REPO)
    assert report.problems == []
    assert len(_zips(replay, start)) == missing  # each missing artifact once, no fetched one again
    assert _states(store) == {"fetched": len(history.artifacts)}
    rows = _report_rows(store)
    assert len(rows) == len(set(rows)) == _expected_reports(history)
    # and nothing more on the next poll
    start = len(replay.requests)
    assert collector.poll(REPO).test_reports == 0
    assert _zips(replay, start) == []


def test_reports_of_each_attempt_are_kept_and_flaky_detection_sees_the_failure_and_the_pass(
    store: Store, replay: GitHubReplay, served: str
) -> None:
    history = replay.history
    run = next(r for r in history.runs if len(r.attempts) == 2 and r.attempts[0].conclusion == "failure")
    first, second = run.attempts
    # same artifact name in both attempts (a re-run uploads under the same name)
    _add_artifact(history, run, "junit-unit", first.started_at + timedelta(minutes=2), passed=False)
    _add_artifact(history, run, "junit-unit", second.started_at + timedelta(minutes=2), passed=True)

    report = _collector(store, _client(store, served)).sync(REPO, since=SINCE, until=NOW)
    assert report.problems == []
    run_id = store.run_id(store.repository_id(REPO) or 0, str(run.id))
    tr, tc = t.test_reports, t.test_cases
    with store.engine.connect() as conn:
        got = conn.execute(
            select(tr.c.run_attempt, tr.c.source, tc.c.status)
            .join(tc, tc.c.report_id == tr.c.id)
            .where(tr.c.run_id == run_id, tr.c.source.like("junit-unit%"))
            .order_by(tr.c.run_attempt)
        ).all()
    source = "junit-unit.zip!reports/TEST-junit-unit.xml"
    assert [tuple(r) for r in got] == [(1, source, "failed"), (2, source, "passed")]

    histories = [h for h in flaky_store.test_histories(store, repository=REPO) if FLAKY_TEST in h.subject]
    assert len(histories) == 1
    executions = histories[0].executions
    assert [(e.run, e.attempt, e.outcome.value) for e in executions] == [
        (str(run.id), 1, "fail"),
        (str(run.id), 2, "pass"),
    ]
    assert assess(histories[0]).verdict is Verdict.FLAKY  # same commit, failed then passed

    # a re-sync replaces nothing twice: still one report per attempt
    _collector(store, _client(store, served)).sync(REPO, since=SINCE, until=NOW)
    with store.engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(tr).where(tr.c.run_id == run_id, tr.c.source == source)
        ).scalar_one()
    assert count == 2


def _busy(history: DemoHistory) -> None:
    """Three test-report artifacts per run (one per job, like a matrix), failing in failed runs."""
    for run in list(history.runs):
        attempt = run.attempts[-1]
        for leg in ("unit", "integration", "e2e"):
            _add_artifact(
                history,
                run,
                f"junit-{leg}",
                attempt.started_at + timedelta(seconds=30),
                passed=run.conclusion != "failure",
            )


def test_downloads_stay_within_the_hourly_budget_failed_and_rerun_attempts_first(
    store: Store, replay: GitHubReplay, served: str
) -> None:
    history = replay.history
    _busy(history)
    budget = 100  # requests per hour: 50 downloads of two requests
    collector = _collector(store, _client(store, served), test_report_budget=budget)
    report = collector.sync(REPO, since=SINCE, until=NOW)

    zips, blobs = _zips(replay), _blobs(replay)
    assert len(zips) + len(blobs) == budget  # the 302 and its target, both counted
    assert len(zips) == len(blobs) == budget // 2
    assert report.test_reports_deferred == len(history.artifacts) - budget // 2
    assert _states(store) == {"fetched": budget // 2, "pending": len(history.artifacts) - budget // 2}

    # every artifact of a failed or re-run run was fetched before any passing one
    priority = {
        str(a.id)
        for a in history.artifacts
        if (run := history.run(a.run_id)) is not None
        and (run.conclusion == "failure" or len(run.attempts) > 1)
    }
    assert 0 < len(priority) < budget // 2
    downloaded = {p.split("/actions/artifacts/")[1].split("/")[0] for p in zips}
    assert priority <= downloaded

    # within the same hour, polls download nothing more: the budget is spent
    start = len(replay.requests)
    assert collector.poll(REPO).test_reports == 0
    assert _zips(replay, start) == []

    # an hour later, the next poll spends the next hour's budget on the deferred ones
    with store.engine.begin() as conn:
        ta = t.test_report_artifacts
        conn.execute(update(ta).values(tried_at=ta.c.tried_at - timedelta(hours=1, minutes=1)))
    start = len(replay.requests)
    later = collector.poll(REPO)
    assert len(_zips(replay, start)) == budget // 2 and len(_blobs(replay, start)) == budget // 2
    assert later.test_reports_deferred == len(history.artifacts) - budget
    assert not downloaded & {p.split("/actions/artifacts/")[1].split("/")[0] for p in _zips(replay, start)}

    # and fetch_all_reports (sync --reports) takes the rest at once, whatever the budget
    everything = _collector(store, _client(store, served), test_report_budget=0, fetch_all_reports=True)
    rest = everything.sync(REPO, since=SINCE, until=NOW)
    assert rest.test_reports_deferred == 0
    assert _states(store) == {"fetched": len(history.artifacts)}
    rows = _report_rows(store)
    assert len(rows) == len(set(rows)) == _expected_reports(history)


def test_a_failed_download_is_tried_again_on_the_next_poll_and_a_gone_one_is_skipped(
    store: Store, replay: GitHubReplay, served: str
) -> None:
    history = replay.history
    first, second = history.artifacts[0], history.artifacts[1]
    replay.inject(rf"/actions/artifacts/{first.id}/zip", 500, times=None)  # retried by the client, then fails
    replay.inject(rf"/actions/artifacts/{second.id}/zip", 410, times=None)
    collector = _collector(store, _client(store, served))
    report = collector.sync(REPO, since=SINCE, until=NOW)
    assert len(report.problems) == 2
    states = _states(store)
    assert states == {"fetched": len(history.artifacts) - 2, "failed": 1, "skipped": 1}

    replay._faults.clear()  # GitHub is back
    start = len(replay.requests)
    again = collector.poll(REPO)
    assert again.problems == []
    assert _zips(replay, start) == [f"/repos/{REPO}/actions/artifacts/{first.id}/zip"]
    assert _states(store) == {"fetched": len(history.artifacts) - 1, "skipped": 1}


# ------------------------------------------------------------------------- the CLI
@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[GitHubReplay, str]]:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_GITHUB_TOKEN", "CIMEDIC_GITHUB_API_URL", "CIMEDIC_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CIMEDIC_TEST_REPORT_BUDGET", "0")  # defer every download
    replay = GitHubReplay(build_demo_history(now=datetime.now(UTC)), token=TOKEN)
    with replay.serve() as server:
        monkeypatch.setenv("CIMEDIC_GITHUB_API_URL", server.url)
        monkeypatch.setenv("CIMEDIC_GITHUB_TOKEN", TOKEN)
        yield replay, str(tmp_path / "store.db")


def test_sync_reports_fetches_every_missing_report_ignoring_the_budget(
    cli_env: tuple[GitHubReplay, str],
) -> None:
    from cimedic.interfaces.cli.app import app

    replay, db = cli_env
    n = len(replay.history.artifacts)
    first = CliRunner().invoke(
        app, ["sync", REPO, "--db", db, "--create", "-f", "json"], catch_exceptions=False
    )
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout[first.stdout.index("{") : first.stdout.rindex("}") + 1])
    assert out["test_reports"] == 0 and out["test_reports_deferred"] == n
    assert _zips(replay) == []

    text = CliRunner().invoke(app, ["sync", REPO, "--reports", "--db", db], catch_exceptions=False)
    assert text.exit_code == 0, text.output
    assert len(_zips(replay)) == n
    assert "artifacts deferred" not in text.stdout
    store = Store(f"sqlite:///{db}")
    try:
        assert _states(store) == {"fetched": n}
    finally:
        store.close()

    help_text = CliRunner().invoke(app, ["sync", "--help"], terminal_width=200).output
    assert "--reports" in help_text and "test_report_budget" in help_text
