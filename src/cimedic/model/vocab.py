"""The one table that maps provider vocabularies into the shared enums.

Sources: GitHub REST "Workflow runs" and "Check runs" (``status``: requested, in_progress,
completed, queued, pending, waiting; ``conclusion``: success, failure, neutral, cancelled,
skipped, timed_out, action_required, stale, startup_failure); GitLab CI job statuses; Jenkins
``Result`` (SUCCESS, UNSTABLE, FAILURE, NOT_BUILT, ABORTED); JUnit XML outcomes.
Unknown words map to ``UNKNOWN`` rather than raising, so one odd value never loses a record.
"""

from __future__ import annotations

from cimedic.model.ci import Conclusion, Provider, Status, TestStatus

STATUS_MAP: dict[tuple[Provider, str], Status] = {
    **{(Provider.GITHUB, s.value): s for s in Status if s is not Status.UNKNOWN},
    (Provider.GITLAB, "created"): Status.QUEUED,
    (Provider.GITLAB, "pending"): Status.PENDING,
    (Provider.GITLAB, "running"): Status.IN_PROGRESS,
    (Provider.GITLAB, "manual"): Status.WAITING,
    (Provider.GITLAB, "scheduled"): Status.WAITING,
    (Provider.GITLAB, "success"): Status.COMPLETED,
    (Provider.GITLAB, "failed"): Status.COMPLETED,
    (Provider.GITLAB, "canceled"): Status.COMPLETED,
    (Provider.GITLAB, "skipped"): Status.COMPLETED,
}

CONCLUSION_MAP: dict[tuple[Provider, str], Conclusion] = {
    **{(Provider.GITHUB, c.value): c for c in Conclusion if c is not Conclusion.UNKNOWN},
    (Provider.GITLAB, "success"): Conclusion.SUCCESS,
    (Provider.GITLAB, "failed"): Conclusion.FAILURE,
    (Provider.GITLAB, "canceled"): Conclusion.CANCELLED,
    (Provider.GITLAB, "skipped"): Conclusion.SKIPPED,
    (Provider.JENKINS, "SUCCESS"): Conclusion.SUCCESS,
    (Provider.JENKINS, "UNSTABLE"): Conclusion.FAILURE,
    (Provider.JENKINS, "FAILURE"): Conclusion.FAILURE,
    (Provider.JENKINS, "NOT_BUILT"): Conclusion.SKIPPED,
    (Provider.JENKINS, "ABORTED"): Conclusion.CANCELLED,
}

TEST_STATUS_MAP: dict[str, TestStatus] = {
    "passed": TestStatus.PASSED,
    "success": TestStatus.PASSED,
    "failure": TestStatus.FAILED,
    "failed": TestStatus.FAILED,
    "error": TestStatus.ERROR,
    "skipped": TestStatus.SKIPPED,
    "disabled": TestStatus.SKIPPED,
    "flaky": TestStatus.FLAKY,
}


def status_of(provider: Provider, word: str | None) -> Status:
    """Map a provider's status word (``None`` → ``UNKNOWN``)."""
    if word is None:
        return Status.UNKNOWN
    return STATUS_MAP.get((provider, word), Status.UNKNOWN)


def conclusion_of(provider: Provider, word: str | None) -> Conclusion | None:
    """Map a provider's conclusion word; ``None`` stays ``None`` (not concluded yet)."""
    if word is None or word == "":
        return None
    return CONCLUSION_MAP.get((provider, word), Conclusion.UNKNOWN)


def test_status_of(word: str) -> TestStatus:
    """Map a JUnit-style outcome word; unknown words count as ``error``."""
    return TEST_STATUS_MAP.get(word.lower(), TestStatus.ERROR)


test_status_of.__test__ = False  # type: ignore[attr-defined]
