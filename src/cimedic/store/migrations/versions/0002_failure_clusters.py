"""failure clusters (tables of cimedic.store.schema_clusters)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "failure_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("representative", sa.Text(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("link_url", sa.String(length=2048), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("linked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failure_clusters")),
        sa.UniqueConstraint("key", name="uq_failure_clusters_key"),
    )
    with op.batch_alter_table("failure_clusters", schema=None) as batch_op:
        batch_op.create_index("ix_failure_clusters_category_length", ["category", "length"], unique=False)

    op.create_table(
        "cluster_members",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=True),
        sa.Column("first_seen", sa.Boolean(), nullable=False),
        sa.Column("match", sa.String(length=16), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["failure_clusters.id"],
            name=op.f("fk_cluster_members_cluster_id_failure_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_cluster_members_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_cluster_members")),
    )
    with op.batch_alter_table("cluster_members", schema=None) as batch_op:
        batch_op.create_index("ix_cluster_members_cluster", ["cluster_id"], unique=False)
        batch_op.create_index("ix_cluster_members_signature", ["signature"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cluster_members", schema=None) as batch_op:
        batch_op.drop_index("ix_cluster_members_signature")
        batch_op.drop_index("ix_cluster_members_cluster")
    op.drop_table("cluster_members")
    with op.batch_alter_table("failure_clusters", schema=None) as batch_op:
        batch_op.drop_index("ix_failure_clusters_category_length")
    op.drop_table("failure_clusters")
