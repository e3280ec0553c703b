"""Failure clustering: group diagnosed failures across runs, workflows and repositories, and
summarise each group (pure functions of stored data; ``docs/failures.md``).

Placement of one failure (Kubernetes triage's approach, ``shared/docs/field-notes.md``):

1. **Exact signature.** A failure whose diagnosis signature was seen before in the same
   category joins that signature's cluster. Only *trusted* signatures count (:func:`exact_signature`): when the
   engine anchored on a CI failure marker (``##[error]Process completed with exit code 1``),
   the signature is the marker's, shared by unrelated failures, and the stored primary line
   is another line; such failures go by their text alone.
2. **Same normalised text** (:func:`cimedic.analysis.cluster_text.normalise`) as a cluster's
   founding text, in the same category.
3. **Near-duplicate**: the nearest founding text of the same category whose edit distance is
   below 10% of the mean length (:func:`cimedic.analysis.cluster_text.near_duplicate_distance`);
   ties go to the smaller cluster id.
4. Otherwise the failure **founds** a cluster: it is new, later members are recurrences.

A cluster's id is the first 16 hex digits of SHA-256 of ``category + "\\n" + founding
normalised text`` (after LUCI Analysis's cluster ids), so the same history in the same order
always gives the same clusters and ids. The canonical order is the jobs' ``created_at``, then
their store id (:func:`cluster_failures`).
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cimedic.analysis.cluster_text import (
    length_window,
    near_duplicate_distance,
    ngram_counts,
    normalise,
    readable_line,
)
from cimedic.analysis.diagnosis.text import mask
from cimedic.analysis.redact import redact
from cimedic.model.clusters import (
    ClusterMember,
    ClusterOccurrence,
    ClusterSeed,
    FailureCluster,
    FailureRecord,
    MatchKind,
    Placement,
    SignatureVariant,
    StoredCluster,
    Trend,
)

__all__ = [
    "EXAMPLES",
    "IMPACT_HALF_LIFE",
    "TITLE_CHARS",
    "TREND_ALPHA",
    "TREND_WINDOW",
    "ClusterIndex",
    "cluster_failures",
    "cluster_id",
    "cluster_title",
    "display_title",
    "exact_signature",
    "impact",
    "nearest",
    "occurrence",
    "rank",
    "signature_variants",
    "summarize_cluster",
    "trend",
]

# Titles: category + the founding failure's error line (redacted), cut here (characters).
TITLE_CHARS = 100
# Example runs shown per cluster in listings.
EXAMPLES = 3
# Trend windows: the last 7 days against the 7 days before. Whole weeks, so that the weekly
# cycle of CI activity (quiet weekends) cancels; 7 days is also LUCI Analysis's longest
# impact window (1, 3 and 7 days).
TREND_WINDOW = timedelta(days=7)
# Significance level of the one-sided exact conditional test of two Poisson counts
# (Przyborowski & Wilenski 1940, Biometrika 31: given n = recent + previous, recent is
# Binomial(n, 1/2) when the rate is unchanged); 0.05 is the conventional level.
TREND_ALPHA = 0.05
# Impact: each occurrence weighs 2^(-age / half-life); the half-life is the trend window.
IMPACT_HALF_LIFE = TREND_WINDOW

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = datetime.max.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------- identity
def cluster_id(category: str, normalised: str) -> str:
    """The id of a cluster founded by ``normalised`` text in ``category``: 16 lowercase hex
    digits (first 8 bytes of SHA-256 of ``category + "\\n" + normalised``)."""
    return hashlib.sha256(f"{category}\n{normalised}".encode()).hexdigest()[:16]


def cluster_title(category: str, example: str) -> str:
    """``"<category>: <example line>"``: a real error line of the cluster (its founding
    failure's primary line) as a user reads it (:func:`~cimedic.analysis.cluster_text.readable_line`:
    secrets redacted, annotation prefix dropped, white space collapsed), cut at
    :data:`TITLE_CHARS` characters (an ellipsis marks the cut). The masked, normalised text
    (``vN.N.N``) is for matching and ids only, never a title."""
    text = readable_line(example, TITLE_CHARS)
    return f"{category}: {text or '(no error line)'}"


def display_title(cluster: StoredCluster) -> str:
    """The title of a stored cluster, from its stored example line (so clusters stored with an
    older, masked title read well too); the stored title when there is no example."""
    return cluster_title(cluster.category, cluster.example) if cluster.example.strip() else cluster.title


def exact_signature(signature: str | None, summary: str) -> str | None:
    """The signature to group by exactly, or None when it cannot be trusted.

    The engine's signature is the SHA-256 (32 hex) of the masked primary line. It is trusted
    when it is the hash of the stored ``summary`` line, or when that line is the engine's
    500-character cut of a longer one (CI failure markers are short). Otherwise the engine
    anchored on a failure marker and listed the failed command's last output line first.
    """
    if not signature:
        return None
    text = summary.strip()
    if len(text) >= 499:
        return signature
    return signature if hashlib.sha256(mask(text).encode("utf-8")).hexdigest()[:32] == signature else None


# --------------------------------------------------------------------------------- placement
@dataclass(slots=True)
class _Entry:
    seed: ClusterSeed
    counts: tuple[int, ...]


class ClusterIndex:
    """Incremental clustering state: clusters by id and category, trusted signatures.

    :meth:`place` says where a failure would go without changing anything; :meth:`assign`
    places it and records the result (a new cluster, a newly seen signature).
    """

    def __init__(
        self, seeds: Iterable[ClusterSeed] = (), signatures: Iterable[tuple[str, str, str]] = ()
    ) -> None:
        """``seeds``: existing clusters; ``signatures``: ``(category, signature, cluster id)``
        of trusted signatures already placed."""
        self._clusters: dict[str, _Entry] = {}
        # per category: representatives' lengths (sorted) and the entries in the same order
        self._by_category: dict[str, tuple[list[int], list[_Entry]]] = {}
        self._signatures: dict[tuple[str, str], str] = {}
        for seed in seeds:
            self.add_cluster(seed)
        for category, signature, cid in signatures:
            self._signatures.setdefault((category, signature), cid)

    def __len__(self) -> int:
        return len(self._clusters)

    @property
    def seeds(self) -> list[ClusterSeed]:
        """The clusters, in the order they were added."""
        return [e.seed for e in self._clusters.values()]

    def add_cluster(self, seed: ClusterSeed) -> None:
        if seed.cluster_id in self._clusters:
            return
        entry = _Entry(seed, ngram_counts(seed.representative))
        self._clusters[seed.cluster_id] = entry
        lengths, entries = self._by_category.setdefault(seed.category, ([], []))
        at = bisect.bisect_right(lengths, len(seed.representative))
        lengths.insert(at, len(seed.representative))
        entries.insert(at, entry)

    def place(self, category: str, signature: str | None, summary: str) -> Placement:
        """Where a failure goes (rules 1-4 of the module docstring); changes nothing."""
        exact = exact_signature(signature, summary)
        if exact is not None and (category, exact) in self._signatures:
            return Placement(self._signatures[(category, exact)], MatchKind.SIGNATURE, None, "")
        norm = normalise(summary)
        cid = cluster_id(category, norm)
        if cid in self._clusters:
            return Placement(cid, MatchKind.TEXT, 0, "")
        lengths, entries = self._by_category.get(category, ([], []))
        lo, hi = length_window(len(norm))
        best = nearest(norm, entries[bisect.bisect_left(lengths, lo) : bisect.bisect_right(lengths, hi)])
        if best is not None:
            return Placement(best[0], MatchKind.SIMILAR, best[1], "")
        return Placement(cid, MatchKind.NEW, None, norm)

    def assign(self, category: str, signature: str | None, summary: str) -> Placement:
        """:meth:`place`, then remember a new cluster and the (trusted) signature."""
        placed = self.place(category, signature, summary)
        if placed.match is MatchKind.NEW:
            self.add_cluster(ClusterSeed(placed.cluster_id, category, placed.normalised))
        exact = exact_signature(signature, summary)
        if exact is not None:
            self._signatures.setdefault((category, exact), placed.cluster_id)
        return placed


def nearest(normalised: str, candidates: Iterable[_Entry | ClusterSeed]) -> tuple[str, int] | None:
    """The candidate (``ClusterSeed`` or index entry) whose representative is a near-duplicate
    of ``normalised`` with the smallest edit distance (ties: smaller cluster id), as
    ``(cluster_id, distance)``; None when there is none."""
    counts = ngram_counts(normalised)
    best: tuple[int, str] | None = None
    for cand in candidates:
        seed, ccounts = (cand.seed, cand.counts) if isinstance(cand, _Entry) else (cand, None)
        dist = near_duplicate_distance(normalised, seed.representative, counts, ccounts)
        if dist is not None and (best is None or (dist, seed.cluster_id) < best):
            best = (dist, seed.cluster_id)
    return None if best is None else (best[1], best[0])


def _order_key(f: FailureRecord) -> tuple[bool, datetime, int]:
    """The canonical order: ``created_at`` (unknown last), then ``job_id``."""
    return (f.created_at is None, f.created_at or _NEVER, f.job_id)


def cluster_failures(failures: Iterable[FailureRecord]) -> list[tuple[FailureRecord, Placement]]:
    """Cluster ``failures`` from scratch in the canonical order (``created_at``, unknown
    last, then ``job_id``) and return each with its placement, in that order. The first member of each
    cluster has ``MatchKind.NEW``. Same input, same output."""
    index = ClusterIndex()
    out: list[tuple[FailureRecord, Placement]] = []
    for f in sorted(failures, key=_order_key):
        out.append((f, index.assign(f.category, f.signature, f.summary)))
    return out


# --------------------------------------------------------------------------------- summaries
def _binom_tail_ge(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0**n


def trend(recent: int, previous: int, alpha: float = TREND_ALPHA) -> Trend:
    """Rising, fading or steady, from the occurrences in the last window and the one before.

    Exact conditional test of two Poisson counts (Przyborowski & Wilenski 1940): with
    ``n = recent + previous``, an unchanged rate makes ``recent ~ Binomial(n, 1/2)``. Rising
    when ``P(X >= recent) <= alpha`` (one-sided), fading when ``P(X <= recent) <= alpha``,
    steady otherwise. So at least 5 occurrences are needed to call a trend (5 vs 0: p = 1/32).
    """
    if recent < 0 or previous < 0:
        raise ValueError("counts must not be negative")
    n = recent + previous
    if n == 0:
        return Trend.STEADY
    if recent > previous and _binom_tail_ge(recent, n) <= alpha:
        return Trend.RISING
    if previous > recent and _binom_tail_ge(previous, n) <= alpha:
        return Trend.FADING
    return Trend.STEADY


def impact(members: Sequence[ClusterMember], now: datetime) -> float:
    """Impact of a cluster's occurrences (higher = fix first).

    ``sum(2^(-age / 7 days)) * (1 + log2(distinct jobs))``: occurrences weigh by recency
    (half-life :data:`IMPACT_HALF_LIFE`), and a failure that hits many distinct jobs
    (repository, workflow, job name) blocks more people than one that repeats in one job.
    Kubernetes triage ranks clusters by their number of failures; LUCI Analysis by failures
    over recent windows; the decay and the breadth factor are cimedic's.
    """
    if not members:
        return 0.0
    half = IMPACT_HALF_LIFE.total_seconds()
    weight = 0.0
    for m in members:
        when = m.failure.created_at
        age = max(0.0, (now - when).total_seconds()) if when is not None else 4 * half
        weight += 2.0 ** (-age / half)
    jobs = len({(m.failure.repository, m.failure.workflow, m.failure.job_name) for m in members})
    return round(weight * (1.0 + math.log2(jobs)), 6)


def occurrence(m: ClusterMember) -> ClusterOccurrence:
    """The JSON-facing form of a member."""
    f = m.failure
    return ClusterOccurrence(
        job_id=f.job_id,
        run_id=f.run_provider_id,
        run_attempt=f.run_attempt,
        repository=f.repository,
        workflow=f.workflow,
        job=f.job_name,
        branch=f.branch,
        step=f.step_name,
        created_at=f.created_at,
        transient=f.transient,
        first_seen=m.first_seen,
        match=m.match,
        distance=m.distance,
        signature=f.signature,
        text=readable_line(f.summary),
        url=f.run_url,
    )


def _newest_first(members: Iterable[ClusterMember]) -> list[ClusterMember]:
    return sorted(members, key=lambda m: _order_key(m.failure), reverse=True)


def _names(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if v}))


def summarize_cluster(
    cluster: StoredCluster,
    history: Sequence[ClusterMember],
    view: Sequence[ClusterMember],
    *,
    now: datetime,
    since: datetime | None,
    examples: int = EXAMPLES,
) -> FailureCluster:
    """One :class:`FailureCluster`.

    ``new`` when the cluster's first occurrence (over the whole ``history``) falls in the
    window (``since`` None: the whole history), else ``recurring``: it was seen before the
    window and again in it. One definition for every output (text, JSON, reports).

    ``history`` are all members of the cluster (first/last seen, total, new); ``view``
    the members that pass the listing's filter (repository), at any time: the window
    ``[since, now)`` of it gives the counts, names, transient share, impact and examples
    (newest first, one per run), and the trend windows end at ``now``.
    """
    window = [
        m
        for m in view
        if m.failure.created_at is not None
        and (since is None or m.failure.created_at >= since)
        and m.failure.created_at < now
    ]
    times = [m.failure.created_at for m in history if m.failure.created_at is not None]
    first, last = (min(times), max(times)) if times else (None, None)
    recent_start, previous_start = now - TREND_WINDOW, now - 2 * TREND_WINDOW
    recent = previous = 0
    for m in view:
        when = m.failure.created_at
        if when is None or when >= now:
            continue
        if when >= recent_start:
            recent += 1
        elif when >= previous_start:
            previous += 1
    seen_runs: set[int] = set()
    shown: list[ClusterOccurrence] = []
    for m in _newest_first(window):
        if len(shown) >= examples:
            break
        if m.failure.run_id not in seen_runs:
            seen_runs.add(m.failure.run_id)
            shown.append(occurrence(m))
    n = len(window)
    new = first is not None and (since is None or first >= since)
    return FailureCluster(
        id=cluster.cluster_id,
        title=display_title(cluster),
        category=cluster.category,
        representative=redact(cluster.representative).text,
        example=readable_line(cluster.example),
        first_seen=first,
        last_seen=last,
        occurrences=n,
        total_occurrences=len(history),
        jobs=len({(m.failure.repository, m.failure.workflow, m.failure.job_name) for m in window}),
        runs=len({m.failure.run_id for m in window}),
        recurring=not new,
        new=new,
        repositories=_names(m.failure.repository for m in window),
        workflows=_names(m.failure.workflow for m in window),
        job_names=_names(m.failure.job_name for m in window),
        branches=_names(m.failure.branch for m in window),
        trend=trend(recent, previous),
        recent=recent,
        previous=previous,
        trend_window_days=TREND_WINDOW / timedelta(days=1),
        transient_share=round(sum(m.failure.transient for m in window) / n, 4) if n else 0.0,
        impact=impact(window, now),
        examples=tuple(shown),
        link=cluster.link,
    )


def rank(clusters: Iterable[FailureCluster]) -> list[FailureCluster]:
    """Clusters by impact, highest first; ties by the latest occurrence, then id."""

    def key(c: FailureCluster) -> tuple[float, float, str]:
        last = (c.last_seen or _EPOCH).timestamp()
        return (-c.impact, -last, c.id)

    return sorted(clusters, key=key)


def signature_variants(members: Iterable[ClusterMember]) -> list[SignatureVariant]:
    """The distinct diagnosis signatures of a cluster, most frequent first (ties: signature),
    each with its count and the newest example line."""
    counts: Counter[str | None] = Counter()
    example: dict[str | None, str] = {}
    for m in _newest_first(members):
        counts[m.failure.signature] += 1
        if m.failure.signature not in example:
            example[m.failure.signature] = readable_line(m.failure.summary)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] or ""))
    return [SignatureVariant(signature=s, count=c, example=example[s]) for s, c in ordered]
