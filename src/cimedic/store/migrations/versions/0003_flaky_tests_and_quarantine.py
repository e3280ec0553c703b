"""flaky tests and quarantine (tables of cimedic.store.schema_flaky)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flaky_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("flaky_commits", sa.Integer(), nullable=False),
        sa.Column("flip_rate", sa.Float(), nullable=True),
        sa.Column("ewma_flip_rate", sa.Float(), nullable=True),
        sa.Column("failure_mean", sa.Float(), nullable=False),
        sa.Column("failure_low", sa.Float(), nullable=False),
        sa.Column("failure_high", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("window_start", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finding", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repositories.id"],
            name=op.f("fk_flaky_findings_repo_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flaky_findings")),
        sa.UniqueConstraint("repo_id", "subject_key", name="uq_flaky_findings_repo_subject_key"),
    )
    with op.batch_alter_table("flaky_findings", schema=None) as batch_op:
        batch_op.create_index("ix_flaky_findings_repo_verdict", ["repo_id", "verdict"], unique=False)

    op.create_table(
        "flaky_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("test_key", sa.String(length=64), nullable=False),
        sa.Column("test_id", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("removed_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flaky_quarantine")),
    )
    with op.batch_alter_table("flaky_quarantine", schema=None) as batch_op:
        batch_op.create_index("ix_flaky_quarantine_repo_test", ["repository", "test_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flaky_quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_flaky_quarantine_repo_test")
    op.drop_table("flaky_quarantine")
    with op.batch_alter_table("flaky_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_flaky_findings_repo_verdict")
    op.drop_table("flaky_findings")
