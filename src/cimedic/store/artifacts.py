"""Store mixin for the test-report artifacts collection found (table ``test_report_artifacts``,
migration 0012): which artifact of which run attempt was fetched, which failed, which is
deferred by the request budget, and how many requests each try cost.

An artifact is recorded ``pending`` when a listing finds it, and becomes ``fetched`` in the
same transaction that stores its test reports, so a process killed at any point leaves each
artifact either fetched with all its reports or pending (fetched again later, replacing any
report it already stored: no duplicates). Times go in and come out as aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, select, update

from cimedic.model import TestReport
from cimedic.store import schema as t
from cimedic.store.base import StoreBase, from_db, now_utc, to_db
from cimedic.store.results import insert_test_report

__all__ = ["ArtifactFound", "ArtifactsMixin", "AttemptStart", "PendingArtifact"]

LISTING_OVERLAP = timedelta(hours=1)
"""Slack between one listing's end and the next one's start for the two to count as one span."""

FAILED_CONCLUSIONS = ("failure", "timed_out", "startup_failure")
"""Attempt (or run) conclusions whose test reports are fetched first."""


@dataclass(frozen=True, slots=True)
class AttemptStart:
    """A stored attempt of a run: its number, when it started (aware UTC, None when unknown)."""

    attempt: int
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class ArtifactFound:
    """A test-report artifact a listing found for the stored run ``run_id``: ``artifact_id`` is
    the provider's id, ``run_attempt`` the attempt it is attributed to (None: unknown),
    ``status`` ``pending`` or ``skipped`` (expired: cannot be downloaded), ``size_in_bytes`` in
    bytes."""

    run_id: int
    artifact_id: str
    name: str
    run_attempt: int | None
    created_at: datetime | None
    size_in_bytes: int | None = None
    status: str = "pending"
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PendingArtifact:
    """An artifact still to fetch (row ``id``): ``failed`` when its attempt (or, the attempt
    unknown, its run) concluded failure / timed_out / startup_failure; ``rerun`` when its run
    has more than one attempt; ``tries`` failed tries so far."""

    id: int
    run_id: int
    run_provider_id: str
    artifact_id: str
    name: str
    run_attempt: int | None
    created_at: datetime | None
    tries: int
    failed: bool
    rerun: bool


class ArtifactsMixin(StoreBase):
    """Test-report artifacts found, fetched, failed and deferred."""

    def attempt_starts(self, run_ids: Iterable[int]) -> dict[int, list[AttemptStart]]:
        """The stored attempts of each run (store ids), by attempt number."""
        ids = sorted(set(run_ids))
        out: dict[int, list[AttemptStart]] = {i: [] for i in ids}
        a = t.run_attempts
        with self.engine.connect() as conn:
            for chunk in range(0, len(ids), 500):
                rows = conn.execute(
                    select(a.c.run_id, a.c.attempt, a.c.started_at)
                    .where(a.c.run_id.in_(ids[chunk : chunk + 500]))
                    .order_by(a.c.run_id, a.c.attempt)
                ).all()
                for run_id, attempt, started in rows:
                    out[int(run_id)].append(AttemptStart(int(attempt), from_db(started)))
        return out

    def run_ids_by_provider_id(self, repo_id: int, provider_ids: Iterable[str]) -> dict[str, int]:
        """Store ids of the stored runs among ``provider_ids`` (unknown ones are left out)."""
        ids = sorted(set(provider_ids))
        r = t.workflow_runs
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for chunk in range(0, len(ids), 500):
                rows = conn.execute(
                    select(r.c.provider_id, r.c.id).where(
                        r.c.repo_id == repo_id, r.c.provider_id.in_(ids[chunk : chunk + 500])
                    )
                ).all()
                out.update({str(p): int(i) for p, i in rows})
        return out

    def record_test_artifacts(
        self,
        repo_id: int,
        found: Sequence[ArtifactFound],
        *,
        listed_at: datetime | None,
        listed_from: datetime | None = None,
    ) -> int:
        """Record the artifacts a listing found (those already recorded are left as they are) and,
        when ``listed_at`` is given, that the repository's artifacts were listed then, from
        ``listed_from`` (created time, UTC) on: the covered span grows when the listing overlaps
        the one before, and restarts at ``listed_from`` when it does not; one transaction.
        Returns how many were new."""
        rows = [
            {
                "repo_id": repo_id,
                "run_id": f.run_id,
                "artifact_id": f.artifact_id,
                "name": f.name,
                "run_attempt": f.run_attempt,
                "created_at": to_db(f.created_at),
                "size_in_bytes": f.size_in_bytes,
                "status": f.status,
                "tries": 0,
                "requests": 0,
                "reports": 0,
                "error": f.error,
            }
            for f in found
        ]
        ta = t.test_report_artifacts
        with self.engine.begin() as conn:
            before = int(
                conn.execute(select(func.count()).select_from(ta).where(ta.c.repo_id == repo_id)).scalar_one()
            )
            for chunk in range(0, len(rows), 500):
                stmt = self._insert(ta).on_conflict_do_nothing(index_elements=["run_id", "artifact_id"])
                conn.execute(stmt, rows[chunk : chunk + 500])
            after = int(
                conn.execute(select(func.count()).select_from(ta).where(ta.c.repo_id == repo_id)).scalar_one()
            )
            if listed_at is not None:
                state = {"repo_id": repo_id, "artifacts_listed_at": to_db(listed_at)}
                if listed_from is not None:
                    state["artifacts_listed_from"] = to_db(
                        _covered_from(conn, repo_id, listed_from, LISTING_OVERLAP)
                    )
                self._upsert(conn, t.sync_state, [state], ["repo_id"])
        return after - before

    def artifacts_listing(self, repo_id: int) -> tuple[datetime | None, datetime | None]:
        """``(covered from, listed at)`` of the repository's artifact listings (UTC; None: never):
        every artifact created in between was seen by a listing."""
        s = t.sync_state
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.c.artifacts_listed_from, s.c.artifacts_listed_at).where(s.c.repo_id == repo_id)
            ).one_or_none()
        return (None, None) if row is None else (from_db(row[0]), from_db(row[1]))

    def artifacts_listed_at(self, repo_id: int) -> datetime | None:
        """When the repository's artifacts were last listed (None: never)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(t.sync_state.c.artifacts_listed_at).where(t.sync_state.c.repo_id == repo_id)
            ).scalar_one_or_none()
        return from_db(value)

    def run_time_span(self, repo_id: int) -> tuple[datetime | None, datetime | None]:
        """``(oldest created_at, newest updated_at or created_at)`` of the repository's stored runs."""
        r = t.workflow_runs
        with self.engine.connect() as conn:
            oldest, newest, newest_created = conn.execute(
                select(func.min(r.c.created_at), func.max(r.c.updated_at), func.max(r.c.created_at)).where(
                    r.c.repo_id == repo_id
                )
            ).one()
        newest = max((v for v in (newest, newest_created) if v is not None), default=None)
        return from_db(oldest), from_db(newest)

    def pending_test_artifacts(self, repo_id: int, *, max_tries: int) -> list[PendingArtifact]:
        """Artifacts of the repository that are ``pending``, or ``failed`` fewer than ``max_tries``
        times, oldest first."""
        ta, r, a = t.test_report_artifacts, t.workflow_runs, t.run_attempts
        q = (
            select(
                ta.c.id,
                ta.c.run_id,
                r.c.provider_id,
                ta.c.artifact_id,
                ta.c.name,
                ta.c.run_attempt,
                ta.c.created_at,
                ta.c.tries,
                func.coalesce(a.c.conclusion, r.c.conclusion),
                r.c.run_attempt,
            )
            .join(r, r.c.id == ta.c.run_id)
            .outerjoin(a, and_(a.c.run_id == ta.c.run_id, a.c.attempt == ta.c.run_attempt))
            .where(
                ta.c.repo_id == repo_id,
                (ta.c.status == "pending") | ((ta.c.status == "failed") & (ta.c.tries < max_tries)),
            )
            .order_by(ta.c.created_at, ta.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            PendingArtifact(
                id=int(row[0]),
                run_id=int(row[1]),
                run_provider_id=str(row[2]),
                artifact_id=str(row[3]),
                name=row[4],
                run_attempt=row[5],
                created_at=from_db(row[6]),
                tries=int(row[7]),
                failed=row[8] in FAILED_CONCLUSIONS,
                rerun=int(row[9] or 1) > 1,
            )
            for row in rows
        ]

    def test_artifact_requests_since(self, provider: str, since: datetime) -> int:
        """Requests spent on test-report artifacts of ``provider``'s repositories by tries at or
        after ``since`` (the budget's rolling hour)."""
        ta = t.test_report_artifacts
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(ta.c.requests), 0))
                .join(t.repositories, t.repositories.c.id == ta.c.repo_id)
                .where(t.repositories.c.provider == provider, ta.c.tried_at >= to_db(since))
            ).scalar_one()
        return int(total)

    def save_artifact_reports(
        self, row_id: int, run_id: int, attempt: int | None, reports: Sequence[TestReport], *, requests: int
    ) -> None:
        """Store the test reports read from artifact ``row_id`` (each replacing the report of the
        same run, attempt and source) and mark the artifact ``fetched``; one transaction."""
        with self.engine.begin() as conn:
            for report in reports:
                insert_test_report(conn, run_id, report, None, attempt)
            self._tried(conn, row_id, "fetched", None, requests, reports=len(reports))

    def mark_test_artifact(self, row_id: int, status: str, error: str | None, *, requests: int) -> None:
        """Record a try of artifact ``row_id`` that stored nothing: ``failed`` (tried again later)
        or ``skipped`` (never again), with the reason and the requests it cost."""
        with self.engine.begin() as conn:
            self._tried(conn, row_id, status, error, requests)

    def _tried(
        self, conn: Connection, row_id: int, status: str, error: str | None, requests: int, reports: int = 0
    ) -> None:
        ta = t.test_report_artifacts
        now = now_utc()
        tried_at, spent = conn.execute(select(ta.c.tried_at, ta.c.requests).where(ta.c.id == row_id)).one()
        last = from_db(tried_at)
        recent = last is not None and last >= now - timedelta(hours=1)
        values: dict[str, object] = {
            "status": status,
            "error": error,
            "tries": ta.c.tries + 1,
            "requests": (int(spent) if recent else 0) + requests,
            "tried_at": to_db(now),
            "reports": reports,
        }
        if status == "fetched":
            values["fetched_at"] = to_db(now)
        conn.execute(update(ta).where(ta.c.id == row_id).values(**values))

    def test_artifact_states(self, repo_id: int) -> dict[str, int]:
        """How many of the repository's recorded test-report artifacts are in each status."""
        ta = t.test_report_artifacts
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ta.c.status, func.count()).where(ta.c.repo_id == repo_id).group_by(ta.c.status)
            ).all()
        return {str(s): int(n) for s, n in rows}


def _covered_from(conn: Connection, repo_id: int, listed_from: datetime, overlap: timedelta) -> datetime:
    """The start of the span covered once a listing from ``listed_from`` to now is added: the
    earlier start when this listing begins before the earlier one ended (``overlap`` of slack),
    else ``listed_from``."""
    s = t.sync_state
    row = conn.execute(
        select(s.c.artifacts_listed_from, s.c.artifacts_listed_at).where(s.c.repo_id == repo_id)
    ).one_or_none()
    if row is None or row[0] is None or row[1] is None:
        return listed_from
    earlier_from, earlier_at = from_db(row[0]), from_db(row[1])
    assert earlier_from is not None and earlier_at is not None
    if listed_from <= earlier_at + overlap:
        return min(earlier_from, listed_from)
    return listed_from
