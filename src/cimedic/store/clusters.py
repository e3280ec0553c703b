"""Reads and writes of failure clusters (tables of :mod:`cimedic.store.schema_clusters`).

Reads take an ``Engine`` (``Store.engine``) and return the flat records of
:mod:`cimedic.model.clusters`; writes take the :class:`~cimedic.store.base.StoreBase` and run
in one transaction each. A *failure* is a diagnosis whose category is not ``none`` (the engine
found a failure in the job's log). Times go in and out as aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, delete, exists, func, insert, select, update

from cimedic.model.clusters import (
    ClusterLink,
    ClusterMember,
    ClusterSeed,
    FailureRecord,
    MatchKind,
    Placement,
    StoredCluster,
)
from cimedic.store import schema as t
from cimedic.store.base import StoreBase, from_db, now_utc, to_db
from cimedic.store.schema_clusters import cluster_members as cm
from cimedic.store.schema_clusters import failure_clusters as fc

__all__ = [
    "ClusterRow",
    "MemberRow",
    "active_members",
    "candidate_seeds",
    "cluster_members",
    "failure_record",
    "failure_records",
    "first_seen_job",
    "live_cluster",
    "matching_keys",
    "member_count",
    "remove_member",
    "replace_all",
    "save_member",
    "set_link",
    "signature_cluster",
    "stored_clusters",
]


@dataclass(frozen=True, slots=True)
class ClusterRow:
    """A cluster to write: id, category, title, founding normalised text and raw line, link."""

    cluster_id: str
    category: str
    title: str
    representative: str
    example: str
    link: ClusterLink | None = None


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A membership to write (``signature``: the trusted signature, or None)."""

    job_id: int
    cluster_id: str
    signature: str | None
    first_seen: bool
    match: MatchKind
    distance: int | None


# ------------------------------------------------------------------------------------ failures
def _failure_columns() -> list[Any]:
    j, r, d = t.jobs, t.workflow_runs, t.diagnoses
    return [
        j.c.id,
        r.c.id,
        r.c.provider_id,
        j.c.run_attempt,
        t.repositories.c.full_name,
        func.coalesce(j.c.workflow_name, r.c.workflow_name),
        j.c.name,
        func.coalesce(j.c.head_branch, r.c.branch),
        j.c.created_at,
        d.c.category,
        d.c.signature,
        d.c.summary,
        d.c.transient,
        d.c.step_name,
        func.coalesce(j.c.html_url, r.c.html_url),
    ]


def _failure_query(columns: list[Any]) -> Select[Any]:
    j, r, d = t.jobs, t.workflow_runs, t.diagnoses
    return (
        select(*columns)
        .select_from(d)
        .join(j, j.c.id == d.c.job_id)
        .join(r, r.c.id == j.c.run_id)
        .join(t.repositories, t.repositories.c.id == j.c.repo_id)
        .where(d.c.category != "none")
    )


def _record(row: Sequence[Any]) -> FailureRecord:
    return FailureRecord(
        job_id=int(row[0]),
        run_id=int(row[1]),
        run_provider_id=str(row[2]),
        run_attempt=int(row[3] or 1),
        repository=row[4],
        workflow=row[5],
        job_name=row[6],
        branch=row[7],
        created_at=from_db(row[8]),
        category=row[9],
        signature=row[10],
        summary=row[11] or "",
        transient=bool(row[12]),
        step_name=row[13],
        run_url=row[14],
    )


def failure_record(engine: Engine, job_id: int) -> FailureRecord | None:
    """The diagnosed failure of ``job_id``; None when the job has no diagnosis or the engine
    found no failure in its log."""
    with engine.connect() as conn:
        row = conn.execute(_failure_query(_failure_columns()).where(t.jobs.c.id == job_id)).first()
    return None if row is None else _record(row)


def failure_records(engine: Engine) -> list[FailureRecord]:
    """Every diagnosed failure of the store, oldest job first (``created_at``, then id;
    unknown times last)."""
    j = t.jobs
    q = _failure_query(_failure_columns()).order_by(j.c.created_at.is_(None), j.c.created_at, j.c.id)
    with engine.connect() as conn:
        return [_record(r) for r in conn.execute(q).all()]


# ------------------------------------------------------------------------------------ placement
def _live() -> Any:
    return exists().where(cm.c.cluster_id == fc.c.id)


