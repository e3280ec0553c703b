"""Flaky tests and flaky jobs: outcome histories, verdicts with their evidence, quarantine.

Two layers of types:

- **Histories** (inputs of the analyzer; plain frozen dataclasses, cheap by the hundred
  thousand like :mod:`cimedic.model.history`): an :class:`OutcomeHistory` is the ordered list of
  :class:`Execution` records of one test (``classname::name``) in one variant (workflow and
  report file), or of one job (``workflow / job name``). Each execution names the commit it
  ran on, the run and attempt, and its :class:`Outcome`.
- **Findings** (outputs; pydantic, serialised to JSON by ``cimedic flaky --format json`` and
  stored in ``flaky_findings``): a :class:`FlakyFinding` holds the :class:`Verdict`, the figures
  (flip rate, exponentially weighted flip rate, Bayesian failure probability with its credible
  interval) and the :class:`FlakyEvidence` (which commits, which runs) the verdict rests on.

Plus the project-owned quarantine list (:class:`QuarantineEntry`), its export
(:class:`QuarantineExport`) and the proposals of ``cimedic quarantine propose``.

The rules and thresholds behind the verdicts live in :mod:`cimedic.analysis.flaky`; the
definitions are documented in ``docs/flaky.md``. Times are aware UTC ``datetime`` values;
probabilities are fractions in ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Verdict(StrEnum):
    """What the history of a test or job says about it.

    - ``flaky``: it passed and failed on the same commit (re-run attempt, another run of the
      same commit, or a retry inside one run), or it went red and green again on three or more
      separate stretches of commits.
    - ``broken``: its failures are explained by a breakage: red on consecutive commits (or red
      again when re-run) from one commit until a fix, or still red.
    - ``healthy``: enough executions (10), none failed.
    - ``insufficient data``: too few executions, or failures that no re-run has confirmed or
      refuted yet (see :attr:`FlakyFinding.rerun`).
    """

    __test__ = False

    FLAKY = "flaky"
    BROKEN = "broken"
    HEALTHY = "healthy"
    INSUFFICIENT = "insufficient data"


TestVerdict = Verdict  # the name used in the issue


class SubjectKind(StrEnum):
    """What a history is about: a test case, or a CI job."""

    TEST = "test"
    JOB = "job"


class Outcome(StrEnum):
    """Outcome of one execution. ``flaky``: failed, then passed on a retry within the execution
    (Surefire ``flakyFailure``, pytest-rerunfailures): both outcomes on one commit by itself."""

    PASS = "pass"
    FAIL = "fail"
    FLAKY = "flaky"


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution of a test or a job.

    ``commit`` identifies the code that ran (the store uses the head SHA; for ``pull_request``
    runs, whose merge commit changes with the base branch, the head SHA plus the run id).
    ``run`` is the provider's run id, ``attempt`` the run attempt when known; ``at`` when it ran
    (UTC); ``retries`` the failed tries before the final outcome within the execution;
    ``branch`` the head branch (red stretches are counted along one branch's commits).
    """

    commit: str
    outcome: Outcome
    run: str = ""
    attempt: int | None = None
    at: datetime | None = None
    retries: int = 0
    branch: str | None = None

    @property
    def run_ref(self) -> str:
        """``run`` or ``run#attempt`` (how evidence names an execution)."""
        return f"{self.run}#{self.attempt}" if self.attempt is not None else self.run


@dataclass(frozen=True, slots=True)
class OutcomeHistory:
    """The executions of one subject, oldest first.

    ``subject`` is a test id (``classname::name``) or a job (``workflow / job name``);
    ``variant`` separates configurations of the same test (``workflow | report source``, so a
    matrix leg's report is its own history); empty for jobs.
    """

    subject: str
    executions: tuple[Execution, ...]
    kind: SubjectKind = SubjectKind.TEST
    variant: str = ""
    repository: str = ""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EvidenceKind(StrEnum):
    """Kinds of evidence a verdict rests on.

    - ``same_commit``: passed and failed on one commit across runs or run attempts.
    - ``in_run_retry``: failed, then passed on a retry inside one execution.
    - ``flips``: red on separate stretches of commits with green in between (statistical: no
      re-run proved it).
    - ``breakage``: red on consecutive commits, or red again on a re-run of the same commit.
    - ``unconfirmed``: red once on one commit, never re-run: a re-run would tell.
    """

    SAME_COMMIT = "same_commit"
    IN_RUN_RETRY = "in_run_retry"
    FLIPS = "flips"
    BREAKAGE = "breakage"
    UNCONFIRMED = "unconfirmed"


class FlakyEvidence(_Model):
    """One piece of evidence: the commits and runs (``run`` or ``run#attempt``) it covers,
    how many executions passed and failed there, and when (UTC)."""

    kind: EvidenceKind
    commits: tuple[str, ...]
    runs: tuple[str, ...] = ()
    passed: int = 0
    failed: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


class FailureEstimate(_Model):
    """Bayesian estimate of the per-execution failure probability.

    Posterior ``Beta(prior_alpha + failures, prior_beta + trials - failures)`` under the
    Jeffreys prior ``Beta(1/2, 1/2)``; ``mean`` is the posterior mean, ``[low, high]`` the
    equal-tailed credible interval of probability ``level``. Every execution (and every failed
    try inside an in-run retry) is one trial; for a broken test the figure measures how much of
    the window was red, not a flake rate.
    """

    failures: int
    trials: int
    prior_alpha: float
    prior_beta: float
    mean: float
    low: float
    high: float
    level: float


