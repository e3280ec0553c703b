"""``cimedic health`` as a user runs it on the demo store (SQLite): the table, JSON, --repo,
--at, thresholds from the settings; the agent's notification job records the health (also
dry, without channels) so ``cimedic health`` knows since when a state holds; ``cimedic report``
and ``cimedic notify`` use the same thresholds."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cimedic.interfaces.cli.app import app
from cimedic.model.history import HistoryFilter
from cimedic.store import queries
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store

NOW = datetime.now(UTC).replace(microsecond=0)
REPO = "hashicorp-demo/terraform"


@pytest.fixture
def demo_now() -> datetime:
    return NOW


@pytest.fixture
def demo_db(demo_sqlite) -> Path:  # type: ignore[no-untyped-def]
    """A SQLite copy of the demo store at NOW (tests/conftest.py: built once per session)."""
    return demo_sqlite.path  # type: ignore[no-any-return]


@pytest.fixture
def db(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for var in (
        "CIMEDIC_DATABASE_URL",
        "CIMEDIC_NOTIFY_URLS",
        "CIMEDIC_NOTIFY_GITHUB_ISSUES",
        "CIMEDIC_NOTIFY_QUIET_HOURS",
        "CIMEDIC_HEALTH_WINDOW_HOURS",
        "CIMEDIC_HEALTH_DEGRADED_RATE",
        "CIMEDIC_GITHUB_TOKEN",
        "CIMEDIC_LLM_BASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    copy = tmp_path / "demo.db"
    shutil.copy(demo_db, copy)
    return str(copy)


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """A week of runs, degraded from one red run in twenty: the demo week is degraded."""
    monkeypatch.setenv("CIMEDIC_HEALTH_WINDOW_HOURS", "168")
    monkeypatch.setenv("CIMEDIC_HEALTH_DEGRADED_RATE", "0.05")


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _json(*args: str) -> list[dict[str, object]]:
    result = _run("health", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


def test_the_table_and_json_with_default_thresholds(db: str) -> None:
    result = _run("health", "--db", db)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Repository health at" in out and "last 24 h" in out and "failure rate >= 20%" in out
    assert REPO in out and "Healthy" in out and "latest default-branch run is green" in out
    (row,) = _json("--db", db)
    assert row["repository"] == REPO and row["state"] == "healthy"
    assert row["runs"] == 6 and row["failed"] == 0 and row["failure_rate"] == 0.0
    assert row["recorded_state"] is None and row["since"] is None  # nothing recorded yet
    assert str(row["latest_run_url"]).startswith(f"https://github.com/{REPO}/actions/runs/")
    assert str(row["latest_run_url"]).endswith(str(row["latest_run_id"]))


def test_thresholds_come_from_the_settings(db: str, strict: None) -> None:
    (row,) = _json("--db", db)
    assert row["state"] == "degraded" and row["window_seconds"] == 168 * 3600 and row["degraded_rate"] == 0.05
    out = _run("health", "--db", db).stdout
    assert "Degraded" in out and "last 168 h" in out and "failure rate >= 5%" in out
    assert f"latest run of {REPO}: https://github.com/{REPO}/actions/runs/" in out


def test_at_repo_and_bad_options(db: str) -> None:
    store = Store(sqlite_url(Path(db)))
    try:
        facts = queries.run_facts(store.engine, HistoryFilter(repository=REPO))
    finally:
        store.close()
    main = [f for f in facts if f.branch == f.default_branch and f.created_at and f.conclusion]
    times = [f.created_at for f in main]
    red_at = max(
        f.created_at
        for f in main
        if f.created_at and f.conclusion and f.conclusion.is_failure and times.count(f.created_at) == 1
    )
    at = (red_at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    result = _run("health", "--db", db, "--at", at, "--repo", REPO)
    assert (
        result.exit_code == 0
        and "Failing" in result.stdout
        and "latest default-branch run is red" in result.stdout
    )
    (row,) = _json("--db", db, "--at", at + "+00:00")
    assert row["state"] == "failing" and row["latest_red"] is True
    assert row["computed_at"] == (red_at + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    (old,) = _json("--db", db, "--at", (NOW - timedelta(days=90)).date().isoformat())
    assert old["state"] == "unknown" and old["latest_run_url"] is None
    assert (
        "Unknown" in _run("health", "--db", db, "--at", (NOW - timedelta(days=90)).date().isoformat()).stdout
    )

    missing = _run("health", "--db", db, "--repo", "nobody/nothing")
    assert missing.exit_code == 0 and "no repository nobody/nothing in the store" in missing.stdout
    assert _json("--db", db, "--repo", "nobody/nothing") == []
    bad = _run("health", "--db", db, "--at", "yesterday")
    assert bad.exit_code == 2 and "--at must be an ISO date" in bad.stderr


def test_the_agent_records_health_on_dry_passes_and_uses_the_thresholds(db: str, strict: None) -> None:
    from cimedic.bootstrap import build
    from cimedic.bootstrap.routines import agent_routines
    from cimedic.settings import load_settings

    cfg = load_settings()
    assert not cfg.notify_urls and not cfg.notify_github_issues
    ctx = build(cfg, db)
    try:
        routines = {r.id: r for r in agent_routines(ctx, [], 60.0)}
        summary = routines["notify"].run()
        assert "dry run, health recorded" in str(summary)
        written = routines["report-weekly"].run()
        assert "written to" in str(written)
    finally:
        ctx.close()
    (row,) = _json("--db", db)
    assert row["state"] == "degraded" and row["recorded_state"] == "degraded"
    since = datetime.fromisoformat(str(row["since"]))
    assert NOW <= since <= datetime.now(UTC)
    assert since.strftime("%Y-%m-%d %H:%M") in _run("health", "--db", db).stdout
    (weekly,) = (Path(cfg.data_dir) / "reports").glob("weekly-*.md")
    assert f"- {REPO}: **degraded**" in weekly.read_text(encoding="utf-8")


def test_report_and_notify_use_the_thresholds(db: str, strict: None) -> None:
    report = _run("report", "weekly", "--db", db)
    assert report.exit_code == 0 and f"- {REPO}: **degraded**" in report.stdout
    dry = _run("notify", "--dry-run", "--db", db)
    assert dry.exit_code == 0 and f"{REPO} is degraded" in dry.stdout
