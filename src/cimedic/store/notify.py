"""Reads and writes of the notification tables (:mod:`cimedic.store.schema_notify`).

Functions take a :class:`~cimedic.store.base.StoreBase`; times go in and out as aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from cimedic.model.notify import HealthState, Notification, NotificationEvent, RepoHealth
from cimedic.store import schema as t
from cimedic.store.base import StoreBase, from_db, to_db
from cimedic.store.schema_clusters import failure_clusters
from cimedic.store.schema_notify import notification_log, notify_digest, notify_passes, repo_health

__all__ = [
    "LogEntry",
    "clusters_stored_between",
    "health_states",
    "known_keys",
    "last_digest_at",
    "last_pass_at",
    "log_entries",
    "mark_digested",
    "pending_digest",
    "pull_requests_of_job",
    "queue_digest",
    "record_notification",
    "record_pass",
    "save_health",
]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of ``notification_log``."""

    dedup_key: str
    kind: str
    repository: str | None
    title: str
    url: str | None
    severity: str
    channel: str
    status: str
    error: str | None
    created_at: datetime | None
    sent_at: datetime | None


def known_keys(store: StoreBase, keys: Iterable[str]) -> set[str]:
    """The ``keys`` already in the notification log or the digest queue."""
    wanted = sorted(set(keys))
    out: set[str] = set()
    with store.engine.connect() as conn:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            for table in (notification_log, notify_digest):
                out.update(
                    r[0] for r in conn.execute(select(table.c.dedup_key).where(table.c.dedup_key.in_(chunk)))
                )
    return out


def record_notification(
    store: StoreBase,
    notification: Notification,
    *,
    channel: str,
    status: str,
    error: str | None,
    now: datetime,
) -> None:
    """Record (or update, on the same dedup key) one handled notification; ``sent_at`` is
    ``now`` when ``status`` is ``sent``."""
    row = {
        "dedup_key": notification.dedup_key,
        "kind": notification.kind.value,
        "repository": notification.repository,
        "title": notification.title[:1024],
        "url": notification.url,
        "severity": notification.severity.value,
        "channel": channel[:255],
        "status": status,
        "error": error,
        "created_at": to_db(now),
        "sent_at": to_db(now) if status == "sent" else None,
    }
    store.upsert(notification_log, [row], ["dedup_key"])


def log_entries(store: StoreBase, *, since: datetime | None = None, limit: int = 1000) -> list[LogEntry]:
    """Notification log rows, newest first (at most ``limit``), created at or after ``since``."""
    q = select(notification_log).order_by(notification_log.c.created_at.desc(), notification_log.c.id.desc())
    if since is not None:
        q = q.where(notification_log.c.created_at >= to_db(since))
    with store.engine.connect() as conn:
        rows = conn.execute(q.limit(limit)).mappings().all()
    return [
        LogEntry(
            dedup_key=r["dedup_key"],
            kind=r["kind"],
            repository=r["repository"],
            title=r["title"],
            url=r["url"],
            severity=r["severity"],
            channel=r["channel"],
            status=r["status"],
            error=r["error"],
            created_at=from_db(r["created_at"]),
            sent_at=from_db(r["sent_at"]),
        )
        for r in rows
    ]


def queue_digest(store: StoreBase, events: Sequence[NotificationEvent], now: datetime) -> int:
    """Queue ``events`` for the next digest (a key already queued is left as is); returns the count."""
    rows = [
        {"dedup_key": e.dedup_key, "event": e.model_dump_json(), "queued_at": to_db(now), "digested_at": None}
        for e in events
    ]
    if rows:
        stmt = store._insert(notify_digest).on_conflict_do_nothing(index_elements=["dedup_key"])
        with store.engine.begin() as conn:
            conn.execute(stmt, rows)
    return len(rows)


def pending_digest(store: StoreBase) -> list[NotificationEvent]:
    """Events queued and not yet digested, oldest first."""
    q = (
        select(notify_digest.c.event)
        .where(notify_digest.c.digested_at.is_(None))
        .order_by(notify_digest.c.queued_at, notify_digest.c.id)
    )
    with store.engine.connect() as conn:
        return [NotificationEvent.model_validate_json(r[0]) for r in conn.execute(q)]


