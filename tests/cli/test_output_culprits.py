"""What a user reads from ``cimedic culprits`` on the demo store: a transient failure (the
registry outage of the deployment, the Go proxy resets) blames no commit, because a re-run of
the same commit passes; counted nouns agree with their counts; runs are named by the provider's
run id."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import DemoDB
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from cimedic.interfaces.cli.anomalies import anomalies, culprits
from cimedic.interfaces.cli.common import RootGroup
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store
from cimedic.store.schema import workflow_runs

DOCS_COMMIT_TITLE = "website: fix a broken link"

app = typer.Typer(cls=RootGroup)
app.command("anomalies")(anomalies)
app.command("culprits")(culprits)


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "CIMEDIC_DATABASE_URL",
        "CIMEDIC_GITHUB_TOKEN",
        "CIMEDIC_GITHUB_API_URL",
        "CIMEDIC_GITHUB_APP_ID",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it (the commands read
    the clock)."""
    return live_demo_now


@pytest.fixture
def demo(make_demo_copy: Callable[..., DemoDB]) -> str:
    """A private copy of the session's demo store (tests add repositories and entries)."""
    copy = make_demo_copy("sqlite")
    assert copy.path is not None
    return str(copy.path)


def _ok(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result.output


def test_transient_failures_blame_no_commit(demo: str) -> None:
    scan = json.loads(_ok("culprits", "--db", demo, "--format", "json"))
    transient = [r for r in scan["reports"] if r["transient"]]
    assert {r["category"] for r in transient} >= {"registry", "network"}
    for r in transient:
        assert r["suspects"] == [], r["key"]
    # the deployment's registry outage: the docs commit in between is listed, not blamed
    (deploy,) = [r for r in transient if r["key"]["job"] == "Deploy to production"]
    assert [c["message"].splitlines()[0] for c in deploy["commits"]] == [DOCS_COMMIT_TITLE]
    # a failure that is not transient still gets its suspect (the dependency bump on main)
    tidy = next(r for r in scan["reports"] if r["branch"] == "main" and r["category"] == "dependency")
    assert not tidy["transient"] and tidy["suspects"] and tidy["suspects"][0]["score"] == 1.0

    text = _ok("culprits", "--db", demo)
    blocks = text.split("\n\n")
    (block,) = [b for b in blocks if "Deploy / Deploy to production" in b]
    flat = " ".join(block.split())
    assert (
        "transient failure (1 commit between last green and first red): a re-run of the same commit passes, so no commit is blamed"
        in flat
    )
    assert "suspects" not in block and DOCS_COMMIT_TITLE not in block


def test_counted_nouns_and_provider_run_ids(demo: str) -> None:
    text = _ok("culprits", "--db", demo)
    assert "run(s)" not in text and "commit(s)" not in text
    assert re.search(r"; 1 red run$", text, re.M) and re.search(r"; 3 red runs$", text, re.M)
    assert "suspects (1 commit between):" in text
    store = Store(sqlite_url(Path(demo)))
    try:
        with store.engine.connect() as conn:
            provider_ids = {str(p) for (p,) in conn.execute(select(workflow_runs.c.provider_id))}
    finally:
        store.close()
    named = set(re.findall(r"\brun (\d+)", text))
    assert named and named <= provider_ids
