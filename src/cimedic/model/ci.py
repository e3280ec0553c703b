"""Domain types of CI history: repositories, workflow runs, attempts, jobs, steps, test results.

Provider-neutral: connectors map their payloads into these types (raw provider JSON never
leaves a connector's ``mapping`` module), the store persists them, analyzers read them.

Conventions: times are timezone-aware UTC ``datetime`` values (``None`` when the provider has
not set them yet); durations are seconds (``float``); sizes are bytes. Ids named
``provider_id`` are the provider's own numeric or string ids, unique per provider (GitHub run and
job ids are unique across all of GitHub). Provider vocabularies (GitHub ``status`` /
``conclusion``, JUnit outcomes, ...) map into :class:`Status`, :class:`Conclusion` and
:class:`TestStatus` through the tables in :mod:`cimedic.model.vocab`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Provider(StrEnum):
    """Keys of the vocabulary tables of :mod:`cimedic.model.vocab` (records carry the
    provider's registry id as a string: :class:`Repository`, :mod:`cimedic.model.providers`)."""

    GITHUB = "github"
    GITLAB = "gitlab"
    JENKINS = "jenkins"
    BITBUCKET = "bitbucket"
    AZURE = "azure"
    LOCAL = "local"


class Status(StrEnum):
    """Lifecycle state of a run, job or step (GitHub's ``status`` vocabulary, shared by all)."""

    REQUESTED = "requested"
    QUEUED = "queued"
    PENDING = "pending"
    WAITING = "waiting"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    UNKNOWN = "unknown"


class Conclusion(StrEnum):
    """Outcome of a completed run, job or step (GitHub's check-run ``conclusion`` vocabulary)."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    ACTION_REQUIRED = "action_required"
    NEUTRAL = "neutral"
    STALE = "stale"
    STARTUP_FAILURE = "startup_failure"
    UNKNOWN = "unknown"

    @property
    def is_failure(self) -> bool:
        """Red for metrics: failure, timed_out and startup_failure (cancelled is counted apart)."""
        return self in (Conclusion.FAILURE, Conclusion.TIMED_OUT, Conclusion.STARTUP_FAILURE)


class TestStatus(StrEnum):
    """Outcome of one test case. ``flaky``: failed then passed on a retry within the same run."""

    __test__ = False  # not a pytest class

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    FLAKY = "flaky"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Repository(_Model):
    """A watched repository. ``full_name`` is ``owner/name`` (``owner`` may hold several path
    parts, e.g. GitLab subgroups). ``provider`` is the provider's registry id
    (:mod:`cimedic.model.providers`)."""

    provider: str = Field(default="github", pattern=r"^[a-z0-9_]{1,16}$")
    provider_id: str | None = None
    owner: str
    name: str
    default_branch: str | None = None
    html_url: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class Workflow(_Model):
    """A workflow definition (GitHub: ``.github/workflows/*.yml``)."""

    provider_id: str
    name: str
    path: str | None = None
    state: str | None = None


class CommitRef(_Model):
    """A commit: ``sha`` plus what the provider tells about it (``timestamp`` is the commit time)."""

    sha: str
    message: str | None = None
    author: str | None = None
    timestamp: datetime | None = None


class PullRequestRef(_Model):
    """A pull request a run belongs to (``number`` in the repository; head and base branches)."""

    number: int
    head_ref: str | None = None
    head_sha: str | None = None
    base_ref: str | None = None
    url: str | None = None


class WorkflowRun(_Model):
    """One workflow run in its latest attempt (``run_attempt`` counts from 1).

    ``created_at`` is when the run was triggered, ``run_started_at`` when the latest attempt
    started, ``updated_at`` the last change (for a completed run: its completion time).
    """

    provider_id: str
    repository: str  # owner/name
    workflow_id: str | None = None
    workflow_name: str | None = None
    workflow_path: str | None = None
    run_number: int | None = None
    run_attempt: int = 1
    name: str | None = None
    display_title: str | None = None
    event: str | None = None
    branch: str | None = None
    head_sha: str
    actor: str | None = None
    status: Status = Status.UNKNOWN
    conclusion: Conclusion | None = None
    created_at: datetime | None = None
    run_started_at: datetime | None = None
    updated_at: datetime | None = None
    html_url: str | None = None
    head_commit: CommitRef | None = None
    pull_requests: tuple[PullRequestRef, ...] = ()


class RunAttempt(_Model):
    """One attempt of a workflow run (GitHub ``/runs/{id}/attempts/{n}``); attempt 1 is the first."""

    run_provider_id: str
    attempt: int
    status: Status = Status.UNKNOWN
    conclusion: Conclusion | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    actor: str | None = None


class Step(_Model):
    """One step of a job (``number`` from 1, as GitHub numbers them)."""

    number: int
    name: str
    status: Status = Status.UNKNOWN
    conclusion: Conclusion | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to completion, or ``None`` while unknown."""
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()


class Job(_Model):
    """One job of one run attempt.

    Queue time is ``started_at - created_at`` (GitHub's ``workflow_job`` timestamps); run
    time is ``completed_at - started_at``; both in seconds via the properties.
    """

    provider_id: str
    run_provider_id: str
    run_attempt: int = 1
    name: str
    workflow_name: str | None = None
    head_sha: str | None = None
    head_branch: str | None = None
    status: Status = Status.UNKNOWN
    conclusion: Conclusion | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    runner_name: str | None = None
    runner_group: str | None = None
    labels: tuple[str, ...] = ()
    html_url: str | None = None
    steps: tuple[Step, ...] = ()

    @property
    def queue_seconds(self) -> float | None:
        if self.created_at is None or self.started_at is None:
            return None
        return max(0.0, (self.started_at - self.created_at).total_seconds())

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return max(0.0, (self.completed_at - self.started_at).total_seconds())


class TestCase(_Model):
    """One test case result.

    ``retries`` counts extra executions within the run (Surefire ``flakyFailure`` /
    ``rerunFailure`` elements, pytest-rerunfailures); a test that failed and then passed on a
    retry has status ``flaky``. ``duration`` in seconds.
    """

    __test__ = False

    name: str
    classname: str | None = None
    file: str | None = None
    status: TestStatus
    duration: float | None = None
    retries: int = 0
    message: str | None = None
    failure_type: str | None = None
    details: str | None = None

    @property
    def test_id(self) -> str:
        """Stable identity of the test: ``classname::name`` (or ``file::name``, or ``name``)."""
        prefix = self.classname or self.file
        return f"{prefix}::{self.name}" if prefix else self.name


class TestSuite(_Model):
    """One test suite of a report, with its cases. ``duration`` in seconds."""

    __test__ = False

    name: str
    timestamp: datetime | None = None
    duration: float | None = None
    cases: tuple[TestCase, ...] = ()


class TestReport(_Model):
    """A parsed test report file: where it came from and its suites.

    ``source`` names the file or artifact member; ``dialect`` the producing tool when
    recognised (``surefire``, ``pytest``, ``jest``, ``go``, ``junit``); ``problems`` lists
    what was malformed and skipped (the valid rest is kept).
    """

    __test__ = False

    source: str
    dialect: str = "junit"
    suites: tuple[TestSuite, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def cases(self) -> tuple[TestCase, ...]:
        return tuple(case for suite in self.suites for case in suite.cases)


class LogRef(_Model):
    """Where a job's log is: stored ``size`` in bytes (uncompressed), whether it was truncated."""

    job_provider_id: str
    size: int
    stored_size: int
    truncated: bool = False
    fetched_at: datetime | None = None


class RunBundle(_Model):
    """A run with its jobs (all attempts), as one unit of ingest."""

    run: WorkflowRun
    attempts: tuple[RunAttempt, ...] = ()
    jobs: tuple[Job, ...] = ()
    workflow: Workflow | None = None


__all__ = [
    "CommitRef",
    "Conclusion",
    "Job",
    "LogRef",
    "Provider",
    "PullRequestRef",
    "Repository",
    "RunAttempt",
    "RunBundle",
    "Status",
    "Step",
    "TestCase",
    "TestReport",
    "TestStatus",
    "TestSuite",
    "Workflow",
    "WorkflowRun",
]
