"""Reads and writes of LLM usage and cached explanations (tables of :mod:`cimedic.store.schema_llm`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from cimedic.model.explanations import Explanation, UsageRecord
from cimedic.store.base import from_db, now_utc, to_db
from cimedic.store.schema_llm import explanations, llm_usage

if TYPE_CHECKING:
    from cimedic.store.base import StoreBase

__all__ = [
    "MAX_JOB_ID",
    "cluster_of_job",
    "failed_jobs_in_order",
    "get_explanation",
    "job_repository",
    "load_usage",
    "record_usage",
    "resolve_jobs",
    "save_explanation",
]

MAX_JOB_ID = 2**63 - 1
"""The largest store job id (the ``BIGINT``/SQLite ``INTEGER`` maximum); store ids start at 1."""
_PROVIDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""A provider run or job id: 1 to 64 characters (the ``provider_id`` columns are ``String(64)``)."""


def record_usage(store: StoreBase, record: UsageRecord) -> None:
    """Append one usage row."""
    row = record.model_dump()
    row["created_at"] = to_db(record.created_at)
    with store.engine.begin() as conn:
        conn.execute(llm_usage.insert().values(**row))


def load_usage(
    store: StoreBase, *, since: datetime | None = None, feature: str | None = None
) -> list[UsageRecord]:
    """Usage rows created at or after ``since`` (all when None), oldest first."""
    u = llm_usage
    q = select(
        u.c.feature,
        u.c.model,
        u.c.prompt_tokens,
        u.c.completion_tokens,
        u.c.seconds,
        u.c.ok,
        u.c.cached,
        u.c.error,
        u.c.created_at,
    )
    if since is not None:
        q = q.where(u.c.created_at >= to_db(since))
    if feature:
        q = q.where(u.c.feature == feature)
    with store.engine.connect() as conn:
        rows = conn.execute(q.order_by(u.c.created_at, u.c.id)).all()
    return [
        UsageRecord(
            feature=r.feature,
            model=r.model,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            seconds=r.seconds,
            ok=bool(r.ok),
            cached=bool(r.cached),
            error=r.error,
            created_at=from_db(r.created_at) or now_utc(),
        )
        for r in rows
    ]


def get_explanation(store: StoreBase, signature: str, engine_version: str, model: str) -> Explanation | None:
    """The cached explanation of (signature, engine version, model), counting the hit; None when absent."""
    e = explanations
    cond = (e.c.signature == signature, e.c.engine_version == engine_version, e.c.model == model)
    with store.engine.begin() as conn:
        result = conn.execute(select(e.c.result).where(*cond)).scalar_one_or_none()
        if result is None:
            return None
        conn.execute(update(e).where(*cond).values(hits=e.c.hits + 1, updated_at=to_db(now_utc())))
    return Explanation.model_validate(result)


def save_explanation(store: StoreBase, explanation: Explanation, engine_version: str, model: str) -> None:
    """Cache ``explanation`` under (its signature, engine version, model), replacing an older one."""
    now = to_db(now_utc())
    row = {
        "signature": explanation.signature,
        "engine_version": engine_version,
        "model": model,
        "result": explanation.model_dump(mode="json"),
        "hits": 0,
        "created_at": now,
        "updated_at": now,
    }
    store.upsert(explanations, [row], ["signature", "engine_version", "model"])


def cluster_of_job(store: StoreBase, job_id: int) -> str | None:
    """The public id of the failure cluster holding ``job_id``; None when it is not clustered."""
    from cimedic.store.schema_clusters import cluster_members, failure_clusters

    q = (
        select(failure_clusters.c.key)
        .join(cluster_members, cluster_members.c.cluster_id == failure_clusters.c.id)
        .where(cluster_members.c.job_id == job_id)
    )
    with store.engine.connect() as conn:
        key = conn.execute(q).scalar_one_or_none()
    return None if key is None else str(key)


def job_cluster_map(store: StoreBase) -> dict[int, str]:
    """Job id (``jobs.id``) → public failure-cluster id, for every clustered failure."""
    from cimedic.store.schema_clusters import cluster_members, failure_clusters

    q = select(cluster_members.c.job_id, failure_clusters.c.key).join(
        failure_clusters, failure_clusters.c.id == cluster_members.c.cluster_id
    )
    with store.engine.connect() as conn:
        return {int(job): str(key) for job, key in conn.execute(q).all()}


def job_repository(store: StoreBase, job_id: int) -> str | None:
    """``owner/name`` of the repository of a stored job; None when the job is unknown (as any
    ``job_id`` outside 1..:data:`MAX_JOB_ID` is)."""
    from cimedic.store import schema as t

    if not 1 <= job_id <= MAX_JOB_ID:
        return None

    q = (
        select(t.repositories.c.full_name)
        .join(t.jobs, t.jobs.c.repo_id == t.repositories.c.id)
        .where(t.jobs.c.id == job_id)
    )
    with store.engine.connect() as conn:
        name = conn.execute(q).scalar_one_or_none()
    return None if name is None else str(name)


def resolve_jobs(store: StoreBase, target: str) -> list[int]:
    """Store job ids of ``target``: ``<store job id>``, ``run:<provider run id>`` (the failed jobs
    of every attempt of that run, oldest first) or ``job:<provider job id>``; a bare number
    that is no store job id is tried as a provider job id. Empty when nothing matches.

    Raises ``ValueError`` naming the accepted forms for a bare number outside
    1..:data:`MAX_JOB_ID` or a provider id that is not 1 to 64 of ``A-Z a-z 0-9 . _ : -``."""
    from cimedic.store import schema as t

    kind, _, rest = target.partition(":") if target.startswith(("run:", "job:")) else ("", "", target)
    if re.fullmatch(r"[0-9]+", target) and not 1 <= int(target) <= MAX_JOB_ID:
        raise ValueError(f"invalid job id {target!r}: a store job id is between 1 and {MAX_JOB_ID}")
    if not _PROVIDER_ID.fullmatch(rest):
        raise ValueError(
            f"invalid target {target!r}: expected a store job id (1..{MAX_JOB_ID}), 'run:<provider run id>' "
            "or 'job:<provider job id>' (provider ids: 1 to 64 of A-Z a-z 0-9 . _ : -)"
        )
    j = t.jobs
    failed = j.c.conclusion.in_(("failure", "timed_out", "startup_failure"))
    with store.engine.connect() as conn:
        if kind == "run":
            q = (
                select(j.c.id)
                .join(t.workflow_runs, t.workflow_runs.c.id == j.c.run_id)
                .where(t.workflow_runs.c.provider_id == rest, failed)
                .order_by(j.c.run_attempt, j.c.id)
            )
            return [int(r[0]) for r in conn.execute(q)]
        if not kind and rest.isdigit():
            hit = conn.execute(select(j.c.id).where(j.c.id == int(rest))).scalar_one_or_none()
            if hit is not None:
                return [int(hit)]
        rows = conn.execute(select(j.c.id).where(j.c.provider_id == rest).order_by(j.c.id)).all()
        return [int(r[0]) for r in rows]


def failed_jobs_in_order(store: StoreBase) -> list[int]:
    """Store ids of every failed job that has a diagnosis, oldest first (job creation time)."""
    from cimedic.store import schema as t

    j = t.jobs
    q = (
        select(j.c.id)
        .join(t.diagnoses, t.diagnoses.c.job_id == j.c.id)
        .where(j.c.conclusion.in_(("failure", "timed_out", "startup_failure")))
        .order_by(j.c.created_at, j.c.id)
    )
    with store.engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(q)]
