"""Store reads and writes of flaky-test analysis: outcome histories of tests and jobs, stored
findings, and the quarantine list (tables of :mod:`cimedic.store.schema_flaky`).

Functions take a :class:`~cimedic.store.repository.Store` (or its base) and use
``store.engine`` / ``store.upsert``; times go in and come out as aware UTC.

How histories are built from the history store:

- **Tests**: one :class:`~cimedic.model.flaky.Execution` per stored test case
  (``test_cases`` joined to ``test_reports`` and ``workflow_runs``). Statuses ``passed`` →
  pass, ``failed``/``error`` → fail, ``flaky`` (failed then passed on a retry within the run)
  → flaky; ``skipped`` is left out. The variant is ``<workflow> | <report source>`` (the
  artifact and member path for collected reports, the file name for ``ingest junit``), so the
  legs of a matrix, whose reports have different names, are separate histories. The attempt is
  the report's own (``test_reports.run_attempt``, migration 0012: each attempt of a re-run keeps
  its reports, so attempt 1 failing and attempt 2 passing is same-commit evidence), else the
  one of the report's job, else unknown.
- **Jobs**: one execution per stored job row (``jobs`` has one row per job and attempt),
  subject ``<workflow> / <job name>``. ``success`` → pass; ``failure``, ``timed_out``,
  ``startup_failure`` → fail; cancelled, skipped and unfinished jobs are left out.
- **Commit** of an execution: the run's head SHA. For ``pull_request`` and
  ``pull_request_target`` runs it is the head SHA plus the run id, because such a run tests a
  merge with the base branch that changes between runs (re-run attempts of one run reuse it). A
  run without a head SHA (reports ingested for an unknown run) is its own commit.
- Branch: the run's head branch (red stretches are counted along one branch).
- Order: oldest first by the run's ``created_at`` (then attempt, then row id).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update

from cimedic.model.flaky import (
    Execution,
    FlakyFinding,
    Outcome,
    OutcomeHistory,
    QuarantineEntry,
    SubjectKind,
    Verdict,
)
from cimedic.store import schema as t
from cimedic.store import schema_flaky as f
from cimedic.store.base import StoreBase, from_db, to_db

__all__ = [
    "TestIdentity",
    "add_quarantine",
    "commit_key",
    "job_histories",
    "load_findings",
    "quarantine_entries",
    "remove_quarantine",
    "save_findings",
    "subject_key",
    "test_histories",
    "test_identities",
]

_TEST_OUTCOMES = {
    "passed": Outcome.PASS,
    "failed": Outcome.FAIL,
    "error": Outcome.FAIL,
    "flaky": Outcome.FLAKY,
}
_JOB_OUTCOMES = {
    "success": Outcome.PASS,
    "failure": Outcome.FAIL,
    "timed_out": Outcome.FAIL,
    "startup_failure": Outcome.FAIL,
}
_MERGE_EVENTS = frozenset({"pull_request", "pull_request_target"})


@dataclass(frozen=True, slots=True)
class TestIdentity:
    """How a test appeared in its latest stored report: JUnit ``classname``, ``name``, ``file``
    and the report's ``dialect`` (``pytest``, ``surefire``, ``junit`` ...)."""

    __test__ = False

    test_id: str
    name: str
    classname: str | None = None
    file: str | None = None
    dialect: str | None = None


def commit_key(head_sha: str | None, event: str | None, run_provider_id: str) -> str:
    """The commit an execution ran on (rules in the module doc)."""
    if not head_sha:
        return f"run:{run_provider_id}"
    if event in _MERGE_EVENTS:
        return f"{head_sha}@{run_provider_id}"
    return head_sha


def subject_key(kind: SubjectKind, subject: str, variant: str) -> str:
    """SHA-256 (hex) identifying a subject within a repository."""
    return hashlib.sha256(f"{kind.value}\0{subject}\0{variant}".encode()).hexdigest()


def _test_key(test_id: str) -> str:
    return hashlib.sha256(test_id.encode()).hexdigest()


def _window(q: Any, since: datetime | None, until: datetime | None, repository: str | None) -> Any:
    r = t.workflow_runs
    if repository:
        q = q.where(t.repositories.c.full_name == repository)
    if since is not None:
        q = q.where(r.c.created_at >= to_db(since))
    if until is not None:
        q = q.where(r.c.created_at < to_db(until))
    return q


def _group(rows: Iterable[tuple[str, str, str, Execution]], kind: SubjectKind) -> list[OutcomeHistory]:
    grouped: dict[tuple[str, str, str], list[Execution]] = {}
    for repo, subject, variant, execution in rows:
        grouped.setdefault((repo, subject, variant), []).append(execution)
    return [
        OutcomeHistory(subject=s, executions=tuple(ex), kind=kind, variant=v, repository=repo)
        for (repo, s, v), ex in grouped.items()
    ]


