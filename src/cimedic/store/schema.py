"""Tables of the history store (SQLAlchemy 2 Core). Alembic migrations create them.

Times are stored as timezone-naive UTC ``DateTime`` (SQLite has no time zones; the
repository converts to aware UTC on the way out). Durations are seconds (``Float``), sizes
bytes. Provider ids are strings (GitHub's are 64-bit integers; other providers use strings).
Every natural key has a unique constraint so that ingest is an idempotent upsert. Text that
comes from a provider's payload (names, branches, refs, actors, URLs) is ``Text``: no length
limit on either backend, so SQLite and PostgreSQL accept the same data (migration 0011).
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
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("full_name", String(255), nullable=False),
    Column("provider_id", String(64)),
    Column("default_branch", Text),
    Column("html_url", Text),
    UniqueConstraint("provider", "full_name", name="uq_repositories_provider_full_name"),
)

workflows = Table(
    "workflows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("provider_id", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("path", Text),
    Column("state", String(32)),
    UniqueConstraint("repo_id", "provider_id", name="uq_workflows_repo_provider_id"),
)

commits = Table(
    "commits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("sha", String(64), nullable=False),
    Column("message", Text),
    Column("author", Text),
    Column("timestamp", DateTime),
    UniqueConstraint("repo_id", "sha", name="uq_commits_repo_sha"),
)

workflow_runs = Table(
    "workflow_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("workflow_id", ForeignKey("workflows.id", ondelete="SET NULL")),
    Column("provider_id", String(64), nullable=False),
    Column("workflow_name", Text),
    Column("workflow_path", Text),
    Column("run_number", Integer),
    Column("run_attempt", Integer, nullable=False, default=1),
    Column("name", Text),
    Column("display_title", Text),
    Column("event", Text),
    Column("branch", Text),
    Column("head_sha", String(64), nullable=False),
    Column("actor", Text),
    Column("status", String(32), nullable=False),
    Column("conclusion", String(32)),
    Column("created_at", DateTime),
    Column("run_started_at", DateTime),
    Column("updated_at", DateTime),
    Column("duration_s", Float),
    Column("html_url", Text),
    UniqueConstraint("repo_id", "provider_id", name="uq_workflow_runs_repo_provider_id"),
    Index("ix_workflow_runs_repo_created", "repo_id", "created_at"),
    Index("ix_workflow_runs_created", "created_at"),
    Index("ix_workflow_runs_head_sha", "repo_id", "head_sha"),
)

pull_requests = Table(
    "pull_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("head_ref", Text),
    Column("head_sha", String(64)),
    Column("base_ref", Text),
    Column("url", Text),
    UniqueConstraint("run_id", "number", name="uq_pull_requests_run_number"),
)

run_attempts = Table(
    "run_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("conclusion", String(32)),
    Column("started_at", DateTime),
    Column("updated_at", DateTime),
    Column("actor", Text),
    UniqueConstraint("run_id", "attempt", name="uq_run_attempts_run_attempt"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False),
    Column("provider_id", String(64), nullable=False),
    Column("run_attempt", Integer, nullable=False, default=1),
    Column("name", Text, nullable=False),
    Column("workflow_name", Text),
    Column("head_sha", String(64)),
    Column("head_branch", Text),
    Column("status", String(32), nullable=False),
    Column("conclusion", String(32)),
    Column("created_at", DateTime),
    Column("started_at", DateTime),
    Column("completed_at", DateTime),
    Column("queue_s", Float),
    Column("duration_s", Float),
    Column("runner_name", Text),
    Column("runner_group", Text),
    Column("labels", JSON),
    Column("html_url", Text),
    # pipeline state of the failed-job log: none | pending | stored | expired | error
    Column("log_state", String(16), nullable=False, default="none"),
    Column("log_error", Text),
    UniqueConstraint("repo_id", "provider_id", name="uq_jobs_repo_provider_id"),
    Index("ix_jobs_created", "created_at"),
    Index("ix_jobs_run", "run_id"),
    Index("ix_jobs_log_state", "log_state"),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("conclusion", String(32)),
    Column("started_at", DateTime),
    Column("completed_at", DateTime),
    Column("duration_s", Float),
    UniqueConstraint("job_id", "number", name="uq_steps_job_number"),
)

test_reports = Table(
    "test_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", ForeignKey("jobs.id", ondelete="SET NULL")),
    Column("source", String(1024), nullable=False),
    Column("dialect", String(32), nullable=False),
    Column("problems", JSON),
    Column("ingested_at", DateTime, nullable=False),
    # the run attempt whose artifact held the report (None: unknown, e.g. ``ingest junit``);
    # re-run attempts upload artifacts with the same name, so the key includes it (migration 0012)
    Column("run_attempt", Integer),
    UniqueConstraint("run_id", "run_attempt", "source", name="uq_test_reports_run_attempt_source"),
)

# One row per test-report artifact of a stored run that collection found (migration 0012):
# what was fetched, what failed and what is deferred to a later poll by the request budget.
# status: pending (found, not fetched yet) | fetched | failed (tried again later) | skipped
# (never fetched: expired, not a zip, or too many failed tries)
test_report_artifacts = Table(
    "test_report_artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False),
    Column("artifact_id", String(64), nullable=False),  # the provider's artifact id
    Column("name", Text, nullable=False),
    Column("run_attempt", Integer),  # derived from created_at (services.collect_reports)
    Column("created_at", DateTime),  # when the provider says the artifact was created
    Column("size_in_bytes", Integer),
    Column("status", String(16), nullable=False, default="pending"),
    Column("tries", Integer, nullable=False, default=0),
    Column("requests", Integer, nullable=False, default=0),  # requests spent by the last try
    Column("tried_at", DateTime),  # the last try
    Column("fetched_at", DateTime),
    Column("reports", Integer, nullable=False, default=0),  # test reports stored from it
    Column("error", Text),
    UniqueConstraint("run_id", "artifact_id", name="uq_test_report_artifacts_run_artifact"),
    Index("ix_test_report_artifacts_status", "repo_id", "status"),
    Index("ix_test_report_artifacts_tried", "tried_at"),
)

test_cases = Table(
    "test_cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("report_id", ForeignKey("test_reports.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False),
    Column("suite", String(1024)),
    Column("test_id", String(2048), nullable=False),
    Column("classname", String(1024)),
    Column("name", String(1024), nullable=False),
    Column("file", String(1024)),
    Column("status", String(16), nullable=False),
    Column("duration_s", Float),
    Column("retries", Integer, nullable=False, default=0),
    Column("message", Text),
    Column("failure_type", String(512)),
    Index("ix_test_cases_run", "run_id"),
    Index("ix_test_cases_report", "report_id"),
)

job_logs = Table(
    "job_logs",
    metadata,
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("content", LargeBinary, nullable=False),  # zlib-compressed bytes
    Column("size", Integer, nullable=False),  # uncompressed bytes kept
    Column("original_size", Integer, nullable=False),  # bytes the provider served
    Column("truncated", Boolean, nullable=False, default=False),
    Column("sha256", String(64), nullable=False),
    Column("fetched_at", DateTime, nullable=False),
)

diagnoses = Table(
    "diagnoses",
    metadata,
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("category", String(32), nullable=False),
    Column("signature", String(64)),
    Column("summary", Text),
    Column("transient", Boolean, nullable=False, default=False),
    Column("cause_id", String(255)),
    Column("step_name", Text),
    Column("line", Integer),
    Column("engine_version", String(32), nullable=False),
    Column("analyzed_at", DateTime, nullable=False),
    Column("result", JSON, nullable=False),  # the Diagnosis model, as JSON
    # its deterministic evidence: [{"line", "kind"}] (no text; migration 0012; NULL: none recorded)
    Column("evidence", JSON),
    Index("ix_diagnoses_signature", "signature"),
)

raw_events = Table(
    "raw_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),  # webhook | junit | ...
    Column("key", String(255), nullable=False),  # X-GitHub-Delivery, or a content hash
    Column("event", String(64), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # zlib-compressed body, as received
    Column("meta", JSON),  # small typed context (repository, run id) as given by the caller
    # processing status: pending | done | failed (tried again later) | dead (dead-lettered)
    Column("status", String(16), nullable=False, default="pending"),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),  # processing tries
    Column("processed_at", DateTime),
    Column("next_attempt_at", DateTime),  # when a failed one is tried again (back-off)
    UniqueConstraint("source", "key", name="uq_raw_events_source_key"),
    Index("ix_raw_events_status", "status"),
)

etags = Table(
    "etags",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("etag", String(255), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("last_sync_at", DateTime),
    Column("last_poll_at", DateTime),
    Column("newest_run_created_at", DateTime),
    # when the repository's artifacts were last listed (test reports; migration 0012)
    Column("artifacts_listed_at", DateTime),
    # the start of the created-time span those listings cover without a gap (migration 0012)
    Column("artifacts_listed_from", DateTime),
)

# Tables of the analyzers (one module each, one migration each); imported here so that
# ``metadata`` knows every table (Alembic, tests).
from cimedic.store import (  # noqa: E402, F401
    schema_actions,
    schema_anomalies,
    schema_chat,
    schema_clusters,
    schema_flaky,
    schema_llm,
    schema_notify,
    schema_risk,
    schema_routines,
)
