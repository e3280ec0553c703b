"""The store on SQLite and PostgreSQL (the ``store`` fixture runs every test on both): idempotent
upserts, out-of-order deliveries, the raw stage, logs, diagnoses, test reports, ETags,
retention, deletion, and the migrations themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, update

from cimedic.model import (
    Category,
    CommitRef,
    Conclusion,
    Diagnosis,
    ErrorLine,
    Job,
    LogFormat,
    LogInfo,
    PullRequestRef,
    Repository,
    RunAttempt,
    Status,
    Step,
    TestCase,
    TestReport,
    TestStatus,
    TestSuite,
    WorkflowRun,
)
from cimedic.store import schema as t
from cimedic.store.repository import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _run(
    attempt: int = 1, conclusion: Conclusion | None = Conclusion.FAILURE, minutes: int = 10
) -> WorkflowRun:
    return WorkflowRun(
        provider_id="9001",
        repository="octo/app",
        workflow_id="77",
        workflow_name="CI",
        workflow_path=".github/workflows/ci.yml",
        run_number=12,
        run_attempt=attempt,
        event="pull_request",
        branch="feature",
        head_sha="a" * 40,
        actor="octocat",
        status=Status.COMPLETED if conclusion else Status.IN_PROGRESS,
        conclusion=conclusion,
        created_at=T0,
        run_started_at=T0 + timedelta(seconds=5),
        updated_at=T0 + timedelta(minutes=minutes),
        head_commit=CommitRef(
            sha="a" * 40, message="fix", author="Octo Cat", timestamp=T0 - timedelta(hours=1)
        ),
        pull_requests=(PullRequestRef(number=5, head_ref="feature", base_ref="main"),),
    )


def _job(pid: str, attempt: int, conclusion: Conclusion) -> Job:
    return Job(
        provider_id=pid,
        run_provider_id="9001",
        run_attempt=attempt,
        name="test (ubuntu)",
        workflow_name="CI",
        head_sha="a" * 40,
        status=Status.COMPLETED,
        conclusion=conclusion,
        created_at=T0 + timedelta(minutes=attempt),
        started_at=T0 + timedelta(minutes=attempt, seconds=30),
        completed_at=T0 + timedelta(minutes=attempt + 5),
        runner_name="GitHub Actions 3",
        labels=("ubuntu-latest",),
        steps=(
            Step(
                number=1,
                name="Set up job",
                status=Status.COMPLETED,
                conclusion=Conclusion.SUCCESS,
                started_at=T0,
                completed_at=T0 + timedelta(seconds=2),
            ),
            Step(
                number=2,
                name="Run tests",
                status=Status.COMPLETED,
                conclusion=conclusion,
                started_at=T0,
                completed_at=T0 + timedelta(seconds=200),
            ),
        ),
    )


def _ingest(store: Store) -> tuple[int, int]:
    repo_id = store.upsert_repository(
        Repository(owner="octo", name="app", default_branch="main", provider_id="1")
    )
    attempts = [
        RunAttempt(run_provider_id="9001", attempt=1, status=Status.COMPLETED, conclusion=Conclusion.FAILURE)
    ]
    run_id = store.ingest_run(repo_id, _run(), attempts, [_job("501", 1, Conclusion.FAILURE)])
    return repo_id, run_id


def _snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with store.engine.connect() as conn:
        for name in (
            "repositories",
            "workflows",
            "commits",
            "workflow_runs",
            "pull_requests",
            "run_attempts",
            "jobs",
            "steps",
        ):
            table = t.metadata.tables[name]
            out[name] = sorted(tuple(r) for r in conn.execute(select(table)).all())
    return out


def test_migrations_create_every_table_and_index(store: Store) -> None:
    insp = inspect(store.engine)
    assert set(t.metadata.tables) <= set(insp.get_table_names())
    assert "ix_jobs_created" in {i["name"] for i in insp.get_indexes("jobs")}
    # opening the same store again runs no migration twice and keeps the data
    _ingest(store)
    again = Store(store.url)
    assert again.counts()["jobs"] == 1
    again.close()


def test_ingest_is_idempotent(store: Store) -> None:
    _ingest(store)
    first = _snapshot(store)
    _ingest(store)
    _ingest(store)
    assert _snapshot(store) == first
    counts = store.counts()
    assert counts["workflow_runs"] == 1 and counts["jobs"] == 1 and counts["steps"] == 2


def test_times_round_trip_as_aware_utc_and_durations_in_seconds(store: Store) -> None:
    from cimedic.model.history import HistoryFilter
    from cimedic.store.queries import job_facts, run_facts

    _ingest(store)
    (run,) = run_facts(store.engine, HistoryFilter())
    assert run.created_at == T0 and run.created_at.tzinfo is not None
    assert run.duration == pytest.approx(595.0)
    assert run.commit_timestamp == T0 - timedelta(hours=1)
    (job,) = job_facts(store.engine, HistoryFilter(repository="octo/app"))
    assert job.queue == pytest.approx(30.0) and job.duration == pytest.approx(270.0)


def test_rerun_attempt_adds_jobs_and_an_older_delivery_never_wins(store: Store) -> None:
    repo_id, run_id = _ingest(store)
    rerun = _run(attempt=2, conclusion=Conclusion.SUCCESS, minutes=30)
    store.ingest_run(
        repo_id,
        rerun,
        [
            RunAttempt(
                run_provider_id="9001", attempt=2, status=Status.COMPLETED, conclusion=Conclusion.SUCCESS
            )
        ],
        [_job("501", 1, Conclusion.FAILURE), _job("502", 2, Conclusion.SUCCESS)],
    )
    # a late webhook of attempt 1 arrives after attempt 2 was stored
    store.upsert_run(repo_id, _run(attempt=1, conclusion=Conclusion.FAILURE))
    with store.engine.connect() as conn:
        row = conn.execute(select(t.workflow_runs).where(t.workflow_runs.c.id == run_id)).one()
        attempts = (
            conn.execute(select(t.run_attempts.c.attempt).order_by(t.run_attempts.c.attempt)).scalars().all()
        )
    assert (row.run_attempt, row.conclusion) == (2, "success")
    assert attempts == [1, 2]
    assert store.counts()["jobs"] == 2


def test_failed_jobs_wait_for_their_log_then_get_a_diagnosis(store: Store) -> None:
    _ingest(store)
    (pending,) = store.jobs_needing_log("octo/app")
    assert pending.provider_id == "501" and pending.run_provider_id == "9001"
    content = b"line 1\nError: boom\n" * 1000
    store.save_log(pending.job_id, content, original_size=len(content) + 10, truncated=True)
    assert store.jobs_needing_log() == []
    log = store.get_log(pending.job_id)
    assert log is not None and log.content == content and log.truncated
    with store.engine.connect() as conn:
        stored = conn.execute(select(t.job_logs.c.content)).scalar_one()
    assert len(stored) < len(content) / 10  # kept compressed
    diag = Diagnosis(
        log=LogInfo(path="x", format=LogFormat.GITHUB_ACTIONS, lines=2000, bytes=len(content)),
        failed_step=None,
        error_lines=(ErrorLine(line=2, text="Error: boom", score=9.0),),
        excerpt=None,
        category=Category.TEST,
        transient=False,
        confidence=0.8,
        signature="f" * 32,
        cause=None,
        summary="boom",
    )
    store.save_diagnosis(pending.job_id, diag, engine_version="0.1.0")
    store.save_diagnosis(pending.job_id, diag, engine_version="0.1.0")
    assert store.get_diagnosis(pending.job_id) == diag
    assert store.jobs_with_logs(undiagnosed_only=True) == []


def test_raw_events_are_stored_once_per_key_and_keep_their_status(store: Store) -> None:
    rid, created = store.add_raw_event("github-webhook", "d-1", "workflow_run", b'{"action":"completed"}')
    assert created
    assert store.add_raw_event("github-webhook", "d-1", "workflow_run", b"other") == (rid, False)
    (raw,) = store.raw_events()
    assert raw.payload == b'{"action":"completed"}'
    store.mark_raw_event(rid, "failed", "bad payload")
    assert store.raw_events() == []
    (failed,) = store.raw_events(status=("failed",))
    assert failed.attempts == 1


def test_test_report_is_replaced_not_duplicated(store: Store) -> None:
    _repo_id, run_id = _ingest(store)
    report = TestReport(
        source="surefire.xml",
        dialect="surefire",
        suites=(
            TestSuite(
                name="S",
                cases=(
                    TestCase(name="a", classname="C", status=TestStatus.FLAKY, retries=1, duration=0.5),
                    TestCase(name="b", classname="C", status=TestStatus.PASSED),
                ),
            ),
        ),
    )
    store.save_test_report(run_id, report)
    store.save_test_report(run_id, report)
    assert store.counts()["test_cases"] == 2
    with store.engine.connect() as conn:
        flaky = conn.execute(select(t.test_cases).where(t.test_cases.c.status == "flaky")).one()
    assert (flaky.test_id, flaky.retries) == ("C::a", 1)


def test_etags_and_retention_and_delete(store: Store) -> None:
    store.etag_put("https://api.github.com/x", '"abc"')
    store.etag_put("https://api.github.com/x", '"def"')
    assert store.etag_get("https://api.github.com/x") == '"def"'
    _ingest(store)
    (key,) = store.jobs_needing_log()
    store.save_log(key.job_id, b"log", original_size=3, truncated=False)
    rid, _ = store.add_raw_event("github-webhook", "d-9", "workflow_job", b"{}")
    store.mark_raw_event(rid, "done")
    old = datetime(2020, 1, 1)
    with store.engine.begin() as conn:
        conn.execute(update(t.job_logs).values(fetched_at=old))
        conn.execute(update(t.raw_events).values(received_at=old))
    assert store.apply_retention(log_days=90, raw_days=30) == {"job_logs": 1, "raw_events": 1}
    assert store.get_log(key.job_id) is None
    assert store.delete_repository("octo/app")
    assert not store.delete_repository("octo/app")
    assert store.counts()["jobs"] == 0 and store.counts()["workflow_runs"] == 0