def mark_digested(store: StoreBase, keys: Iterable[str], now: datetime) -> None:
    """Mark the queued events ``keys`` as sent in a digest at ``now``."""
    wanted = list(keys)
    with store.engine.begin() as conn:
        for i in range(0, len(wanted), 500):
            conn.execute(
                update(notify_digest)
                .where(notify_digest.c.dedup_key.in_(wanted[i : i + 500]))
                .values(digested_at=to_db(now))
            )


def pull_requests_of_job(store: StoreBase, job_id: int) -> tuple[int, ...]:
    """The numbers of the pull requests of the run of stored job ``job_id`` (ascending; empty
    for a branch run or an unknown job)."""
    j, pr = t.jobs, t.pull_requests
    q = (
        select(pr.c.number)
        .select_from(j)
        .join(pr, pr.c.run_id == j.c.run_id)
        .where(j.c.id == job_id)
        .order_by(pr.c.number)
    )
    with store.engine.connect() as conn:
        return tuple(int(n) for (n,) in conn.execute(q))


def health_states(store: StoreBase) -> dict[str, HealthState]:
    """The last recorded health state of each repository (``owner/name``)."""
    q = select(t.repositories.c.full_name, repo_health.c.state).join(
        t.repositories, t.repositories.c.id == repo_health.c.repo_id
    )
    with store.engine.connect() as conn:
        return {name: HealthState(state) for name, state in conn.execute(q)}


def save_health(store: StoreBase, healths: Sequence[RepoHealth], now: datetime) -> None:
    """Record the health of each repository (unknown repositories are skipped); ``changed_at``
    moves only when the state differs from the recorded one."""
    previous = health_states(store)
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(t.repositories.c.full_name, t.repositories.c.id)).all())
        changed_at = dict(conn.execute(select(repo_health.c.repo_id, repo_health.c.changed_at)).all())
    rows = []
    for h in healths:
        repo_id = ids.get(h.repository)
        if repo_id is None:
            continue
        same = previous.get(h.repository) is h.state
        rows.append(
            {
                "repo_id": repo_id,
                "state": h.state.value,
                "failure_rate": h.failure_rate,
                "runs": h.runs,
                "failed": h.failed,
                "reason": h.reason[:255],
                "changed_at": changed_at.get(repo_id) if same else to_db(now),
                "updated_at": to_db(now),
            }
        )
    store.upsert(repo_health, rows, ["repo_id"])


def last_pass_at(store: StoreBase) -> datetime | None:
    """Time of the last ``notify`` pass, or None."""
    with store.engine.connect() as conn:
        return from_db(conn.execute(select(func.max(notify_passes.c.ran_at))).scalar())


def last_digest_at(store: StoreBase) -> datetime | None:
    """Time of the last pass that sent a digest, or None."""
    q = select(func.max(notify_passes.c.ran_at)).where(notify_passes.c.digest_sent == 1)
    with store.engine.connect() as conn:
        return from_db(conn.execute(q).scalar())


def record_pass(store: StoreBase, now: datetime, *, digest_sent: bool) -> None:
    """Record one ``notify`` pass at ``now``."""
    with store.engine.begin() as conn:
        conn.execute(notify_passes.insert().values(ran_at=to_db(now), digest_sent=int(digest_sent)))


def clusters_stored_between(store: StoreBase, since: datetime, until: datetime) -> list[str]:
    """Ids (16 hex) of the failure clusters whose row was stored in ``[since, until)`` (aware
    UTC; ``failure_clusters.created_at``: when the cluster's founding failure was ingested, or
    when a re-clustering created it), oldest first. The time of ingestion, not of the failure:
    a failure that happened before ``since`` but was stored after it is found here."""
    fc = failure_clusters
    q = (
        select(fc.c.key)
        .where(fc.c.created_at >= to_db(since), fc.c.created_at < to_db(until))
        .order_by(fc.c.created_at, fc.c.id)
    )
    with store.engine.connect() as conn:
        return [str(k) for k in conn.execute(q).scalars()]
