"""Run attempts derived from the jobs of a run (no extra GitHub request).

``GET /actions/runs/{id}/jobs?filter=all`` returns the jobs of every attempt, each with its
``run_attempt``; one :class:`~cimedic.model.RunAttempt` per attempt number is built from them,
so a backfill needs no ``/attempts/{n}`` request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cimedic.model.ci import Conclusion, Job, RunAttempt, Status, WorkflowRun

_RANK: dict[Conclusion, int] = {
    Conclusion.FAILURE: 6,
    Conclusion.STARTUP_FAILURE: 5,
    Conclusion.TIMED_OUT: 4,
    Conclusion.CANCELLED: 3,
    Conclusion.ACTION_REQUIRED: 2,
    Conclusion.SUCCESS: 1,
}


def _worst(conclusions: Iterable[Conclusion | None]) -> Conclusion | None:
    """Worst job conclusion: failure > startup_failure > timed_out > cancelled >
    action_required > success; skipped / neutral / stale / unknown are ignored unless they are
    all there is (then ``skipped`` if all skipped, else ``neutral``)."""
    seen = [c for c in conclusions if c is not None]
    ranked = [c for c in seen if c in _RANK]
    if ranked:
        return max(ranked, key=_RANK.__getitem__)
    if not seen:
        return None
    return Conclusion.SKIPPED if all(c is Conclusion.SKIPPED for c in seen) else Conclusion.NEUTRAL


def _attempt_status(jobs: Sequence[Job]) -> Status:
    if not jobs:
        return Status.UNKNOWN
    statuses = {job.status for job in jobs}
    if statuses == {Status.COMPLETED}:
        return Status.COMPLETED
    if Status.IN_PROGRESS in statuses or Status.COMPLETED in statuses:
        return Status.IN_PROGRESS
    for status in (Status.WAITING, Status.PENDING, Status.QUEUED, Status.REQUESTED):
        if status in statuses:
            return status
    return Status.UNKNOWN


def attempts_from_jobs(run: WorkflowRun, jobs: Iterable[Job]) -> tuple[RunAttempt, ...]:
    """Derive the run's attempts from its jobs, without extra API requests.

    One :class:`RunAttempt` per ``run_attempt`` seen among the jobs of ``run`` (jobs of other
    runs are ignored), plus the run's latest attempt ``run.run_attempt``; sorted by attempt.
    Per attempt: ``started_at`` = earliest job ``started_at`` / ``created_at``; ``updated_at`` =
    latest job ``completed_at``; ``status`` is ``completed`` only when every job is; the
    ``conclusion`` (only when completed) is the worst job conclusion (see :func:`_worst`).
    For the latest attempt the run's own status and conclusion win (GitHub's run object
    describes its latest attempt), and its times fill what the jobs leave unknown.
    Source: REST "Workflow runs" (``run_attempt``) and "Workflow jobs" (``filter=all``).
    """
    by_attempt: dict[int, list[Job]] = {run.run_attempt: []}
    for job in jobs:
        if job.run_provider_id == run.provider_id:
            by_attempt.setdefault(job.run_attempt, []).append(job)
    attempts: list[RunAttempt] = []
    for number in sorted(by_attempt):
        group = by_attempt[number]
        starts = [t for job in group for t in (job.created_at, job.started_at) if t is not None]
        ends = [job.completed_at for job in group if job.completed_at is not None]
        status = _attempt_status(group)
        conclusion = _worst(job.conclusion for job in group) if status is Status.COMPLETED else None
        started_at = min(starts) if starts else None
        updated_at = max(ends) if ends else None
        actor = None
        if number == run.run_attempt:
            if run.status is not Status.UNKNOWN:
                status = run.status
            if run.conclusion is not None:
                conclusion = run.conclusion
            elif status is not Status.COMPLETED:
                conclusion = None
            started_at = started_at or run.run_started_at or run.created_at
            updated_at = updated_at or (run.updated_at if status is Status.COMPLETED else None)
            actor = run.actor
        attempts.append(
            RunAttempt(
                run_provider_id=run.provider_id,
                attempt=number,
                status=status,
                conclusion=conclusion,
                started_at=started_at,
                updated_at=updated_at,
                actor=actor,
            )
        )
    return tuple(attempts)


__all__ = ["attempts_from_jobs"]
