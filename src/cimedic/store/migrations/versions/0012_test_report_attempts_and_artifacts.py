"""test reports keyed by run attempt; test-report artifacts tracked (fetched, failed, deferred)

``test_reports`` gets a nullable ``run_attempt`` and its unique key becomes
``(run_id, run_attempt, source)``: re-run attempts upload artifacts with the same name, and the
old key ``(run_id, source)`` made attempt 2 overwrite the reports of attempt 1.
``test_report_artifacts`` records every test-report artifact collection found, so an
interrupted sync, a failed download or the request budget defers an artifact instead of
losing it; ``sync_state.artifacts_listed_at`` is when the artifacts were last listed.

SQLite cannot drop a unique constraint in place: ``test_reports`` is recreated (Alembic batch
mode). With ``foreign_keys=ON`` dropping the old table deletes its ``test_cases`` by cascade
(SQLite docs, "DROP TABLE": an implicit ``DELETE FROM``), so the test cases are copied aside
first and put back.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_KEEP = "_cimedic_0012_test_cases"


def _rekey_test_reports(columns: tuple[str, ...], old: str, new: str, *, add: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(f"CREATE TABLE {_KEEP} AS SELECT * FROM test_cases")
    with op.batch_alter_table("test_reports", recreate="auto") as batch:
        if add:
            batch.add_column(sa.Column("run_attempt", sa.Integer(), nullable=True))
        batch.drop_constraint(old, type_="unique")
        if not add:
            batch.drop_column("run_attempt")
        batch.create_unique_constraint(new, list(columns))
    if sqlite:
        op.execute(
            f"INSERT INTO test_cases SELECT * FROM {_KEEP} "
            "WHERE id NOT IN (SELECT id FROM test_cases) AND report_id IN (SELECT id FROM test_reports)"
        )
        op.execute(f"DROP TABLE {_KEEP}")


def upgrade() -> None:
    _rekey_test_reports(
        ("run_id", "run_attempt", "source"),
        "uq_test_reports_run_source",
        "uq_test_reports_run_attempt_source",
        add=True,
    )
    op.add_column("sync_state", sa.Column("artifacts_listed_at", sa.DateTime(), nullable=True))
    op.add_column("sync_state", sa.Column("artifacts_listed_from", sa.DateTime(), nullable=True))
    op.add_column("diagnoses", sa.Column("evidence", sa.JSON(), nullable=True))
    op.create_table(
        "test_report_artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("run_attempt", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("size_in_bytes", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("tried_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repositories.id"],
            name=op.f("fk_test_report_artifacts_repo_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["workflow_runs.id"],
            name=op.f("fk_test_report_artifacts_run_id_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_report_artifacts")),
        sa.UniqueConstraint("run_id", "artifact_id", name="uq_test_report_artifacts_run_artifact"),
    )
    op.create_index("ix_test_report_artifacts_status", "test_report_artifacts", ["repo_id", "status"])
    op.create_index("ix_test_report_artifacts_tried", "test_report_artifacts", ["tried_at"])


def downgrade() -> None:
    op.drop_index("ix_test_report_artifacts_tried", table_name="test_report_artifacts")
    op.drop_index("ix_test_report_artifacts_status", table_name="test_report_artifacts")
    op.drop_table("test_report_artifacts")
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("artifacts_listed_at")
        batch.drop_column("artifacts_listed_from")
    with op.batch_alter_table("diagnoses") as batch:
        batch.drop_column("evidence")
    # reports of later attempts would break the old key: keep the latest attempt's report per source
    op.execute(
        "DELETE FROM test_reports WHERE run_attempt IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM test_reports AS later WHERE later.run_id = test_reports.run_id "
        "AND later.source = test_reports.source AND later.run_attempt > test_reports.run_attempt)"
    )
    _rekey_test_reports(
        ("run_id", "source"), "uq_test_reports_run_attempt_source", "uq_test_reports_run_source", add=False
    )
