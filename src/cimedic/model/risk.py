"""Failure risk of a run: what the feature extractor reads, what a score and a model look like.

``cimedic risk`` scores a run's probability of failing from what is known when it starts (see
``docs/risk.md``). The types here cross layers:

- :class:`RiskRun` (store → analysis): one run of the history, flat, with its outcome when it
  is known. The LRTS benchmark builds the same records from Jenkins builds, so the product and
  the benchmark share one feature definition (:mod:`cimedic.analysis.risk_features`).
- :class:`RiskScore` (analysis → store, CLI, API): a run's probability with the features that
  pushed it most.
- :class:`RiskModelInfo` (store ↔ services ↔ CLI): a trained model's version, training
  window, size, estimator, features and its honest, time-ordered evaluation against two
  baselines (:class:`RiskEvaluation`).

Conventions: times are timezone-aware UTC ``datetime``; durations are seconds; probabilities,
rates and precisions are fractions in [0, 1]; a figure that cannot be computed (one class
only, no data) is ``None`` (JSON ``null``), never 0. Contributions are in log-odds units
(natural log), positive = towards failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AucEstimate",
    "CandidateScore",
    "ChurnStats",
    "FeatureContribution",
    "FeatureImportance",
    "MethodScores",
    "RiskEvaluation",
    "RiskModelInfo",
    "RiskReport",
    "RiskRun",
    "RiskScore",
]


@dataclass(frozen=True, slots=True)
class ChurnStats:
    """Size of the change a run builds: files touched, lines added and deleted (vs the base)."""

    changed_files: int
    additions: int
    deletions: int


@dataclass(frozen=True, slots=True)
class RiskRun:
    """One run (or build) of the history, as the risk feature extractor reads it.

    - ``key``: unique id of the run in the history (the store's run id as text; LRTS
      ``project/pr_name#build_id``).
    - ``repository``: the project (``owner/name``).
    - ``workflow``: the pipeline definition (GitHub workflow name; ``None`` for LRTS, where a
      project has one PR pipeline).
    - ``branch``: the head branch (GitHub; for a PR run its head ref). ``pull_request``: an id
      of the PR the run builds, or ``None`` (a push). Together with ``workflow`` they make the
      run's *job*: the same pipeline on the same PR (or on the same branch when there is no PR).
    - ``base_branch``: the branch the change goes into (PR base; for a push, the branch
      itself). With ``workflow`` it makes the run's *line*.
    - ``head_sha``, ``event`` (``push``, ``pull_request``, ...): as the provider gives them.
    - ``created_at``: when the run was triggered, the moment of prediction (aware UTC).
    - ``completed_at``: when its outcome became known (``None`` while it runs).
    - ``failed``: ``True`` failure, ``False`` success, ``None`` no usable outcome (running,
      cancelled, skipped; LRTS ``ABORTED`` / ``NOT_BUILT``).
    - ``duration``: the run's own duration in seconds, and ``failed_tests``: the number of
      its failed test cases (``None`` without a test report); both are only ever read as
      history of *later* runs, never as features of the run itself.
    - ``churn``: the change size when a source has it (``None`` in the product today: the
      store has no churn; LRTS ``change_stats.csv`` in the benchmark).
    - ``open_flaky_tests``: number of tests known flaky and not yet fixed when the run starts,
      when a flaky-test detector provides it (``None`` by default).
    """

    key: str
    repository: str
    created_at: datetime
    workflow: str | None = None
    branch: str | None = None
    pull_request: str | None = None
    base_branch: str | None = None
    head_sha: str | None = None
    event: str | None = None
    completed_at: datetime | None = None
    failed: bool | None = None
    duration: float | None = None
    failed_tests: int | None = None
    churn: ChurnStats | None = None
    open_flaky_tests: int | None = None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureContribution(_Frozen):
    """One feature's push on one score: ``value`` is the feature's value for the run (``None``
    when missing) and ``contribution`` the change in log-odds of failure that the feature
    causes compared with its reference value (see ``docs/risk.md``: occlusion against the
    training medians). Positive pushes towards failure."""

    name: str
    value: float | None
    contribution: float


class FeatureImportance(_Frozen):
    """Global importance of a feature: mean drop of ROC AUC when the feature's column is
    shuffled (``sklearn.inspection.permutation_importance``) on the evaluation part."""

    name: str
    importance: float


class RiskScore(_Frozen):
    """The failure risk of one run: ``probability`` in [0, 1], the ``top_features`` (largest
    absolute contributions first) and the ``model_version`` that scored it; ``scored_at`` is
    UTC.

    ``run_provider_id`` is the provider's run id (GitHub's, as in the run's URL): the id users
    read. ``run_id`` (the store's row id; ``None`` outside the store) and ``key`` (the feature
    extractor's id) are internal: they are left out of the JSON."""

    run_id: int | None = Field(default=None, exclude=True)
    key: str = Field(exclude=True)
    run_provider_id: str | None = None
    repository: str
    workflow: str | None = None
    branch: str | None = None
    head_sha: str | None = None
    created_at: datetime
    status: str | None = None
    failed: bool | None = None
    probability: float
    top_features: tuple[FeatureContribution, ...] = ()
    model_version: str
    scored_at: datetime | None = None


class AucEstimate(_Frozen):
    """ROC AUC of a score on ``n`` runs with ``positives`` failures, with a percentile
    bootstrap 95% interval (``ci_low``, ``ci_high``; Efron & Tibshirani 1993, ch. 13).
    ``None`` when the runs hold only one class."""

    auc: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    positives: int


class MethodScores(_Frozen):
    """How one scorer ranks the evaluation runs: ``method`` is ``model``,
    ``previous_outcome`` or ``recent_failure_rate``; ``precision_at_10`` is the failure rate
    among the top 10% scored runs (ties at the cut-off averaged)."""

    method: str
    auc: AucEstimate
    precision_at_10: float | None


class RiskEvaluation(_Frozen):
    """Time-ordered evaluation: the model trained on runs created before ``start`` is scored on
    the ``n_samples`` runs created in ``[start, end]`` (``n_failures`` of them failed), next to
    the two baselines. ``meaningful`` is false when the evaluation part is too small to tell
    (``note`` says why)."""

    start: datetime | None
    end: datetime | None
    n_samples: int
    n_failures: int
    failure_rate: float | None
    methods: tuple[MethodScores, ...]
    meaningful: bool
    note: str | None = None


class CandidateScore(_Frozen):
    """Validation ROC AUC of one candidate estimator in the time-ordered model selection."""

    estimator: str
    auc: float | None


class RiskModelInfo(_Frozen):
    """A trained failure-risk model.

    ``version`` identifies it (``risk-<trained_at>-<content hash>``); ``repository`` is the
    scope it was trained on (``None``: every repository of the store); ``window_start`` /
    ``window_end`` bound the ``created_at`` of its ``n_samples`` training runs
    (``n_failures`` failed). ``estimator`` is what the model selection picked among
    ``candidates``; ``features`` the feature names in column order; ``evaluation`` the
    time-ordered hold-out evaluation (``None`` when there was too little data to hold any out);
    ``importances`` the permutation importances on that hold-out.

    ``usable`` is false when the model does not beat its baselines on that hold-out (rule:
    :func:`cimedic.analysis.risk_model.unusable_reason`; ``unusable_reason`` says why): such a
    model is kept, shown as unusable, and never scores runs. Derived from ``evaluation`` when a
    model is stored or read, so models stored before the rule existed are judged too.
    """

    version: str
    repository: str | None = None
    trained_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    n_samples: int
    n_failures: int
    estimator: str
    candidates: tuple[CandidateScore, ...] = ()
    features: tuple[str, ...]
    evaluation: RiskEvaluation | None = None
    importances: tuple[FeatureImportance, ...] = ()
    library: str | None = None
    usable: bool = True
    unusable_reason: str | None = None


class RiskReport(_Frozen):
    """What ``cimedic risk show`` prints: the current ``model`` of the scope (``None`` when
    none was trained), how many runs it scored since ``since`` and the highest of those
    scores (``top``; none when the model is not ``usable``)."""

    repository: str | None = None
    model: RiskModelInfo | None = None
    since: datetime | None = None
    scored_runs: int = 0
    top: tuple[RiskScore, ...] = ()
