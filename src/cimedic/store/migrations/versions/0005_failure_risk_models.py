"""failure risk models (tables of cimedic.store.schema_risk)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=True),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=True),
        sa.Column("window_end", sa.DateTime(), nullable=True),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("n_failures", sa.Integer(), nullable=False),
        sa.Column("estimator", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("library", sa.String(length=64), nullable=True),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_models")),
        sa.UniqueConstraint("version", name="uq_risk_models_version"),
    )
    with op.batch_alter_table("risk_models", schema=None) as batch_op:
        batch_op.create_index("ix_risk_models_repository_trained", ["repository", "trained_at"], unique=False)

    op.create_table(
        "risk_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("top_features", sa.JSON(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["workflow_runs.id"],
            name=op.f("fk_risk_scores_run_id_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_scores")),
        sa.UniqueConstraint("run_id", "model_version", name="uq_risk_scores_run_model"),
    )
    with op.batch_alter_table("risk_scores", schema=None) as batch_op:
        batch_op.create_index("ix_risk_scores_scored_at", ["scored_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("risk_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_scores_scored_at")
    op.drop_table("risk_scores")
    with op.batch_alter_table("risk_models", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_models_repository_trained")
    op.drop_table("risk_models")
