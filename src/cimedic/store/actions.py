"""Reads and writes of the remediation audit (``action_audit``) and the re-run candidates.

Times go in as aware UTC and come back as aware UTC (naive UTC in the database).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, update

from cimedic.model.diagnosis import Category, Evidence
from cimedic.model.remediation import Decision, JobDiagnosis, Reason, RerunCandidate, Verdict
from cimedic.store import schema as t
from cimedic.store.base import StoreBase, from_db, to_db
from cimedic.store.schema_actions import action_audit as a

_KEYS = ["repository", "run_provider_id", "run_attempt", "action"]
_FAILED_JOB = ("failure", "timed_out")


def _row(d: Decision) -> dict[str, Any]:
    return {
        "repository": d.repository,
        "run_provider_id": d.run_id,
        "run_attempt": d.run_attempt,
        "action": d.action,
        "verdict": d.verdict.value,
        "reason": d.reason.value,
        "detail": d.detail,
        "policy_version": d.policy_version,
        "dry_run": d.dry_run,
        "workflow_name": d.workflow_name,
        "branch": d.branch,
        "decided_at": to_db(d.decided_at),
        "result": d.result,
        "error": d.error,
    }


def record_decision(store: StoreBase, decision: Decision) -> bool:
    """Insert ``decision``, or replace the row of the same (repository, run, attempt, action)
    unless that row is a ``rerun`` (an executed action is never overwritten, so a restart
    cannot repeat it). Returns True when the row was written. One statement: atomic on both
    backends."""
    row = _row(decision)
    stmt = store._insert(a).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=_KEYS,
        set_={c: stmt.excluded[c] for c in row if c not in _KEYS},
        where=a.c.verdict != Verdict.RERUN.value,
    ).returning(a.c.id)
    with store.engine.begin() as conn:
        return conn.execute(stmt).first() is not None


def set_result(store: StoreBase, decision: Decision, result: str, error: str | None = None) -> None:
    """Record the outcome (``ok``/``error``) of an executed decision."""
    with store.engine.begin() as conn:
        conn.execute(
            update(a)
            .where(
                a.c.repository == decision.repository,
                a.c.run_provider_id == decision.run_id,
                a.c.run_attempt == decision.run_attempt,
                a.c.action == decision.action,
            )
            .values(result=result, error=error)
        )


def list_decisions(
    store: StoreBase, *, since: datetime | None = None, repository: str | None = None
) -> list[Decision]:
    """Audited decisions, newest first, decided at or after ``since`` (aware UTC)."""
    q = select(a).order_by(a.c.decided_at.desc(), a.c.id.desc())
    if since is not None:
        q = q.where(a.c.decided_at >= to_db(since))
    if repository:
        q = q.where(a.c.repository == repository)
    with store.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [
        Decision(
            repository=r["repository"],
            run_id=r["run_provider_id"],
            run_attempt=r["run_attempt"],
            action=r["action"],
            verdict=Verdict(r["verdict"]),
            reason=Reason(r["reason"]),
            detail=r["detail"],
            policy_version=r["policy_version"],
            dry_run=bool(r["dry_run"]),
            decided_at=from_db(r["decided_at"]) or datetime.min.replace(tzinfo=UTC),
            workflow_name=r["workflow_name"],
            branch=r["branch"],
            result=r["result"],
            error=r["error"],
        )
        for r in rows
    ]


def _category(value: str | None) -> Category | None:
    if value is None:
        return None
    try:
        return Category(value)
    except ValueError:
        return Category.UNKNOWN


def failed_runs(store: StoreBase, *, since: datetime, repository: str | None = None) -> list[RerunCandidate]:
    """Runs created at or after ``since`` whose latest attempt completed with ``failure``, with
    the structured diagnosis (category, cause id, transient, signature; never log text) of each
    failed job of that attempt, with its deterministic evidence (kinds and lines; ``()`` for a
    diagnosis stored before migration 0012, whose decision then rests on its transient flag
    until ``cimedic reprocess``). Oldest first."""
    r, j, d, repo = t.workflow_runs, t.jobs, t.diagnoses, t.repositories
    q = (
        select(
            r.c.id,
            repo.c.full_name,
            r.c.provider_id,
            r.c.run_attempt,
            r.c.workflow_name,
            r.c.branch,
            r.c.created_at,
            r.c.updated_at,
        )
        .join(repo, repo.c.id == r.c.repo_id)
        .where(r.c.status == "completed", r.c.conclusion == "failure", r.c.created_at >= to_db(since))
        .order_by(r.c.created_at, r.c.id)
    )
    if repository:
        q = q.where(repo.c.full_name == repository)
    jq = (
        select(
            j.c.run_id,
            j.c.run_attempt,
            j.c.name,
            d.c.category,
            d.c.cause_id,
            d.c.transient,
            d.c.signature,
            d.c.evidence,
        )
        .select_from(j)
        .outerjoin(d, d.c.job_id == j.c.id)
        .join(r, r.c.id == j.c.run_id)
        .where(j.c.conclusion.in_(_FAILED_JOB), j.c.run_attempt == r.c.run_attempt)
        .where(r.c.conclusion == "failure", r.c.created_at >= to_db(since))
        .order_by(j.c.id)
    )
    with store.engine.connect() as conn:
        runs = conn.execute(q).all()
        jobs: dict[int, list[JobDiagnosis]] = {}
        for row in conn.execute(jq):
            jobs.setdefault(row[0], []).append(
                JobDiagnosis(
                    job_name=row[2],
                    category=_category(row[3]),
                    cause_id=row[4],
                    transient=bool(row[5]),
                    signature=row[6],
                    deterministic_evidence=_evidence(row[7]),
                )
            )
    return [
        RerunCandidate(
            repository=row[1],
            run_id=row[2],
            run_attempt=int(row[3] or 1),
            workflow_name=row[4],
            branch=row[5],
            created_at=from_db(row[6]),
            updated_at=from_db(row[7]),
            jobs=tuple(jobs.get(row[0], [])),
        )
        for row in runs
    ]


_EVIDENCE = TypeAdapter(tuple[Evidence, ...])


def _evidence(raw: object) -> tuple[Evidence, ...]:
    """The ``evidence`` column: ``()`` when NULL or not valid (never raises)."""
    try:
        return _EVIDENCE.validate_python(raw or ())
    except ValidationError:
        return ()