def signature_cluster(engine: Engine, category: str, signature: str, exclude_job: int) -> str | None:
    """The id of the cluster of ``category`` holding another job with this trusted signature."""
    q = (
        select(fc.c.key)
        .join(cm, cm.c.cluster_id == fc.c.id)
        .where(cm.c.signature == signature, fc.c.category == category, cm.c.job_id != exclude_job)
        .order_by(cm.c.job_id)
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(q).scalar_one_or_none()


def live_cluster(engine: Engine, key: str) -> bool:
    """True when a cluster with this id exists and has at least one member."""
    with engine.connect() as conn:
        return conn.execute(select(fc.c.id).where(fc.c.key == key, _live())).first() is not None


def candidate_seeds(engine: Engine, category: str, min_length: int, max_length: int) -> list[ClusterSeed]:
    """Clusters of ``category`` with members whose founding text has a length (characters)
    in ``[min_length, max_length]``: the only ones a near-duplicate can match."""
    q = (
        select(fc.c.key, fc.c.category, fc.c.representative)
        .where(fc.c.category == category, fc.c.length >= min_length, fc.c.length <= max_length, _live())
        .order_by(fc.c.key)
    )
    with engine.connect() as conn:
        return [ClusterSeed(r[0], r[1], r[2]) for r in conn.execute(q).all()]


def _cluster_values(row: ClusterRow, now: datetime | None) -> dict[str, Any]:
    return {
        "key": row.cluster_id,
        "category": row.category,
        "title": row.title[:255],
        "representative": row.representative,
        "length": len(row.representative),
        "example": row.example[:2000],
        "updated_at": now,
    }


def _upsert_clusters(store: StoreBase, conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert cluster rows or update them on ``key``, keeping ``created_at`` (and the link,
    unless the rows carry link columns)."""
    if not rows:
        return
    stmt = store._insert(fc)  # the store's dialect-aware INSERT (ON CONFLICT)
    cols = [k for k in rows[0] if k not in ("key", "created_at")]
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={k: stmt.excluded[k] for k in cols})
    conn.execute(stmt, list(rows))


def save_member(
    store: StoreBase,
    failure: FailureRecord,
    placement: Placement,
    signature: str | None,
    cluster: ClusterRow | None,
) -> None:
    """Record ``failure`` in the cluster of ``placement`` (replacing an earlier membership of
    the job). With ``cluster`` (a founding placement) the cluster row is created, or reused
    with its link when a cluster with that id exists already. Then the cluster's earliest
    member (by job ``created_at``) carries ``first_seen``: the failure was new in that job, so
    a backfill that ingests the newest job first still marks the oldest as new."""
    now = to_db(now_utc())
    with store.engine.begin() as conn:
        conn.execute(delete(cm).where(cm.c.job_id == failure.job_id))
        if cluster is not None:
            _upsert_clusters(store, conn, [{**_cluster_values(cluster, now), "created_at": now}])
        cid = conn.execute(select(fc.c.id).where(fc.c.key == placement.cluster_id)).scalar_one()
        conn.execute(
            insert(cm).values(
                job_id=failure.job_id,
                cluster_id=cid,
                signature=signature,
                first_seen=False,
                match=placement.match.value,
                distance=placement.distance,
                assigned_at=now,
            )
        )
        if cluster is None:
            conn.execute(update(fc).where(fc.c.id == cid).values(updated_at=now))
        _mark_earliest(conn, cid)


def _mark_earliest(conn: Any, cid: int) -> int:
    """Flag the cluster's earliest member (job ``created_at``, then id; unknown times last) as
    ``first_seen`` and clear the flag on the others; returns its job id."""
    j = t.jobs
    earliest = int(
        conn.execute(
            select(cm.c.job_id)
            .join(j, j.c.id == cm.c.job_id)
            .where(cm.c.cluster_id == cid)
            .order_by(j.c.created_at.is_(None), j.c.created_at, j.c.id)
            .limit(1)
        ).scalar_one()
    )
    conn.execute(
        update(cm)
        .where(cm.c.cluster_id == cid, cm.c.first_seen.is_(True), cm.c.job_id != earliest)
        .values(first_seen=False)
    )
    conn.execute(update(cm).where(cm.c.job_id == earliest).values(first_seen=True))
    return earliest


def remove_member(store: StoreBase, job_id: int) -> None:
    """Take ``job_id`` out of its cluster (e.g. a re-diagnosis found no failure)."""
    with store.engine.begin() as conn:
        conn.execute(delete(cm).where(cm.c.job_id == job_id))


def member_count(engine: Engine, key: str) -> int:
    """Number of members of cluster ``key``."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(cm)
                .join(fc, fc.c.id == cm.c.cluster_id)
                .where(fc.c.key == key)
            ).scalar_one()
        )


