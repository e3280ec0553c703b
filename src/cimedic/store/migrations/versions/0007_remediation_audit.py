"""remediation audit (tables of cimedic.store.schema_actions)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("run_provider_id", sa.String(length=64), nullable=False),
        sa.Column("run_attempt", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("workflow_name", sa.String(length=255), nullable=True),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_audit")),
        sa.UniqueConstraint(
            "repository",
            "run_provider_id",
            "run_attempt",
            "action",
            name="uq_action_audit_run_attempt_action",
        ),
    )
    with op.batch_alter_table("action_audit", schema=None) as batch_op:
        batch_op.create_index("ix_action_audit_decided_at", ["decided_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_action_audit_decided_at")
    op.drop_table("action_audit")
