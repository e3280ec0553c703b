"""Types of guarded self-healing: the re-run policy, a re-run candidate and a decision.

Times are timezone-aware UTC ``datetime`` values; durations are seconds. Decisions are made
from structured data only (diagnosis category, cause id, transient flag, run attempt, times,
branch, workflow): no field here holds free log text, so a log can never trigger an action.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cimedic.model.diagnosis import Category, Evidence

RERUN_MAX_AGE_S = 30 * 24 * 3600
"""GitHub allows re-runs up to 30 days after the initial run (GitHub docs, "Re-running
workflows and jobs"; field notes, "Collecting from GitHub")."""

DEFAULT_RERUNNABLE: tuple[Category, ...] = (
    Category.NETWORK,
    Category.REGISTRY,
    Category.RATE_LIMIT,
    Category.RUNNER_LOST,
    Category.INFRASTRUCTURE,
)
"""Categories re-run by default: exactly the diagnosis engine's transient categories
(``cimedic.analysis.diagnosis.engine.TRANSIENT_CATEGORIES``: "a re-run is expected to pass").
``timeout`` is left out: a job that hits its time limit usually hangs or is slow for a reason
a re-run repeats."""


class Verdict(StrEnum):
    """What happened to a candidate: ``rerun`` (requested from GitHub), ``would_rerun``
    (allowed, but dry run), ``skipped`` (policy said no; see the reason)."""

    RERUN = "rerun"
    WOULD_RERUN = "would_rerun"
    SKIPPED = "skipped"


class Reason(StrEnum):
    """Reason code of a decision (documented in ``docs/remediation.md``)."""

    ALLOWED = "allowed"
    REPO_NOT_ALLOWED = "repo_not_allowed"
    BRANCH_NOT_ALLOWED = "branch_not_allowed"
    WORKFLOW_NOT_ALLOWED = "workflow_not_allowed"
    NO_DIAGNOSIS = "unknown_diagnosis"
    NOT_TRANSIENT = "not_transient"
    CAUSE_DENIED = "cause_denied"
    DETERMINISTIC_EVIDENCE = "deterministic_evidence"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    TOO_OLD = "too_old"
    COOLING_DOWN = "cooling_down"
    REPO_HOURLY_CAP = "repo_hourly_cap"
    ALREADY_DECIDED = "already_decided"


TEMPORARY_REASONS = frozenset({Reason.COOLING_DOWN, Reason.REPO_HOURLY_CAP})
"""Skips that a later pass re-decides (time heals them); every other decision is final."""

RERUN_FAILED_JOBS = "rerun_failed_jobs"
"""The only action: ``POST /repos/{o}/{r}/actions/runs/{id}/rerun-failed-jobs`` (GitHub REST,
"Re-run failed jobs from a workflow run": re-runs the failed jobs and their dependents)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RerunPolicy(_Frozen):
    """The re-run policy (YAML: ``cimedic.actions/default_policy.yaml``; see docs/remediation.md).

    ``categories``: diagnosis categories that may be re-run; a failed job must also be
    ``transient`` (diagnosis flag) unless its cause id is in ``allow_causes``. ``deny_causes``
    always wins. ``max_attempts``: GitHub ``run_attempt`` after which no re-run is requested
    (2 = at most one automatic re-run). ``cooldown_s``: seconds to wait after the run's last
    update. ``max_per_repo_per_hour``: re-runs requested (or, in dry run, allowed) per
    repository in the last 3600 s. ``max_age_s``: from the run's creation. ``branches`` /
    ``workflows``: fnmatch globs (``*`` = any); ``repositories``: ``owner/name`` globs.
    ``dry_run``: record decisions without acting (default true).
    """

    version: str = "1"
    dry_run: bool = True
    repositories: tuple[str, ...] = ("*",)
    branches: tuple[str, ...] = ("*",)
    workflows: tuple[str, ...] = ("*",)
    categories: tuple[Category, ...] = DEFAULT_RERUNNABLE
    allow_causes: tuple[str, ...] = ()
    deny_causes: tuple[str, ...] = ()
    max_attempts: int = Field(default=2, ge=1)
    cooldown_s: float = Field(default=300.0, ge=0)
    max_per_repo_per_hour: int = Field(default=5, ge=0)
    max_age_s: float = Field(default=float(RERUN_MAX_AGE_S), gt=0, le=float(RERUN_MAX_AGE_S))


class JobDiagnosis(_Frozen):
    """Structured facts of one failed job of the candidate's latest attempt (no log text):
    ``category``/``cause_id``/``transient`` from the stored diagnosis, ``None`` when the job
    has no diagnosis yet. ``deterministic_evidence``: kind and line of the diagnosis's
    deterministic evidence (no text); ``()`` also for diagnoses stored before it existed."""

    job_name: str
    category: Category | None = None
    cause_id: str | None = None
    transient: bool = False
    signature: str | None = None
    deterministic_evidence: tuple[Evidence, ...] = ()


class RerunCandidate(_Frozen):
    """A workflow run whose latest attempt failed: ``run_id`` is GitHub's run id."""

    repository: str
    run_id: str
    run_attempt: int
    workflow_name: str | None = None
    branch: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    jobs: tuple[JobDiagnosis, ...] = ()


class Decision(_Frozen):
    """One decision about one (repository, run, attempt, action); every decision is audited.

    ``result``: ``None`` (nothing executed), ``pending`` (recorded before the request),
    ``ok`` or ``error`` (then ``error`` holds the message).
    """

    repository: str
    run_id: str
    run_attempt: int
    action: str = RERUN_FAILED_JOBS
    verdict: Verdict
    reason: Reason
    detail: str
    policy_version: str
    dry_run: bool
    decided_at: datetime
    workflow_name: str | None = None
    branch: str | None = None
    result: str | None = None
    error: str | None = None

    @property
    def final(self) -> bool:
        """True when a later pass must not re-decide this (run, attempt)."""
        return not (
            self.verdict is Verdict.WOULD_RERUN
            or (self.verdict is Verdict.SKIPPED and self.reason in TEMPORARY_REASONS)
        )
