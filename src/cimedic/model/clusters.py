"""Domain types of failure clusters (``cimedic failures``): diagnoses grouped across runs,
workflows and repositories.

Input records (:class:`FailureRecord`, :class:`ClusterSeed`, :class:`StoredCluster`) are flat
frozen dataclasses, cheap to build by the hundred thousand; what the service hands to the
interfaces (:class:`FailureCluster`, :class:`ClusterDetail`, :class:`ClusterList`,
:class:`ClusterAssignment`) are pydantic models whose JSON is the ``--format json`` contract
(``docs/failures.md``). Times are aware UTC ``datetime`` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Trend(StrEnum):
    """Direction of a cluster's occurrence count: the last trend window against the one before
    it (rule and test in :func:`cimedic.analysis.clustering.trend`)."""

    RISING = "rising"
    STEADY = "steady"
    FADING = "fading"


class MatchKind(StrEnum):
    """How a failure joined its cluster.

    ``new``: it founded the cluster (first seen); ``signature``: same diagnosis signature as an
    earlier member; ``text``: same normalised text as the cluster's founding text; ``similar``:
    normalised text within the edit-distance limit of the founding text.
    """

    NEW = "new"
    SIGNATURE = "signature"
    TEXT = "text"
    SIMILAR = "similar"


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """One diagnosed failed job, as the store hands it to clustering.

    ``summary`` is the primary error line of the diagnosis (``diagnoses.summary``),
    ``signature`` the engine's 32-hex signature of its masked primary line; ``created_at`` is
    the job's creation time (UTC). ``run_url`` is the job's (else the run's) web page.
    """

    job_id: int
    run_id: int
    run_provider_id: str
    run_attempt: int
    repository: str
    workflow: str | None
    job_name: str
    branch: str | None
    created_at: datetime | None
    category: str
    signature: str | None
    summary: str
    transient: bool
    step_name: str | None = None
    run_url: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterSeed:
    """What near-duplicate matching needs of an existing cluster: its id, category and founding
    normalised text (the representative)."""

    cluster_id: str
    category: str
    representative: str


@dataclass(frozen=True, slots=True)
class Placement:
    """Where clustering put one failure: cluster id, how it matched, the edit distance to the
    representative (``similar`` only), and the founding normalised text (``new`` only, else '')."""

    cluster_id: str
    match: MatchKind
    distance: int | None
    normalised: str


@dataclass(frozen=True, slots=True)
class ClusterMember:
    """A failure with its cluster membership as stored: ``first_seen`` is true for the
    cluster's earliest member (by the job's ``created_at``: the failure was new there), false
    for a recurrence."""

    failure: FailureRecord
    cluster_id: str
    first_seen: bool
    match: MatchKind
    distance: int | None = None


class ClusterLink(BaseModel):
    """A user-attached link of a cluster (an issue URL) and a free-text note."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = None
    note: str | None = None
    linked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredCluster:
    """A cluster row of the store: id (16 hex), category, title, founding normalised text, the
    founding raw primary line, and the link."""

    cluster_id: str
    category: str
    title: str
    representative: str
    example: str
    created_at: datetime | None
    updated_at: datetime | None
    link: ClusterLink | None = None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClusterOccurrence(_Frozen):
    """One occurrence (a failed job) of a cluster, for example runs and ``failures show``:
    ``run_id`` is the provider's run id (as in the run's URL), ``job_id`` the store's job id,
    ``text`` the primary error line with secrets redacted."""

    job_id: int
    run_id: str
    run_attempt: int
    repository: str
    workflow: str | None
    job: str
    branch: str | None
    step: str | None
    created_at: datetime | None
    transient: bool
    first_seen: bool
    match: MatchKind
    distance: int | None = None
    signature: str | None = None
    text: str = ""
    url: str | None = None


class FailureCluster(_Frozen):
    """One failure cluster as listed by ``cimedic failures``.

    Counts (``occurrences``, ``jobs``, ``runs``, ``transient_share``, the affected names,
    ``impact``) cover the listing window and filter; ``first_seen``/``last_seen``/
    ``total_occurrences`` cover the whole stored history. ``recent``/``previous`` are the
    occurrences in the last trend window and the one before it (``trend_window_days`` days
    each). ``new``: the cluster's first occurrence ever falls inside the listing window (for a
    listing over the whole history, every cluster is new); ``recurring`` is exactly ``not new``:
    it was seen before the window and again inside it. ``title`` is ``<category>: <example
    line>`` and ``example`` the founding failure's primary line, both as read in the log with
    secrets redacted; ``representative`` is the masked, normalised text used for matching
    (secrets redacted here too).
    """

    id: str
    title: str
    category: str
    representative: str
    example: str
    first_seen: datetime | None
    last_seen: datetime | None
    occurrences: int
    total_occurrences: int
    jobs: int
    runs: int
    recurring: bool
    new: bool
    repositories: tuple[str, ...]
    workflows: tuple[str, ...]
    job_names: tuple[str, ...]
    branches: tuple[str, ...]
    trend: Trend
    recent: int
    previous: int
    trend_window_days: float
    transient_share: float
    impact: float
    examples: tuple[ClusterOccurrence, ...] = ()
    link: ClusterLink | None = None


class SignatureVariant(_Frozen):
    """A distinct diagnosis signature inside a cluster, with its count and an example line."""

    signature: str | None
    count: int
    example: str


class ClusterDetail(_Frozen):
    """``cimedic failures show``: the cluster over the whole history, its signature variants,
    and its occurrences newest first (at most ``shown`` of ``cluster.total_occurrences``)."""

    cluster: FailureCluster
    variants: tuple[SignatureVariant, ...]
    occurrences: tuple[ClusterOccurrence, ...]
    shown: int


class ClusterList(_Frozen):
    """``cimedic failures``: clusters with an occurrence in ``[since, until)`` (UTC; ``since``
    None = the whole history), by impact, at most ``limit``; ``total`` before the limit."""

    since: datetime | None
    until: datetime
    repository: str | None
    total: int
    limit: int
    clusters: tuple[FailureCluster, ...]


class ClusterAssignment(_Frozen):
    """Where a newly diagnosed job went at ingest: its cluster, whether the failure is ``new``
    (no earlier occurrence is stored: the job is the cluster's earliest member) or a
    recurrence, how it matched, and the cluster's occurrences including it."""

    job_id: int
    cluster_id: str
    title: str
    new: bool
    match: MatchKind
    distance: int | None
    occurrences: int
