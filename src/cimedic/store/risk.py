"""Reads and writes of failure risk (``cimedic risk``): the run history the feature extractor
reads, trained models, and run scores (tables of :mod:`cimedic.store.schema_risk`).

Functions take a :class:`cimedic.store.base.StoreBase` (``Store``) and exchange typed records of
:mod:`cimedic.model.risk`; the pickled model travels as opaque ``bytes`` (the services layer
turns it into a model; the store never unpickles anything).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select

from cimedic.model import Conclusion
from cimedic.model.risk import FeatureContribution, RiskModelInfo, RiskRun, RiskScore
from cimedic.store import schema as t
from cimedic.store.base import from_db, to_db
from cimedic.store.schema_risk import risk_models, risk_scores

if TYPE_CHECKING:
    from cimedic.store.base import StoreBase

__all__ = [
    "HistoryRun",
    "StoredRiskModel",
    "latest_model",
    "model_infos",
    "risk_history",
    "save_model",
    "scores_for_runs",
    "top_scores",
    "upsert_scores",
]

_FAILED = {c.value for c in Conclusion if c.is_failure}
_PASSED = {Conclusion.SUCCESS.value}
_FAILED_TESTS = ("failed", "error")


@dataclass(frozen=True, slots=True)
class HistoryRun:
    """A stored run as the risk feature extractor reads it (``run.key`` is ``str(run_id)``,
    the store's id), with its status and conclusion and the provider's run id for display."""

    run_id: int
    status: str
    conclusion: str | None
    run: RiskRun
    provider_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredRiskModel:
    """A stored model: its description and the pickled bytes (checked against their SHA-256)."""

    info: RiskModelInfo
    blob: bytes


def _outcome(status: str, conclusion: str | None) -> bool | None:
    if status != "completed" or conclusion is None:
        return None
    if conclusion in _FAILED:
        return True
    if conclusion in _PASSED:
        return False
    return None  # cancelled, skipped, neutral, ...: no usable outcome


def risk_history(
    store: StoreBase,
    *,
    repository: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[HistoryRun]:
    """Runs created in ``[since, until)`` (UTC; ``None`` = unbounded), oldest first, of one
    repository (``owner/name``) or all, as :class:`HistoryRun`.

    Mapping: ``workflow`` = workflow name (else path); ``pull_request`` = the lowest PR number
    the run belongs to, ``base_branch`` its base ref (else the run's branch); ``completed_at``
    = ``updated_at`` of a completed run; ``failed`` = conclusion failure / timed_out /
    startup_failure (``True``), success (``False``), else ``None``; ``failed_tests`` = test
    cases ``failed`` or ``error`` when the run has a test report; ``churn`` and
    ``open_flaky_tests`` are ``None`` (the store has no churn; flaky counts come from the
    flaky-test detector when wired in).
    """
    r, pr, tc = t.workflow_runs, t.pull_requests, t.test_cases
    first_pr = (
        select(pr.c.run_id, func.min(pr.c.number).label("number")).group_by(pr.c.run_id).subquery("first_pr")
    )
    tests = (
        select(
            tc.c.run_id,
            func.sum(case((tc.c.status.in_(_FAILED_TESTS), 1), else_=0)).label("failed"),
        )
        .group_by(tc.c.run_id)
        .subquery("tests")
    )
    q = (
        select(
            r.c.id,
            t.repositories.c.full_name,
            func.coalesce(r.c.workflow_name, r.c.workflow_path),
            r.c.event,
            r.c.branch,
            r.c.head_sha,
            r.c.status,
            r.c.conclusion,
            r.c.created_at,
            r.c.updated_at,
            r.c.duration_s,
            first_pr.c.number,
            pr.c.base_ref,
            tests.c.failed,
            r.c.provider_id,
        )
        .join(t.repositories, t.repositories.c.id == r.c.repo_id)
        .outerjoin(first_pr, first_pr.c.run_id == r.c.id)
        .outerjoin(pr, and_(pr.c.run_id == r.c.id, pr.c.number == first_pr.c.number))
        .outerjoin(tests, tests.c.run_id == r.c.id)
        .where(r.c.created_at.is_not(None))
        .order_by(r.c.created_at, r.c.id)
    )
    if repository:
        q = q.where(t.repositories.c.full_name == repository)
    if since is not None:
        q = q.where(r.c.created_at >= to_db(since))
    if until is not None:
        q = q.where(r.c.created_at < to_db(until))
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for row in rows:
        created = from_db(row[8])
        assert created is not None  # filtered in SQL
        status = str(row[6])
        completed = from_db(row[9]) if status == "completed" else None
        out.append(
            HistoryRun(
                run_id=int(row[0]),
                status=status,
                conclusion=row[7],
                run=RiskRun(
                    key=str(row[0]),
                    repository=row[1],
                    created_at=created,
                    workflow=row[2],
                    branch=row[4],
                    pull_request=str(row[11]) if row[11] is not None else None,
                    base_branch=row[12] if row[12] is not None else row[4],
                    head_sha=row[5],
                    event=row[3],
                    completed_at=max(completed, created) if completed is not None else None,
                    failed=_outcome(status, row[7]),
                    duration=float(row[10]) if row[10] is not None else None,
                    failed_tests=int(row[13]) if row[13] is not None else None,
                ),
                provider_id=str(row[14]) if row[14] is not None else None,
            )
        )
    return out


# ------------------------------------------------------------------------------ models

_SCALARS = {"version", "repository", "trained_at", "window_start", "window_end", "n_samples", "n_failures",
            "estimator", "features", "library"}  # fmt: skip


def save_model(store: StoreBase, info: RiskModelInfo, blob: bytes) -> None:
    """Insert (or replace, same ``version``) a trained model and its pickled bytes."""
    metrics = info.model_dump(mode="json", exclude=_SCALARS)
    row = {
        "version": info.version,
        "repository": info.repository,
        "trained_at": to_db(info.trained_at),
        "window_start": to_db(info.window_start),
        "window_end": to_db(info.window_end),
        "n_samples": info.n_samples,
        "n_failures": info.n_failures,
        "estimator": info.estimator,
        "metrics": metrics,
        "features": list(info.features),
        "library": info.library,
        "model": blob,
        "model_sha256": hashlib.sha256(blob).hexdigest(),
    }
    store.upsert(risk_models, [row], ["version"])


def _info(row: Any) -> RiskModelInfo:
    m = row._mapping
    return RiskModelInfo.model_validate(
        {
            **(m["metrics"] or {}),
            "version": m["version"],
            "repository": m["repository"],
            "trained_at": from_db(m["trained_at"]),
            "window_start": from_db(m["window_start"]),
            "window_end": from_db(m["window_end"]),
            "n_samples": m["n_samples"],
            "n_failures": m["n_failures"],
            "estimator": m["estimator"],
            "features": tuple(m["features"] or ()),
            "library": m["library"],
        }
    )


def latest_model(
    store: StoreBase, *, repository: str | None = None, version: str | None = None
) -> StoredRiskModel | None:
    """The model ``version``, else the newest model trained on ``repository`` (``None``: on
    every repository); ``None`` when there is none. Raises ``ValueError`` when the stored
    bytes do not match their SHA-256 (a damaged row)."""
    q = select(risk_models)
    if version is not None:
        q = q.where(risk_models.c.version == version)
    elif repository is None:
        q = q.where(risk_models.c.repository.is_(None))
    else:
        q = q.where(risk_models.c.repository == repository)
    q = q.order_by(risk_models.c.trained_at.desc(), risk_models.c.id.desc()).limit(1)
    with store.engine.connect() as conn:
        row = conn.execute(q).first()
    if row is None:
        return None
    blob = bytes(row._mapping["model"])
    if hashlib.sha256(blob).hexdigest() != row._mapping["model_sha256"]:
        raise ValueError(f"risk model {row._mapping['version']} is damaged (SHA-256 mismatch); retrain it")
    return StoredRiskModel(info=_info(row), blob=blob)


def model_infos(store: StoreBase, *, repository: str | None = None) -> list[RiskModelInfo]:
    """Every stored model (of ``repository``, or all), newest first, without their bytes."""
    cols = [c for c in risk_models.c if c.name not in ("model", "model_sha256")]
    q = select(*cols).order_by(risk_models.c.trained_at.desc(), risk_models.c.id.desc())
    if repository is not None:
        q = q.where(risk_models.c.repository == repository)
    with store.engine.connect() as conn:
        return [_info(row) for row in conn.execute(q)]


# ------------------------------------------------------------------------------ scores


def upsert_scores(store: StoreBase, scores: Iterable[RiskScore]) -> int:
    """Store scores (one per run and model version; a rescore replaces the row); scores
    without a ``run_id`` are skipped. Returns the number of rows written."""
    rows = [
        {
            "run_id": s.run_id,
            "model_version": s.model_version,
            "probability": s.probability,
            "top_features": [f.model_dump(mode="json") for f in s.top_features],
            "scored_at": to_db(s.scored_at),
        }
        for s in scores
        if s.run_id is not None and s.scored_at is not None
    ]
    store.upsert(risk_scores, rows, ["run_id", "model_version"])
    return len(rows)


def _score_query() -> Any:
    r, s = t.workflow_runs, risk_scores
    return (
        select(
            s.c.run_id,
            t.repositories.c.full_name,
            func.coalesce(r.c.workflow_name, r.c.workflow_path),
            r.c.branch,
            r.c.head_sha,
            r.c.created_at,
            r.c.status,
            r.c.conclusion,
            s.c.probability,
            s.c.top_features,
            s.c.model_version,
            s.c.scored_at,
            r.c.provider_id,
        )
        .join(r, r.c.id == s.c.run_id)
        .join(t.repositories, t.repositories.c.id == r.c.repo_id)
    )


def _score(row: Any) -> RiskScore:
    created = from_db(row[5])
    assert created is not None  # a scored run has a creation time
    return RiskScore(
        run_id=int(row[0]),
        key=str(row[0]),
        run_provider_id=str(row[12]) if row[12] is not None else None,
        repository=row[1],
        workflow=row[2],
        branch=row[3],
        head_sha=row[4],
        created_at=created,
        status=row[6],
        failed=_outcome(str(row[6]), row[7]),
        probability=float(row[8]),
        top_features=tuple(FeatureContribution.model_validate(f) for f in row[9] or ()),
        model_version=row[10],
        scored_at=from_db(row[11]),
    )


def scores_for_runs(
    store: StoreBase, run_ids: Sequence[int], *, model_version: str | None = None
) -> list[RiskScore]:
    """Stored scores of the runs (of one model version, or every version), by run id."""
    if not run_ids:
        return []
    q = _score_query().where(risk_scores.c.run_id.in_(list(run_ids)))
    if model_version is not None:
        q = q.where(risk_scores.c.model_version == model_version)
    q = q.order_by(risk_scores.c.run_id, risk_scores.c.model_version)
    with store.engine.connect() as conn:
        return [_score(row) for row in conn.execute(q)]


def top_scores(
    store: StoreBase,
    model_version: str,
    *,
    repository: str | None = None,
    since: datetime | None = None,
    limit: int = 10,
) -> tuple[int, list[RiskScore]]:
    """The number of runs (of ``repository``, or all) created since ``since`` that
    ``model_version`` scored, and the ``limit`` highest scores among them."""
    cond = [risk_scores.c.model_version == model_version]
    if repository is not None:
        cond.append(t.repositories.c.full_name == repository)
    if since is not None:
        cond.append(t.workflow_runs.c.created_at >= to_db(since))
    q = (
        _score_query()
        .where(*cond)
        .order_by(risk_scores.c.probability.desc(), risk_scores.c.run_id)
        .limit(limit)
    )
    count = (
        select(func.count())
        .select_from(
            risk_scores.join(t.workflow_runs, t.workflow_runs.c.id == risk_scores.c.run_id).join(
                t.repositories, t.repositories.c.id == t.workflow_runs.c.repo_id
            )
        )
        .where(*cond)
    )
    with store.engine.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        return total, [_score(row) for row in conn.execute(q)]
