"""The history commands as a user runs them: ``demo``, ``sync`` and ``watch`` against the GitHub
replay served over loopback (configured through ``CIMEDIC_GITHUB_API_URL``), ``ingest junit``,
``reprocess`` and ``stats`` on the resulting SQLite store."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from cimedic.interfaces.cli.app import app
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.github_replay import GitHubReplay

if TYPE_CHECKING:
    from conftest import DemoDB

pytestmark = pytest.mark.timeout(180)  # the GitHub replay on loopback; `cimedic demo`

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "junit"
TOKEN = "ghp_clitoken"
REPO = "hashicorp-demo/terraform"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_GITHUB_TOKEN", "CIMEDIC_GITHUB_API_URL", "CIMEDIC_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def replay_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[GitHubReplay, str]]:
    replay = GitHubReplay(build_demo_history(now=datetime.now(UTC)), token=TOKEN)
    with replay.serve() as server:
        monkeypatch.setenv("CIMEDIC_GITHUB_API_URL", server.url)
        monkeypatch.setenv("CIMEDIC_GITHUB_TOKEN", TOKEN)
        yield replay, server.url


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it."""
    return live_demo_now


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_demo_fills_the_default_store_and_stats_shows_it(env: Path) -> None:
    result = _run("demo")
    assert result.exit_code == 0, result.output
    default_db = env / "data" / "cimedic.db"
    assert default_db.is_file()
    assert str(default_db) in result.output
    assert "Failure categories" in result.output and "DORA" in result.output
    stats = _run("stats", "--since", "30d", "--format", "json")
    assert stats.exit_code == 0
    data = json.loads(stats.output)
    assert data["runs"]["total"] >= 50 and data["reruns"]["reruns"] >= 1
    # the analyzers ran on the demo and their findings show in stats
    assert "Findings" in result.output
    f = {s["name"]: {c["key"]: c["count"] for c in s["counts"]} for s in data["findings"]["sections"]}
    assert f["clusters"]["clusters"] >= 5 and f["clusters"]["new_clusters"] == f["clusters"]["clusters"]
    assert f["flaky"]["flaky_tests"] >= 1 and f["flaky"]["flaky_jobs"] >= 1 and f["flaky"]["broken_subjects"] >= 1
    assert f["culprits"]["culprit_reports"] >= 1 and "scored_runs" in f["risk"]
    # running the demo again rebuilds the same history (no duplicates)
    counts = Store(f"sqlite:///{default_db}").counts()
    assert _run("demo", "--format", "json").exit_code == 0
    assert Store(f"sqlite:///{default_db}").counts() == counts


def test_sync_then_watch_once_against_the_served_replay(env: Path, replay_url) -> None:  # type: ignore[no-untyped-def]
    replay, _url = replay_url
    db = f"sqlite:///{env / 'sync.db'}"
    result = _run("sync", REPO, "--since", "30d", "--db", db, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["runs_ingested"] >= 50 and report["problems"] == []
    assert report["logs_fetched"] == report["diagnosed"] > 0
    first = _run("watch", REPO, "--once", "--db", db, "--format", "json")
    second = _run("watch", REPO, "--once", "--db", db, "--format", "json")
    assert first.exit_code == second.exit_code == 0
    outcomes = {o["routine_id"]: o for o in json.loads(second.output)}
    assert outcomes["poll"]["ok"] and outcomes["poll"]["summary"] == f"{REPO}: 304"  # not modified
    assert outcomes["findings"]["summary"] == "no new history"
    assert replay.requests[-1][2] == 304


def test_sync_reports_bad_credentials_and_bad_input_in_one_line(env: Path, replay_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CIMEDIC_GITHUB_TOKEN", "wrong")
    result = CliRunner().invoke(app, ["sync", REPO, "--db", str(env / "x.db")])
    assert result.exit_code == 1  # the provider refused: 1; usage and settings errors stay 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"cimedic: error: {REPO}: GitHub 401") and "github_token" in line
    bad = CliRunner().invoke(app, ["sync", "not-a-repo", "--db", str(env / "x.db")])
    assert bad.exit_code == 2 and "OWNER/NAME" in bad.output
    since = CliRunner().invoke(app, ["sync", REPO, "--since", "yesterday-ish", "--db", str(env / "x.db")])
    assert since.exit_code == 2 and "--since" in since.output


def test_ingest_junit_stores_flaky_tests_and_reports_bad_files(env: Path) -> None:
    db = str(env / "junit.db")
    bad = env / "broken.xml"
    bad.write_text("<testsuite><testcase name='x'>")
    result = _run(
        "ingest",
        "junit",
        str(FIXTURES / "surefire_flaky.xml"),
        str(bad),
        "--repo",
        "octo/app",
        "--run",
        "42",
        "--db",
        db,
        "--format",
        "json",
    )
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["reports"] == 1 and report["failed_files"] == 1
    assert report["by_status"].get("flaky", 0) >= 1
    store = Store(f"sqlite:///{db}")
    assert len(store.raw_events(status=("failed",), source="junit")) == 1  # kept raw, with the reason
    again = _run(
        "ingest",
        "junit",
        str(FIXTURES / "surefire_flaky.xml"),
        "--repo",
        "octo/app",
        "--run",
        "42",
        "--db",
        db,
    )
    assert again.exit_code == 0
    assert store.counts()["test_cases"] == report["cases"]


def test_reprocess_rediagnoses_stored_logs(env: Path, demo_sqlite: DemoDB) -> None:
    db = str(demo_sqlite.path)  # what `cimedic demo --db` builds, built once per session
    result = _run("reprocess", "--db", db, "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["diagnosed"] >= 5 and report["changed_signatures"] == 0


def test_agent_once_runs_every_job_on_the_demo_store(env: Path, demo_sqlite: DemoDB) -> None:
    db = str(demo_sqlite.path)  # what `cimedic demo --db` builds, built once per session
    result = _run("agent", "--once", "--db", db)
    assert result.exit_code == 0, result.output
    assert "housekeeping: ok" in result.output and "heal: ok" in result.output
    assert "notify: ok" in result.output and "report-daily: ok" in result.output
    assert list((env / "data" / "reports").glob("weekly-*.html"))
    audit = _run("actions", "--db", db, "--format", "json")
    assert audit.exit_code == 0
    # dry-run by default: transient failures are `would_rerun`, the rest skipped with a reason
    assert "would_rerun" in audit.output and "not_transient" in audit.output
