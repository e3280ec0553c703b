"""``cimedic anomalies`` and ``cimedic culprits`` as a user runs them: on the demo store (the
recurring ``go mod tidy`` failure on main gets a culprit report naming the dependency bump), with
GitHub's compare API served by the replay, and on a crafted history with a duration regression."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from cimedic.interfaces.cli.anomalies import anomalies, culprits
from cimedic.interfaces.cli.common import RootGroup
from cimedic.model import CommitRef, Conclusion, Job, Repository, Status, Step, WorkflowRun
from cimedic.store import anomalies as store_anomalies
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.demo_model import DemoHistory
from cimedic.testing.github_replay import GitHubReplay

if TYPE_CHECKING:
    from conftest import DemoDB

pytestmark = pytest.mark.timeout(120)  # the GitHub replay on loopback

NOW = datetime.now(UTC).replace(microsecond=0)
TOKEN = "ghp_anomaliesclitoken"
TIDY_JOB = "Code Consistency Checks"

app = typer.Typer(cls=RootGroup)
app.command("anomalies")(anomalies)
app.command("culprits")(culprits)


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in (
        "CIMEDIC_DATABASE_URL",
        "CIMEDIC_GITHUB_TOKEN",
        "CIMEDIC_GITHUB_API_URL",
        "CIMEDIC_GITHUB_APP_ID",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def demo_now() -> datetime:
    return NOW


@pytest.fixture
def demo(demo_sqlite: DemoDB) -> tuple[str, DemoHistory]:
    """A private SQLite copy of the demo store at NOW (built once per session) and its history."""
    return str(demo_sqlite.path), build_demo_history(now=NOW)


def _tidy_break(h: DemoHistory) -> tuple[str, str, str]:
    """(last green head, first red head, first red message) of the go mod tidy failure on main."""
    bump = next(p for p in h.pull_requests if p.user.login.startswith("dependabot"))
    main = sorted(
        (r for r in h.runs if r.head_branch == "main" and r.name == "Quick Checks"),
        key=lambda r: r.created_at,
    )
    first = next(i for i, r in enumerate(main) if r.head_sha == bump.merge_commit_sha)
    return main[first - 1].head_sha, main[first].head_sha, main[first].head_commit.message


def test_culprits_names_the_dependency_bump_for_the_tidy_failure(env: Path, demo) -> None:  # type: ignore[no-untyped-def]
    db, history = demo
    last_green, first_red, message = _tidy_break(history)
    result = _run("culprits", "--db", db, "--branch", "main", "--format", "json")
    assert result.exit_code == 0, result.output
    scan = json.loads(result.output)
    tidy = [r for r in scan["reports"] if r["key"]["job"] == TIDY_JOB]
    assert len(tidy) == 1
    r = tidy[0]
    assert r["branch"] == "main" and r["category"] == "dependency" and r["key"]["cluster_id"]
    assert r["last_green"]["head_sha"] == last_green and r["first_red"]["head_sha"] == first_red
    assert r["red_runs"] >= 2 and r["fixed_by"] is not None and not r["ongoing"]
    assert [c["sha"] for c in r["commits"]] == [first_red]
    top = r["suspects"][0]
    assert top["sha"] == first_red and top["message"] == message and top["score"] == 1.0
    assert "first_red_head" in top["reasons"] and "category_hint" in top["reasons"]
    assert top["pr_number"] is not None and "dependabot" in message
    assert r["compare_used"] is False and scan["compare_calls"] == 0
    assert all(rep["branch"] == "main" for rep in scan["reports"])
    stored = store_anomalies.load_culprits(Store(f"sqlite:///{db}"), branch="main")
    assert len(stored) == len(scan["reports"])


def test_culprits_text_says_a_pr_failing_like_main_is_not_the_cause(env: Path, demo) -> None:  # type: ignore[no-untyped-def]
    db, history = demo
    _green, first_red, _message = _tidy_break(history)
    result = _run("culprits", "--db", db)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert f"@main Quick Checks / {TIDY_JOB} [dependency]" in out
    assert f"1.00 {first_red[:7]} Merge pull request #" in out
    assert "also fails on main" in out and "not caused by the pull request" in out
    data = json.loads(_run("culprits", "--db", db, "--format", "json").output)
    # the command keys failures by their failure cluster (near-duplicates are one failure)
    cid = next(
        r["key"]["cluster_id"]
        for r in data["reports"]
        if r["branch"] == "main" and r["key"]["job"] == TIDY_JOB
    )
    pr = [r for r in data["reports"] if r["is_pull_request"] and r["key"]["cluster_id"] == cid]
    assert pr and all(r["also_fails_on_base"] and r["pr_not_cause"] for r in pr)
    others = [r for r in data["reports"] if r["is_pull_request"] and r["key"]["cluster_id"] != cid]
    assert others and not any(r["pr_not_cause"] for r in others)  # failures of the PRs' own making
    only = json.loads(_run("culprits", "--db", db, "--cluster", cid[:8], "--format", "json").output)
    assert only["reports"] and {r["key"]["cluster_id"] for r in only["reports"]} == {cid}


def test_culprits_asks_the_compare_api_when_github_is_configured(env: Path, demo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, history = demo
    _green, first_red, _message = _tidy_break(history)
    replay = GitHubReplay(history, token=TOKEN)
    with replay.serve() as server:
        monkeypatch.setenv("CIMEDIC_GITHUB_API_URL", server.url)
        monkeypatch.setenv("CIMEDIC_GITHUB_TOKEN", TOKEN)
        result = _run("culprits", "--db", db, "--branch", "main", "--format", "json")
    assert result.exit_code == 0, result.output
    scan = json.loads(result.output)
    assert scan["compare_calls"] >= 1
    assert any("/compare/" in path and status == 200 for _m, path, status in replay.requests)
    tidy = next(r for r in scan["reports"] if r["key"]["job"] == TIDY_JOB)
    assert tidy["compare_used"] and tidy["compare_error"] is None
    assert [c["sha"] for c in tidy["commits"]] == [first_red]
    off = json.loads(
        _run("culprits", "--db", db, "--branch", "main", "--no-compare", "--format", "json").output
    )
    assert off["compare_calls"] == 0


def test_anomalies_runs_on_the_demo_and_reports_what_it_finds(env: Path, demo) -> None:  # type: ignore[no-untyped-def]
    db, _history = demo
    result = _run("anomalies", "--db", db, "--format", "json")
    assert result.exit_code == 0, result.output
    scan = json.loads(result.output)
    assert set(scan["kinds"]) == {"duration", "queue", "failure_rate"}
    assert scan["series"]["duration"] >= 10 and scan["series"]["failure_rate"] >= 3
    for a in scan["anomalies"]:
        assert a["kind"] in scan["kinds"] and a["before"]["count"] > 0 and a["after"]["count"] > 0
    stored = store_anomalies.load_anomalies(Store(f"sqlite:///{db}"))
    assert len(stored) == len(scan["anomalies"])
    text = _run("anomalies", "--db", db, "--kind", "failure_rate")
    assert text.exit_code == 0 and "failure_rate series examined" in " ".join(text.output.split())


def _slow_history(db: str) -> None:
    store = Store(f"sqlite:///{db}")
    repo_id = store.upsert_repository(Repository(owner="acme", name="app", default_branch="main"))
    start = NOW - timedelta(days=20)
    for n in range(48):
        created = start + timedelta(hours=8 * n)
        seconds = (400.0 if n < 30 else 640.0) + (n * 7919 % 23)  # +60 % from the 31st run on
        sha = f"{n:040x}"
        run = WorkflowRun(
            provider_id=str(7000 + n), repository="acme/app", workflow_id="1", workflow_name="CI", branch="main",
            event="push", head_sha=sha, status=Status.COMPLETED, conclusion=Conclusion.SUCCESS, created_at=created,
            run_started_at=created, updated_at=created + timedelta(seconds=seconds + 30),
            head_commit=CommitRef(sha=sha, message=f"change {n}" if n != 30 else "Enable the race detector",
                                  author="Ann", timestamp=created),
        )  # fmt: skip
        began = created + timedelta(seconds=10)
        job = Job(
            provider_id=str(9000 + n), run_provider_id=str(7000 + n), name="test", workflow_name="CI",
            head_sha=sha, status=Status.COMPLETED, conclusion=Conclusion.SUCCESS, created_at=created,
            started_at=began, completed_at=began + timedelta(seconds=seconds),
            steps=(Step(number=1, name="go test", status=Status.COMPLETED, conclusion=Conclusion.SUCCESS,
                        started_at=began, completed_at=began + timedelta(seconds=seconds)),),
        )  # fmt: skip
        store.ingest_run(repo_id, run, (), (job,))
    store.close()


def test_anomalies_finds_a_crafted_regression_with_its_commit(env: Path) -> None:
    db = str(env / "slow.db")
    _slow_history(db)
    result = _run("anomalies", "--db", db, "--kind", "duration", "--format", "json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)["anomalies"]
    assert {a["scope"]["level"] for a in found} == {"workflow", "job", "step"}
    job = next(a for a in found if a["scope"]["level"] == "job")
    assert job["onset_run_provider_id"] == "7030" and job["ongoing"]
    assert 0.5 < job["relative_change"] < 0.7
    assert [c["message"] for c in job["commits"]] == ["Enable the race detector"]
    text = _run("anomalies", "--db", db, "--kind", "duration", "--repo", "acme/app")
    out = " ".join(text.output.split())
    assert (
        "Anomalies of acme/app" in out and "CI / test / go test" in out and "Enable the race detector" in out
    )
    assert (
        json.loads(_run("anomalies", "--db", db, "--kind", "queue", "--format", "json").output)["anomalies"]
        == []
    )


def test_bad_options_are_one_line_errors(env: Path) -> None:
    db = str(env / "empty.db")
    bad = CliRunner().invoke(app, ["anomalies", "--since", "yesterday-ish", "--db", db])
    assert bad.exit_code == 2 and "cimedic: error: invalid --since" in bad.output
    bad = CliRunner().invoke(app, ["culprits", "--since", "soon", "--db", db])
    assert bad.exit_code == 2 and "cimedic: error: invalid --since" in bad.output
    assert CliRunner().invoke(app, ["anomalies", "--kind", "bogus", "--db", db]).exit_code == 2
    empty = _run("culprits", "--db", db)
    assert empty.exit_code == 0 and "none" in empty.output
