"""The demo history: a coherent, deterministic GitHub Actions history built from real job logs.

Invariants checked: span and size, ends at ``now``, push and pull-request runs, a re-run whose
attempt 2 on the same ``head_sha`` succeeds, a failure whose log recurs, a JUnit artifact with a
``<flakyFailure>``, cancelled runs, deployments that fail and recover, job and step timing that
agrees with the served log, and the bundled data (size, provenance, packaging).
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cimedic.testing.demo_history import (
    DEPLOY,
    FAILURES,
    QUICK_CHECKS,
    DemoHistory,
    append_run,
    build_demo_history,
)
from cimedic.testing.demo_logs import log_sources, profile

pytestmark = pytest.mark.timeout(60)  # a git subprocess

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
DATA = Path(__file__).resolve().parents[2] / "src" / "cimedic" / "testing" / "demo_data"
_TS = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z ?", re.MULTILINE)


@pytest.fixture(scope="module")
def history() -> DemoHistory:
    return build_demo_history(now=NOW)


def _log_time(line: bytes) -> datetime:
    return datetime.strptime(line[:26].decode(), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def test_size_span_and_end(history: DemoHistory) -> None:
    start = min(r.created_at for r in history.runs)
    end = max(r.updated_at for r in history.runs)
    assert end == NOW == history.now
    assert end - start >= timedelta(days=7)
    assert len(history.runs) >= 50
    assert len(history.jobs) >= 200
    every = [j.created_at for j in history.jobs] + [j.completed_at for j in history.jobs if j.completed_at]
    every += [a.created_at for a in history.artifacts] + [
        s.completed_at for j in history.jobs for s in j.steps if s.completed_at
    ]
    assert max(every) <= NOW
    assert all(r.created_at <= r.run_started_at <= r.updated_at for r in history.runs)


def test_deterministic_and_seeded(history: DemoHistory) -> None:
    again = build_demo_history(now=NOW)
    key = [(r.id, r.created_at, r.conclusion, r.head_sha) for r in history.runs]
    assert key == [(r.id, r.created_at, r.conclusion, r.head_sha) for r in again.runs]
    assert [(j.id, j.name, j.started_at) for j in history.jobs] == [
        (j.id, j.name, j.started_at) for j in again.jobs
    ]
    other = build_demo_history(now=NOW, seed=8)
    assert [r.created_at for r in other.runs] != [r.created_at for r in history.runs]
    before = datetime.now(UTC)
    live = build_demo_history()
    assert before - timedelta(seconds=1) <= max(r.updated_at for r in live.runs) <= datetime.now(UTC)


def test_ids_are_unique_and_grow_with_time(history: DemoHistory) -> None:
    assert len({r.id for r in history.runs}) == len(history.runs)
    assert len({j.id for j in history.jobs}) == len(history.jobs)
    by_created = sorted(history.jobs, key=lambda j: (j.created_at, j.id))
    assert [j.id for j in by_created] == sorted(j.id for j in history.jobs)
    for wf in history.workflows:
        numbers = [
            r.run_number for r in sorted(history.runs, key=lambda r: r.created_at) if r.workflow_id == wf.id
        ]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_push_and_pull_request_runs(history: DemoHistory) -> None:
    repo = history.repos[0]
    assert repo.full_name == "hashicorp-demo/terraform" and repo.default_branch == "main"
    assert {w.path for w in history.workflows} == {
        ".github/workflows/checks.yml",
        ".github/workflows/build.yml",
        ".github/workflows/deploy.yml",
    }
    events = Counter(r.event for r in history.runs)
    assert events["push"] >= 20 and events["pull_request"] >= 20
    for run in history.runs:
        assert run.head_commit.sha == run.head_sha and len(run.head_sha) == 40
        if run.event == "push":
            assert run.head_branch == "main" and not run.pull_requests
        else:
            (pr,) = run.pull_requests
            assert run.head_branch == pr.head_ref != "main"
            assert run.head_sha in pr.head_shas and run.display_title == pr.title
    merged = [p for p in history.pull_requests if p.merged_at]
    assert merged and all(p.merge_commit_sha in {r.head_sha for r in history.runs} for p in merged)
    # One commit, one head_commit: the runs of a push agree on it.
    commits: dict[str, tuple[str, datetime]] = {}
    for run in history.runs:
        c = run.head_commit
        assert commits.setdefault(c.sha, (c.message, c.timestamp)) == (c.message, c.timestamp)


def test_rerun_attempt_two_succeeds_on_same_sha(history: DemoHistory) -> None:
    reruns = [r for r in history.runs if r.run_attempt == 2]
    assert len(reruns) >= 1
    for run in reruns:
        first, second = run.attempts
        assert first.conclusion == "failure" and second.conclusion == "success"
        assert second.started_at > first.updated_at
        jobs1, jobs2 = history.jobs_of(run.id, 1), history.jobs_of(run.id, 2)
        assert jobs1 and jobs2 and {j.head_sha for j in jobs1 + jobs2} == {run.head_sha}
        assert any(j.conclusion == "failure" for j in jobs1)
        assert all(j.conclusion == "success" for j in jobs2)
        assert history.jobs_of(run.id) == sorted(jobs1 + jobs2, key=lambda j: j.id)


def test_a_failure_recurs_with_the_same_log(history: DemoHistory) -> None:
    failing = [history.logs[j.id] for j in history.jobs if j.conclusion == "failure"]
    source, count = Counter(log.source for log in failing).most_common(1)[0]
    assert source == FAILURES["tidy"][1] and count >= 3
    recurring = [log for log in failing if log.source == source]
    runs = {j.run_id for j in history.jobs if j.id in {log.job_id for log in recurring}}
    assert len(runs) == count, "one recurrence per run"
    bodies = {_TS.sub(b"", log.content()) for log in recurring}
    assert len(bodies) == 1, "only the timestamps differ"
    assert b"go.mod/go.sum are not up-to-date" in bodies.pop()


def test_flaky_junit_artifact(history: DemoHistory) -> None:
    flaky = []
    for art in history.artifacts:
        with zipfile.ZipFile(io.BytesIO(art.zip_bytes())) as zf:
            assert zf.testzip() is None
            texts = [zf.read(n) for n in zf.namelist()]
        assert all(n.startswith(b"<?xml") for n in texts)
        if any(b"<flakyFailure" in t for t in texts):
            flaky.append(art)
        run = history.run(art.run_id)
        assert run is not None and run.name == QUICK_CHECKS and run.conclusion == "success"
        assert art.size_in_bytes == len(art.zip_bytes()) and art.digest.startswith("sha256:")
    assert len(flaky) == 3
    assert flaky[0].zip_bytes() == flaky[0].zip_bytes()


def test_cancelled_runs_end_like_github(history: DemoHistory) -> None:
    cancelled = [r for r in history.runs if r.conclusion == "cancelled"]
    assert len(cancelled) >= 2
    for run in cancelled:
        jobs = history.jobs_of(run.id)
        assert any(j.conclusion == "cancelled" for j in jobs)
        for job in jobs:
            if job.conclusion == "cancelled":
                text = history.logs[job.id].content()
                assert text.rstrip().endswith(b"Cleaning up orphan processes")
                assert b"##[error]The operation was canceled." in text
                assert (
                    any(s.conclusion == "cancelled" for s in job.steps)
                    or job.steps[-1].conclusion == "success"
                )


def test_deployments_fail_and_recover(history: DemoHistory) -> None:
    deploys = sorted((r for r in history.runs if r.name == DEPLOY), key=lambda r: r.created_at)
    assert len(deploys) >= 10
    assert all(r.event == "push" and r.head_branch == "main" for r in deploys)
    failed = [i for i, r in enumerate(deploys) if r.conclusion == "failure"]
    assert failed
    assert all(deploys[i + 1].conclusion == "success" for i in failed if i + 1 < len(deploys))
    assert failed[-1] < len(deploys) - 1, "the last failure is followed by a restore"


def test_needs_job_is_skipped_when_its_dependency_fails(history: DemoHistory) -> None:
    skipped = [j for j in history.jobs if j.conclusion == "skipped"]
    assert skipped
    for job in skipped:
        assert (
            job.name == "Build Docker image for linux_amd64"
            and job.steps == []
            and job.id not in history.logs
        )
        amd64 = next(
            j for j in history.jobs_of(job.run_id, job.run_attempt) if j.name == "Build for linux_amd64"
        )
        assert amd64.conclusion == "failure"


def test_job_times_and_steps_agree_with_the_log(history: DemoHistory) -> None:
    for job in history.jobs:
        if job.conclusion == "skipped":
            continue
        assert job.created_at <= job.started_at <= (job.completed_at or NOW)
        assert [s.number for s in job.steps] == list(range(1, len(job.steps) + 1))
        assert job.steps[0].name == "Set up job" and job.steps[-1].name == "Complete job"
        for step in job.steps:
            assert step.started_at is not None and step.completed_at is not None
            assert job.started_at <= step.started_at <= step.completed_at <= (job.completed_at or NOW) or (
                job.conclusion == "cancelled"
            )
        if job.conclusion == "failure":
            assert [s.conclusion for s in job.steps].count("failure") == 1
    job = next(j for j in history.jobs if j.conclusion == "failure" and j.name == "Unit Tests")
    lines = history.logs[job.id].content().split(b"\r\n")
    assert _log_time(lines[0]) == job.created_at
    runner = next(x for x in lines if b"Current runner version" in x)
    assert abs((_log_time(runner) - job.started_at).total_seconds()) < 1
    assert b"Job defined at: hashicorp-demo/terraform/.github/workflows/checks.yml@" in lines[1]
    names = [s.name for s in job.steps]
    assert "Run go test ./..." in names and "Post Run actions/cache@v3" in names
    assert next(s for s in job.steps if s.name == "Run go test ./...").conclusion == "failure"
    assert next(s for s in job.steps if s.name == "Post Run actions/cache@v3").conclusion == "skipped"


def test_failed_consistency_job_lists_the_steps_it_skipped(history: DemoHistory) -> None:
    tidy = FAILURES["tidy"][1]
    job = next(j for j in history.jobs if j.id in history.logs and history.logs[j.id].source == tidy)
    by_name = {s.name: s.conclusion for s in job.steps}
    assert by_name["Run go mod tidy"] == "failure"
    assert by_name["Run make fmtcheck generate staticcheck exhaustive protobuf"] == "skipped"


def test_append_run(history: DemoHistory) -> None:
    h = build_demo_history(now=NOW)
    n_runs, n_jobs, newest = len(h.runs), len(h.jobs), max(r.created_at for r in h.runs)
    run = append_run(h, QUICK_CHECKS, failure="unit-compile")
    assert len(h.runs) == n_runs + 1 and len(h.jobs) == n_jobs + 2
    assert run.created_at > newest and run.id > max(r.id for r in h.runs[:-1])
    assert run.conclusion == "failure" and run.run_number == max(
        r.run_number for r in h.runs if r.name == QUICK_CHECKS
    )
    assert {h.logs[j.id].source for j in h.jobs_of(run.id)} >= {FAILURES["unit-compile"][1]}
    ok = append_run(h, QUICK_CHECKS)
    assert ok.conclusion == "success" and h.artifacts_of(ok.id)


def test_bundle_is_small_documented_and_packaged() -> None:
    files = [p for p in DATA.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 400_000
    sources = (DATA / "SOURCES.md").read_text()
    for p in files:
        if p.name != "SOURCES.md":
            assert p.name in sources, f"{p.name} is not in SOURCES.md"
    assert len(log_sources()) == len(list((DATA / "logs").glob("*.log.gz")))
    fails = [s for s in log_sources() if s.endswith(".fail")]
    assert len(fails) >= 6 and len(log_sources()) - len(fails) >= 6
    for name in log_sources():
        raw = gzip.decompress((DATA / "logs" / f"{name}.log.gz").read_bytes())
        assert raw.startswith(b"20") and b"\r\n" in raw
        assert profile(name).failed == name.endswith(".fail")
    git = shutil.which("git")
    if git is None:
        pytest.skip(
            "git not available: cannot check that the bundle is not ignored (hatchling skips ignored files)"
        )
    rel = [str(p.relative_to(DATA.parents[3])) for p in files]
    ignored = subprocess.run(
        [git, "check-ignore", *rel], cwd=DATA.parents[3], capture_output=True, text=True, check=False
    )
    assert ignored.stdout == "", f"ignored by .gitignore, so left out of the wheel: {ignored.stdout}"
