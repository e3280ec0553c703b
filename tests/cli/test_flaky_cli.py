"""``cimedic flaky`` and ``cimedic quarantine`` as a user runs them, on the demo store (the
re-run jobs and the Surefire ``flakyFailure`` test) and on a small pytest history."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from cimedic.interfaces.cli import flaky as cli
from cimedic.interfaces.cli.common import RootGroup
from cimedic.model import Repository, Status, TestCase, TestReport, TestStatus, TestSuite, WorkflowRun
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from conftest import DemoDB

DEMO = "hashicorp-demo/terraform"
SUREFIRE_FLAKY = "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest::createWebhook"

app = typer.Typer(cls=RootGroup)
app.command("flaky")(cli.flaky)
app.add_typer(cli.quarantine_app, name="quarantine")


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_GITHUB_TOKEN", "CIMEDIC_GITHUB_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it."""
    return live_demo_now


@pytest.fixture
def demo(demo_sqlite: DemoDB) -> str:
    """A private copy of the demo store, built once per session (tests add quarantine entries)."""
    return str(demo_sqlite.path)


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _json(*args: str) -> object:
    result = _run(*args)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return json.loads(result.stdout)  # type: ignore[attr-defined]


def test_demo_re_run_jobs_and_the_surefire_retry_are_flaky(demo: str) -> None:
    data = _json("flaky", "--db", demo, "--format", "json", "--all")  # --all: the healthy ones too
    assert data["repository"] is None and data["counts"]["flaky"] >= 3
    by = {(f["kind"], f["subject"]): f for f in data["findings"]}
    for job in ("Quick Checks / Unit Tests", "Build Terraform CLI Packages / Build for linux_arm64"):
        f = by[("job", job)]
        assert f["verdict"] == "flaky", f["reason"]
        ev = f["evidence"][0]
        assert ev["kind"] == "same_commit"
        run = ev["runs"][0].split("#")[0]
        assert ev["runs"] == [f"{run}#1", f"{run}#2"]  # attempt 1 failed, attempt 2 passed
        assert (ev["passed"], ev["failed"]) == (1, 1)
    test = by[("test", SUREFIRE_FLAKY)]
    assert test["verdict"] == "flaky"
    assert {ev["kind"] for ev in test["evidence"]} == {"in_run_retry"}
    assert test["flaky_commits"] == 3
    fp = test["failure_probability"]
    assert fp["low"] < fp["mean"] < fp["high"] and fp["level"] == 0.95
    # the recurring `go mod tidy` failure on main is a breakage, not flakiness
    consistency = by[("job", "Quick Checks / Code Consistency Checks")]
    assert consistency["verdict"] == "broken" and "on main" in consistency["reason"]
    assert by[("test", "action.surefire.report.calc.AllOkTest::everythingIsFine")]["verdict"] == "healthy"
    # the findings were stored
    from cimedic.store.flaky import load_findings

    store = Store(sqlite_url(Path(demo)))
    try:
        assert len(load_findings(store, repository=DEMO)) == len(data["findings"])
    finally:
        store.close()


def test_flaky_text_and_selection(demo: str) -> None:
    result = _run("flaky", "--db", demo, "--repo", DEMO, "--jobs")
    assert result.exit_code == 0, result.output
    assert "Unit Tests" in result.stdout and "createWebhook" not in result.stdout
    assert "flaky" in result.stdout and "--all shows them" in result.stdout
    tests = _json("flaky", "--db", demo, "--tests", "--verdict", "flaky", "--format", "json")
    assert [f["subject"] for f in tests["findings"]] == [SUREFIRE_FLAKY]
    everything = _run("flaky", "--db", demo, "--all", "--since", "30d")
    assert "everythingIsFine" in everything.stdout
    assert _run("flaky", "--db", demo, "--tests", "--jobs").exit_code == 2
    bad = _run("flaky", "--db", demo, "--since", "yesterday")
    assert bad.exit_code == 2 and "cimedic: error: invalid --since" in bad.stderr


