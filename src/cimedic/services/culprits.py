"""Use case: ``cimedic culprits``: for each failure episode of a job on a branch, the last green
and first red run, the commits between (stored runs, plus the provider's compare API when a
``compare`` function is given) and the ranked suspects; stored (re-analysis replaces them).

Failure clusters plug in through ``cluster_of`` (job id → cluster id): the cluster then is the
failure key instead of the diagnosis signature."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.analysis.culprits import build_reports, failure_episodes
from cimedic.model.anomalies import TimelineEntry
from cimedic.model.ci import CommitRef
from cimedic.model.culprits import CulpritReport, CulpritScan
from cimedic.model.history import HistoryFilter
from cimedic.services.timewindow import resolve_since

if TYPE_CHECKING:
    from cimedic.store.repository import Store

__all__ = ["DEFAULT_SINCE", "LOOKBACK", "MAX_COMPARE_CALLS", "CompareFn", "detect_culprits"]

DEFAULT_SINCE = timedelta(days=30)
LOOKBACK = timedelta(days=30)
"""History read before the window to find the last green run before a first red one."""
MAX_COMPARE_CALLS = 20
"""Compare API requests per analysis at most (newest episodes first); the rest use stored runs."""

CompareFn = Callable[[str, str, str], Sequence[CommitRef]]
"""``compare(full_name, base_sha, head_sha)``: commits in ``base..head``, oldest first (e.g.
a provider's ``compare_commits``); may raise ``ProviderError``, ``ValueError`` or ``OSError``."""


def detect_culprits(
    store: Store,
    *,
    repository: str | None = None,
    branch: str | None = None,
    since: timedelta | datetime | None = DEFAULT_SINCE,
    signature: str | None = None,
    cluster_of: Mapping[int, str] | None = None,
    cluster_id: str | None = None,
    compare: CompareFn | None = None,
    now: datetime | None = None,
    save: bool = True,
) -> CulpritScan:
    """Culprit reports of the failure episodes whose first red run lies in ``[since, now)`` (UTC).

    ``repository`` (``owner/name``; default every stored repository), ``branch`` (default every
    branch), ``signature`` (a diagnosis signature or a prefix of at least 6 characters) and
    ``cluster_id`` (with ``cluster_of``) narrow the episodes. ``compare`` is asked for the
    commits between the last green and the first red head (at most :data:`MAX_COMPARE_CALLS`
    times); its errors are recorded in the report's ``compare_error``. With ``save`` the
    reports replace the stored ones of the same scope. SQLAlchemy errors propagate.
    """
    from cimedic.model.providers import ProviderError
    from cimedic.store import anomalies as store_anomalies

    until = now or datetime.now(UTC)
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    start = resolve_since(since, until)
    f = HistoryFilter(repository=repository, since=start - LOOKBACK if start else None, until=until)
    entries = store_anomalies.timeline(store, f, jobs=True, steps=False)
    by_repo: dict[str, list[TimelineEntry]] = defaultdict(list)
    for e in entries:
        by_repo[e.repository].append(e)
    reports: list[CulpritReport] = []
    calls = 0
    for repo, repo_entries in sorted(by_repo.items()):
        jobs = [e for e in repo_entries if e.job is not None]
        runs = [e for e in repo_entries if e.job is None]
        episodes = failure_episodes(
            jobs,
            branch=branch,
            signature=signature,
            cluster_of=cluster_of,
            cluster_id=cluster_id,
            since=start,
        )
        compared: dict[tuple[str, str], Sequence[CommitRef]] = {}
        errors: dict[tuple[str, str], str] = {}
        if compare is not None:
            for ep in sorted(episodes, key=lambda ep: ep.first_red.created_at, reverse=True):
                pair = ep.compare_pair
                if pair is None or pair in compared or pair in errors:
                    continue
                if calls >= MAX_COMPARE_CALLS:
                    errors[pair] = f"not asked: at most {MAX_COMPARE_CALLS} compare requests per analysis"
                    continue
                calls += 1
                try:
                    compared[pair] = list(compare(repo, *pair))
                except (ProviderError, ValueError, OSError) as exc:
                    errors[pair] = str(exc)
        commits = store_anomalies.commit_refs(store, repo, {e.head_sha for e in repo_entries})
        repo_reports = build_reports(
            episodes, jobs, runs, commits, compared=compared, compare_errors=errors, cluster_of=cluster_of
        )
        if save:
            store_anomalies.replace_culprits(
                store, repo, repo_reports, branch=branch, signature=signature, since=start, detected_at=until
            )
        reports += repo_reports
    reports.sort(key=lambda r: (r.first_red.created_at, r.branch, r.key.value), reverse=True)
    return CulpritScan(
        since=start,
        until=until,
        repository=repository,
        branch=branch,
        signature=signature,
        cluster_id=cluster_id,
        compare_calls=calls,
        reports=tuple(reports),
    )
