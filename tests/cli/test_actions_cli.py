"""``cimedic heal`` and ``cimedic actions`` as a user runs them on the demo store: the double
lock (dry run unless --apply AND dry_run: false), re-runs sent to the GitHub replay over
loopback, the audit in text and JSON, one-line errors."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from cimedic.interfaces.cli import actions as cli
from cimedic.interfaces.cli.common import RootGroup

if TYPE_CHECKING:
    from conftest import DemoDB

pytestmark = pytest.mark.timeout(120)  # the GitHub replay on loopback

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def demo_now() -> datetime:
    return NOW


@pytest.fixture
def db(demo_sqlite: DemoDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private copy of the demo store at NOW (built once per session), and settings that
    ignore the user's configuration."""
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_REMEDIATION_POLICY", "CIMEDIC_GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    return str(demo_sqlite.path)


def _run(*args: str):  # type: ignore[no-untyped-def]
    app = typer.Typer(cls=RootGroup)
    app.command("actions")(cli.actions)
    app.command("heal")(cli.heal)
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_dry_run_by_default_then_audit(db: str) -> None:
    result = _run("heal", "--apply", "--db", db)  # bundled policy: dry_run true
    assert result.exit_code == 0
    assert "dry run" in result.stderr
    assert "would_rerun: allowed" in result.stdout and "skipped: not_transient" in result.stdout
    assert _run("heal", "--db", db).stdout.strip() == "nothing new to decide"
    out = _run("actions", "--db", db, "--format", "json", "--repo", "hashicorp-demo/terraform")
    rows = json.loads(out.stdout)
    assert {r["verdict"] for r in rows} == {"would_rerun", "skipped"}
    assert {"repository", "run_id", "run_attempt", "action", "verdict", "reason", "detail", "policy_version",
            "dry_run", "decided_at", "result", "error"} <= set(rows[0])  # fmt: skip
    assert "no decisions" in _run("actions", "--db", db, "--repo", "x/y").stdout


def test_apply_with_live_policy_reruns_through_the_replay(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cimedic.services.demo import DEMO_TOKEN
    from cimedic.testing.demo_history import build_demo_history
    from cimedic.testing.github_replay import GitHubReplay

    policy = tmp_path / "policy.yaml"
    policy.write_text("version: live-1\ndry_run: false\nworkflows: ['Build*']\n")
    replay = GitHubReplay(build_demo_history(now=NOW), token=DEMO_TOKEN)
    with replay.serve() as served:
        monkeypatch.setenv("CIMEDIC_GITHUB_API_URL", served.url)
        monkeypatch.setenv("CIMEDIC_GITHUB_TOKEN", DEMO_TOKEN)
        result = _run("heal", "--apply", "--policy", str(policy), "--db", db, "--format", "json")
    assert result.exit_code == 0, result.stderr
    decisions = json.loads(result.stdout)
    rerun = [d for d in decisions if d["verdict"] == "rerun"]
    assert rerun and all(d["result"] == "ok" and d["policy_version"] == "live-1" for d in rerun)
    assert {d["reason"] for d in decisions if d["verdict"] == "skipped"} == {"workflow_not_allowed"}
    posts = [r for r in replay.requests if r[0] == "POST"]
    assert len(posts) == len(rerun) and all(
        p[1].endswith("/rerun-failed-jobs") and p[2] == 201 for p in posts
    )
    text = _run("actions", "--db", db).stdout
    assert "rerun: allowed [ok]" in text


def test_bad_policy_and_bad_since_are_one_line_errors(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_attempts: -1\n")
    result = _run("heal", "--policy", str(bad), "--db", db)
    assert result.exit_code == 2
    assert result.stderr.startswith("cimedic: error: ") and "max_attempts" in result.stderr
    assert result.stderr.count("\n") == 1
    assert _run("actions", "--since", "soon", "--db", db).exit_code == 2
