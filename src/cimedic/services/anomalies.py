"""Use case: ``cimedic anomalies``: find duration regressions, queue-time spikes and
failure-rate bursts in the stored history, and store them (re-analysis replaces them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.analysis.anomalies import find_anomalies, series_counts
from cimedic.model.anomalies import Anomaly, AnomalyKind, AnomalyScan, TimelineEntry
from cimedic.model.history import HistoryFilter
from cimedic.services.timewindow import resolve_since

if TYPE_CHECKING:
    from cimedic.store.repository import Store

__all__ = ["DEFAULT_SINCE", "MIN_LOOKBACK", "detect_anomalies", "history_start"]

DEFAULT_SINCE = timedelta(days=30)
MIN_LOOKBACK = timedelta(days=14)
"""History read before the window, so that an onset early in the window has a baseline: one
window length, at least this much."""


def history_start(since: datetime | None, until: datetime) -> datetime | None:
    """Where the history read for a window ``[since, until)`` starts: one window length (at
    least :data:`MIN_LOOKBACK`) before ``since``; ``None`` (everything) when ``since`` is."""
    if since is None:
        return None
    return since - max(until - since, MIN_LOOKBACK)


def detect_anomalies(
    store: Store,
    *,
    repository: str | None = None,
    since: timedelta | datetime | None = DEFAULT_SINCE,
    kinds: Iterable[AnomalyKind | str] | None = None,
    now: datetime | None = None,
    save: bool = True,
) -> AnomalyScan:
    """Anomalies whose onset lies in ``[since, now)`` (UTC), per repository (``owner/name``, or
    every stored repository), of ``kinds`` (default: all three).

    ``since`` is a ``timedelta`` back from ``now`` (default 30 days), an absolute datetime, or
    ``None`` for the whole history; the history is read from :func:`history_start` on. With
    ``save`` the findings replace the stored ones of the same repositories, kinds and window
    (:func:`cimedic.store.anomalies.replace_anomalies`). Raises ``ValueError`` for an unknown
    kind; SQLAlchemy errors of the store propagate.
    """
    from cimedic.store import anomalies as store_anomalies

    until = now or datetime.now(UTC)
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    wanted = tuple(AnomalyKind(k) for k in kinds) if kinds else tuple(AnomalyKind)
    start = resolve_since(since, until)
    f = HistoryFilter(repository=repository, since=history_start(start, until), until=until)
    entries = store_anomalies.timeline(store, f, jobs=True, steps=AnomalyKind.DURATION in wanted)
    by_repo: dict[str, list[TimelineEntry]] = defaultdict(list)
    for e in entries:
        by_repo[e.repository].append(e)
    found: list[Anomaly] = []
    counts: dict[str, int] = dict.fromkeys((k.value for k in wanted), 0)
    for repo, repo_entries in sorted(by_repo.items()):
        commits = store_anomalies.commit_refs(
            store, repo, {e.head_sha for e in repo_entries if e.job is None}
        )
        repo_found = find_anomalies(repo_entries, commits, kinds=wanted, since=start)
        for kind, n in series_counts(repo_entries, wanted).items():
            counts[kind] += n
        if save:
            store_anomalies.replace_anomalies(
                store, repo, repo_found, kinds=wanted, since=start, detected_at=until
            )
        found += repo_found
    found.sort(key=lambda a: (a.onset_at, a.kind.value, a.scope.key), reverse=True)
    return AnomalyScan(
        since=start, until=until, repository=repository, kinds=wanted, series=counts, anomalies=tuple(found)
    )
