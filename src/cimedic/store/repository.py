"""The history store: idempotent upserts of runs, attempts, jobs, steps, test results, logs and
diagnoses, the raw-payload stage, ETags, and the typed reads analyzers need.

One class, :class:`Store`, over SQLite or PostgreSQL (SQLAlchemy 2 Core). Upserts use the
dialect's ``INSERT ... ON CONFLICT DO UPDATE`` on the natural keys of
:mod:`cimedic.store.schema`, so re-syncing the same data changes nothing. Datetimes go in as
aware UTC and come out as aware UTC. Reads for analyzers live in
:mod:`cimedic.store.queries`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from cimedic.model import (
    Job,
    Repository,
    RunAttempt,
    Workflow,
    WorkflowRun,
)
from cimedic.store import schema as t
from cimedic.store.artifacts import ArtifactsMixin
from cimedic.store.base import StoreBase, _seconds, from_db, now_utc, to_db
from cimedic.store.pipeline import PipelineMixin, RawEvent
from cimedic.store.results import JobKey, ResultsMixin, StoredLog
from cimedic.store.test_report_stream import TestReportStreamMixin

__all__ = ["JobKey", "RawEvent", "Store", "StoreBase", "StoredLog", "from_db", "now_utc", "to_db"]


class Store(ResultsMixin, ArtifactsMixin, PipelineMixin, TestReportStreamMixin):
    """The history store at ``url`` (SQLAlchemy URL): repositories, runs, attempts, jobs and steps
    here; logs, diagnoses and test reports in :class:`ResultsMixin`; raw payloads, ETags and
    retention in :class:`PipelineMixin`. Migrates the schema on open unless
    ``migrate_schema=False``. Raises :class:`cimedic.store.engine.StoreError` when the database
    cannot be opened or migrated.
    """

    # ------------------------------------------------------------------ repositories and workflows
    def upsert_repository(self, repo: Repository) -> int:
        """Insert or update a repository; returns its store id."""
        row = {
            "provider": repo.provider,
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
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.repositories).order_by(t.repositories.c.full_name)).all()
        out = []
        for r in rows:
            owner, _, name = r.full_name.rpartition("/")
            out.append(
                Repository(
                    provider=r.provider,
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


def _older(row: dict[str, Any], existing: Any) -> bool:
    """Is the incoming run state older than the stored one (lower attempt, or earlier update)?"""
    if row["run_attempt"] < existing[0]:
        return True
    if row["run_attempt"] == existing[0] and row["updated_at"] is not None and existing[1] is not None:
        return bool(row["updated_at"] < existing[1])
    return False
