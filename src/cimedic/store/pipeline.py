"""Store mixin for the ingest pipeline's own state: raw payloads (the first, crash-safe stage),
ETags of polled URLs, sync times, and retention."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from cimedic.store import schema as t
from cimedic.store.base import StoreBase, from_db, now_utc, to_db


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A stored raw payload awaiting (or done with) processing. ``payload`` is uncompressed."""

    id: int
    source: str
    key: str
    event: str
    received_at: datetime
    payload: bytes
    status: str
    attempts: int
    meta: dict[str, str] | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


MAX_TRIES = 5
"""Failed processing tries after which a raw event is dead-lettered (status ``dead``)."""

ERROR_MAX_CHARS = 2000
"""Longest failure reason stored (characters); NUL characters are replaced (PostgreSQL text
cannot hold them)."""


def retry_delay(tries: int) -> timedelta:
    """Back-off before the next try after ``tries`` failed ones: ``min(2**tries minutes, 1 h)``."""
    return timedelta(minutes=min(2 ** min(tries, 6), 60))


def _reason(error: str | None) -> str | None:
    if error is None:
        return None
    text = error.replace("\x00", "\\x00")
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 3] + "..."


@dataclass(frozen=True, slots=True)
class RawEventFailure:
    """The state of a raw event after a failed try: ``failed`` or ``dead``, tries so far, and
    when the next try is due (aware UTC; ``None`` once dead)."""

    status: str
    tries: int
    next_attempt_at: datetime | None


