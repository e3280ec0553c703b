"""Repository health: Healthy / Degraded / Failing from the default branch's recent runs (pure).

Rules, in order, over the completed runs of the repository's default branch created in the
last :data:`WINDOW_SECONDS` (runs whose conclusion is ``success`` or red, see
:attr:`cimedic.model.ci.Conclusion.is_failure`; cancelled, skipped and neutral runs count in
neither):

1. no such run → ``unknown``;
2. the latest of them (by ``created_at``) is red → ``failing``: the default branch is broken
   now, the state GitHub's workflow status badge shows ("Adding a workflow status badge",
   GitHub docs: the badge shows the status of the latest run of the default branch);
3. failure rate ≥ :data:`DEGRADED_FAILURE_RATE` → ``degraded``;
4. otherwise ``healthy``.

The thresholds are product defaults (not tuned on any project) and are parameters of
:func:`repo_health` (a deployment sets them with the ``health_window_hours`` and
``health_degraded_rate`` settings, see :class:`cimedic.model.notify.HealthThresholds`). When a run's default branch is unknown,
``main`` and ``master`` are taken as default branches (as MTTR in
:mod:`cimedic.model.metrics` does).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from cimedic.model.ci import Conclusion, Status
from cimedic.model.history import RunFact
from cimedic.model.notify import HEALTH_DEGRADED_RATE, HEALTH_WINDOW_SECONDS, HealthState, RepoHealth

__all__ = ["DEGRADED_FAILURE_RATE", "WINDOW_SECONDS", "health_of_all", "is_change", "repo_health"]

WINDOW_SECONDS = HEALTH_WINDOW_SECONDS
"""Window of the failure rate: the last 24 hours (the issue's definition of health)."""
DEGRADED_FAILURE_RATE = HEALTH_DEGRADED_RATE
"""At or above this share of red default-branch runs a repository is degraded (product default:
one red run in five)."""
_FALLBACK_DEFAULTS = ("main", "master")


def _on_default(r: RunFact) -> bool:
    if r.default_branch:
        return r.branch == r.default_branch
    return r.branch in _FALLBACK_DEFAULTS


def repo_health(
    repository: str,
    runs: Iterable[RunFact],
    now: datetime,
    *,
    window_seconds: float = WINDOW_SECONDS,
    degraded_rate: float = DEGRADED_FAILURE_RATE,
) -> RepoHealth:
    """The health of ``repository`` at ``now`` (aware UTC) from its runs (others are ignored).

    Runs created in ``[now - window_seconds, now)`` count. Raises ``ValueError`` for a
    non-positive window or a rate outside (0, 1].
    """
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, not {window_seconds}")
    if not 0 < degraded_rate <= 1:
        raise ValueError(f"degraded_rate must be in (0, 1], not {degraded_rate}")
    since = now - timedelta(seconds=window_seconds)
    picked = sorted(
        (
            r
            for r in runs
            if r.repository == repository
            and r.status is Status.COMPLETED
            and r.conclusion is not None
            and (r.conclusion is Conclusion.SUCCESS or r.conclusion.is_failure)
            and r.created_at is not None
            and since <= r.created_at < now
            and _on_default(r)
        ),
        key=lambda r: (r.created_at, r.run_id),
    )

    def result(state: HealthState, reason: str, failed: int = 0) -> RepoHealth:
        n = len(picked)
        latest = picked[-1] if picked else None
        last = latest.conclusion if latest else None
        return RepoHealth(
            repository=repository,
            state=state,
            runs=n,
            failed=failed,
            failure_rate=failed / n if n else None,
            latest_red=(last is not None and last.is_failure) if picked else None,
            window_seconds=window_seconds,
            degraded_rate=degraded_rate,
            reason=reason,
            computed_at=now,
            latest_run_id=latest.provider_id if latest else None,
            latest_run_at=latest.created_at if latest else None,
        )

    if not picked:
        return result(HealthState.UNKNOWN, "no completed default-branch run in the window")
    failed = sum(1 for r in picked if r.conclusion is not None and r.conclusion.is_failure)
    rate = failed / len(picked)
    last = picked[-1].conclusion
    if last is not None and last.is_failure:
        return result(HealthState.FAILING, "latest default-branch run is red", failed)
    if rate >= degraded_rate:
        return result(
            HealthState.DEGRADED, f"default-branch failure rate {rate:.0%} >= {degraded_rate:.0%}", failed
        )
    return result(HealthState.HEALTHY, "latest default-branch run is green", failed)


def health_of_all(
    runs: Iterable[RunFact],
    now: datetime,
    *,
    window_seconds: float = WINDOW_SECONDS,
    degraded_rate: float = DEGRADED_FAILURE_RATE,
) -> list[RepoHealth]:
    """:func:`repo_health` of every repository among ``runs``, sorted by name."""
    items = list(runs)
    names = sorted({r.repository for r in items})
    return [
        repo_health(n, items, now, window_seconds=window_seconds, degraded_rate=degraded_rate) for n in names
    ]


def is_change(previous: HealthState | None, current: HealthState) -> bool:
    """A state change worth notifying: the state differs from the last recorded one, and it is
    not ``unknown`` (a quiet night is no news); a first recording notifies only when it is not
    ``healthy``."""
    if current is HealthState.UNKNOWN:
        return False
    if previous is None:
        return current is not HealthState.HEALTHY
    return previous is not current
