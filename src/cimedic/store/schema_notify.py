"""Tables of notifications and reports (migration 0008); they share :data:`cimedic.store.schema.metadata`.

- ``notification_log``: one row per notification handled (sent, failed, dry run, or queued for
  the digest), unique on its ``dedup_key``: a key present here is never sent again.
  ``channel`` lists the channels tried (comma-separated), ``error`` their errors.
- ``repo_health``: the last recorded health state per repository (state changes notify).
- ``notify_digest``: events waiting for the next digest (``digested_at`` NULL = pending).
- ``notify_passes``: one row per ``notify`` pass (the "since the last run" cursor).

Times are naive UTC like the rest of the store.
"""

from __future__ import annotations

from sqlalchemy import (
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

notification_log = Table(
    "notification_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dedup_key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("repository", String(255)),
    Column("title", String(1024), nullable=False),
    Column("url", String(2048)),
    Column("severity", String(16), nullable=False),
    Column("channel", String(255), nullable=False),  # comma-separated: apprise,github
    Column("status", String(16), nullable=False),  # sent | failed | dry_run | queued
    Column("error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    UniqueConstraint("dedup_key", name="uq_notification_log_dedup_key"),
    Index("ix_notification_log_created", "created_at"),
)

repo_health = Table(
    "repo_health",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("failure_rate", Float),
    Column("runs", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("reason", String(255), nullable=False),
    Column("changed_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("repo_id", name="uq_repo_health_repo"),
)

notify_digest = Table(
    "notify_digest",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dedup_key", String(255), nullable=False),
    Column("event", Text, nullable=False),  # the NotificationEvent as JSON
    Column("queued_at", DateTime, nullable=False),
    Column("digested_at", DateTime),
    UniqueConstraint("dedup_key", name="uq_notify_digest_dedup_key"),
    Index("ix_notify_digest_pending", "digested_at"),
)

notify_passes = Table(
    "notify_passes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ran_at", DateTime, nullable=False),
    Column("digest_sent", Integer, nullable=False),  # 1 when this pass sent a digest
    Index("ix_notify_passes_ran_at", "ran_at"),
)
