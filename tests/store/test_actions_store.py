"""The remediation audit in the store (SQLite and PostgreSQL): one row per (repository, run,
attempt, action), an executed re-run is never overwritten, and re-run candidates carry only
structured diagnosis facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cimedic.model import (
    Category,
    Conclusion,
    Diagnosis,
    Job,
    LogFormat,
    LogInfo,
    Repository,
    RunAttempt,
    Status,
    WorkflowRun,
)
from cimedic.model.diagnosis import CauseMatch
from cimedic.model.remediation import Decision, JobDiagnosis, Reason, Verdict
from cimedic.store import schema as t
from cimedic.store.actions import failed_runs, list_decisions, record_decision, set_result
from cimedic.store.repository import Store
from cimedic.store.schema_actions import action_audit

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _decision(
    verdict: Verdict, reason: Reason = Reason.ALLOWED, *, run: str = "1", ago: float = 0
) -> Decision:
    return Decision(
        repository="o/r", run_id=run, run_attempt=1, verdict=verdict, reason=reason, detail="why",
        policy_version="1", dry_run=verdict is not Verdict.RERUN, decided_at=NOW - timedelta(seconds=ago),
        workflow_name="Build", branch="main",
    )  # fmt: skip


def test_one_row_per_run_attempt_action_and_rerun_is_never_overwritten(store: Store) -> None:
    assert record_decision(store, _decision(Verdict.WOULD_RERUN))
    assert record_decision(store, _decision(Verdict.SKIPPED, Reason.COOLING_DOWN))
    assert record_decision(store, _decision(Verdict.RERUN).model_copy(update={"result": "pending"}))
    set_result(store, _decision(Verdict.RERUN), "ok")
    # a restart that decides again cannot replace the executed action
    assert not record_decision(store, _decision(Verdict.RERUN))
    assert not record_decision(store, _decision(Verdict.WOULD_RERUN))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(action_audit)).scalar_one() == 1
    [row] = list_decisions(store)
    assert (row.verdict, row.result, row.dry_run, row.decided_at) == (Verdict.RERUN, "ok", False, NOW)


def test_list_filters_and_order(store: Store) -> None:
    record_decision(store, _decision(Verdict.SKIPPED, Reason.NOT_TRANSIENT, run="1", ago=7200))
    record_decision(store, _decision(Verdict.WOULD_RERUN, run="2", ago=60))
    record_decision(store, _decision(Verdict.SKIPPED, Reason.TOO_OLD, run="3", ago=10).model_copy(
        update={"repository": "x/y"}))  # fmt: skip
    assert [d.run_id for d in list_decisions(store)] == ["3", "2", "1"]
    assert [d.run_id for d in list_decisions(store, since=NOW - timedelta(hours=1))] == ["3", "2"]
    assert [d.run_id for d in list_decisions(store, repository="o/r")] == ["2", "1"]
    assert list_decisions(store, repository="o/r")[1].reason is Reason.NOT_TRANSIENT


def _ingest(
    store: Store, run_pid: str, attempts: list[Conclusion], jobs: list[tuple[str, int, Conclusion]]
) -> dict[str, int]:
    repo_id = store.upsert_repository(Repository(owner="o", name="r", default_branch="main"))
    created = NOW - timedelta(hours=2)
    run = WorkflowRun(
        provider_id=run_pid, repository="o/r", workflow_name="Build", branch="main", head_sha="a" * 40,
        status=Status.COMPLETED, conclusion=attempts[-1], run_attempt=len(attempts), created_at=created,
        updated_at=created + timedelta(minutes=10),
    )  # fmt: skip
    atts = [
        RunAttempt(run_provider_id=run_pid, attempt=i + 1, status=Status.COMPLETED, conclusion=c)
        for i, c in enumerate(attempts)
    ]
    js = [
        Job(
            provider_id=f"{run_pid}{n}",
            run_provider_id=run_pid,
            name=name,
            run_attempt=att,
            workflow_name="Build",
            status=Status.COMPLETED,
            conclusion=c,
            created_at=created,
        )
        for n, (name, att, c) in enumerate(jobs)
    ]
    store.ingest_run(repo_id, run, atts, js)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.jobs.c.provider_id, t.jobs.c.id).where(t.jobs.c.repo_id == repo_id)
        ).all()
    return {pid: jid for pid, jid in rows}


def _diag(category: Category, transient: bool, cause: str | None, summary: str) -> Diagnosis:
    return Diagnosis(
        log=LogInfo(path="job.log", format=LogFormat.GITHUB_ACTIONS, lines=3, bytes=30),
        failed_step=None, error_lines=(), excerpt=None, category=category, transient=transient,
        confidence=0.9, signature="0" * 32, cause=CauseMatch(id=cause, name=cause, fix="", category=category, transient=transient, line=2)
        if cause else None,
        summary=summary,
    )  # fmt: skip


def test_failed_runs_latest_attempt_with_structured_diagnoses(store: Store) -> None:
    ids = _ingest(store, "10", [Conclusion.FAILURE, Conclusion.FAILURE], [
        ("net", 1, Conclusion.FAILURE), ("net", 2, Conclusion.FAILURE), ("lint", 2, Conclusion.SUCCESS),
        ("undiagnosed", 2, Conclusion.FAILURE)])  # fmt: skip
    store.save_diagnosis(
        ids["101"], _diag(Category.NETWORK, True, "connection-reset", "reset"), engine_version="t"
    )
    _ingest(store, "20", [Conclusion.FAILURE, Conclusion.SUCCESS], [("x", 1, Conclusion.FAILURE)])
    [c] = failed_runs(store, since=NOW - timedelta(days=1))
    assert (c.repository, c.run_id, c.run_attempt, c.branch, c.workflow_name) == (
        "o/r",
        "10",
        2,
        "main",
        "Build",
    )
    assert c.jobs == (
        JobDiagnosis(job_name="net", category=Category.NETWORK, cause_id="connection-reset", transient=True,
                     signature="0" * 32),
        JobDiagnosis(job_name="undiagnosed"),
    )  # fmt: skip
    assert failed_runs(store, since=NOW) == []
    assert failed_runs(store, since=NOW - timedelta(days=1), repository="x/y") == []