def test_histories(
    store: StoreBase,
    *,
    repository: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[OutcomeHistory]:
    """Outcome histories of the tests of runs created in ``[since, until)`` (UTC; ``None``:
    unbounded) of ``repository`` (``owner/name``; ``None``: all), one per (repository, test id,
    variant), executions oldest first."""
    tc, tr, r, j = t.test_cases, t.test_reports, t.workflow_runs, t.jobs
    q = (
        select(
            t.repositories.c.full_name,
            tc.c.test_id,
            tc.c.status,
            tc.c.retries,
            r.c.provider_id,
            r.c.head_sha,
            r.c.event,
            r.c.workflow_name,
            r.c.created_at,
            tr.c.source,
            func.coalesce(tr.c.run_attempt, j.c.run_attempt),
            r.c.branch,
        )
        .select_from(tc)
        .join(tr, tr.c.id == tc.c.report_id)
        .join(r, r.c.id == tc.c.run_id)
        .join(t.repositories, t.repositories.c.id == r.c.repo_id)
        .outerjoin(j, j.c.id == tr.c.job_id)
        .where(tc.c.status.in_(list(_TEST_OUTCOMES)))
        .order_by(r.c.created_at, r.c.id, func.coalesce(tr.c.run_attempt, j.c.run_attempt), tr.c.id, tc.c.id)
    )
    q = _window(q, since, until, repository)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return _group(
        (
            (
                row[0],
                row[1],
                f"{row[7] or '-'} | {row[9]}",
                Execution(
                    commit=commit_key(row[5], row[6], row[4]),
                    outcome=_TEST_OUTCOMES[row[2]],
                    run=row[4],
                    attempt=int(row[10]) if row[10] is not None else None,
                    at=from_db(row[8]),
                    retries=int(row[3] or 0),
                    branch=row[11],
                ),
            )
            for row in rows
        ),
        SubjectKind.TEST,
    )


def job_histories(
    store: StoreBase,
    *,
    repository: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[OutcomeHistory]:
    """Outcome histories of the jobs (every attempt) of runs created in ``[since, until)`` (UTC)
    of ``repository`` (``None``: all), one per (repository, ``workflow / job name``)."""
    j, r = t.jobs, t.workflow_runs
    q = (
        select(
            t.repositories.c.full_name,
            j.c.workflow_name,
            r.c.workflow_name,
            j.c.name,
            j.c.conclusion,
            j.c.run_attempt,
            r.c.provider_id,
            j.c.head_sha,
            r.c.head_sha,
            r.c.event,
            j.c.completed_at,
            j.c.created_at,
            r.c.created_at,
            j.c.head_branch,
            r.c.branch,
        )
        .select_from(j)
        .join(r, r.c.id == j.c.run_id)
        .join(t.repositories, t.repositories.c.id == j.c.repo_id)
        .where(j.c.status == "completed", j.c.conclusion.in_(list(_JOB_OUTCOMES)))
        .order_by(r.c.created_at, r.c.id, j.c.run_attempt, j.c.id)
    )
    q = _window(q, since, until, repository)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return _group(
        (
            (
                row[0],
                f"{row[1] or row[2] or '-'} / {row[3]}",
                "",
                Execution(
                    commit=commit_key(row[7] or row[8], row[9], row[6]),
                    outcome=_JOB_OUTCOMES[row[4]],
                    run=row[6],
                    attempt=int(row[5] or 1),
                    at=from_db(row[10] or row[11] or row[12]),
                    branch=row[13] or row[14],
                ),
            )
            for row in rows
        ),
        SubjectKind.JOB,
    )


def test_identities(store: StoreBase, repository: str, test_ids: Sequence[str]) -> dict[str, TestIdentity]:
    """``classname``, ``name`` and ``file`` of each test id as its latest stored report gives
    them; test ids never stored are missing from the answer."""
    if not test_ids:
        return {}
    tc, r = t.test_cases, t.workflow_runs
    q = (
        select(tc.c.test_id, tc.c.name, tc.c.classname, tc.c.file, t.test_reports.c.dialect)
        .join(t.test_reports, t.test_reports.c.id == tc.c.report_id)
        .join(r, r.c.id == tc.c.run_id)
        .join(t.repositories, t.repositories.c.id == r.c.repo_id)
        .where(t.repositories.c.full_name == repository, tc.c.test_id.in_(list(test_ids)))
        .order_by(tc.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return {row[0]: TestIdentity(row[0], row[1], row[2], row[3], row[4]) for row in rows}


# ------------------------------------------------------------------------------ findings


def save_findings(
    store: StoreBase, findings: Sequence[FlakyFinding], *, now: datetime, window_start: datetime | None
) -> int:
    """Upsert ``findings`` (one row per repository and subject: the latest analysis wins);
    findings of repositories not in the store are skipped. Returns the rows written."""
    if not findings:
        return 0
    with store.engine.connect() as conn:
        repo_ids = dict(
            conn.execute(
                select(t.repositories.c.full_name, t.repositories.c.id).where(
                    t.repositories.c.full_name.in_(sorted({x.repository for x in findings}))
                )
            ).all()
        )
    rows = [
        {
            "repo_id": repo_ids[x.repository],
            "kind": x.kind.value,
            "subject_key": subject_key(x.kind, x.subject, x.variant),
            "subject": x.subject,
            "variant": x.variant,
            "verdict": x.verdict.value,
            "executions": x.executions,
            "failures": x.failures,
            "flaky_commits": x.flaky_commits,
            "flip_rate": x.flip_rate,
            "ewma_flip_rate": x.ewma_flip_rate,
            "failure_mean": x.failure_probability.mean,
            "failure_low": x.failure_probability.low,
            "failure_high": x.failure_probability.high,
            "last_seen": to_db(x.last_seen),
            "window_start": to_db(window_start),
            "updated_at": to_db(now),
            "finding": x.model_dump(mode="json"),
        }
        for x in findings
        if x.repository in repo_ids
    ]
    for i in range(0, len(rows), 500):
        store.upsert(f.flaky_findings, rows[i : i + 500], ["repo_id", "subject_key"])
    return len(rows)


def load_findings(
    store: StoreBase,
    *,
    repository: str | None = None,
    kind: SubjectKind | None = None,
    verdicts: Sequence[Verdict] = (),
) -> list[FlakyFinding]:
    """Stored findings (as last analysed), filtered by repository, kind and verdicts; ordered by
    repository, kind and subject."""
    ff = f.flaky_findings
    q = (
        select(ff.c.finding)
        .join(t.repositories, t.repositories.c.id == ff.c.repo_id)
        .order_by(t.repositories.c.full_name, ff.c.kind, ff.c.subject, ff.c.variant)
    )
    if repository:
        q = q.where(t.repositories.c.full_name == repository)
    if kind is not None:
        q = q.where(ff.c.kind == kind.value)
    if verdicts:
        q = q.where(ff.c.verdict.in_([v.value for v in verdicts]))
    with store.engine.connect() as conn:
        return [FlakyFinding.model_validate(row[0]) for row in conn.execute(q).all()]


# ------------------------------------------------------------------------------ quarantine


def _entry(row: Any) -> QuarantineEntry:
    return QuarantineEntry(
        id=int(row.id),
        repository=row.repository,
        test_id=row.test_id,
        reason=row.reason,
        owner=row.owner,
        created_at=from_db(row.created_at) or datetime.min,
        expires_at=from_db(row.expires_at),
        removed_at=from_db(row.removed_at),
        removed_by=row.removed_by,
    )


def quarantine_entries(
    store: StoreBase, *, repository: str | None = None, test_id: str | None = None
) -> list[QuarantineEntry]:
    """Every quarantine row (active, expired and removed), oldest first."""
    fq = f.flaky_quarantine
    q = select(fq).order_by(fq.c.created_at, fq.c.id)
    if repository:
        q = q.where(fq.c.repository == repository)
    if test_id is not None:
        q = q.where(fq.c.test_key == _test_key(test_id), fq.c.test_id == test_id)
    with store.engine.connect() as conn:
        return [_entry(row) for row in conn.execute(q).all()]


def _open_condition(repository: str, test_id: str, now: datetime) -> Any:
    fq = f.flaky_quarantine
    return and_(
        fq.c.repository == repository,
        fq.c.test_key == _test_key(test_id),
        fq.c.test_id == test_id,
        fq.c.removed_at.is_(None),
        (fq.c.expires_at.is_(None)) | (fq.c.expires_at > to_db(now)),
    )


def add_quarantine(store: StoreBase, entry: QuarantineEntry) -> QuarantineEntry:
    """Quarantine ``entry.test_id`` in ``entry.repository``. When the test is already actively
    quarantined at ``entry.created_at``, that row's reason, owner and expiry are updated (its
    creation time is kept); otherwise a new row is inserted. Returns the stored entry."""
    fq = f.flaky_quarantine
    values = {
        "reason": entry.reason,
        "owner": entry.owner,
        "expires_at": to_db(entry.expires_at),
    }
    with store.engine.begin() as conn:
        existing = conn.execute(
            select(fq.c.id).where(_open_condition(entry.repository, entry.test_id, entry.created_at))
        ).scalar()
        if existing is not None:
            conn.execute(update(fq).where(fq.c.id == existing).values(**values))
            row_id = int(existing)
        else:
            row_id = int(
                conn.execute(
                    fq.insert()
                    .values(
                        repository=entry.repository,
                        test_key=_test_key(entry.test_id),
                        test_id=entry.test_id,
                        created_at=to_db(entry.created_at),
                        **values,
                    )
                    .returning(fq.c.id)
                ).scalar_one()
            )
        row = conn.execute(select(fq).where(fq.c.id == row_id)).one()
    return _entry(row)


def remove_quarantine(
    store: StoreBase, repository: str, test_id: str, *, at: datetime, by: str | None = None
) -> QuarantineEntry | None:
    """Mark the active quarantine of ``test_id`` removed at ``at`` by ``by``; ``None`` when the
    test is not actively quarantined (the history of entries is kept)."""
    fq = f.flaky_quarantine
    with store.engine.begin() as conn:
        row_id = conn.execute(select(fq.c.id).where(_open_condition(repository, test_id, at))).scalar()
        if row_id is None:
            return None
        conn.execute(update(fq).where(fq.c.id == row_id).values(removed_at=to_db(at), removed_by=by))
        row = conn.execute(select(fq).where(fq.c.id == row_id)).one()
    return _entry(row)