class RerunRequest(_Model):
    """A targeted re-run that would settle a verdict: run ``run`` (provider id; ``attempt`` the
    execution seen) of ``commit``, whose recorded ``outcome`` was ``fail`` (a red commit never
    re-run) or ``pass`` (a green commit between two red stretches). The other outcome on a re-run
    makes the subject flaky (both outcomes on one commit); the same outcome confirms a breakage."""

    commit: str
    run: str
    attempt: int | None = None
    outcome: Outcome = Outcome.FAIL


class FlakyFinding(_Model):
    """The verdict on one test (in one variant) or one job, with its figures and evidence.

    Counts: ``executions`` (runs and re-run attempts that produced an outcome; skipped and
    cancelled ones are left out), ``commits`` (distinct commits), ``passes``/``failures``
    (executions ending green/red; an in-run retry that ended green counts as a pass and adds
    ``retried`` = 1), ``flaky_commits`` (commits with both outcomes), ``red_episodes``
    (stretches of consecutive all-red commits). ``flip_rate`` = outcome changes / (outcomes - 1)
    over the executions in order (an in-run retry is a fail then a pass); ``ewma_flip_rate`` the
    same with exponentially decaying weights (recent executions count most); both ``None``
    below two outcomes. ``evidence`` is capped (most recent first); ``rerun`` lists targeted
    re-runs that would settle an ``insufficient data`` verdict or test a ``broken`` one (red
    commits never re-run, green commits between red stretches); ``more_runs`` how many more executions
    a green subject needs for ``healthy``. ``open_breakage``: broken and still red at the latest
    commit.
    """

    kind: SubjectKind
    repository: str
    subject: str
    variant: str = ""
    verdict: Verdict
    reason: str
    executions: int
    commits: int
    passes: int
    failures: int
    retried: int = 0
    flaky_commits: int = 0
    red_episodes: int = 0
    flip_rate: float | None = None
    ewma_flip_rate: float | None = None
    failure_probability: FailureEstimate
    evidence: tuple[FlakyEvidence, ...] = ()
    rerun: tuple[RerunRequest, ...] = ()
    more_runs: int | None = None
    open_breakage: bool = False
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_failure: datetime | None = None


TestHealth = FlakyFinding  # the name used in the issue


class QuarantineEntry(_Model):
    """A test the project has quarantined in ``repository`` (``owner/name``).

    ``test_id`` is cimedic's test id (``classname::name``, as ``cimedic flaky`` shows it).
    Active while not removed and not past ``expires_at`` (UTC). ``id`` is the store's row id.
    """

    repository: str
    test_id: str
    reason: str
    owner: str
    created_at: datetime
    expires_at: datetime | None = None
    removed_at: datetime | None = None
    removed_by: str | None = None
    id: int | None = None

    def is_active(self, now: datetime) -> bool:
        """Not removed and not expired at ``now`` (aware UTC)."""
        if self.removed_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now

    def status(self, now: datetime) -> str:
        """``active``, ``expired`` or ``removed``."""
        if self.removed_at is not None:
            return "removed"
        return "active" if self.is_active(now) else "expired"


class QuarantinedTest(_Model):
    """One test of the exported quarantine list, with the selectors test runners understand.

    ``pytest_node_id`` is ``path/to/test_file.py::Class::name`` (``None`` when the report does
    not look like pytest's); ``junit_selector`` is ``Class#method`` (Maven Surefire
    ``-Dtest='!Class#method'``, Gradle filters)."""

    test_id: str
    classname: str | None = None
    name: str
    file: str | None = None
    pytest_node_id: str | None = None
    junit_selector: str | None = None
    reason: str
    owner: str
    created_at: datetime
    expires_at: datetime | None = None


class QuarantineExport(_Model):
    """The active quarantine list of a repository, as written by ``cimedic quarantine export``."""

    repository: str
    generated_at: datetime
    tests: tuple[QuarantinedTest, ...] = ()


class UnquarantineProposal(_Model):
    """A quarantined test to release: ``expired`` (past its expiry) or ``stable`` (no failure in
    the last ``stable_days`` days, over at least ``runs`` executions in them)."""

    entry: QuarantineEntry
    why: str
    runs: int = 0
    last_failure: datetime | None = None
    stable_days: float


class QuarantineProposals(_Model):
    """What ``cimedic quarantine propose`` suggests: tests to quarantine (flaky with enough
    evidence), quarantined tests to release (``stable_days``: the stable window), and flaky jobs
    (for the issue text). ``since``: start of the analysed window (UTC)."""

    repository: str
    generated_at: datetime
    since: datetime | None = None
    stable_days: float
    quarantine: tuple[FlakyFinding, ...] = ()
    unquarantine: tuple[UnquarantineProposal, ...] = ()
    flaky_jobs: tuple[FlakyFinding, ...] = ()


__all__ = [
    "EvidenceKind",
    "Execution",
    "FailureEstimate",
    "FlakyEvidence",
    "FlakyFinding",
    "Outcome",
    "OutcomeHistory",
    "QuarantineEntry",
    "QuarantineExport",
    "QuarantineProposals",
    "QuarantinedTest",
    "RerunRequest",
    "SubjectKind",
    "TestHealth",
    "TestVerdict",
    "UnquarantineProposal",
    "Verdict",
]
