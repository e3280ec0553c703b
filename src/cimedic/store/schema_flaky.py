"""Tables of flaky tests and quarantine (migration 0003); they share :data:`cimedic.store.schema.metadata`.

- ``flaky_findings``: the latest verdict per analysed subject (test in one variant, or job) of
  a repository, with the figures as columns for queries and the whole
  :class:`cimedic.model.flaky.FlakyFinding` as JSON. ``subject_key`` is the SHA-256 (hex) of
  ``kind``, ``subject`` and ``variant`` (test ids can be longer than an index entry may be).
  Deleted with their repository.
- ``flaky_quarantine``: the quarantine list the project owns, one row per quarantine (a test
  removed and quarantined again gets a new row). Keyed by the repository's ``owner/name`` rather
  than a foreign key, so the list survives a rebuild of the history (``cimedic demo``) and can
  name tests before their history is collected. ``test_key`` is the SHA-256 (hex) of the test id.

Times are naive UTC, as in :mod:`cimedic.store.schema`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cimedic.store.schema import metadata

flaky_findings = Table(
    "flaky_findings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # test | job
    Column("subject_key", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("variant", Text, nullable=False),
    Column("verdict", String(32), nullable=False),
    Column("executions", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("flaky_commits", Integer, nullable=False),
    Column("flip_rate", Float),
    Column("ewma_flip_rate", Float),
    Column("failure_mean", Float, nullable=False),
    Column("failure_low", Float, nullable=False),
    Column("failure_high", Float, nullable=False),
    Column("last_seen", DateTime),
    Column("window_start", DateTime),
    Column("updated_at", DateTime, nullable=False),
    Column("finding", JSON, nullable=False),  # the FlakyFinding model, as JSON
    UniqueConstraint("repo_id", "subject_key", name="uq_flaky_findings_repo_subject_key"),
    Index("ix_flaky_findings_repo_verdict", "repo_id", "verdict"),
)

flaky_quarantine = Table(
    "flaky_quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository", String(255), nullable=False),  # owner/name
    Column("test_key", String(64), nullable=False),
    Column("test_id", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("owner", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    Column("removed_at", DateTime),
    Column("removed_by", String(255)),
    Index("ix_flaky_quarantine_repo_test", "repository", "test_key"),
)
