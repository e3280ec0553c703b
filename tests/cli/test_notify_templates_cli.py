"""The ``notify_templates_dir`` setting as a user meets it: ``cimedic notify`` and the agent's
notification job use the folder's templates, and a template with a syntax error stops both with
one line ``cimedic: error: notify template <file>:<line>: ...`` (exit status 2)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cimedic.interfaces.cli.app import app
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolated settings; returns the templates folder named by CIMEDIC_NOTIFY_TEMPLATES_DIR."""
    for var in (
        "CIMEDIC_DATABASE_URL",
        "CIMEDIC_NOTIFY_URLS",
        "CIMEDIC_NOTIFY_GITHUB_ISSUES",
        "CIMEDIC_NOTIFY_GITHUB_PR_COMMENTS",
        "CIMEDIC_NOTIFY_QUIET_HOURS",
        "CIMEDIC_GITHUB_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "templates"
    folder.mkdir()
    monkeypatch.setenv("CIMEDIC_NOTIFY_TEMPLATES_DIR", str(folder))
    return folder


def test_notify_dry_run_uses_the_folder(env: Path, tmp_path: Path) -> None:
    from cimedic.services.demo import run_demo
    from cimedic.services.diagnose import make_diagnoser

    path = tmp_path / "demo.db"
    store = Store(sqlite_url(path))
    try:
        run_demo(store, make_diagnoser()[0], now=NOW)
    finally:
        store.close()
    (env / "new_flaky_test.md").write_text("title: FLAKY {{ test_name }}\n\n{{ reason }}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["notify", "--dry-run", "--db", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "[warning] FLAKY " in result.stdout and "Flaky test: " not in result.stdout
    assert "1 events: would send 1" in result.stdout  # the first pass looks 24 h back: one event


def test_a_syntax_error_stops_notify_and_the_agent(env: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = env / "health_change.md"
    bad.write_text("{{ reason }}\n{% for x in %}\n", encoding="utf-8")
    db = str(tmp_path / "empty.db")
    result = CliRunner().invoke(app, ["notify", "--dry-run", "--db", db], catch_exceptions=False)
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"cimedic: error: notify template {bad}:2: ")

    # the agent stops at start, before any routine runs
    agent = CliRunner().invoke(app, ["agent", "--once", "--db", db], catch_exceptions=False)
    assert agent.exit_code == 2 and agent.stdout == ""
    [line] = agent.stderr.splitlines()
    assert line.startswith(f"cimedic: error: notify template {bad}:2: ")

    bad.unlink()
    (env / "healthchange.md").write_text("typo", encoding="utf-8")
    typo = CliRunner().invoke(app, ["notify", "--dry-run", "--db", db], catch_exceptions=False)
    assert typo.exit_code == 2 and "unknown template name 'healthchange'" in typo.stderr
