"""Typed reads over the history store for analyzers (pipeline metrics, flaky tests, anomalies).

Each function takes an ``Engine`` (``Store.engine``) and a :class:`HistoryFilter` and returns
flat records of :mod:`cimedic.model.history`. The filters use the indexes on ``created_at``;
``workflow`` matches a workflow's name or its file path (``ci.yml`` matches
``.github/workflows/ci.yml``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Select, and_, case, func, or_, select

from cimedic.model import Conclusion, Status
from cimedic.model.history import HistoryFilter, JobFact, RunFact, StepAggregate
from cimedic.store import schema as t
from cimedic.store.base import from_db, to_db


def _status(value: str | None) -> Status:
    try:
        return Status(value) if value else Status.UNKNOWN
    except ValueError:
        return Status.UNKNOWN


def _conclusion(value: str | None) -> Conclusion | None:
    if not value:
        return None
    try:
        return Conclusion(value)
    except ValueError:
        return Conclusion.UNKNOWN


def _workflow_cond(name_col: Any, path_col: Any, workflow: str) -> Any:
    return or_(name_col == workflow, path_col == workflow, path_col.like(f"%/{workflow}"))


def _run_filters(q: Select[Any], f: HistoryFilter, created: Any = None) -> Select[Any]:
    """Apply ``f`` to a query joined to ``workflow_runs`` and ``repositories``; the time window
    bounds ``created`` (default the run's ``created_at``; job queries pass the job's)."""
    r = t.workflow_runs
    created = r.c.created_at if created is None else created
    if f.repository:
        q = q.where(t.repositories.c.full_name == f.repository)
    if f.workflow:
        q = q.where(_workflow_cond(r.c.workflow_name, r.c.workflow_path, f.workflow))
    if f.branch:
        q = q.where(r.c.branch == f.branch)
    if f.since is not None:
        q = q.where(created >= to_db(f.since))
    if f.until is not None:
        q = q.where(created < to_db(f.until))
    return q


def run_facts(engine: Engine, f: HistoryFilter) -> list[RunFact]:
    """Workflow runs matching ``f``, oldest first, with the repository's default branch and the
    head commit's time (for lead time)."""
    r = t.workflow_runs
    q = (
        select(
            r.c.id,
            t.repositories.c.full_name,
            r.c.provider_id,
            r.c.workflow_name,
            r.c.workflow_path,
            r.c.event,
            r.c.branch,
            t.repositories.c.default_branch,
            r.c.head_sha,
            r.c.status,
            r.c.conclusion,
            r.c.run_attempt,
            r.c.created_at,
            r.c.run_started_at,
            r.c.updated_at,
            r.c.duration_s,
            t.commits.c.timestamp,
        )
        .join(t.repositories, t.repositories.c.id == r.c.repo_id)
        .outerjoin(t.commits, and_(t.commits.c.repo_id == r.c.repo_id, t.commits.c.sha == r.c.head_sha))
        .order_by(r.c.created_at, r.c.id)
    )
    q = _run_filters(q, f)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        RunFact(
            run_id=row[0],
            repository=row[1],
            provider_id=row[2],
            workflow_name=row[3],
            workflow_path=row[4],
            event=row[5],
            branch=row[6],
            default_branch=row[7],
            head_sha=row[8],
            status=_status(row[9]),
            conclusion=_conclusion(row[10]),
            run_attempt=int(row[11] or 1),
            created_at=from_db(row[12]),
            run_started_at=from_db(row[13]),
            updated_at=from_db(row[14]),
            duration=row[15],
            commit_timestamp=from_db(row[16]),
        )
        for row in rows
    ]


def _job_query(columns: list[Any], f: HistoryFilter) -> Select[Any]:
    j, r = t.jobs, t.workflow_runs
    q = (
        select(*columns)
        .select_from(j)
        .join(r, r.c.id == j.c.run_id)
        .join(t.repositories, t.repositories.c.id == j.c.repo_id)
    )
    return _run_filters(q, f, j.c.created_at)


def job_facts(engine: Engine, f: HistoryFilter) -> list[JobFact]:
    """Jobs (of every attempt) matching ``f`` by the job's ``created_at``, with the category and
    signature of their diagnosis when there is one."""
    j, d = t.jobs, t.diagnoses
    q = _job_query(
        [
            j.c.id,
            j.c.run_id,
            t.repositories.c.full_name,
            func.coalesce(j.c.workflow_name, t.workflow_runs.c.workflow_name),
            j.c.name,
            j.c.run_attempt,
            j.c.status,
            j.c.conclusion,
            j.c.created_at,
            j.c.started_at,
            j.c.completed_at,
            j.c.queue_s,
            j.c.duration_s,
            d.c.category,
            d.c.signature,
        ],
        f,
    ).outerjoin(d, d.c.job_id == j.c.id)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        JobFact(
            job_id=row[0],
            run_id=row[1],
            repository=row[2],
            workflow_name=row[3],
            name=row[4],
            run_attempt=int(row[5] or 1),
            status=_status(row[6]),
            conclusion=_conclusion(row[7]),
            created_at=from_db(row[8]),
            started_at=from_db(row[9]),
            completed_at=from_db(row[10]),
            queue=row[11],
            duration=row[12],
            category=row[13],
            signature=row[14],
        )
        for row in rows
    ]


def step_aggregates(engine: Engine, f: HistoryFilter) -> list[StepAggregate]:
    """Per (workflow, job name, step name): count, failures, mean/max/total duration (seconds).
    Aggregated in SQL so a window of many jobs is one grouped scan."""
    s, j = t.steps, t.jobs
    failed = func.sum(case((s.c.conclusion.in_(["failure", "timed_out"]), 1), else_=0))
    q = (
        _job_query(
            [
                func.coalesce(j.c.workflow_name, t.workflow_runs.c.workflow_name),
                j.c.name,
                s.c.name,
                func.count(),
                failed,
                func.avg(s.c.duration_s),
                func.max(s.c.duration_s),
                func.coalesce(func.sum(s.c.duration_s), 0.0),
            ],
            f,
        )
        .join(s, s.c.job_id == j.c.id)
        .group_by(func.coalesce(j.c.workflow_name, t.workflow_runs.c.workflow_name), j.c.name, s.c.name)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        StepAggregate(
            workflow_name=row[0],
            job_name=row[1],
            step_name=row[2],
            count=int(row[3]),
            failures=int(row[4] or 0),
            mean_duration=float(row[5]) if row[5] is not None else None,
            max_duration=float(row[6]) if row[6] is not None else None,
            total_duration=float(row[7] or 0.0),
        )
        for row in rows
    ]
