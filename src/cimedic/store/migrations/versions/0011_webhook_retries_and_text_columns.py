"""webhook delivery retries (raw_events.next_attempt_at) and payload text columns as Text

Failed raw events are tried again with back-off and dead-lettered after five tries
(``cimedic.store.pipeline``). Text that comes from a provider's payload (names, branches,
refs, actors, URLs) becomes ``Text`` so PostgreSQL accepts what SQLite accepts: a 300-character
branch name was a ``DataError`` that stopped the webhook worker. SQLite does not enforce
``VARCHAR`` lengths, so the types change on PostgreSQL only (recreating SQLite tables that
other tables reference would cascade deletes).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# table -> (column, previous length)
WIDENED: dict[str, tuple[tuple[str, int], ...]] = {
    "repositories": (("default_branch", 255), ("html_url", 1024)),
    "workflows": (("name", 255), ("path", 1024)),
    "commits": (("author", 255),),
    "workflow_runs": (
        ("workflow_name", 255),
        ("workflow_path", 1024),
        ("name", 1024),
        ("event", 64),
        ("branch", 255),
        ("actor", 255),
        ("html_url", 1024),
    ),
    "pull_requests": (("head_ref", 255), ("base_ref", 255), ("url", 1024)),
    "run_attempts": (("actor", 255),),
    "jobs": (
        ("name", 1024),
        ("workflow_name", 255),
        ("head_branch", 255),
        ("runner_name", 255),
        ("runner_group", 255),
        ("html_url", 1024),
    ),
    "steps": (("name", 1024),),
    "diagnoses": (("step_name", 1024),),
    "action_audit": (("workflow_name", 255), ("branch", 255)),
    "anomaly_findings": (("workflow", 255), ("job", 1024), ("step", 1024), ("branch", 255)),
    "culprit_reports": (("branch", 255), ("failure_key", 1100), ("workflow", 255), ("job", 1024)),
}


def upgrade() -> None:
    op.add_column("raw_events", sa.Column("next_attempt_at", sa.DateTime()))
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in WIDENED.items():
        for column, length in columns:
            op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length))


def downgrade() -> None:
    with op.batch_alter_table("raw_events") as batch:
        batch.drop_column("next_attempt_at")
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in WIDENED.items():
        for column, length in columns:
            op.alter_column(
                table,
                column,
                type_=sa.String(length),
                existing_type=sa.Text(),
                postgresql_using=f"left({column}, {length})",
            )