class PipelineMixin(StoreBase):
    """Raw events, ETags, sync state and retention."""

    # ------------------------------------------------------------------ raw events (the first stage)
    def add_raw_event(
        self, source: str, key: str, event: str, payload: bytes, meta: dict[str, str] | None = None
    ) -> tuple[int, bool]:
        """Store a raw payload before any processing. Returns ``(id, created)``; a known
        ``(source, key)`` (e.g. a redelivered ``X-GitHub-Delivery``) is a no-op with ``created=False``."""
        row = {
            "source": source,
            "key": key,
            "event": event,
            "received_at": to_db(now_utc()),
            "payload": zlib.compress(payload, 6),
            "meta": meta,
            "status": "pending",
            "attempts": 0,
        }
        with self.engine.begin() as conn:
            stmt = (
                self._insert(t.raw_events)
                .values(**row)
                .on_conflict_do_nothing(index_elements=["source", "key"])
                .returning(t.raw_events.c.id)
            )
            inserted = conn.execute(stmt).scalar_one_or_none()
            if inserted is not None:
                return int(inserted), True
            return self._id_of(conn, t.raw_events, source=source, key=key), False

    def raw_events(
        self,
        *,
        status: Sequence[str] = ("pending",),
        since: datetime | None = None,
        source: str | None = None,
        limit: int = 1000,
        after_id: int = 0,
        due_at: datetime | None = None,
    ) -> list[RawEvent]:
        """Raw payloads in the given processing states (``pending``, ``done``, ``failed``,
        ``dead``), oldest first, with ids above ``after_id`` (paging). With ``due_at`` (aware
        UTC), ``failed`` ones only when their next try is due by then (see :meth:`fail_raw_event`)."""
        q = (
            select(t.raw_events)
            .where(t.raw_events.c.status.in_(list(status)), t.raw_events.c.id > after_id)
            .order_by(t.raw_events.c.id)
            .limit(limit)
        )
        if due_at is not None:
            q = q.where(
                or_(
                    t.raw_events.c.status != "failed",
                    t.raw_events.c.next_attempt_at.is_(None),
                    t.raw_events.c.next_attempt_at <= to_db(due_at),
                )
            )
        if since is not None:
            q = q.where(t.raw_events.c.received_at >= to_db(since))
        if source is not None:
            q = q.where(t.raw_events.c.source == source)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            RawEvent(
                id=r.id,
                source=r.source,
                key=r.key,
                event=r.event,
                received_at=from_db(r.received_at) or now_utc(),
                payload=zlib.decompress(r.payload),
                status=r.status,
                attempts=r.attempts,
                meta=r.meta,
                error=r.error,
                next_attempt_at=from_db(r.next_attempt_at),
            )
            for r in rows
        ]

    def mark_raw_event(self, raw_id: int, status: str, error: str | None = None) -> None:
        """Set the processing status (``done`` or ``failed`` with the error) and count the attempt.
        The error is stored without NUL characters and cut to :data:`ERROR_MAX_CHARS`."""
        with self.engine.begin() as conn:
            conn.execute(
                update(t.raw_events)
                .where(t.raw_events.c.id == raw_id)
                .values(
                    status=status,
                    error=_reason(error),
                    attempts=t.raw_events.c.attempts + 1,
                    next_attempt_at=None,
                    processed_at=to_db(now_utc()),
                )
            )

    def fail_raw_event(
        self, raw_id: int, error: str, *, now: datetime | None = None, max_tries: int = MAX_TRIES
    ) -> RawEventFailure:
        """Record a failed try with its reason: ``attempts`` (the tries) grows by one; below
        ``max_tries`` the status is ``failed`` and the next try is due ``now`` (aware UTC) +
        :func:`retry_delay`; at ``max_tries`` or more it is ``dead`` (dead-lettered: only
        ``cimedic reprocess --failed`` tries it again). Raises ``KeyError`` for an unknown id."""
        at = now or now_utc()
        with self.engine.begin() as conn:
            tries = conn.execute(
                select(t.raw_events.c.attempts).where(t.raw_events.c.id == raw_id)
            ).scalar_one_or_none()
            if tries is None:
                raise KeyError(raw_id)
            tries = int(tries) + 1
            dead = tries >= max_tries
            next_at = None if dead else at + retry_delay(tries)
            conn.execute(
                update(t.raw_events)
                .where(t.raw_events.c.id == raw_id)
                .values(
                    status="dead" if dead else "failed",
                    error=_reason(error),
                    attempts=tries,
                    next_attempt_at=to_db(next_at) if next_at else None,
                    processed_at=to_db(at),
                )
            )
        return RawEventFailure("dead" if dead else "failed", tries, next_at)

    # ------------------------------------------------------------------ ETags (for conditional polling)
    def etag_get(self, url: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.etags.c.etag).where(t.etags.c.url == url)).scalar_one_or_none()

    def etag_put(self, url: str, etag: str) -> None:
        with self.engine.begin() as conn:
            self._upsert(conn, t.etags, [{"url": url, "etag": etag, "updated_at": to_db(now_utc())}], ["url"])

    # ------------------------------------------------------------------ sync state and retention
    def mark_synced(self, repo_id: int, *, poll: bool = False) -> None:
        col = "last_poll_at" if poll else "last_sync_at"
        with self.engine.begin() as conn:
            self._upsert(conn, t.sync_state, [{"repo_id": repo_id, col: to_db(now_utc())}], ["repo_id"])

    def apply_retention(self, *, log_days: int, raw_days: int) -> dict[str, int]:
        """Delete job logs fetched more than ``log_days`` ago and processed raw payloads older than
        ``raw_days`` (0 keeps everything). Returns the number of rows deleted per table."""
        from datetime import timedelta

        out = {"job_logs": 0, "raw_events": 0}
        with self.engine.begin() as conn:
            if log_days > 0:
                cutoff = to_db(now_utc() - timedelta(days=log_days))
                old = select(t.job_logs.c.job_id).where(t.job_logs.c.fetched_at < cutoff)
                conn.execute(update(t.jobs).where(t.jobs.c.id.in_(old)).values(log_state="expired"))
                out["job_logs"] = conn.execute(
                    delete(t.job_logs).where(t.job_logs.c.fetched_at < cutoff)
                ).rowcount
            if raw_days > 0:
                cutoff = to_db(now_utc() - timedelta(days=raw_days))
                out["raw_events"] = conn.execute(
                    delete(t.raw_events).where(
                        t.raw_events.c.status == "done", t.raw_events.c.received_at < cutoff
                    )
                ).rowcount
        return out