def first_seen_job(engine: Engine, key: str) -> int | None:
    """The job id of cluster ``key``'s earliest member (flagged ``first_seen``)."""
    q = (
        select(cm.c.job_id)
        .join(fc, fc.c.id == cm.c.cluster_id)
        .where(fc.c.key == key, cm.c.first_seen.is_(True))
        .order_by(cm.c.job_id)
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(q).scalar_one_or_none()


def replace_all(store: StoreBase, clusters: Sequence[ClusterRow], members: Sequence[MemberRow]) -> None:
    """Replace every cluster and membership in one transaction (``recluster``).

    Cluster rows are upserted on their id, so an unchanged cluster keeps its store row and
    ``created_at``; links are written as given (None clears). Clusters not in ``clusters`` are
    deleted unless they carry a link that no new cluster took over (they stay, empty, so the
    link comes back when the failure recurs).
    """
    now = to_db(now_utc())
    keys = {c.cluster_id for c in clusters}
    carried = {c.link.url for c in clusters if c.link is not None and c.link.url}
    with store.engine.begin() as conn:
        conn.execute(delete(cm))
        old = conn.execute(select(fc.c.id, fc.c.key, fc.c.link_url, fc.c.note)).all()
        stale = [
            r[0]
            for r in old
            if r[1] not in keys and (not (r[2] or r[3]) or (r[2] is not None and r[2] in carried))
        ]
        for i in range(0, len(stale), 500):
            conn.execute(delete(fc).where(fc.c.id.in_(stale[i : i + 500])))
        rows = []
        for c in clusters:
            link = c.link or ClusterLink()
            rows.append(
                {
                    **_cluster_values(c, now),
                    "created_at": now,
                    "link_url": link.url,
                    "note": link.note,
                    "linked_at": to_db(link.linked_at),
                }
            )
        for i in range(0, len(rows), 500):
            _upsert_clusters(store, conn, rows[i : i + 500])
        ids = dict(conn.execute(select(fc.c.key, fc.c.id)).all())
        member_rows = [
            {
                "job_id": m.job_id,
                "cluster_id": ids[m.cluster_id],
                "signature": m.signature,
                "first_seen": m.first_seen,
                "match": m.match.value,
                "distance": m.distance,
                "assigned_at": now,
            }
            for m in members
        ]
        for i in range(0, len(member_rows), 1000):
            conn.execute(insert(cm), member_rows[i : i + 1000])


def set_link(store: StoreBase, key: str, url: str | None, note: str | None) -> bool:
    """Attach (or with None, clear) the link URL and note of cluster ``key``; False when
    there is no such cluster."""
    now = to_db(now_utc())
    with store.engine.begin() as conn:
        done = conn.execute(
            update(fc)
            .where(fc.c.key == key)
            .values(link_url=url, note=note, linked_at=now if (url or note) else None, updated_at=now)
        )
    return bool(done.rowcount)


# ------------------------------------------------------------------------------------ listing
def matching_keys(engine: Engine, prefix: str, limit: int = 10) -> list[str]:
    """Cluster ids starting with ``prefix`` (lowercase hex), at most ``limit``, sorted."""
    q = select(fc.c.key).where(fc.c.key.like(f"{prefix}%")).order_by(fc.c.key).limit(limit)
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(q).all()]


def stored_clusters(engine: Engine, keys: Sequence[str] | None = None) -> list[StoredCluster]:
    """Cluster rows (all, or those with the given ids), by id."""
    q = select(fc).order_by(fc.c.key)
    if keys is not None:
        q = q.where(fc.c.key.in_(list(keys)))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for r in rows:
        link = (
            ClusterLink(url=r.link_url, note=r.note, linked_at=from_db(r.linked_at))
            if (r.link_url or r.note)
            else None
        )
        out.append(
            StoredCluster(
                cluster_id=r.key,
                category=r.category,
                title=r.title,
                representative=r.representative,
                example=r.example,
                created_at=from_db(r.created_at),
                updated_at=from_db(r.updated_at),
                link=link,
            )
        )
    return out


def _member_query() -> Select[Any]:
    cols = [*_failure_columns(), fc.c.key, cm.c.first_seen, cm.c.match, cm.c.distance]
    return _failure_query(cols).join(cm, cm.c.job_id == t.jobs.c.id).join(fc, fc.c.id == cm.c.cluster_id)


def _members(engine: Engine, q: Select[Any]) -> list[ClusterMember]:
    j = t.jobs
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(j.c.created_at.is_(None), j.c.created_at, j.c.id)).all()
    return [
        ClusterMember(
            failure=_record(r),
            cluster_id=r[15],
            first_seen=bool(r[16]),
            match=MatchKind(r[17]),
            distance=r[18],
        )
        for r in rows
    ]


def cluster_members(engine: Engine, key: str) -> list[ClusterMember]:
    """Every member of cluster ``key``, oldest first."""
    return _members(engine, _member_query().where(fc.c.key == key))


def active_members(
    engine: Engine, *, since: datetime | None, until: datetime | None, repository: str | None
) -> list[ClusterMember]:
    """Every member (all repositories, all times) of the clusters that have a member in
    ``[since, until)`` (by the job's ``created_at``; None = unbounded) of ``repository``."""
    j = t.jobs
    conds = []
    if since is not None:
        conds.append(j.c.created_at >= to_db(since))
    if until is not None:
        conds.append(j.c.created_at < to_db(until))
    if repository:
        conds.append(t.repositories.c.full_name == repository)
    active = (
        select(cm.c.cluster_id)
        .select_from(cm)
        .join(j, j.c.id == cm.c.job_id)
        .join(t.repositories, t.repositories.c.id == j.c.repo_id)
        .where(*conds)
        .distinct()
    )
    return _members(engine, _member_query().where(cm.c.cluster_id.in_(active)))
