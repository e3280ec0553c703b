"""routine outcomes (table of cimedic.store.schema_routines)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routine_runs",
        sa.Column("routine_id", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("summary", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("routine_id", name="pk_routine_runs"),
    )


def downgrade() -> None:
    op.drop_table("routine_runs")
