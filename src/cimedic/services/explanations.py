"""What explanations of failed jobs read and keep in the store: the job look-ups of ``cimedic
explain`` (:func:`resolve_jobs`), ``GET /api/v1/jobs/{job_id}/explanation``
(:func:`job_repository`) and :func:`cimedic.agent.explain.job_context` (:func:`cluster_of_job`),
and the explanation cache (``explanations``: accepted explanations by diagnosis signature,
cimedic engine version and model).

Used by the agent (which reaches the store only through services) and by the interfaces;
delegates to :mod:`cimedic.store.llm`.
"""

from __future__ import annotations

from cimedic.model.explanations import Explanation
from cimedic.store import llm as db
from cimedic.store.repository import Store

__all__ = ["cache_explanation", "cached_explanation", "cluster_of_job", "job_repository", "resolve_jobs"]


def resolve_jobs(store: Store, target: str) -> list[int]:
    """Store job ids of ``target``: ``<store job id>``, ``run:<provider run id>`` (the failed jobs
    of every attempt of that run, oldest first) or ``job:<provider job id>``; a bare number that
    is no store job id is tried as a provider job id. Empty when nothing matches.

    Raises ``ValueError`` for a bare number outside 1..2^63-1 or a provider id that is not 1 to
    64 of ``A-Z a-z 0-9 . _ : -`` (the store's ``provider_id`` columns hold 64 characters)."""
    return db.resolve_jobs(store, target)


def job_repository(store: Store, job_id: int) -> str | None:
    """``owner/name`` of the repository of the stored job ``job_id`` (store id); None when the
    job is unknown (as any id outside 1..2^63-1 is)."""
    return db.job_repository(store, job_id)


def cluster_of_job(store: Store, job_id: int) -> str | None:
    """The public id of the failure cluster holding job ``job_id``; None when it is not clustered."""
    return db.cluster_of_job(store, job_id)


def cached_explanation(store: Store, signature: str, engine_version: str, model: str) -> Explanation | None:
    """The cached explanation of (diagnosis ``signature``, ``engine_version``, ``model``), counting
    the hit in the cache row; None when there is none."""
    return db.get_explanation(store, signature, engine_version, model)


def cache_explanation(store: Store, explanation: Explanation, engine_version: str, model: str) -> None:
    """Cache ``explanation`` under (its signature, ``engine_version``, ``model``), replacing an
    earlier one."""
    db.save_explanation(store, explanation, engine_version, model)
