"""Reads for anomaly and culprit analysis, and persistence of their findings.

Reads: :func:`timeline` hands out the history as flat
:class:`~cimedic.model.anomalies.TimelineEntry` records (runs, jobs of every attempt with their
diagnosis, successful steps), :func:`commit_refs` the stored commits by SHA.
Writes: :func:`replace_anomalies` / :func:`replace_culprits` store findings keyed by the SHA-256
of their natural key (re-analysis replaces them), :func:`load_anomalies` /
:func:`load_culprits` read them back as models. Functions take a
:class:`~cimedic.store.repository.Store` and raise SQLAlchemy errors of the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, delete, func, select

from cimedic.model.anomalies import Anomaly, AnomalyKind, TimelineEntry
from cimedic.model.ci import CommitRef, Conclusion
from cimedic.model.culprits import CulpritReport
from cimedic.model.history import HistoryFilter
from cimedic.store import schema as t
from cimedic.store.base import from_db, now_utc, to_db
from cimedic.store.schema_anomalies import anomaly_findings, culprit_reports

if TYPE_CHECKING:
    from cimedic.store.repository import Store

__all__ = [
    "commit_refs",
    "load_anomalies",
    "load_culprits",
    "replace_anomalies",
    "replace_culprits",
    "timeline",
]

_CHUNK = 500


def _conclusion(value: str | None) -> Conclusion | None:
    if not value:
        return None
    try:
        return Conclusion(value)
    except ValueError:
        return Conclusion.UNKNOWN


def _first_pr() -> Any:
    """Per run: its first pull request (lowest number) with the base branch."""
    pr = t.pull_requests
    first = select(pr.c.run_id, func.min(pr.c.number).label("number")).group_by(pr.c.run_id).subquery()
    return (
        select(pr.c.run_id, pr.c.number, pr.c.base_ref)
        .join(first, and_(first.c.run_id == pr.c.run_id, first.c.number == pr.c.number))
        .subquery()
    )


def _filtered(q: Select[Any], f: HistoryFilter) -> Select[Any]:
    r = t.workflow_runs
    if f.repository:
        q = q.where(t.repositories.c.full_name == f.repository)
    if f.workflow:
        q = q.where((r.c.workflow_name == f.workflow) | (r.c.workflow_path == f.workflow))
    if f.branch:
        q = q.where(r.c.branch == f.branch)
    if f.since is not None:
        q = q.where(r.c.created_at >= to_db(f.since))
    if f.until is not None:
        q = q.where(r.c.created_at < to_db(f.until))
    return q


def _entry(row: Any, **extra: Any) -> TimelineEntry:
    m = row._mapping
    return TimelineEntry(
        repository=m["repository"],
        run_id=m["run_id"],
        created_at=from_db(m["created_at"]) or _epoch(),
        head_sha=m["head_sha"],
        workflow=m["workflow"],
        branch=m["branch"],
        event=m["event"],
        conclusion=_conclusion(m["conclusion"]),
        run_attempt=int(m["run_attempt"] or 1),
        duration=m["duration"],
        pr_number=m["pr_number"],
        pr_base=m["pr_base"],
        run_provider_id=m["run_provider_id"],
        **extra,
    )


def timeline(store: Store, f: HistoryFilter, *, jobs: bool = True, steps: bool = True) -> list[TimelineEntry]:
    """The runs matching ``f`` (by the run's ``created_at``) as run-level entries, then (with
    ``jobs``) their jobs of every attempt with diagnosis fields, then (with ``steps``) the
    successful steps that have a duration. Each job and step entry carries its run's branch,
    event and first pull request; ``created_at`` is the job's (the run's when unknown)."""
    r, j, s, d = t.workflow_runs, t.jobs, t.steps, t.diagnoses
    pr = _first_pr()
    common = [
        t.repositories.c.full_name.label("repository"),
        r.c.id.label("run_id"),
        r.c.provider_id.label("run_provider_id"),
        r.c.branch.label("branch"),
        r.c.event.label("event"),
        pr.c.number.label("pr_number"),
        pr.c.base_ref.label("pr_base"),
    ]
    base = (
        select(*common)
        .select_from(r)
        .join(t.repositories, t.repositories.c.id == r.c.repo_id)
        .outerjoin(pr, pr.c.run_id == r.c.id)
    )
    job_cols = [
        j.c.id.label("job_id"),
        j.c.name.label("job"),
        func.coalesce(j.c.created_at, r.c.created_at).label("created_at"),
        func.coalesce(j.c.head_sha, r.c.head_sha).label("head_sha"),
        func.coalesce(j.c.workflow_name, r.c.workflow_name).label("workflow"),
        j.c.run_attempt.label("run_attempt"),
    ]
    runs_q = base.add_columns(
        r.c.created_at.label("created_at"),
        r.c.head_sha.label("head_sha"),
        r.c.workflow_name.label("workflow"),
        r.c.conclusion.label("conclusion"),
        r.c.run_attempt.label("run_attempt"),
        r.c.duration_s.label("duration"),
    )
    out: list[TimelineEntry] = []
    with store.engine.connect() as conn:
        for row in conn.execute(_filtered(runs_q, f).order_by(r.c.created_at, r.c.id)):
            out.append(_entry(row))
        if jobs:
            jobs_q = (
                base.add_columns(
                    *job_cols,
                    j.c.conclusion.label("conclusion"),
                    j.c.duration_s.label("duration"),
                    j.c.queue_s,
                    j.c.labels,
                    d.c.signature,
                    d.c.category,
                    d.c.cause_id,
                    d.c.summary,
                    d.c.transient,
                )
                .join(j, j.c.run_id == r.c.id)
                .outerjoin(d, d.c.job_id == j.c.id)
            )
            for row in conn.execute(_filtered(jobs_q, f).order_by(j.c.created_at, j.c.id)):
                out.append(
                    _entry(
                        row,
                        job_id=row.job_id,
                        job=row.job,
                        queue=row.queue_s,
                        labels=tuple(str(x) for x in (row.labels or ())),
                        signature=row.signature,
                        category=row.category,
                        cause_id=row.cause_id,
                        summary=row.summary,
                        transient=bool(row.transient),
                    )
                )
        if steps:
            steps_q = (
                base.add_columns(
                    *job_cols,
                    s.c.conclusion.label("conclusion"),
                    s.c.duration_s.label("duration"),
                    s.c.name.label("step"),
                )
                .join(j, j.c.run_id == r.c.id)
                .join(s, s.c.job_id == j.c.id)
                .where(s.c.conclusion == Conclusion.SUCCESS.value, s.c.duration_s.is_not(None))
            )
            for row in conn.execute(_filtered(steps_q, f).order_by(j.c.created_at, j.c.id, s.c.number)):
                out.append(_entry(row, job_id=row.job_id, job=row.job, step=row.step))
    return out


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, now_utc().tzinfo)


def commit_refs(store: Store, repository: str, shas: Iterable[str]) -> dict[str, CommitRef]:
    """The stored commits of ``repository`` among ``shas``: ``{sha: CommitRef}``."""
    wanted = sorted(set(shas))
    out: dict[str, CommitRef] = {}
    c = t.commits
    with store.engine.connect() as conn:
        for i in range(0, len(wanted), _CHUNK):
            q = (
                select(c.c.sha, c.c.message, c.c.author, c.c.timestamp)
                .join(t.repositories, t.repositories.c.id == c.c.repo_id)
                .where(t.repositories.c.full_name == repository, c.c.sha.in_(wanted[i : i + _CHUNK]))
            )
            for row in conn.execute(q):
                out[row[0]] = CommitRef(sha=row[0], message=row[1], author=row[2], timestamp=from_db(row[3]))
    return out


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _repo_id(store: Store, repository: str) -> int:
    rid = store.repository_id(repository)
    if rid is None:
        raise KeyError(f"unknown repository {repository!r}")
    return rid


def replace_anomalies(
    store: Store,
    repository: str,
    findings: Sequence[Anomaly],
    *,
    kinds: Iterable[AnomalyKind] = tuple(AnomalyKind),
    since: datetime | None = None,
    detected_at: datetime | None = None,
) -> int:
    """Replace the stored anomalies of ``repository`` of ``kinds`` with onset at or after
    ``since`` (all when ``None``) by ``findings`` (those of that repository); one transaction.
    Returns the number of rows written. Raises ``KeyError`` for an unknown repository."""
    rid = _repo_id(store, repository)
    when = to_db(detected_at or now_utc())
    a = anomaly_findings
    cond = [a.c.repo_id == rid, a.c.kind.in_([k.value for k in kinds])]
    if since is not None:
        cond.append(a.c.onset_at >= to_db(since))
    rows = [
        {
            "repo_id": rid,
            "finding_key": _hash(f.key),
            "kind": f.kind.value,
            "scope_level": f.scope.level.value,
            "workflow": f.scope.workflow,
            "job": f.scope.job,
            "step": f.scope.step,
            "branch": f.scope.branch,
            "onset_at": to_db(f.onset_at),
            "onset_run_id": f.onset_run_id,
            "relative_change": f.relative_change,
            "ongoing": f.ongoing,
            "detected_at": when,
            "result": f.model_dump(mode="json"),
        }
        for f in findings
        if f.scope.repository == repository
    ]
    with store.engine.begin() as conn:
        conn.execute(delete(a).where(*cond))
        store._upsert(conn, a, rows, ["repo_id", "finding_key"])
    return len(rows)


def load_anomalies(
    store: Store,
    *,
    repository: str | None = None,
    kinds: Iterable[AnomalyKind] | None = None,
    since: datetime | None = None,
) -> list[Anomaly]:
    """Stored anomalies (newest onset first), optionally of one repository, some kinds, and
    with onset at or after ``since``."""
    a = anomaly_findings
    q = select(a.c.result).join(t.repositories, t.repositories.c.id == a.c.repo_id)
    if repository:
        q = q.where(t.repositories.c.full_name == repository)
    if kinds is not None:
        q = q.where(a.c.kind.in_([k.value for k in kinds]))
    if since is not None:
        q = q.where(a.c.onset_at >= to_db(since))
    with store.engine.connect() as conn:
        rows = conn.execute(q.order_by(a.c.onset_at.desc(), a.c.id)).all()
    return [Anomaly.model_validate(row[0]) for row in rows]


def replace_culprits(
    store: Store,
    repository: str,
    reports: Sequence[CulpritReport],
    *,
    branch: str | None = None,
    signature: str | None = None,
    since: datetime | None = None,
    detected_at: datetime | None = None,
) -> int:
    """Replace the stored culprit reports of ``repository`` (of ``branch`` and ``signature``
    when given, first red at or after ``since``) by ``reports`` (those of that repository); one
    transaction. Returns the number of rows written. Raises ``KeyError`` for an unknown
    repository."""
    rid = _repo_id(store, repository)
    when = to_db(detected_at or now_utc())
    c = culprit_reports
    cond = [c.c.repo_id == rid]
    if branch is not None:
        cond.append(c.c.branch == branch)
    if signature is not None:
        cond.append(c.c.signature.like(f"{signature}%"))
    if since is not None:
        cond.append(c.c.first_red_at >= to_db(since))
    rows = [
        {
            "repo_id": rid,
            "report_key": _hash(r.report_key),
            "branch": r.branch,
            "failure_key": r.key.value[:1100],
            "workflow": r.key.workflow,
            "job": r.key.job,
            "signature": r.key.signature,
            "cluster_id": r.key.cluster_id,
            "first_red_run_id": r.first_red.run_id,
            "first_red_at": to_db(r.first_red.created_at),
            "last_green_run_id": r.last_green.run_id if r.last_green else None,
            "top_suspect_sha": r.suspects[0].sha if r.suspects else None,
            "pr_not_cause": r.pr_not_cause,
            "ongoing": r.ongoing,
            "detected_at": when,
            "result": r.model_dump(mode="json"),
        }
        for r in reports
        if r.repository == repository
    ]
    with store.engine.begin() as conn:
        conn.execute(delete(c).where(*cond))
        store._upsert(conn, c, rows, ["repo_id", "report_key"])
    return len(rows)


def load_culprits(
    store: Store,
    *,
    repository: str | None = None,
    branch: str | None = None,
    since: datetime | None = None,
) -> list[CulpritReport]:
    """Stored culprit reports (newest first red first), optionally filtered."""
    c = culprit_reports
    q = select(c.c.result).join(t.repositories, t.repositories.c.id == c.c.repo_id)
    if repository:
        q = q.where(t.repositories.c.full_name == repository)
    if branch:
        q = q.where(c.c.branch == branch)
    if since is not None:
        q = q.where(c.c.first_red_at >= to_db(since))
    with store.engine.connect() as conn:
        rows = conn.execute(q.order_by(c.c.first_red_at.desc(), c.c.id)).all()
    return [CulpritReport.model_validate(row[0]) for row in rows]
