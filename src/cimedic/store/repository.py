"""The history store: idempotent upserts of runs, attempts, jobs, steps, test results, logs and
diagnoses, the raw-payload stage, ETags, and the typed reads analyzers need.

One class, :class:`Store`, over SQLite or PostgreSQL (SQLAlchemy 2 Core). Upserts use the
dialect's ``INSERT ... ON CONFLICT DO UPDATE`` on the natural keys of
:mod:`cimedic.store.schema`, so re-syncing the same data changes nothing. Datetimes go in as
aware UTC and come out as aware UTC. Reads for analyzers live in
:mod:`cimedic.store.queries`.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cimedic.model import (
    Diagnosis,
    Job,
    Repository,
    RunAttempt,
    TestReport,
    Workflow,
    WorkflowRun,
)
from cimedic.store import schema as t
from cimedic.store.engine import make_engine, migrate, safe_url


def to_db(value: datetime | None) -> datetime | None:
    """Aware datetime → naive UTC (how the store keeps times)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime | None) -> datetime | None:
    """Naive UTC from the database → aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A stored raw payload awaiting (or done with) processing. ``payload`` is uncompressed."""

    id: int
    source: str
    key: str
    event: str
    received_at: datetime
    payload: bytes
    status: str
    attempts: int
    meta: dict[str, str] | None = None


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


