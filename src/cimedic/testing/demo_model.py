"""Plain dataclasses of a GitHub Actions history: what the replay serves and the webhooks carry.

Times are timezone-aware UTC ``datetime`` values; durations are seconds; sizes are bytes. Ids
are GitHub-sized integers, unique within a history. Field names follow GitHub's REST objects
(https://docs.github.com/en/rest/actions/workflow-runs, .../workflow-jobs, .../artifacts), so a
reader can map each field to the JSON key of the same name.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

from cimedic.testing.demo_logs import render_log


@dataclass(frozen=True)
class DemoUser:
    """A GitHub account: ``type`` is ``User``, ``Bot`` or ``Organization``."""

    login: str
    id: int
    name: str
    email: str
    type: str = "User"


@dataclass(frozen=True)
class DemoRepo:
    """A repository; ``owner`` is an organization account."""

    id: int
    owner: DemoUser
    name: str
    description: str
    default_branch: str
    created_at: datetime
    pushed_at: datetime
    language: str = "Go"

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass(frozen=True)
class DemoWorkflow:
    """A workflow file of ``repo`` (full name), e.g. ``.github/workflows/checks.yml``."""

    id: int
    repo: str
    name: str
    path: str
    created_at: datetime
    updated_at: datetime
    state: str = "active"

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DemoCommit:
    """The head commit of a run (``head_commit`` of the run object)."""

    sha: str
    tree_id: str
    message: str
    timestamp: datetime
    author: DemoUser


@dataclass
class DemoPullRequest:
    """A pull request from a branch of the same repository into ``base_ref``.

    ``head_shas``: the commits pushed to the branch, oldest first; ``state``: ``open`` or
    ``closed``; a merged one has ``merged_at`` and ``merge_commit_sha`` (the commit on the base).
    """

    id: int
    number: int
    repo: str
    title: str
    user: DemoUser
    head_ref: str
    head_shas: list[str]
    base_ref: str
    base_sha: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None

    @property
    def head_sha(self) -> str:
        return self.head_shas[-1]


@dataclass
class DemoAttempt:
    """One attempt of a run (``run_attempt`` = ``number``); a re-run adds an attempt."""

    number: int
    started_at: datetime
    updated_at: datetime
    status: str
    conclusion: str | None
    triggering_actor: DemoUser


@dataclass
class DemoRun:
    """A workflow run. The run-level status, conclusion and times are its last attempt's.

    ``pull_requests``: the open pull requests whose head is this run's commit (filled for
    ``pull_request`` events, as GitHub does for same-repository branches).
    """

    id: int
    repo: str
    workflow_id: int
    name: str
    path: str
    run_number: int
    event: str
    head_branch: str
    head_commit: DemoCommit
    display_title: str
    actor: DemoUser
    created_at: datetime
    check_suite_id: int
    attempts: list[DemoAttempt]
    pull_requests: list[DemoPullRequest] = field(default_factory=list)

    @property
    def head_sha(self) -> str:
        return self.head_commit.sha

    @property
    def run_attempt(self) -> int:
        return self.attempts[-1].number

    @property
    def status(self) -> str:
        return self.attempts[-1].status

    @property
    def conclusion(self) -> str | None:
        return self.attempts[-1].conclusion

    @property
    def run_started_at(self) -> datetime:
        return self.attempts[-1].started_at

    @property
    def updated_at(self) -> datetime:
        return self.attempts[-1].updated_at

    def attempt(self, number: int) -> DemoAttempt | None:
        return next((a for a in self.attempts if a.number == number), None)


@dataclass(frozen=True)
class DemoStep:
    """A job step; numbered from 1; ``status`` ``completed`` | ``in_progress`` | ``queued``."""

    number: int
    name: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None


@dataclass
class DemoJob:
    """A job of one attempt of a run. GitHub's job id is also its check-run id."""

    id: int
    run_id: int
    run_attempt: int
    repo: str
    workflow_name: str
    name: str
    head_sha: str
    head_branch: str
    status: str
    conclusion: str | None
    created_at: datetime
    started_at: datetime
    completed_at: datetime | None
    steps: list[DemoStep]
    labels: list[str]
    runner_id: int | None
    runner_name: str | None
    runner_group_id: int | None = 2
    runner_group_name: str | None = "GitHub Actions"