def test_quarantine_round_trip_and_proposal(demo: str, tmp_path: Path) -> None:
    proposal = _run("quarantine", "propose", "--repo", DEMO, "--db", demo)
    assert proposal.exit_code == 0, proposal.output
    text = proposal.stdout
    assert "### Quarantine (1)" in text and SUREFIRE_FLAKY in text
    assert "### Flaky jobs (2)" in text and "Unit Tests" in text

    added = _run(
        "quarantine", "add", SUREFIRE_FLAKY, "--repo", DEMO, "--reason", "flaky: 3 in-run retries",
        "--owner", "@qa", "--expires", "30d", "--db", demo,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "quarantined" in added.stdout and "warning" not in added.stderr
    listed = _json("quarantine", "list", "--repo", DEMO, "--db", demo, "--format", "json")
    assert [(e["test_id"], e["owner"]) for e in listed] == [(SUREFIRE_FLAKY, "@qa")]
    assert listed[0]["expires_at"] is not None

    exported = _json("quarantine", "export", "--repo", DEMO, "--format", "json", "--db", demo)
    (entry,) = exported["tests"]
    assert entry["pytest_node_id"] is None  # a Surefire test
    assert entry["junit_selector"] == SUREFIRE_FLAKY.replace("::", "#")
    out = tmp_path / "deselect.txt"
    pytest_export = _run("quarantine", "export", "--repo", DEMO, "--db", demo, "--output", str(out))
    assert pytest_export.exit_code == 0 and out.read_text() == ""
    assert "no pytest node id" in pytest_export.stderr

    # once quarantined it is no longer proposed
    assert "### Quarantine" not in _run("quarantine", "propose", "--repo", DEMO, "--db", demo).stdout
    proposals = _json(
        "quarantine", "propose", "--repo", DEMO, "--db", demo, "--format", "json", "--stable-days", "7"
    )
    assert proposals["quarantine"] == [] and proposals["stable_days"] == 7

    removed = _run("quarantine", "remove", SUREFIRE_FLAKY, "--repo", DEMO, "--by", "@qa", "--db", demo)
    assert removed.exit_code == 0, removed.output
    assert _json("quarantine", "list", "--repo", DEMO, "--db", demo, "--format", "json") == []
    history = _json("quarantine", "list", "--all", "--db", demo, "--format", "json")
    assert history[0]["removed_by"] == "@qa"
    again = _run("quarantine", "remove", SUREFIRE_FLAKY, "--repo", DEMO, "--db", demo)
    assert again.exit_code == 2 and "is not quarantined" in again.stderr


def test_pytest_deselect_export(tmp_path: Path) -> None:
    db = tmp_path / "py.db"
    store = Store(sqlite_url(db))
    try:
        repo_id = store.upsert_repository(Repository(owner="octo", name="py"))
        run_id = store.upsert_run(
            repo_id,
            WorkflowRun(
                provider_id="1",
                repository="octo/py",
                head_sha="a" * 40,
                status=Status.COMPLETED,
                created_at=datetime.now(UTC) - timedelta(days=1),
            ),
        )
        cases = (
            TestCase(
                name="test_x[a b]",
                classname="tests.unit.test_mod.TestA",
                file="tests/unit/test_mod.py",
                status=TestStatus.FLAKY,
                retries=1,
            ),
            TestCase(name="test_free", classname="tests.test_other", status=TestStatus.PASSED),
        )
        store.save_test_report(
            run_id,
            TestReport(source="junit.xml", dialect="pytest", suites=(TestSuite(name="pytest", cases=cases),)),
        )
    finally:
        store.close()
    for test_id in (
        "tests.unit.test_mod.TestA::test_x[a b]",
        "tests.test_other::test_free",
        "unknown.Class::t",
    ):
        result = _run(
            "quarantine",
            "add",
            test_id,
            "--repo",
            "octo/py",
            "--reason",
            "r",
            "--owner",
            "o",
            "--db",
            str(db),
        )
        assert result.exit_code == 0, result.output
    result = _run("quarantine", "export", "--repo", "octo/py", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "--deselect=tests/unit/test_mod.py::TestA::test_x[a b]",
        "--deselect=tests/test_other.py::test_free",
    ]
    assert "unknown.Class::t has no pytest node id" in result.stderr
    assert (
        "no stored test"
        in _run(
            "quarantine",
            "add",
            "nope::t",
            "--repo",
            "octo/py",
            "--reason",
            "r",
            "--owner",
            "o",
            "--db",
            str(db),
        ).stderr
    )
    bad = _run("quarantine", "add", "x", "--repo", "octo", "--reason", "r", "--owner", "o", "--db", str(db))
    assert bad.exit_code == 2 and "OWNER/NAME" in bad.stderr
    expired = _run("quarantine", "add", "x", "--repo", "octo/py", "--reason", "r", "--owner", "o",
                   "--expires", "2020-01-01", "--db", str(db))  # fmt: skip
    assert expired.exit_code == 2 and "not in the future" in expired.stderr
