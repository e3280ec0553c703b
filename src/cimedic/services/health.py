"""Use case: repository health (Healthy / Degraded / Failing / Unknown) from stored runs.

:func:`current_health` computes it (rules: :mod:`cimedic.analysis.health`) for notifications
and reports; :func:`health_view` adds what the store recorded (since when the state holds) and
the latest run's link, for ``cimedic health`` and ``GET /api/v1/health``;
:func:`record_health` writes the computed states (the agent does it on every notification
pass). Thresholds: :class:`~cimedic.model.notify.HealthThresholds` (the ``health_window_hours``
and ``health_degraded_rate`` settings; defaults 24 h and 0.2).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.analysis.health import DEGRADED_FAILURE_RATE, WINDOW_SECONDS, health_of_all, repo_health
from cimedic.model.history import HistoryFilter
from cimedic.model.notify import HealthState, HealthThresholds, RepoHealth, RepoHealthStatus

if TYPE_CHECKING:
    from cimedic.store.repository import Store

__all__ = ["current_health", "health_view", "record_health"]


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def current_health(
    store: Store,
    now: datetime,
    repository: str | None = None,
    *,
    window_seconds: float = WINDOW_SECONDS,
    degraded_rate: float = DEGRADED_FAILURE_RATE,
) -> list[RepoHealth]:
    """Health at ``now`` (aware UTC) of every repository with runs in the last
    ``window_seconds`` (or of ``repository`` only), sorted by name; ``degraded_rate`` is the
    failure rate at or above which a repository is degraded. Raises ``ValueError`` for a
    non-positive window or a rate outside (0, 1]; SQLAlchemy errors propagate."""
    from cimedic.store import queries

    now = _aware(now)
    f = HistoryFilter(repository=repository, since=now - timedelta(seconds=window_seconds), until=now)
    return health_of_all(
        queries.run_facts(store.engine, f), now, window_seconds=window_seconds, degraded_rate=degraded_rate
    )


def health_view(
    store: Store,
    now: datetime | None = None,
    repository: str | None = None,
    *,
    thresholds: HealthThresholds | None = None,
) -> list[RepoHealthStatus]:
    """The health at ``now`` (aware UTC, default the current time) of every repository the
    store knows (or of ``repository``; empty when the store does not know it), sorted by name:
    a repository without a completed default-branch run in the window is ``unknown``.

    Each entry carries the recorded state of the last notification pass and, when it equals
    the computed state and began no later than ``now``, since when it holds; and the latest
    counted run's web page (``<html_url>/actions/runs/<run id>``) when the repository's web
    address is stored. Reads only; SQLAlchemy errors propagate.
    """
    from cimedic.store import queries
    from cimedic.store.health import health_records

    th = thresholds or HealthThresholds()
    now = _aware(now or datetime.now(UTC))
    repos = {r.full_name: r for r in store.repositories()}
    names = [n for n in sorted(repos) if repository is None or n == repository]
    if not names:
        return []
    f = HistoryFilter(repository=repository, since=now - timedelta(seconds=th.window_seconds), until=now)
    facts = queries.run_facts(store.engine, f)
    records = health_records(store, repository)
    out: list[RepoHealthStatus] = []
    for name in names:
        h = repo_health(name, facts, now, window_seconds=th.window_seconds, degraded_rate=th.degraded_rate)
        rec = records.get(name)
        since = None
        if rec is not None and rec.state is h.state and rec.changed_at is not None and rec.changed_at <= now:
            since = rec.changed_at
        web = repos[name].html_url
        url = f"{web.rstrip('/')}/actions/runs/{h.latest_run_id}" if web and h.latest_run_id else None
        out.append(
            RepoHealthStatus(
                **h.model_dump(),
                recorded_state=rec.state if rec is not None else None,
                since=since,
                latest_run_url=url,
            )
        )
    return out


def record_health(
    store: Store, now: datetime | None = None, *, thresholds: HealthThresholds | None = None
) -> list[RepoHealth]:
    """Compute the health at ``now`` (aware UTC, default the current time) and record it
    (:func:`cimedic.store.notify.save_health`; ``unknown`` states are not recorded), without
    notifying. The agent calls it on notification passes that run dry (no channel configured),
    so ``cimedic health`` still knows since when a state holds. Returns the computed health."""
    from cimedic.store import notify as db

    th = thresholds or HealthThresholds()
    now = _aware(now or datetime.now(UTC))
    healths = current_health(store, now, window_seconds=th.window_seconds, degraded_rate=th.degraded_rate)
    db.save_health(store, [h for h in healths if h.state is not HealthState.UNKNOWN], now)
    return healths
