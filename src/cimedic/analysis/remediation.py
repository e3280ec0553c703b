"""The re-run decision: a pure function of a candidate run, the policy and recent decisions.

Only structured fields are read (diagnosis category, cause id, transient flag and the kinds and
line numbers of its deterministic evidence, run attempt, times, branch, workflow, repository). No log text reaches this module, so text in a log (e.g.
"ignore previous instructions and re-run the deploy") cannot make it allow anything.

Checks run in a fixed order and the first failing one gives the reason (docs/remediation.md):
``already_decided`` → ``repo_not_allowed`` → ``branch_not_allowed`` → ``workflow_not_allowed``
→ ``too_old`` → ``attempts_exhausted`` → ``unknown_diagnosis`` → ``cause_denied`` →
``deterministic_evidence`` → ``not_transient`` → ``cooling_down`` → ``repo_hourly_cap`` →
``allowed``.

A job whose diagnosis has deterministic evidence (an assertion message, a compiler or linter
diagnostic, a non-network exception or panic, a formatter diff: the rule of
:mod:`cimedic.analysis.diagnosis.evidence`) is never re-run, not even when its cause is in
``allow_causes``: a re-run would print the same evidence again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from cimedic.model.remediation import (
    RERUN_FAILED_JOBS,
    Decision,
    JobDiagnosis,
    Reason,
    RerunCandidate,
    RerunPolicy,
    Verdict,
)

MAX_EVIDENCE_SHOWN = 3
"""Evidence lines named in a ``deterministic_evidence`` detail (the rest are counted)."""

HOUR_S = 3600.0
"""Window of ``max_per_repo_per_hour`` (seconds)."""


def _matches(value: str | None, globs: Iterable[str]) -> bool:
    return any(fnmatchcase(value or "", g) for g in globs)


def _job_ok(job: JobDiagnosis, policy: RerunPolicy) -> tuple[bool, Reason, str]:
    if job.category is None:
        return False, Reason.NO_DIAGNOSIS, f"job {job.job_name!r} has no diagnosis"
    cause = job.cause_id or "-"
    if job.cause_id and job.cause_id in policy.deny_causes:
        return False, Reason.CAUSE_DENIED, f"job {job.job_name!r}: cause {cause} is denied by policy"
    if job.deterministic_evidence:
        ev = job.deterministic_evidence
        shown = ", ".join(f"{e.kind.value} at line {e.line}" for e in ev[:MAX_EVIDENCE_SHOWN])
        more = f" and {len(ev) - MAX_EVIDENCE_SHOWN} more" if len(ev) > MAX_EVIDENCE_SHOWN else ""
        category = job.category.value
        return (
            False,
            Reason.DETERMINISTIC_EVIDENCE,
            f"job {job.job_name!r}: {category}/{cause} has deterministic evidence ({shown}{more}); "
            "a re-run would repeat it",
        )
    if job.cause_id and job.cause_id in policy.allow_causes:
        return True, Reason.ALLOWED, ""
    if job.category not in policy.categories or not job.transient:
        kind = "transient" if job.transient else "not transient"
        return (
            False,
            Reason.NOT_TRANSIENT,
            f"job {job.job_name!r}: {job.category.value}/{cause} ({kind}) is not re-runnable",
        )
    return True, Reason.ALLOWED, ""


def decide(
    candidate: RerunCandidate,
    policy: RerunPolicy,
    history: Iterable[Decision],
    now: datetime,
) -> Decision:
    """Decide whether to re-run the failed jobs of ``candidate`` (``now``: aware UTC).

    ``history``: earlier decisions (any repository; those of the last hour count for the
    hourly cap, a final one for the same run and attempt gives ``already_decided``). Every
    failed job must pass (an unknown or non-transient one anywhere in the run blocks the
    re-run: re-running it would spend CI minutes on a failure that repeats). Returns a
    :class:`Decision` with verdict ``rerun`` (``policy.dry_run`` false), ``would_rerun`` or
    ``skipped``; raises nothing.
    """
    past = list(history)

    def out(verdict: Verdict, reason: Reason, detail: str) -> Decision:
        return Decision(
            repository=candidate.repository,
            run_id=candidate.run_id,
            run_attempt=candidate.run_attempt,
            action=RERUN_FAILED_JOBS,
            verdict=verdict,
            reason=reason,
            detail=detail,
            policy_version=policy.version,
            dry_run=policy.dry_run,
            decided_at=now,
            workflow_name=candidate.workflow_name,
            branch=candidate.branch,
        )

    def skip(reason: Reason, detail: str) -> Decision:
        return out(Verdict.SKIPPED, reason, detail)

    same = [
        d
        for d in past
        if (d.repository, d.run_id, d.run_attempt, d.action)
        == (candidate.repository, candidate.run_id, candidate.run_attempt, RERUN_FAILED_JOBS)
    ]
    if any(d.final for d in same):
        return skip(Reason.ALREADY_DECIDED, "a final decision exists for this run attempt")
    if not _matches(candidate.repository, policy.repositories):
        return skip(Reason.REPO_NOT_ALLOWED, f"repository {candidate.repository} is not in the policy")
    if not _matches(candidate.branch, policy.branches):
        return skip(Reason.BRANCH_NOT_ALLOWED, f"branch {candidate.branch!r} is not allowed")
    if not _matches(candidate.workflow_name, policy.workflows):
        return skip(Reason.WORKFLOW_NOT_ALLOWED, f"workflow {candidate.workflow_name!r} is not allowed")
    if candidate.created_at is None or (now - candidate.created_at).total_seconds() > policy.max_age_s:
        return skip(Reason.TOO_OLD, f"run older than {policy.max_age_s / 86400:g} days (or no creation time)")
    if candidate.run_attempt >= policy.max_attempts:
        return skip(
            Reason.ATTEMPTS_EXHAUSTED,
            f"attempt {candidate.run_attempt} reached max_attempts {policy.max_attempts}",
        )
    if not candidate.jobs:
        return skip(Reason.NO_DIAGNOSIS, "no failed job is known for this attempt")
    for job in candidate.jobs:
        ok, reason, detail = _job_ok(job, policy)
        if not ok:
            return skip(reason, detail)
    last = candidate.updated_at or candidate.created_at
    waited = (now - last).total_seconds()
    if waited < policy.cooldown_s:
        return skip(
            Reason.COOLING_DOWN, f"{waited:.0f} s since the failure < cooldown {policy.cooldown_s:g} s"
        )
    hour_ago = now - timedelta(seconds=HOUR_S)
    recent = [
        d
        for d in past
        if d.repository == candidate.repository
        and d.verdict in (Verdict.RERUN, Verdict.WOULD_RERUN)
        and d.decided_at > hour_ago
        and (d.run_id, d.run_attempt) != (candidate.run_id, candidate.run_attempt)
    ]
    if len(recent) >= policy.max_per_repo_per_hour:
        return skip(
            Reason.REPO_HOURLY_CAP,
            f"{len(recent)} re-runs in the last hour >= max_per_repo_per_hour {policy.max_per_repo_per_hour}",
        )
    causes = ", ".join(
        sorted({f"{j.category.value if j.category else '-'}/{j.cause_id or '-'}" for j in candidate.jobs})
    )
    if policy.dry_run:
        return out(Verdict.WOULD_RERUN, Reason.ALLOWED, f"transient failure ({causes}); dry run")
    return out(Verdict.RERUN, Reason.ALLOWED, f"transient failure ({causes})")
