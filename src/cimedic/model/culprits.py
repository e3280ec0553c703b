"""Culprit reports: which commit (or pull request) most likely started a failure on a branch.

What :mod:`cimedic.analysis.culprits` builds and ``cimedic culprits`` prints; the store keeps
them as JSON of these models. ``docs/anomalies.md`` defines every field. Times are aware UTC
``datetime`` values; ``run_id`` is the store's ``workflow_runs.id`` and ``run_provider_id`` the
provider's run id (the one users read), job ids are ``jobs.id``.
Scores are ordinal heuristics in [0, 1], not probabilities.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from cimedic.model.anomalies import CommitInfo
from cimedic.model.ci import Conclusion

__all__ = ["CommitInfo", "CulpritReport", "CulpritScan", "FailureKey", "JobOutcomeRef", "Suspect"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FailureKey(_Frozen):
    """What "the same failure" means for a report, most specific first: a failure cluster
    (``cluster_id``, from the clustering of failures when it is wired in), else the diagnosis
    ``signature`` of the failed job, else the failing ``job`` name alone (jobs without a
    diagnosis). ``workflow`` and ``job`` name the job whose history the report follows."""

    workflow: str | None = None
    job: str
    signature: str | None = None
    cluster_id: str | None = None

    @property
    def value(self) -> str:
        """``cluster:<id>``, ``sig:<signature>`` or ``job:<name>``."""
        if self.cluster_id:
            return f"cluster:{self.cluster_id}"
        if self.signature:
            return f"sig:{self.signature}"
        return f"job:{self.job}"


class JobOutcomeRef(_Frozen):
    """One outcome of the followed job: its run (store id and the provider's run id), job
    (attempt), time, head commit and conclusion."""

    run_id: int
    run_provider_id: str | None = None
    job_id: int | None = None
    run_attempt: int = 1
    created_at: datetime
    head_sha: str
    conclusion: Conclusion | None = None
    event: str | None = None
    branch: str | None = None
    pr_number: int | None = None


class Suspect(_Frozen):
    """A commit ranked as a possible cause, with its ``score`` (higher is more suspect) and the
    ``reasons`` that made it (``first_red_head``, ``pr_failed_same``, ``mentions_failure``,
    ``category_hint``, ``only_candidate``; see ``docs/anomalies.md``)."""

    sha: str
    message: str | None = None
    author: str | None = None
    pr_number: int | None = None
    score: float
    reasons: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return (self.message or "").split("\n", 1)[0]


class CulpritReport(_Frozen):
    """One failure episode of one job on one branch, and its suspects.

    The episode starts at ``first_red`` (the first failure with ``key`` after ``last_green``,
    the job's last success before it; ``None`` when the history holds none) and lasts until
    ``fixed_by`` (the job's next success; ``None``: still red, ``ongoing``). ``red_runs``
    counts the failures with ``key`` in the episode, ``last_red`` is the newest.
    ``commits`` lists what changed between last green and first red (head commits of the
    branch's stored runs in between, plus the provider's compare API when it was asked;
    ``compare_error`` says why it could not be), oldest first; ``suspects`` ranks them.

    ``intermittent``: a red head commit also passed this job (a re-run or another run on the
    same commit), so the failure is likely flaky and the commits are weak suspects.
    ``transient``: the diagnosis calls the failure transient (network, registry, runner lost,
    ...): a re-run of the same commit passes, so no commit caused it and ``suspects`` is empty.

    Pull-request branches: ``pr_number``/``base_branch`` name the pull request;
    ``also_fails_on_base`` is true when the base branch failed with the same key in the same
    period (``base_red`` is that run), and then ``pr_not_cause`` is true: the pull request did
    not cause the failure. ``None`` for branches that are not pull-request branches.
    """

    repository: str
    branch: str
    key: FailureKey
    category: str | None = None
    summary: str | None = None
    last_green: JobOutcomeRef | None = None
    first_red: JobOutcomeRef
    last_red: JobOutcomeRef
    red_runs: int
    fixed_by: JobOutcomeRef | None = None
    ongoing: bool = False
    commits: tuple[CommitInfo, ...] = ()
    compare_used: bool = False
    compare_error: str | None = None
    suspects: tuple[Suspect, ...] = ()
    intermittent: bool = False
    transient: bool = False
    is_pull_request: bool = False
    pr_number: int | None = None
    base_branch: str | None = None
    also_fails_on_base: bool | None = None
    base_red: JobOutcomeRef | None = None
    pr_not_cause: bool = False

    @property
    def report_key(self) -> str:
        """Natural key: branch, failure key, followed job and first red job (re-analysis replaces it)."""
        first = self.first_red.job_id if self.first_red.job_id is not None else self.first_red.run_id
        return f"{self.branch}\x1f{self.key.value}\x1f{self.key.workflow or ''}\x1f{self.key.job}\x1f{first}"


class CulpritScan(_Frozen):
    """What ``cimedic culprits`` found: the window ``[since, until)`` (UTC; first red runs in it),
    the filters, how many compare API calls were made, and the reports (newest first red first).
    ``CulpritScan.model_dump(mode="json")`` is its JSON."""

    since: datetime | None
    until: datetime
    repository: str | None = None
    branch: str | None = None
    signature: str | None = None
    cluster_id: str | None = None
    compare_calls: int = 0
    reports: tuple[CulpritReport, ...] = ()
