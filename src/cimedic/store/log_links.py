"""Reads behind links to job log lines (:mod:`cimedic.model.links`): where a stored job lives at
its provider (repository, provider run and job ids) and its steps as the API listed them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from cimedic.model.links import ApiStep
from cimedic.store import schema as t
from cimedic.store.base import from_db
from cimedic.store.llm import MAX_JOB_ID

if TYPE_CHECKING:
    from cimedic.store.base import StoreBase

__all__ = ["JobPlace", "job_place"]


@dataclass(frozen=True, slots=True)
class JobPlace:
    """A stored job at its provider: ``provider`` (``github``, ...), ``repository``
    (``owner/name``), the provider's ``run_id`` and ``job_id``, and its ``steps`` by number."""

    provider: str
    repository: str
    run_id: str
    job_id: str
    steps: tuple[ApiStep, ...]


def job_place(store: StoreBase, job_id: int) -> JobPlace | None:
    """The :class:`JobPlace` of the job with store id ``job_id``; None when the job is unknown
    (as any id outside 1..2^63-1 is)."""
    if not 1 <= job_id <= MAX_JOB_ID:
        return None
    q = (
        select(
            t.repositories.c.provider,
            t.repositories.c.full_name,
            t.workflow_runs.c.provider_id.label("run_id"),
            t.jobs.c.provider_id.label("job_id"),
        )
        .join(t.jobs, t.jobs.c.repo_id == t.repositories.c.id)
        .join(t.workflow_runs, t.workflow_runs.c.id == t.jobs.c.run_id)
        .where(t.jobs.c.id == job_id)
    )
    s = t.steps
    steps_q = (
        select(s.c.number, s.c.name, s.c.started_at, s.c.completed_at, s.c.conclusion)
        .where(s.c.job_id == job_id)
        .order_by(s.c.number)
    )
    with store.engine.connect() as conn:
        row = conn.execute(q).first()
        if row is None:
            return None
        steps = tuple(
            ApiStep(r.number, r.name, from_db(r.started_at), from_db(r.completed_at), r.conclusion)
            for r in conn.execute(steps_q)
        )
    return JobPlace(str(row.provider), str(row.full_name), str(row.run_id), str(row.job_id), steps)
