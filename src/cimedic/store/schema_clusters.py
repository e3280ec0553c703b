"""Tables of failure clusters (migration 0002); they share :data:`cimedic.store.schema.metadata`.

``failure_clusters`` holds one row per cluster: ``key`` is the public cluster id (16 hex,
:func:`cimedic.analysis.clustering.cluster_id`), ``representative`` the founding normalised
text (``length`` its length in characters, for the near-duplicate length filter), ``example``
the founding raw primary line, and the user's link (URL, note). ``cluster_members`` maps each
clustered job to its cluster (deleting the job deletes it), with ``first_seen`` (the job is the
cluster's earliest occurrence: the failure was new there) and how it matched, so "new vs
recurring" is known from ingest on. ``signature`` is the trusted diagnosis signature used for
exact grouping (NULL when it cannot be trusted).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cimedic.store.schema import metadata

failure_clusters = Table(
    "failure_clusters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("title", String(255), nullable=False),
    Column("representative", Text, nullable=False),
    Column("length", Integer, nullable=False),
    Column("example", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("link_url", String(2048)),
    Column("note", Text),
    Column("linked_at", DateTime),
    UniqueConstraint("key", name="uq_failure_clusters_key"),
    Index("ix_failure_clusters_category_length", "category", "length"),
)

cluster_members = Table(
    "cluster_members",
    metadata,
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("cluster_id", ForeignKey("failure_clusters.id", ondelete="CASCADE"), nullable=False),
    Column("signature", String(64)),
    Column("first_seen", Boolean, nullable=False, default=False),
    Column("match", String(16), nullable=False),
    Column("distance", Integer),
    Column("assigned_at", DateTime, nullable=False),
    Index("ix_cluster_members_cluster", "cluster_id"),
    Index("ix_cluster_members_signature", "signature"),
)
