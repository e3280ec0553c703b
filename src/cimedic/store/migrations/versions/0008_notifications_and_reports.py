"""notifications and reports (tables of cimedic.store.schema_notify)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=1024), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_log")),
        sa.UniqueConstraint("dedup_key", name="uq_notification_log_dedup_key"),
    )
    with op.batch_alter_table("notification_log", schema=None) as batch_op:
        batch_op.create_index("ix_notification_log_created", ["created_at"], unique=False)

    op.create_table(
        "repo_health",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure_rate", sa.Float(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repositories.id"],
            name=op.f("fk_repo_health_repo_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repo_health")),
        sa.UniqueConstraint("repo_id", name="uq_repo_health_repo"),
    )

    op.create_table(
        "notify_digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("digested_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_digest")),
        sa.UniqueConstraint("dedup_key", name="uq_notify_digest_dedup_key"),
    )
    with op.batch_alter_table("notify_digest", schema=None) as batch_op:
        batch_op.create_index("ix_notify_digest_pending", ["digested_at"], unique=False)

    op.create_table(
        "notify_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=False),
        sa.Column("digest_sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_passes")),
    )
    with op.batch_alter_table("notify_passes", schema=None) as batch_op:
        batch_op.create_index("ix_notify_passes_ran_at", ["ran_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notify_passes", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_passes_ran_at")
    op.drop_table("notify_passes")
    with op.batch_alter_table("notify_digest", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_digest_pending")
    op.drop_table("notify_digest")
    op.drop_table("repo_health")
    with op.batch_alter_table("notification_log", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_log_created")
    op.drop_table("notification_log")
