"""What a user reads from ``cimedic failures`` on the demo store: one definition of new vs
recurring in text and JSON, a trend column that says what its numbers are, counted nouns that
agree with their counts, and titles that show a real (redacted) error line, never the masked
text used for matching."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import DemoDB
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from cimedic.interfaces.cli.common import RootGroup
from cimedic.interfaces.cli.failures import app as failures_app
from cimedic.model import (
    Category,
    Conclusion,
    Diagnosis,
    ErrorLine,
    Excerpt,
    Job,
    LogFormat,
    LogInfo,
    Repository,
    Status,
    WorkflowRun,
)
from cimedic.services.failures import assign_cluster
from cimedic.store import schema as t
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store
from cimedic.store.schema_clusters import failure_clusters

app = typer.Typer(cls=RootGroup)
app.add_typer(failures_app, name="failures")

K8S_LINE = "k8s.io/client-go@v0.23.4"


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_CONFIG"):
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


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, ["failures", *args], catch_exceptions=False, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result.output


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(_run(*args, "--format", "json"))  # type: ignore[no-any-return]


def _rows(text: str) -> dict[str, list[str]]:
    """Cluster id → the cells of its row in the text listing."""
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and re.fullmatch(r"[0-9a-f]{16}", cells[0]):
            out[cells[0]] = cells
    return out


def _go_mod(data: dict) -> dict:  # type: ignore[type-arg]
    (c,) = [c for c in data["clusters"] if "go mod tidy" in c["title"]]
    return c  # type: ignore[no-any-return]


def test_new_and_recurring_mean_the_same_in_text_and_json(demo: str) -> None:
    whole = _json("--since", "30d", "--db", demo)
    go_mod = _go_mod(whole)
    assert go_mod["occurrences"] == 4
    # its first occurrence is inside the window: new, not recurring (the issue: text said
    # "recurring" where the JSON said "new": true)
    assert go_mod["new"] is True and go_mod["recurring"] is False
    # a window that starts after its first occurrence: seen before it, so recurring
    later = datetime.fromisoformat(go_mod["first_seen"]) + timedelta(seconds=1)
    for since in ("30d", later.isoformat()):
        data = _json("--since", since, "--db", demo)
        rows = _rows(_run("--since", since, "--db", demo))
        assert set(rows) == {c["id"] for c in data["clusters"]}
        for c in data["clusters"]:
            assert c["recurring"] is (not c["new"])
            assert rows[c["id"]][4] == ("new" if c["new"] else "recurring"), (since, c["id"])
    assert _go_mod(_json("--since", later.isoformat(), "--db", demo))["recurring"] is True


def test_trend_says_what_its_numbers_are(demo: str) -> None:
    data = _json("--since", "30d", "--db", demo)
    text = _run("--since", "30d", "--db", demo)
    rows = _rows(text)
    for c in data["clusters"]:
        assert rows[c["id"]][3] == f"{c['trend']} (last 7d: {c['recent']}, prior 7d: {c['previous']})"
    assert not re.search(r"\b(rising|steady|fading) \d+/\d+", text)  # not "steady 4/0"
    assert "the last 7 days against the 7 days before" in " ".join(text.split())


def test_show_counts_agree_with_their_nouns(demo: str) -> None:
    data = _json("--since", "30d", "--db", demo)
    single = next(c for c in data["clusters"] if c["occurrences"] == 1)
    one = " ".join(_run("show", single["id"], "--db", demo).split())
    assert "1 occurrence in 1 run of 1 distinct job" in one
    assert "run(s)" not in one and "job(s)" not in one
    four = " ".join(_run("show", _go_mod(data)["id"], "--db", demo).split())
    assert "4 occurrences in 4 runs of 1 distinct job" in four


def test_titles_show_a_real_error_line_not_the_masked_text(demo: str) -> None:
    data = _json("--since", "30d", "--db", demo)
    (k8s,) = [c for c in data["clusters"] if "client-go" in c["representative"]]
    assert k8s["title"].startswith(f"network: ../../../go/pkg/mod/{K8S_LINE}/dynamic/interface.go:26:2")
    assert "kNs.io" not in k8s["title"] and "vN.N.N" not in k8s["title"]
    assert "kNs.io/client-go@vN.N.N" in k8s["representative"]  # matching keeps the masked form
    assert not k8s["example"].startswith("##[error]")
    for c in data["clusters"]:
        assert not re.search(r"\bvN\.N\.N\b|:N:N\b|\(DUR\)", c["title"]), c["title"]
        for e in c["examples"]:
            assert "vN.N.N" not in e["text"]
    text = _run("--since", "30d", "--db", demo)
    assert f"network: ../../../go/pkg/mod/{K8S_LINE}" in text and "kNs.io" not in text
    shown = _run("show", k8s["id"], "--db", demo)
    assert shown.splitlines()[0].startswith(f"{k8s['id']} network: ../../../go/pkg/mod/{K8S_LINE}")
    # a store written before titles were example lines still reads well
    store = Store(sqlite_url(Path(demo)))
    try:
        with store.engine.begin() as conn:
            conn.execute(
                update(failure_clusters)
                .where(failure_clusters.c.key == k8s["id"])
                .values(title="network: ../../../go/pkg/mod/kNs.io/client-go@vN.N.N/dynamic")
            )
    finally:
        store.close()
    again = next(c for c in _json("--since", "30d", "--db", demo)["clusters"] if c["id"] == k8s["id"])
    assert again["title"] == k8s["title"]


# ------------------------------------------------------------------------- a secret in a log line
SECRET = "ghp_" + "R2d2C3poBb8Xw1Yq9Zt7Lm4Nk6Jh5Gf0Ds3A"
LEAKY = f"fatal: could not read Username for 'https://x-access-token:{SECRET}@github.com/acme/app.git'"


def _failed_job(store: Store, line: str) -> int:
    """A failed run with one failed job whose diagnosis names ``line``; returns the job's id."""
    repo_id = store.upsert_repository(Repository(owner="acme", name="app", default_branch="main"))
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    run = WorkflowRun(
        provider_id="7001",
        repository="acme/app",
        workflow_name="CI",
        workflow_path=".github/workflows/ci.yml",
        branch="main",
        head_sha="a" * 40,
        status=Status.COMPLETED,
        conclusion=Conclusion.FAILURE,
        created_at=created,
        updated_at=created + timedelta(minutes=5),
    )
    job = Job(
        provider_id="8001",
        run_provider_id="7001",
        name="checkout",
        workflow_name="CI",
        status=Status.COMPLETED,
        conclusion=Conclusion.FAILURE,
        created_at=created,
        started_at=created,
        completed_at=created + timedelta(minutes=4),
    )
    store.ingest_run(repo_id, run, [], [job])
    with store.engine.connect() as conn:
        job_id = int(conn.execute(select(t.jobs.c.id).where(t.jobs.c.provider_id == "8001")).scalar_one())
    diagnosis = Diagnosis(
        log=LogInfo(path="job.log", format=LogFormat.GITHUB_ACTIONS, lines=10, bytes=100),
        failed_step=None,
        error_lines=(ErrorLine(line=5, text=line, score=9.0),),
        excerpt=Excerpt(start_line=5, end_line=5),
        category=Category.PERMISSIONS,
        transient=False,
        confidence=0.8,
        signature="",
        cause=None,
        summary=line,
    )
    store.save_diagnosis(job_id, diagnosis, engine_version="test")
    return job_id


def test_titles_from_logs_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "leaky.db"
    store = Store(sqlite_url(path))
    try:
        placed = assign_cluster(store, _failed_job(store, LEAKY))
    finally:
        store.close()
    assert placed is not None and SECRET not in placed.title and "[REDACTED" in placed.title
    data = _json("--since", "1d", "--db", str(path))
    (c,) = data["clusters"]
    assert c["title"].startswith("permissions: fatal: could not read Username") and "[REDACTED" in c["title"]
    assert SECRET not in json.dumps(data)
    assert SECRET not in _run("--since", "1d", "--db", str(path))
    assert SECRET not in _run("show", c["id"], "--db", str(path), "--format", "json")
