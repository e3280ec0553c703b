"""Tables of remediation audit (migration 0007); they share :data:`cimedic.store.schema.metadata`.

``action_audit`` holds one row per decision of ``cimedic heal`` (taken or not, and why):
the repository (``owner/name``) and GitHub run id and attempt, the action, the verdict
(``rerun``/``would_rerun``/``skipped``), the reason code and text, the policy version, dry
run or not, the decision time (naive UTC), and for an executed action its result
(``pending``/``ok``/``error``) and error. The unique key (repository, run, attempt, action)
makes a decision happen once: a restart re-reads it instead of acting again.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from cimedic.store.schema import metadata

action_audit = Table(
    "action_audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository", String(255), nullable=False),
    Column("run_provider_id", String(64), nullable=False),
    Column("run_attempt", Integer, nullable=False),
    Column("action", String(64), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("workflow_name", Text),
    Column("branch", Text),
    Column("decided_at", DateTime, nullable=False),
    Column("result", String(16)),
    Column("error", Text),
    UniqueConstraint(
        "repository", "run_provider_id", "run_attempt", "action", name="uq_action_audit_run_attempt_action"
    ),
    Index("ix_action_audit_decided_at", "decided_at"),
)
