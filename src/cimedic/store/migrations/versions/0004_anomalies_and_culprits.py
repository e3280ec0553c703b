"""anomalies and culprits (tables of cimedic.store.schema_anomalies)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anomaly_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("finding_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope_level", sa.String(length=16), nullable=False),
        sa.Column("workflow", sa.String(length=255), nullable=True),
        sa.Column("job", sa.String(length=1024), nullable=True),
        sa.Column("step", sa.String(length=1024), nullable=True),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("onset_at", sa.DateTime(), nullable=False),
        sa.Column("onset_run_id", sa.Integer(), nullable=False),
        sa.Column("relative_change", sa.Float(), nullable=True),
        sa.Column("ongoing", sa.Boolean(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repositories.id"],
            name=op.f("fk_anomaly_findings_repo_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_findings")),
        sa.UniqueConstraint("repo_id", "finding_key", name="uq_anomaly_findings_repo_key"),
    )
    with op.batch_alter_table("anomaly_findings", schema=None) as batch_op:
        batch_op.create_index("ix_anomaly_findings_repo_onset", ["repo_id", "onset_at"], unique=False)

    op.create_table(
        "culprit_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("report_key", sa.String(length=64), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("failure_key", sa.String(length=1100), nullable=False),
        sa.Column("workflow", sa.String(length=255), nullable=True),
        sa.Column("job", sa.String(length=1024), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=True),
        sa.Column("cluster_id", sa.String(length=64), nullable=True),
        sa.Column("first_red_run_id", sa.Integer(), nullable=False),
        sa.Column("first_red_at", sa.DateTime(), nullable=False),
        sa.Column("last_green_run_id", sa.Integer(), nullable=True),
        sa.Column("top_suspect_sha", sa.String(length=64), nullable=True),
        sa.Column("pr_not_cause", sa.Boolean(), nullable=False),
        sa.Column("ongoing", sa.Boolean(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repositories.id"],
            name=op.f("fk_culprit_reports_repo_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_culprit_reports")),
        sa.UniqueConstraint("repo_id", "report_key", name="uq_culprit_reports_repo_key"),
    )
    with op.batch_alter_table("culprit_reports", schema=None) as batch_op:
        batch_op.create_index("ix_culprit_reports_repo_first_red", ["repo_id", "first_red_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("culprit_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_culprit_reports_repo_first_red")
    op.drop_table("culprit_reports")
    with op.batch_alter_table("anomaly_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_anomaly_findings_repo_onset")
    op.drop_table("anomaly_findings")
