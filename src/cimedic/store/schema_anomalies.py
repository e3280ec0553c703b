"""Tables of anomalies and culprits (migration 0004); they share :data:`cimedic.store.schema.metadata`.

``anomaly_findings`` holds one row per anomaly (:class:`cimedic.model.anomalies.Anomaly`),
``culprit_reports`` one row per culprit report (:class:`cimedic.model.culprits.CulpritReport`).
``result`` is the model as JSON (``model_dump(mode="json")``); the other columns are what
listings filter and sort on. ``finding_key`` / ``report_key`` are the SHA-256 (hex) of the
model's natural key (``Anomaly.key``: kind, scope, onset run; ``CulpritReport.report_key``:
branch, failure key, job, first red job), unique per repository, so analysing the same history
again replaces a finding instead of adding one. Rows go with their repository (``ON DELETE
CASCADE``). Run ids are the store's ``workflow_runs.id`` values (no foreign key: a finding
outlives nothing, it is recomputed). Times are naive UTC like the rest of the store.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
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

anomaly_findings = Table(
    "anomaly_findings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("finding_key", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # duration | queue | failure_rate
    Column("scope_level", String(16), nullable=False),  # workflow | job | step | runner
    Column("workflow", Text),
    Column("job", Text),
    Column("step", Text),
    Column("branch", Text),
    Column("onset_at", DateTime, nullable=False),
    Column("onset_run_id", Integer, nullable=False),
    Column("relative_change", Float),
    Column("ongoing", Boolean, nullable=False),
    Column("detected_at", DateTime, nullable=False),
    Column("result", JSON, nullable=False),  # the Anomaly model, as JSON
    UniqueConstraint("repo_id", "finding_key", name="uq_anomaly_findings_repo_key"),
    Index("ix_anomaly_findings_repo_onset", "repo_id", "onset_at"),
)

culprit_reports = Table(
    "culprit_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("report_key", String(64), nullable=False),
    Column("branch", Text, nullable=False),
    Column("failure_key", Text, nullable=False),  # cluster:<id> | sig:<signature> | job:<name>
    Column("workflow", Text),
    Column("job", Text, nullable=False),
    Column("signature", String(64)),
    Column("cluster_id", String(64)),
    Column("first_red_run_id", Integer, nullable=False),
    Column("first_red_at", DateTime, nullable=False),
    Column("last_green_run_id", Integer),
    Column("top_suspect_sha", String(64)),
    Column("pr_not_cause", Boolean, nullable=False),
    Column("ongoing", Boolean, nullable=False),
    Column("detected_at", DateTime, nullable=False),
    Column("result", JSON, nullable=False),  # the CulpritReport model, as JSON
    UniqueConstraint("repo_id", "report_key", name="uq_culprit_reports_repo_key"),
    Index("ix_culprit_reports_repo_first_red", "repo_id", "first_red_at"),
)