@dataclass
class DemoLog:
    """The log of one job: a bundled real log (``source``) re-timed to the job.

    ``queue_extra``: seconds added to the log's own wait for a runner; ``cancel_after``: seconds
    after ``created_at`` at which a cancelled job stopped; ``job_defined_at``: the
    ``owner/repo/.github/workflows/x.yml@ref`` the log names.
    """

    job_id: int
    source: str
    created_at: datetime
    queue_extra: float = 0.0
    job_defined_at: str | None = None
    cancel_after: float | None = None

    def content(self) -> bytes:
        """The raw log bytes GitHub would serve (``\\r\\n`` breaks, timestamp-prefixed lines)."""
        return render_log(
            self.source,
            created_at=self.created_at,
            queue_extra=self.queue_extra,
            job_defined_at=self.job_defined_at,
            cancel_after=self.cancel_after,
        )


@dataclass
class DemoArtifact:
    """An artifact uploaded by a run: ``files`` maps member names to bytes of the zip GitHub serves."""

    id: int
    repo: str
    repo_id: int
    run_id: int
    name: str
    files: dict[str, bytes]
    created_at: datetime
    expires_at: datetime
    head_branch: str
    head_sha: str
    _zip: bytes | None = field(default=None, repr=False, compare=False)

    def zip_bytes(self) -> bytes:
        """The artifact archive (deterministic: fixed member times and order)."""
        if self._zip is None:
            buf = io.BytesIO()
            stamp = self.created_at.timetuple()[:6]
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for name in sorted(self.files):
                    zf.writestr(
                        zipfile.ZipInfo(name, date_time=stamp), self.files[name], zipfile.ZIP_DEFLATED
                    )
            self._zip = buf.getvalue()
        return self._zip

    @property
    def size_in_bytes(self) -> int:
        return len(self.zip_bytes())

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.zip_bytes()).hexdigest()


@dataclass
class DemoHistory:
    """A whole history: ``logs`` maps job id to its log (jobs without a log, e.g. skipped, have none)."""

    repos: list[DemoRepo]
    workflows: list[DemoWorkflow]
    runs: list[DemoRun]
    jobs: list[DemoJob]
    logs: dict[int, DemoLog]
    artifacts: list[DemoArtifact]
    pull_requests: list[DemoPullRequest] = field(default_factory=list)
    now: datetime | None = None

    def repo(self, full_name: str) -> DemoRepo | None:
        """The repository ``owner/name`` (case-insensitive, like GitHub)."""
        return next((r for r in self.repos if r.full_name.lower() == full_name.lower()), None)

    def workflow(self, repo: str, key: str | int) -> DemoWorkflow | None:
        """A workflow of ``repo`` by id, file name (``checks.yml``) or name."""
        for w in self.workflows:
            if w.repo.lower() == repo.lower() and str(key) in (str(w.id), w.file_name, w.name):
                return w
        return None

    def run(self, run_id: int) -> DemoRun | None:
        return next((r for r in self.runs if r.id == run_id), None)

    def job(self, job_id: int) -> DemoJob | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    def jobs_of(self, run_id: int, attempt: int | None = None) -> list[DemoJob]:
        """Jobs of a run (of one attempt when given), in id order."""
        return sorted(
            (j for j in self.jobs if j.run_id == run_id and (attempt is None or j.run_attempt == attempt)),
            key=lambda j: j.id,
        )

    def artifacts_of(self, run_id: int) -> list[DemoArtifact]:
        return [a for a in self.artifacts if a.run_id == run_id]

    def artifact(self, artifact_id: int) -> DemoArtifact | None:
        return next((a for a in self.artifacts if a.id == artifact_id), None)

    def pulls_for_commit(self, repo: str, sha: str) -> list[DemoPullRequest]:
        """Pull requests whose branch holds ``sha`` or that were merged as ``sha``."""
        return [
            p
            for p in self.pull_requests
            if p.repo.lower() == repo.lower() and (sha in p.head_shas or p.merge_commit_sha == sha)
        ]
