"""Use case: failure clusters across runs, workflows and repositories (``cimedic failures``).

A diagnosed failure is placed in a cluster right after its diagnosis is stored
(:func:`assign_cluster`, called by :func:`cimedic.services.analyze_jobs.diagnose_job`), so
whether it is new or a recurrence is known at ingest. :func:`recluster` rebuilds every
cluster from the stored diagnoses in the canonical order (``cimedic reprocess``). The rules
are in :mod:`cimedic.analysis.clustering` and ``docs/failures.md``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cimedic.analysis.cluster_text import length_window, normalise
from cimedic.analysis.clustering import (
    ClusterIndex,
    cluster_failures,
    cluster_title,
    display_title,
    exact_signature,
    occurrence,
    rank,
    signature_variants,
    summarize_cluster,
)
from cimedic.model.clusters import (
    ClusterAssignment,
    ClusterDetail,
    ClusterLink,
    ClusterList,
    ClusterMember,
    FailureCluster,
    MatchKind,
)
from cimedic.services.timewindow import resolve_since
from cimedic.store import clusters as db

if TYPE_CHECKING:
    from cimedic.store.repository import Store

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_SINCE",
    "SHOW_OCCURRENCES",
    "ClusterNotFound",
    "ReclusterReport",
    "assign_cluster",
    "cluster_detail",
    "link_cluster",
    "list_clusters",
    "recluster",
    "resolve_cluster_id",
]

DEFAULT_SINCE = timedelta(days=7)
DEFAULT_LIMIT = 20
SHOW_OCCURRENCES = 50
_HEX = re.compile(r"[0-9a-f]{1,16}")


class ClusterNotFound(LookupError):
    """No cluster has the given id (or prefix), or the prefix is ambiguous."""


@dataclass
class ReclusterReport:
    """What :func:`recluster` built: failures clustered, clusters, members placed by each rule
    (``new``, ``signature``, ``text``, ``similar``), and links moved to a renamed cluster."""

    failures: int = 0
    clusters: int = 0
    by_match: dict[str, int] | None = None
    links_moved: int = 0


# ------------------------------------------------------------------------------------- ingest
def assign_cluster(store: Store, job_id: int) -> ClusterAssignment | None:
    """Place the stored diagnosis of ``job_id`` in its failure cluster (creating the cluster
    when the failure is new) and record it; a job already placed is placed again.

    Returns None, and removes any earlier placement, when the job has no diagnosis or its
    diagnosis found no failure. Lets SQLAlchemy errors propagate.
    """
    engine = store.engine
    failure = db.failure_record(engine, job_id)
    db.remove_member(store, job_id)
    if failure is None:
        return None
    exact = exact_signature(failure.signature, failure.summary)
    norm = normalise(failure.summary)
    lo, hi = length_window(len(norm))
    seeds = db.candidate_seeds(engine, failure.category, lo, hi)
    known = db.signature_cluster(engine, failure.category, exact, job_id) if exact else None
    index = ClusterIndex(seeds, [(failure.category, exact, known)] if exact and known else [])
    placed = index.place(failure.category, failure.signature, failure.summary)
    founding = None
    title = ""
    if placed.match is MatchKind.NEW:
        title = cluster_title(failure.category, failure.summary)
        founding = db.ClusterRow(
            placed.cluster_id, failure.category, title, placed.normalised, failure.summary
        )
    db.save_member(store, failure, placed, exact, founding)
    if not title:
        title = next((display_title(c) for c in db.stored_clusters(engine, [placed.cluster_id])), "")
    first = db.first_seen_job(engine, placed.cluster_id)
    return ClusterAssignment(
        job_id=job_id,
        cluster_id=placed.cluster_id,
        title=title,
        new=first == job_id,
        match=placed.match,
        distance=placed.distance,
        occurrences=db.member_count(engine, placed.cluster_id),
    )


def recluster(store: Store) -> ReclusterReport:
    """Rebuild every cluster from the stored diagnoses (oldest job first), replacing the
    stored clusters and memberships in one transaction. Idempotent: a second run changes
    nothing. A link stays with its cluster id; when a linked cluster's id disappears (its
    founding failure changed), the link moves to the cluster now holding that founding job
    (or most of its old members) unless that cluster has a link of its own."""
    engine = store.engine
    placed = cluster_failures(db.failure_records(engine))
    rows: dict[str, db.ClusterRow] = {}
    members: list[db.MemberRow] = []
    new_of_job: dict[int, str] = {}
    for failure, p in placed:
        if p.match is MatchKind.NEW:
            title = cluster_title(failure.category, failure.summary)
            rows[p.cluster_id] = db.ClusterRow(
                p.cluster_id, failure.category, title, p.normalised, failure.summary
            )
        new_of_job[failure.job_id] = p.cluster_id
        members.append(
            db.MemberRow(
                job_id=failure.job_id,
                cluster_id=p.cluster_id,
                signature=exact_signature(failure.signature, failure.summary),
                first_seen=p.match is MatchKind.NEW,
                match=p.match,
                distance=p.distance,
            )
        )
    links: dict[str, ClusterLink] = {}
    moved = 0
    old_linked = [c for c in db.stored_clusters(engine) if c.link is not None]
    for c in old_linked:
        if c.cluster_id in rows and c.link is not None:
            links[c.cluster_id] = c.link
    for c in old_linked:
        if c.cluster_id in rows or c.link is None:
            continue
        target = _successor(db.cluster_members(engine, c.cluster_id), new_of_job)
        if target is not None and target not in links:
            links[target] = c.link
            moved += 1
    final = [
        db.ClusterRow(r.cluster_id, r.category, r.title, r.representative, r.example, links.get(r.cluster_id))
        for r in rows.values()
    ]
    db.replace_all(store, final, members)
    return ReclusterReport(
        failures=len(placed),
        clusters=len(rows),
        by_match=dict(Counter(p.match.value for _, p in placed)),
        links_moved=moved,
    )


def _successor(old_members: list[ClusterMember], new_of_job: dict[int, str]) -> str | None:
    for m in old_members:
        if m.first_seen and m.failure.job_id in new_of_job:
            return new_of_job[m.failure.job_id]
    votes = Counter(new_of_job[m.failure.job_id] for m in old_members if m.failure.job_id in new_of_job)
    if not votes:
        return None
    return sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


# ------------------------------------------------------------------------------------- reads
def _now(now: datetime | None) -> datetime:
    until = now or datetime.now(UTC)
    return until.replace(tzinfo=UTC) if until.tzinfo is None else until


def list_clusters(
    store: Store,
    *,
    since: timedelta | datetime | None = DEFAULT_SINCE,
    repository: str | None = None,
    top: int = DEFAULT_LIMIT,
    now: datetime | None = None,
) -> ClusterList:
    """Failure clusters with an occurrence in ``[since, now)`` (UTC; ``since`` a ``timedelta``
    back from ``now``, an absolute ``datetime``, or None for the whole history), in
    ``repository`` (``owner/name``) when given, by impact, at most ``top``.

    Counts cover the window and the repository; first/last seen and totals the whole history.
    Raises ``ValueError`` when ``top < 1``; lets SQLAlchemy errors propagate.
    """
    if top < 1:
        raise ValueError(f"limit must be at least 1, not {top}")
    until = _now(now)
    start = resolve_since(since, until)
    members = db.active_members(store.engine, since=start, until=until, repository=repository)
    by_key: dict[str, list[ClusterMember]] = defaultdict(list)
    for m in members:
        by_key[m.cluster_id].append(m)
    stored = {c.cluster_id: c for c in db.stored_clusters(store.engine, sorted(by_key))}
    out: list[FailureCluster] = []
    for key, history in by_key.items():
        view = history if repository is None else [m for m in history if m.failure.repository == repository]
        summary = summarize_cluster(stored[key], history, view, now=until, since=start)
        if summary.occurrences:
            out.append(summary)
    ranked = rank(out)
    return ClusterList(
        since=start,
        until=until,
        repository=repository,
        total=len(ranked),
        limit=top,
        clusters=tuple(ranked[:top]),
    )


def resolve_cluster_id(store: Store, text: str) -> str:
    """The full id of the cluster whose id is ``text`` or starts with it (case-insensitive).
    Raises :class:`ClusterNotFound` when none or several match."""
    prefix = text.strip().lower()
    if not _HEX.fullmatch(prefix):
        raise ClusterNotFound(f"invalid cluster id {text!r}: expected up to 16 hex digits")
    keys = db.matching_keys(store.engine, prefix, limit=2)
    if not keys:
        raise ClusterNotFound(f"no failure cluster {text!r}")
    if len(keys) > 1 and prefix not in keys:
        raise ClusterNotFound(f"cluster id {text!r} is ambiguous: give more digits")
    return prefix if prefix in keys else keys[0]


def cluster_detail(
    store: Store, cluster_id: str, *, now: datetime | None = None, occurrences: int = SHOW_OCCURRENCES
) -> ClusterDetail:
    """One cluster over the whole history: its summary, signature variants and the newest
    ``occurrences`` occurrences. ``cluster_id`` may be a unique prefix. Raises
    :class:`ClusterNotFound`."""
    key = resolve_cluster_id(store, cluster_id)
    until = _now(now)
    stored = db.stored_clusters(store.engine, [key])
    if not stored:
        raise ClusterNotFound(f"no failure cluster {cluster_id!r}")
    history = db.cluster_members(store.engine, key)
    summary = summarize_cluster(stored[0], history, history, now=until, since=None)
    newest = sorted(history, key=lambda m: (m.failure.created_at or until, m.failure.job_id), reverse=True)
    return ClusterDetail(
        cluster=summary,
        variants=tuple(signature_variants(history)),
        occurrences=tuple(occurrence(m) for m in newest[:occurrences]),
        shown=min(occurrences, len(history)),
    )


def link_cluster(
    store: Store, cluster_id: str, url: str | None, note: str | None = None, *, now: datetime | None = None
) -> FailureCluster:
    """Attach an issue URL (``http``/``https``) and/or a note to a cluster (both None clears
    the link); returns the cluster. Raises :class:`ClusterNotFound`, or ``ValueError`` for a
    URL that is not an absolute http(s) URL."""
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"invalid link URL {url!r}: expected an http:// or https:// URL")
    key = resolve_cluster_id(store, cluster_id)
    if not db.set_link(store, key, url, note or None):
        raise ClusterNotFound(f"no failure cluster {cluster_id!r}")
    return cluster_detail(store, key, now=now, occurrences=0).cluster
