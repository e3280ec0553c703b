"""Migration 0012 and the store side of test-report artifacts, on SQLite and PostgreSQL: test
reports keyed by run attempt (the migration keeps existing reports and their test cases), the
artifact states and the requests spent in the budget's rolling hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.config import Config
from sqlalchemy import func, select, text, update

from cimedic.model import (
    Repository,
    RunAttempt,
    Status,
    TestCase,
    TestReport,
    TestStatus,
    TestSuite,
    WorkflowRun,
)
from cimedic.store import schema as t
from cimedic.store.artifacts import ArtifactFound
from cimedic.store.engine import make_engine
from cimedic.store.repository import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _report(status: TestStatus, source: str = "junit.zip!TEST-a.xml") -> TestReport:
    case = TestCase(classname="a.B", name="c", status=status)
    return TestReport(source=source, suites=(TestSuite(name="a.B", cases=(case,)),))


def _run(store: Store, attempts: int = 2) -> tuple[int, int]:
    repo_id = store.upsert_repository(Repository(provider="github", owner="o", name="r"))
    run = WorkflowRun(
        provider_id="77",
        repository="o/r",
        head_sha="a" * 40,
        status=Status.COMPLETED,
        run_attempt=attempts,
        created_at=T0,
        updated_at=T0 + timedelta(hours=1),
    )
    tries = [
        RunAttempt(
            run_provider_id="77",
            attempt=n,
            status=Status.COMPLETED,
            started_at=T0 + timedelta(minutes=30 * (n - 1)),
        )
        for n in range(1, attempts + 1)
    ]
    return repo_id, store.ingest_run(repo_id, run, tries, ())


def _alembic_config() -> Config:

    import cimedic.store.engine as engine_mod

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_mod.__file__).with_name("migrations")))
    return cfg


def test_migration_0012_keeps_reports_and_test_cases_and_lets_attempts_share_a_source(store_url: str) -> None:
    from alembic import command

    engine = make_engine(store_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO repositories (id, provider, full_name) VALUES (1, 'github', 'o/r')"))
        conn.execute(
            text(
                "INSERT INTO workflow_runs (id, repo_id, provider_id, run_attempt, head_sha, status) "
                "VALUES (1, 1, '77', 2, 'abc', 'completed')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO test_reports (id, run_id, source, dialect, ingested_at) "
                "VALUES (5, 1, 'junit.zip!a.xml', 'junit', '2026-11-01 12:00:00')"
            )
        )
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO test_cases (report_id, run_id, test_id, name, status, retries) "
                    f"VALUES (5, 1, 'a.B.c{i}', 'c{i}', 'passed', 0)"
                )
            )
    engine.dispose()

    store = Store(store_url)  # migrates to the head
    try:
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.test_cases)).scalar_one() == 3
            assert conn.execute(select(t.test_reports.c.id, t.test_reports.c.run_attempt)).all() == [
                (5, None)
            ]
        store.save_test_report(1, _report(TestStatus.FAILED, "junit.zip!a.xml"), attempt=1)
        store.save_test_report(1, _report(TestStatus.PASSED, "junit.zip!a.xml"), attempt=2)
        with store.engine.connect() as conn:
            attempts = conn.execute(select(t.test_reports.c.run_attempt)).scalars().all()
        assert sorted(attempts, key=lambda a: a or 0) == [None, 1, 2]
    finally:
        store.close()


def test_a_report_replaces_only_the_one_of_its_own_attempt(store: Store) -> None:
    _, run_id = _run(store)
    store.save_test_report(run_id, _report(TestStatus.FAILED), attempt=1)
    store.save_test_report(run_id, _report(TestStatus.PASSED), attempt=2)
    store.save_test_report(run_id, _report(TestStatus.PASSED))  # attempt unknown (ingest junit)
    store.save_test_report(run_id, _report(TestStatus.FAILED))  # replaces the unknown-attempt one
    store.save_test_report(run_id, _report(TestStatus.PASSED), attempt=2)  # replaces attempt 2's
    tr, tc = t.test_reports, t.test_cases
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(tr.c.run_attempt, tc.c.status)
            .join(tc, tc.c.report_id == tr.c.id)
            .order_by(tr.c.run_attempt)
        ).all()
        cases = conn.execute(select(func.count()).select_from(tc)).scalar_one()
    assert sorted((a or 0, s) for a, s in rows) == [(0, "failed"), (1, "failed"), (2, "passed")]
    assert cases == 3  # replaced reports leave no test cases behind


def test_artifact_states_and_the_requests_of_the_rolling_hour(store: Store) -> None:
    repo_id, run_id = _run(store)
    found = [
        ArtifactFound(run_id, "11", "junit", 1, T0 + timedelta(minutes=5)),
        ArtifactFound(run_id, "12", "junit", 2, T0 + timedelta(minutes=35)),
        ArtifactFound(run_id, "13", "junit", None, None, status="skipped", error="expired"),
    ]
    listed = T0 + timedelta(hours=2)
    assert store.record_test_artifacts(repo_id, found, listed_at=listed) == 3
    assert store.record_test_artifacts(repo_id, found, listed_at=listed) == 0  # known ones stay as they are
    assert store.artifacts_listed_at(repo_id) == listed
    pending = store.pending_test_artifacts(repo_id, max_tries=3)
    assert [p.artifact_id for p in pending] == ["11", "12"]
    assert all(p.rerun for p in pending)

    first, second = pending
    store.save_artifact_reports(first.id, run_id, 1, [_report(TestStatus.FAILED)], requests=2)
    store.mark_test_artifact(second.id, "failed", "HTTP 502", requests=1)
    store.mark_test_artifact(second.id, "failed", "HTTP 502", requests=1)
    assert store.test_artifact_states(repo_id) == {"fetched": 1, "failed": 1, "skipped": 1}
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert store.test_artifact_requests_since("github", hour_ago) == 4
    assert [p.tries for p in store.pending_test_artifacts(repo_id, max_tries=3)] == [2]
    assert store.pending_test_artifacts(repo_id, max_tries=2) == []

    ta = t.test_report_artifacts
    with store.engine.begin() as conn:  # the tries were more than an hour ago
        conn.execute(update(ta).values(tried_at=ta.c.tried_at - timedelta(hours=2)))
    assert store.test_artifact_requests_since("github", hour_ago) == 0
    with store.engine.connect() as conn:
        row = conn.execute(
            select(t.test_reports.c.run_attempt).where(t.test_reports.c.run_id == run_id)
        ).one()
    assert row == (1,)
