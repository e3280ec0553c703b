"""The anomaly and culprit store on SQLite and PostgreSQL: the flat timeline of a small history
(runs, jobs with diagnoses and pull requests, steps), stored commits, and findings that
re-analysis replaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.model import (
    Category,
    CommitRef,
    Conclusion,
    Diagnosis,
    Job,
    LogFormat,
    LogInfo,
    PullRequestRef,
    Repository,
    Status,
    Step,
    WorkflowRun,
)
from cimedic.model.anomalies import (
    Anomaly,
    AnomalyKind,
    AnomalyScope,
    DetectorInfo,
    ScopeLevel,
    SegmentStats,
)
from cimedic.model.culprits import CulpritReport, FailureKey, JobOutcomeRef, Suspect
from cimedic.model.history import HistoryFilter
from cimedic.store import anomalies as store_anomalies
from cimedic.store.repository import Store

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
REPO = "acme/app"
SIG = "cd" * 16


def _ingest(store: Store, repo_id: int, n: int, *, conclusion: Conclusion, branch: str = "main",
            pr: int | None = None, sha: str | None = None) -> int:  # fmt: skip
    created = T0 + timedelta(hours=n)
    started = created + timedelta(seconds=20)
    sha = sha or f"{n:040x}"
    run = WorkflowRun(
        provider_id=str(1000 + n), repository=REPO, workflow_id="7", workflow_name="CI",
        workflow_path=".github/workflows/ci.yml", run_number=n, event="pull_request" if pr else "push",
        branch=branch, head_sha=sha, status=Status.COMPLETED, conclusion=conclusion, created_at=created,
        run_started_at=created, updated_at=started + timedelta(seconds=300),
        head_commit=CommitRef(sha=sha, message=f"change {n}", author="Ann", timestamp=created),
        pull_requests=(PullRequestRef(number=pr, head_ref=branch, base_ref="main"),) if pr else (),
    )  # fmt: skip
    steps = (
        Step(number=1, name="Set up job", status=Status.COMPLETED, conclusion=Conclusion.SUCCESS,
             started_at=started, completed_at=started + timedelta(seconds=2)),
        Step(number=2, name="go test", status=Status.COMPLETED, conclusion=conclusion,
             started_at=started + timedelta(seconds=2), completed_at=started + timedelta(seconds=290)),
    )  # fmt: skip
    job = Job(
        provider_id=str(5000 + n), run_provider_id=str(1000 + n), name="test", workflow_name="CI", head_sha=sha,
        head_branch=branch, status=Status.COMPLETED, conclusion=conclusion, created_at=created + timedelta(seconds=5),
        started_at=started, completed_at=started + timedelta(seconds=290), labels=("ubuntu-latest",), steps=steps,
    )  # fmt: skip
    return store.ingest_run(repo_id, run, (), (job,))


def _history(store: Store) -> None:
    repo_id = store.upsert_repository(Repository(owner="acme", name="app", default_branch="main"))
    for n in range(1, 4):
        _ingest(store, repo_id, n, conclusion=Conclusion.SUCCESS)
    _ingest(store, repo_id, 4, conclusion=Conclusion.FAILURE)
    _ingest(store, repo_id, 5, conclusion=Conclusion.FAILURE, branch="feat", pr=42)
    job_ids = {
        j.run_id: j.job_id for j in store_anomalies.timeline(store, HistoryFilter()) if j.job is not None
    }
    diagnosis = Diagnosis(
        log=LogInfo(path="job.log", format=LogFormat.GITHUB_ACTIONS, lines=10, bytes=400), failed_step=None,
        error_lines=(), excerpt=None, category=Category.DEPENDENCY, transient=False, confidence=0.9,
        signature=SIG, cause=None, summary="go.mod/go.sum are not up-to-date",
    )  # fmt: skip
    for run_id, job_id in job_ids.items():
        if run_id >= 4 and job_id is not None:
            store.save_diagnosis(job_id, diagnosis, engine_version="test")


def test_timeline_hands_out_runs_jobs_and_steps(store: Store) -> None:
    _history(store)
    entries = store_anomalies.timeline(store, HistoryFilter(repository=REPO))
    runs = [e for e in entries if e.job is None]
    jobs = [e for e in entries if e.job is not None and e.step is None]
    steps = [e for e in entries if e.step is not None]
    assert len(runs) == 5 and len(jobs) == 5
    assert [r.conclusion for r in runs][-2:] == [Conclusion.FAILURE, Conclusion.FAILURE]
    assert runs[0].duration == pytest.approx(320) and runs[0].created_at == T0 + timedelta(hours=1)
    red = [j for j in jobs if j.conclusion is Conclusion.FAILURE]
    assert {j.signature for j in red} == {SIG} and red[0].category == "dependency"
    assert red[0].summary == "go.mod/go.sum are not up-to-date" and not red[0].transient
    pr_job = next(j for j in jobs if j.branch == "feat")
    assert pr_job.pr_number == 42 and pr_job.pr_base == "main" and pr_job.event == "pull_request"
    assert jobs[0].queue == pytest.approx(15) and jobs[0].labels == ("ubuntu-latest",)
    assert jobs[0].created_at == T0 + timedelta(hours=1, seconds=5)
    # only successful steps with a duration
    assert {s.step for s in steps} == {"Set up job", "go test"}
    assert sum(1 for s in steps if s.step == "go test") == 3
    assert store_anomalies.timeline(store, HistoryFilter(branch="feat"), jobs=False, steps=False) == [
        e for e in runs if e.branch == "feat"
    ]
    later = store_anomalies.timeline(store, HistoryFilter(since=T0 + timedelta(hours=4)), steps=False)
    assert {e.run_id for e in later} == {r.run_id for r in runs[-2:]}
    commits = store_anomalies.commit_refs(store, REPO, [r.head_sha for r in runs] + ["f" * 40])
    assert len(commits) == 5 and commits[runs[0].head_sha].message == "change 1"


def _anomaly(onset_hour: int, kind: AnomalyKind = AnomalyKind.DURATION, job: str = "test") -> Anomaly:
    return Anomaly(
        kind=kind,
        scope=AnomalyScope(repository=REPO, level=ScopeLevel.JOB, workflow="CI", job=job),
        onset_at=T0 + timedelta(hours=onset_hour),
        onset_run_id=onset_hour,
        before=SegmentStats(count=10, median=100.0),
        after=SegmentStats(count=6, median=150.0),
        relative_change=0.5,
        absolute_change=50.0,
        detector=DetectorInfo(name="pelt-robust", parameters={"min_segment": 5}),
        summary="median 1m 40s → 2m 30s (+50%)",
    )


def test_anomalies_are_replaced_by_reanalysis(store: Store) -> None:
    _history(store)
    assert store_anomalies.replace_anomalies(store, REPO, [_anomaly(1), _anomaly(3)]) == 2
    assert store_anomalies.replace_anomalies(store, REPO, [_anomaly(3)]) == 1  # same key: replaced
    loaded = store_anomalies.load_anomalies(store, repository=REPO)
    assert loaded == [_anomaly(3)]
    # a narrower re-analysis (one kind, from a time on) leaves the rest alone
    store_anomalies.replace_anomalies(
        store, REPO, [_anomaly(2, AnomalyKind.QUEUE)], kinds=[AnomalyKind.QUEUE]
    )
    store_anomalies.replace_anomalies(
        store, REPO, [_anomaly(5)], kinds=[AnomalyKind.DURATION], since=T0 + timedelta(hours=4)
    )
    got = store_anomalies.load_anomalies(store, repository=REPO)
    assert [(a.kind.value, a.onset_run_id) for a in got] == [("duration", 5), ("duration", 3), ("queue", 2)]
    assert len(store_anomalies.load_anomalies(store, kinds=[AnomalyKind.QUEUE])) == 1
    assert len(store_anomalies.load_anomalies(store, since=T0 + timedelta(hours=3))) == 2
    with pytest.raises(KeyError):
        store_anomalies.replace_anomalies(store, "nobody/else", [])


def _report(branch: str, first_hour: int, sig: str = SIG) -> CulpritReport:
    red = JobOutcomeRef(run_id=first_hour, job_id=first_hour, created_at=T0 + timedelta(hours=first_hour),
                        head_sha="b" * 40, conclusion=Conclusion.FAILURE, branch=branch)  # fmt: skip
    return CulpritReport(
        repository=REPO, branch=branch, key=FailureKey(workflow="CI", job="test", signature=sig),
        first_red=red, last_red=red, red_runs=1, ongoing=True,
        suspects=(Suspect(sha="b" * 40, message="bump", score=1.0, reasons=("only_candidate",)),),
    )  # fmt: skip


def test_culprit_reports_are_replaced_by_reanalysis(store: Store) -> None:
    _history(store)
    store_anomalies.replace_culprits(store, REPO, [_report("main", 4), _report("feat", 5)])
    store_anomalies.replace_culprits(store, REPO, [_report("main", 4)], branch="main")
    assert len(store_anomalies.load_culprits(store, repository=REPO)) == 2
    store_anomalies.replace_culprits(store, REPO, [], branch="main", signature=SIG[:8])
    (left,) = store_anomalies.load_culprits(store, repository=REPO)
    assert left == _report("feat", 5)
    assert store_anomalies.load_culprits(store, branch="main") == []
    store_anomalies.replace_culprits(store, REPO, [_report("main", 4)])
    assert [r.branch for r in store_anomalies.load_culprits(store)] == ["main"]
    assert store_anomalies.load_culprits(store, since=T0 + timedelta(hours=5)) == []
    store.delete_repository(REPO)  # findings go with their repository
    assert store_anomalies.load_culprits(store) == [] and store_anomalies.load_anomalies(store) == []