class Store:
    """The history store at ``url`` (SQLAlchemy URL). ``migrate=True`` applies Alembic migrations.

    Raises :class:`cimedic.store.engine.StoreError` when the database cannot be opened or migrated.
    """

    def __init__(self, url: str, *, migrate_schema: bool = True, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        if migrate_schema:
            migrate(self.engine)
        self.dialect = self.engine.dialect.name

    @property
    def location(self) -> str:
        """The store URL with any password hidden."""
        return safe_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ upsert helpers
    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def _upsert(self, conn: Any, table: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        cols = [c for c in rows[0] if c not in keys and c != "id"]
        if cols:
            stmt = stmt.on_conflict_do_update(
                index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols}
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        conn.execute(stmt, list(rows))

    def _id_of(self, conn: Any, table: Any, **where: Any) -> int:
        cond = and_(*(table.c[k] == v for k, v in where.items()))
        return int(conn.execute(select(table.c.id).where(cond)).scalar_one())

    # ------------------------------------------------------------------ repositories and workflows
    def upsert_repository(self, repo: Repository) -> int:
        """Insert or update a repository; returns its store id."""
        row = {
            "provider": repo.provider.value,
            "full_name": repo.full_name,
            "provider_id": repo.provider_id,
            "default_branch": repo.default_branch,
            "html_url": repo.html_url,
        }
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(t.repositories).where(
                    t.repositories.c.provider == row["provider"],
                    t.repositories.c.full_name == row["full_name"],
                )
            ).first()
            if existing is not None:
                # keep what we knew when the new record does not say (e.g. a webhook without default_branch)
                row = {k: (v if v is not None else existing._mapping[k]) for k, v in row.items()}
            self._upsert(conn, t.repositories, [row], ["provider", "full_name"])
            return self._id_of(conn, t.repositories, provider=row["provider"], full_name=row["full_name"])

    def delete_repository(self, full_name: str, provider: str = "github") -> bool:
        """Delete a repository and everything stored under it; False when it was not there."""
        with self.engine.begin() as conn:
            rid = conn.execute(
                select(t.repositories.c.id).where(
                    t.repositories.c.full_name == full_name, t.repositories.c.provider == provider
                )
            ).scalar_one_or_none()
            if rid is None:
                return False
            # explicit order: PostgreSQL cascades by FK, SQLite too (foreign_keys=ON), but be explicit
            run_ids = select(t.workflow_runs.c.id).where(t.workflow_runs.c.repo_id == rid)
            job_ids = select(t.jobs.c.id).where(t.jobs.c.repo_id == rid)
            conn.execute(delete(t.test_cases).where(t.test_cases.c.run_id.in_(run_ids)))
            conn.execute(delete(t.test_reports).where(t.test_reports.c.run_id.in_(run_ids)))
            conn.execute(delete(t.diagnoses).where(t.diagnoses.c.job_id.in_(job_ids)))
            conn.execute(delete(t.job_logs).where(t.job_logs.c.job_id.in_(job_ids)))
            conn.execute(delete(t.steps).where(t.steps.c.job_id.in_(job_ids)))
            conn.execute(delete(t.jobs).where(t.jobs.c.repo_id == rid))
            conn.execute(delete(t.run_attempts).where(t.run_attempts.c.run_id.in_(run_ids)))
            conn.execute(delete(t.pull_requests).where(t.pull_requests.c.run_id.in_(run_ids)))
            conn.execute(delete(t.workflow_runs).where(t.workflow_runs.c.repo_id == rid))
            conn.execute(delete(t.workflows).where(t.workflows.c.repo_id == rid))
            conn.execute(delete(t.commits).where(t.commits.c.repo_id == rid))
            conn.execute(delete(t.sync_state).where(t.sync_state.c.repo_id == rid))
            conn.execute(delete(t.repositories).where(t.repositories.c.id == rid))
        return True

    def repository_id(self, full_name: str, provider: str = "github") -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.repositories.c.id).where(
                    t.repositories.c.full_name == full_name, t.repositories.c.provider == provider
                )
            ).scalar_one_or_none()

    def repositories(self) -> list[Repository]:
        from cimedic.model import Provider

        with self.engine.connect() as conn:
            rows = conn.execute(select(t.repositories).order_by(t.repositories.c.full_name)).all()
        out = []
        for r in rows:
            owner, _, name = r.full_name.partition("/")
            out.append(
                Repository(
                    provider=Provider(r.provider),
                    provider_id=r.provider_id,
                    owner=owner,
                    name=name,
                    default_branch=r.default_branch,
                    html_url=r.html_url,
                )
            )
        return out

    def upsert_workflows(self, repo_id: int, workflows: Iterable[Workflow]) -> None:
        rows = [
            {
                "repo_id": repo_id,
                "provider_id": w.provider_id,
                "name": w.name,
                "path": w.path,
                "state": w.state,
            }
            for w in workflows
        ]
        with self.engine.begin() as conn:
            self._upsert(conn, t.workflows, rows, ["repo_id", "provider_id"])

    # ------------------------------------------------------------------ runs, attempts, jobs, steps
    def upsert_run(self, repo_id: int, run: WorkflowRun) -> int:
        """Insert or update a workflow run with its head commit and pull requests; returns its id."""
        with self.engine.begin() as conn:
            return self._upsert_run(conn, repo_id, run)

    def _upsert_run(self, conn: Any, repo_id: int, run: WorkflowRun) -> int:
        workflow_id = None
        if run.workflow_id is not None:
            if run.workflow_name:
                self._upsert(
                    conn,
                    t.workflows,
                    [
                        {
                            "repo_id": repo_id,
                            "provider_id": run.workflow_id,
                            "name": run.workflow_name,
                            "path": run.workflow_path,
                        }
                    ],
                    ["repo_id", "provider_id"],
                )
            workflow_id = conn.execute(
                select(t.workflows.c.id).where(
                    t.workflows.c.repo_id == repo_id, t.workflows.c.provider_id == run.workflow_id
                )
            ).scalar_one_or_none()
        completed = run.status.value == "completed"
        row = {
            "repo_id": repo_id,
            "workflow_id": workflow_id,
            "provider_id": run.provider_id,
            "workflow_name": run.workflow_name,
            "workflow_path": run.workflow_path,
            "run_number": run.run_number,
            "run_attempt": run.run_attempt,
            "name": run.name,
            "display_title": run.display_title,
            "event": run.event,
            "branch": run.branch,
            "head_sha": run.head_sha,
            "actor": run.actor,
            "status": run.status.value,
            "conclusion": run.conclusion.value if run.conclusion else None,
            "created_at": to_db(run.created_at),
            "run_started_at": to_db(run.run_started_at),
            "updated_at": to_db(run.updated_at),
            "duration_s": _seconds(run.run_started_at or run.created_at, run.updated_at)
            if completed
            else None,
            "html_url": run.html_url,
        }
        existing = conn.execute(
            select(t.workflow_runs.c.run_attempt, t.workflow_runs.c.updated_at).where(
                t.workflow_runs.c.repo_id == repo_id, t.workflow_runs.c.provider_id == run.provider_id
            )
        ).first()
        if existing is not None and _older(row, existing):
            # an out-of-order delivery (older attempt or older update) must not overwrite newer state
            run_id = self._id_of(conn, t.workflow_runs, repo_id=repo_id, provider_id=run.provider_id)
        else:
            if existing is not None:
                row = {k: v for k, v in row.items() if v is not None or k in ("conclusion", "duration_s")}
            self._upsert(conn, t.workflow_runs, [row], ["repo_id", "provider_id"])
            run_id = self._id_of(conn, t.workflow_runs, repo_id=repo_id, provider_id=run.provider_id)
        if run.head_commit is not None:
            c = run.head_commit
            self._upsert(
                conn,
                t.commits,
                [
                    {
                        "repo_id": repo_id,
                        "sha": c.sha,
                        "message": c.message,
                        "author": c.author,
                        "timestamp": to_db(c.timestamp),
                    }
                ],
                ["repo_id", "sha"],
            )
        if run.pull_requests:
            self._upsert(
                conn,
                t.pull_requests,
                [
                    {
                        "run_id": run_id,
                        "number": pr.number,
                        "head_ref": pr.head_ref,
                        "head_sha": pr.head_sha,
                        "base_ref": pr.base_ref,
                        "url": pr.url,
                    }
                    for pr in run.pull_requests
                ],
                ["run_id", "number"],
            )
        return run_id

    def upsert_attempts(self, run_id: int, attempts: Iterable[RunAttempt]) -> None:
        rows = [
            {
                "run_id": run_id,
                "attempt": a.attempt,
                "status": a.status.value,
                "conclusion": a.conclusion.value if a.conclusion else None,
                "started_at": to_db(a.started_at),
                "updated_at": to_db(a.updated_at),
                "actor": a.actor,
            }
            for a in attempts
        ]
        with self.engine.begin() as conn:
            self._upsert(conn, t.run_attempts, rows, ["run_id", "attempt"])

    def upsert_jobs(self, repo_id: int, run_id: int, jobs: Iterable[Job]) -> list[int]:
        """Insert or update jobs (and their steps) of one run; returns the job ids in order.

        A failed job that has no stored log yet gets ``log_state = 'pending'``.
        """
        jobs = list(jobs)
        if not jobs:
            return []
        with self.engine.begin() as conn:
            return self._upsert_jobs(conn, repo_id, run_id, jobs)

    def _upsert_jobs(self, conn: Any, repo_id: int, run_id: int, jobs: list[Job]) -> list[int]:
        rows = [
            {
                "repo_id": repo_id,
                "run_id": run_id,
                "provider_id": j.provider_id,
                "run_attempt": j.run_attempt,
                "name": j.name,
                "workflow_name": j.workflow_name,
                "head_sha": j.head_sha,
                "head_branch": j.head_branch,
                "status": j.status.value,
                "conclusion": j.conclusion.value if j.conclusion else None,
                "created_at": to_db(j.created_at),
                "started_at": to_db(j.started_at),
                "completed_at": to_db(j.completed_at),
                "queue_s": j.queue_seconds,
                "duration_s": j.duration,
                "runner_name": j.runner_name,
                "runner_group": j.runner_group,
                "labels": list(j.labels),
                "html_url": j.html_url,
            }
            for j in jobs
        ]
        # deliveries arrive in any order: a queued/in_progress state never overwrites a completed job
        existing = dict(
            conn.execute(
                select(t.jobs.c.provider_id, t.jobs.c.status).where(
                    t.jobs.c.repo_id == repo_id, t.jobs.c.provider_id.in_([j.provider_id for j in jobs])
                )
            ).all()
        )
        stale = {
            j.provider_id
            for j in jobs
            if existing.get(j.provider_id) == "completed" and j.status.value != "completed"
        }
        self._upsert(
            conn, t.jobs, [r for r in rows if r["provider_id"] not in stale], ["repo_id", "provider_id"]
        )
        ids_by_pid = dict(
            conn.execute(
                select(t.jobs.c.provider_id, t.jobs.c.id).where(
                    t.jobs.c.repo_id == repo_id, t.jobs.c.provider_id.in_([j.provider_id for j in jobs])
                )
            ).all()
        )
        ids = [int(ids_by_pid[j.provider_id]) for j in jobs]
        failed = [
            i for i, j in zip(ids, jobs, strict=True) if j.conclusion is not None and j.conclusion.is_failure
        ]
        if failed:
            conn.execute(
                update(t.jobs)
                .where(t.jobs.c.id.in_(failed), t.jobs.c.log_state == "none")
                .values(log_state="pending")
            )
        step_rows = [
            {
                "job_id": job_id,
                "number": s.number,
                "name": s.name,
                "status": s.status.value,
                "conclusion": s.conclusion.value if s.conclusion else None,
                "started_at": to_db(s.started_at),
                "completed_at": to_db(s.completed_at),
                "duration_s": s.duration,
            }
            for job_id, j in zip(ids, jobs, strict=True)
            if j.provider_id not in stale
            for s in j.steps
        ]
        self._upsert(conn, t.steps, step_rows, ["job_id", "number"])
        return ids

    def ingest_run(
        self, repo_id: int, run: WorkflowRun, attempts: Iterable[RunAttempt], jobs: Iterable[Job]
    ) -> int:
        """One transaction: the run, its attempts and its jobs with steps. Returns the run id."""
        jobs = list(jobs)
        with self.engine.begin() as conn:
            run_id = self._upsert_run(conn, repo_id, run)
            rows = [
                {
                    "run_id": run_id,
                    "attempt": a.attempt,
                    "status": a.status.value,
                    "conclusion": a.conclusion.value if a.conclusion else None,
                    "started_at": to_db(a.started_at),
                    "updated_at": to_db(a.updated_at),
                    "actor": a.actor,
                }
                for a in attempts
            ]
            self._upsert(conn, t.run_attempts, rows, ["run_id", "attempt"])
            if jobs:
                self._upsert_jobs(conn, repo_id, run_id, jobs)
        return run_id

    def run_id(self, repo_id: int, provider_id: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.workflow_runs.c.id).where(
                    t.workflow_runs.c.repo_id == repo_id, t.workflow_runs.c.provider_id == provider_id
                )
            ).scalar_one_or_none()

    def known_run_states(
        self, repo_id: int, provider_ids: Sequence[str]
    ) -> dict[str, tuple[str, int, datetime | None, bool]]:
        """``{provider_id: (status, run_attempt, updated_at, has_jobs)}`` for the runs already stored."""
        if not provider_ids:
            return {}
        has_jobs = select(t.jobs.c.id).where(t.jobs.c.run_id == t.workflow_runs.c.id).exists()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.workflow_runs.c.provider_id,
                    t.workflow_runs.c.status,
                    t.workflow_runs.c.run_attempt,
                    t.workflow_runs.c.updated_at,
                    has_jobs,
                ).where(
                    t.workflow_runs.c.repo_id == repo_id,
                    t.workflow_runs.c.provider_id.in_(list(provider_ids)),
                )
            ).all()
        return {r[0]: (r[1], int(r[2]), from_db(r[3]), bool(r[4])) for r in rows}

    def counts(self) -> dict[str, int]:
        """Row counts per main table (for ``demo`` / ``sync`` summaries)."""
        out = {}
        with self.engine.connect() as conn:
            for name in (
                "repositories",
                "workflow_runs",
                "run_attempts",
                "jobs",
                "steps",
                "test_cases",
                "job_logs",
                "diagnoses",
                "raw_events",
            ):
                table = t.metadata.tables[name]
                out[name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        return out

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
    def save_test_report(self, run_id: int, report: TestReport, job_id: int | None = None) -> int:
        """Store a parsed test report of a run, replacing an earlier one with the same ``source``."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(t.test_reports).where(
                    t.test_reports.c.run_id == run_id, t.test_reports.c.source == report.source
                )
            )
            report_id = int(
                conn.execute(
                    t.test_reports.insert()
                    .values(
                        run_id=run_id,
                        job_id=job_id,
                        source=report.source,
                        dialect=report.dialect,
                        problems=list(report.problems),
                        ingested_at=to_db(now_utc()),
                    )
                    .returning(t.test_reports.c.id)
                ).scalar_one()
            )
            rows = [
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
                    "message": case.message[:4000] if case.message else None,
                    "failure_type": case.failure_type,
                }
                for suite in report.suites
                for case in suite.cases
            ]
            if rows:
                conn.execute(t.test_cases.insert(), rows)
        # in SQLite, deleting the report cascades to its cases (foreign_keys=ON)
        return report_id

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

    # ------------------------------------------------------------------ raw events (the first stage)
    def add_raw_event(
        self, source: str, key: str, event: str, payload: bytes, meta: dict[str, str] | None = None
    ) -> tuple[int, bool]:
        """Store a raw payload before any processing. Returns ``(id, created)``; a known
        ``(source, key)`` (e.g. a redelivered ``X-GitHub-Delivery``) is a no-op with ``created=False``."""
        row = {
            "source": source,
            "key": key,
            "event": event,
            "received_at": to_db(now_utc()),
            "payload": zlib.compress(payload, 6),
            "meta": meta,
            "status": "pending",
            "attempts": 0,
        }
        with self.engine.begin() as conn:
            stmt = (
                self._insert(t.raw_events)
                .values(**row)
                .on_conflict_do_nothing(index_elements=["source", "key"])
                .returning(t.raw_events.c.id)
            )
            inserted = conn.execute(stmt).scalar_one_or_none()
            if inserted is not None:
                return int(inserted), True
            return self._id_of(conn, t.raw_events, source=source, key=key), False

    def raw_events(
        self,
        *,
        status: Sequence[str] = ("pending",),
        since: datetime | None = None,
        source: str | None = None,
        limit: int = 1000,
    ) -> list[RawEvent]:
        """Raw payloads in the given processing states, oldest first."""
        q = (
            select(t.raw_events)
            .where(t.raw_events.c.status.in_(list(status)))
            .order_by(t.raw_events.c.id)
            .limit(limit)
        )
        if since is not None:
            q = q.where(t.raw_events.c.received_at >= to_db(since))
        if source is not None:
            q = q.where(t.raw_events.c.source == source)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            RawEvent(
                id=r.id,
                source=r.source,
                key=r.key,
                event=r.event,
                received_at=from_db(r.received_at) or now_utc(),
                payload=zlib.decompress(r.payload),
                status=r.status,
                attempts=r.attempts,
                meta=r.meta,
            )
            for r in rows
        ]

    def mark_raw_event(self, raw_id: int, status: str, error: str | None = None) -> None:
        """Set the processing status (``done`` or ``failed`` with the error) and count the attempt."""
        with self.engine.begin() as conn:
            conn.execute(
                update(t.raw_events)
                .where(t.raw_events.c.id == raw_id)
                .values(
                    status=status,
                    error=error,
                    attempts=t.raw_events.c.attempts + 1,
                    processed_at=to_db(now_utc()),
                )
            )

    # ------------------------------------------------------------------ ETags (for conditional polling)
    def etag_get(self, url: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.etags.c.etag).where(t.etags.c.url == url)).scalar_one_or_none()

    def etag_put(self, url: str, etag: str) -> None:
        with self.engine.begin() as conn:
            self._upsert(conn, t.etags, [{"url": url, "etag": etag, "updated_at": to_db(now_utc())}], ["url"])

    # ------------------------------------------------------------------ sync state and retention
    def mark_synced(self, repo_id: int, *, poll: bool = False) -> None:
        col = "last_poll_at" if poll else "last_sync_at"
        with self.engine.begin() as conn:
            self._upsert(conn, t.sync_state, [{"repo_id": repo_id, col: to_db(now_utc())}], ["repo_id"])

    def apply_retention(self, *, log_days: int, raw_days: int) -> dict[str, int]:
        """Delete job logs fetched more than ``log_days`` ago and processed raw payloads older than
        ``raw_days`` (0 keeps everything). Returns the number of rows deleted per table."""
        from datetime import timedelta

        out = {"job_logs": 0, "raw_events": 0}
        with self.engine.begin() as conn:
            if log_days > 0:
                cutoff = to_db(now_utc() - timedelta(days=log_days))
                old = select(t.job_logs.c.job_id).where(t.job_logs.c.fetched_at < cutoff)
                conn.execute(update(t.jobs).where(t.jobs.c.id.in_(old)).values(log_state="expired"))
                out["job_logs"] = conn.execute(
                    delete(t.job_logs).where(t.job_logs.c.fetched_at < cutoff)
                ).rowcount
            if raw_days > 0:
                cutoff = to_db(now_utc() - timedelta(days=raw_days))
                out["raw_events"] = conn.execute(
                    delete(t.raw_events).where(
                        t.raw_events.c.status == "done", t.raw_events.c.received_at < cutoff
                    )
                ).rowcount
        return out


def _older(row: dict[str, Any], existing: Any) -> bool:
    """Is the incoming run state older than the stored one (lower attempt, or earlier update)?"""
    if row["run_attempt"] < existing[0]:
        return True
    if row["run_attempt"] == existing[0] and row["updated_at"] is not None and existing[1] is not None:
        return bool(row["updated_at"] < existing[1])
    return False
