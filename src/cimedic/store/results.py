"""Store mixin for what analysis produces or reads per job and run: failed-job logs
(zlib-compressed, tail-capped upstream), diagnoses and test reports."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update

from cimedic.model import (
    Diagnosis,
    TestReport,
    TestSuite,
)
from cimedic.store import schema as t
from cimedic.store.base import StoreBase, from_db, now_utc, to_db


@dataclass(frozen=True, slots=True)
class StoredLog:
    """A stored job log: uncompressed ``content`` and sizes in bytes."""

    job_id: int
    content: bytes
    size: int
    original_size: int
    truncated: bool
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class JobKey:
    """Identity of a stored job, with what the log pipeline needs."""

    job_id: int
    repository: str
    provider_id: str
    name: str
    run_provider_id: str
    conclusion: str | None


class ResultsMixin(StoreBase):
    """Logs, diagnoses and test reports."""

    # ------------------------------------------------------------------ logs
    def jobs_needing_log(self, repository: str | None = None, limit: int = 1000) -> list[JobKey]:
        """Failed jobs whose log is not stored yet (``log_state = 'pending'``)."""
        return self._job_keys(t.jobs.c.log_state == "pending", repository, limit)

    def _job_keys(
        self, cond: Any, repository: str | None, limit: int, since: datetime | None = None
    ) -> list[JobKey]:
        q = (
            select(
                t.jobs.c.id,
                t.repositories.c.full_name,
                t.jobs.c.provider_id,
                t.jobs.c.name,
                t.workflow_runs.c.provider_id,
                t.jobs.c.conclusion,
            )
            .join(t.repositories, t.repositories.c.id == t.jobs.c.repo_id)
            .join(t.workflow_runs, t.workflow_runs.c.id == t.jobs.c.run_id)
            .where(cond)
            .order_by(t.jobs.c.id)
            .limit(limit)
        )
        if repository:
            q = q.where(t.repositories.c.full_name == repository)
        if since is not None:
            q = q.where(t.jobs.c.created_at >= to_db(since))
        with self.engine.connect() as conn:
            return [JobKey(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(q).all()]

    def save_log(self, job_id: int, content: bytes, *, original_size: int, truncated: bool) -> None:
        """Store a job log zlib-compressed (replacing a previous one) and mark it ``stored``."""
        row = {
            "job_id": job_id,
            "content": zlib.compress(content, 6),
            "size": len(content),
            "original_size": original_size,
            "truncated": truncated,
            "sha256": hashlib.sha256(content).hexdigest(),
            "fetched_at": to_db(now_utc()),
        }
        with self.engine.begin() as conn:
            self._upsert(conn, t.job_logs, [row], ["job_id"])
            conn.execute(
                update(t.jobs).where(t.jobs.c.id == job_id).values(log_state="stored", log_error=None)
            )

    def mark_log(self, job_id: int, state: str, error: str | None = None) -> None:
        """Record that a log could not be fetched (``expired`` or ``error``) and why."""
        with self.engine.begin() as conn:
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(log_state=state, log_error=error))

    def get_log(self, job_id: int) -> StoredLog | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.job_logs).where(t.job_logs.c.job_id == job_id)).first()
        if r is None:
            return None
        return StoredLog(
            job_id=job_id,
            content=zlib.decompress(r.content),
            size=r.size,
            original_size=r.original_size,
            truncated=bool(r.truncated),
            fetched_at=from_db(r.fetched_at) or now_utc(),
        )

    def jobs_with_logs(
        self,
        *,
        since: datetime | None = None,
        repository: str | None = None,
        undiagnosed_only: bool = False,
        limit: int = 1_000_000,
    ) -> list[JobKey]:
        """Jobs with a stored log (optionally only those without a diagnosis)."""
        cond = t.jobs.c.log_state == "stored"
        if undiagnosed_only:
            cond = and_(cond, ~t.jobs.c.id.in_(select(t.diagnoses.c.job_id)))
        return self._job_keys(cond, repository, limit, since)

    # ------------------------------------------------------------------ diagnoses
    def save_diagnosis(self, job_id: int, diagnosis: Diagnosis, *, engine_version: str) -> None:
        """Store (or replace) the diagnosis of a job's log."""
        primary = diagnosis.error_lines[0] if diagnosis.error_lines else None
        row = {
            "job_id": job_id,
            "category": diagnosis.category.value,
            "signature": diagnosis.signature or None,
            "summary": (primary.text if primary else diagnosis.summary)[:2000] or None,
            "transient": diagnosis.transient,
            "cause_id": diagnosis.cause.id if diagnosis.cause else None,
            "step_name": diagnosis.failed_step.name if diagnosis.failed_step else None,
            "line": primary.line if primary else None,
            "engine_version": engine_version,
            "analyzed_at": to_db(now_utc()),
            "result": diagnosis.model_dump(mode="json"),
            "evidence": [e.model_dump(mode="json") for e in diagnosis.deterministic_evidence],
        }
        with self.engine.begin() as conn:
            self._upsert(conn, t.diagnoses, [row], ["job_id"])

    def get_diagnosis(self, job_id: int) -> Diagnosis | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                select(t.diagnoses.c.result).where(t.diagnoses.c.job_id == job_id)
            ).scalar_one_or_none()
        return None if r is None else Diagnosis.model_validate(r)

    # ------------------------------------------------------------------ test reports
    def save_test_report(
        self, run_id: int, report: TestReport, job_id: int | None = None, *, attempt: int | None = None
    ) -> int:
        """Store a parsed test report of a run's ``attempt`` (``None``: unknown), replacing an
        earlier one with the same ``(run, attempt, source)``; returns the report's store id.
        Reports of different attempts are kept side by side (re-runs upload artifacts with the
        same name)."""
        with self.engine.begin() as conn:
            return insert_test_report(conn, run_id, report, job_id, attempt)

    def runs_with_test_reports(self, repo_id: int) -> set[int]:
        """Store ids of the runs of a repository that already have a test report."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.test_reports.c.run_id)
                .join(t.workflow_runs, t.workflow_runs.c.id == t.test_reports.c.run_id)
                .where(t.workflow_runs.c.repo_id == repo_id)
                .distinct()
            ).all()
        return {int(r[0]) for r in rows}


def insert_test_report(
    conn: Any, run_id: int, report: TestReport, job_id: int | None, attempt: int | None
) -> int:
    """Within the transaction ``conn``: replace the report ``(run_id, attempt, report.source)``
    and its test cases by ``report``; returns the new report id. ``attempt`` None matches
    only reports of unknown attempt (SQL ``IS NULL``: NULLs never collide in the unique key)."""
    tr = t.test_reports
    same_attempt = tr.c.run_attempt.is_(None) if attempt is None else tr.c.run_attempt == attempt
    old = select(tr.c.id).where(tr.c.run_id == run_id, tr.c.source == report.source, same_attempt)
    # explicit: the cascade needs foreign_keys=ON on SQLite
    conn.execute(delete(t.test_cases).where(t.test_cases.c.report_id.in_(old)))
    conn.execute(delete(tr).where(tr.c.run_id == run_id, tr.c.source == report.source, same_attempt))
    report_id = int(
        conn.execute(
            tr.insert()
            .values(
                run_id=run_id,
                job_id=job_id,
                run_attempt=attempt,
                source=report.source,
                dialect=report.dialect,
                problems=list(report.problems),
                ingested_at=to_db(now_utc()),
            )
            .returning(tr.c.id)
        ).scalar_one()
    )
    rows = test_case_rows(report_id, run_id, report.suites)
    if rows:
        conn.execute(t.test_cases.insert(), rows)
    return report_id


MESSAGE_MAX_CHARS = 4000
"""Characters of a test case's failure message kept in ``test_cases.message``."""


def test_case_rows(report_id: int, run_id: int, suites: Iterable[TestSuite]) -> list[dict[str, object]]:
    """``test_cases`` rows of the cases of ``suites`` (one per case, in order) for report
    ``report_id`` of run ``run_id`` (store ids); messages cut to :data:`MESSAGE_MAX_CHARS`,
    ``duration_s`` in seconds."""
    return [
        {
            "report_id": report_id,
            "run_id": run_id,
            "suite": suite.name,
            "test_id": case.test_id,
            "classname": case.classname,
            "name": case.name,
            "file": case.file,
            "status": case.status.value,
            "duration_s": case.duration,
            "retries": case.retries,
            "message": case.message[:MESSAGE_MAX_CHARS] if case.message else None,
            "failure_type": case.failure_type,
        }
        for suite in suites
        for case in suite.cases
    ]
