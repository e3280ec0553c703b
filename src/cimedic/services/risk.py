"""Use cases of ``cimedic risk``: train, score, retrain on a schedule, report (``docs/risk.md``).

- :func:`train_risk_model`: features of the stored runs (only what was known when each run
  started, :mod:`cimedic.analysis.risk_features`), a time-ordered hold-out evaluation against
  the two baselines (train on the older :data:`1 - EVALUATION_FRACTION`, score the newest
  runs), then a refit on every run, persisted with its version, window and evaluation.
- :func:`score_runs`: the current model scores recent (also in-progress) runs; the scores are
  stored (one per run and model version).
- :func:`retrain_if_due`: for ``watch`` / ``serve`` schedules: retrains when the newest model
  is older than ``max_age``.
- :func:`risk_report`: the current model, its evaluation, and the highest stored scores.

scikit-learn is only imported by the analysis functions that need it (seconds to import).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model.risk import FeatureImportance, RiskEvaluation, RiskModelInfo, RiskReport, RiskScore
from cimedic.model.wording import plural
from cimedic.services.timewindow import resolve_since

if TYPE_CHECKING:
    from cimedic.analysis.risk_features import FeatureRow
    from cimedic.store.repository import Store

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_SCORE_SINCE",
    "DEFAULT_TRAIN_SINCE",
    "EVALUATION_FRACTION",
    "HISTORY_LOOKBACK",
    "MIN_EVALUATION_FAILURES",
    "MIN_EVALUATION_RUNS",
    "MIN_TRAINING_FAILURES",
    "MIN_TRAINING_RUNS",
    "RetrainResult",
    "RiskModelMissing",
    "RiskModelUnusable",
    "RiskTrainingError",
    "judged",
    "retrain_if_due",
    "risk_report",
    "score_runs",
    "train_risk_model",
]

DEFAULT_TRAIN_SINCE = timedelta(days=90)
"""Training window: the last 90 days of runs (GitHub keeps logs 90 days; older runs rarely
say much about today's pipeline)."""
DEFAULT_SCORE_SINCE = timedelta(days=1)
DEFAULT_MAX_AGE = timedelta(days=7)
"""Retrain a model older than a week (the project-level failure rates drift over weeks)."""
HISTORY_LOOKBACK = timedelta(days=30)
"""Runs before the window that the features may still look at (history of the first runs)."""
MIN_TRAINING_RUNS = 30
MIN_TRAINING_FAILURES = 5
"""Below 30 runs with an outcome or 5 failures, no model is trained: a classifier needs
several examples of each class (the usual "events per variable" guidance asks for far more,
Peduzzi et al., J Clin Epidemiol 1996; these minimums only keep the fit defined, and the
evaluation says when it is not meaningful)."""
EVALUATION_FRACTION = 0.30
"""Newest share of the labelled runs held out for the time-ordered evaluation."""
MIN_EVALUATION_RUNS = 100
MIN_EVALUATION_FAILURES = 10
"""An AUC on fewer than 100 runs or 10 failures has a 95% interval wider than about ±0.15
(Hanley & McNeil, Radiology 1982, standard error of the AUC): reported, flagged as not
meaningful."""


class RiskTrainingError(ValueError):
    """Too little history to train (the message says how much there is and what is needed)."""


class RiskModelMissing(LookupError):
    """No model has been trained for the scope yet (run ``cimedic risk train``)."""


class RiskModelUnusable(RiskModelMissing):
    """The scope's current model does not beat its baselines, so it scores nothing (the message
    says which model and why; :attr:`info` is the model)."""

    def __init__(self, info: RiskModelInfo) -> None:
        super().__init__(
            f"risk model {info.version} is unusable: {info.unusable_reason}; it is kept but scores "
            "no run (retrain with more history: 'cimedic risk train')"
        )
        self.info = info


def judged(info: RiskModelInfo) -> RiskModelInfo:
    """``info`` with ``usable`` and ``unusable_reason`` set from its stored evaluation (rule:
    :func:`cimedic.analysis.risk_model.unusable_reason`), whatever was stored with it."""
    from cimedic.analysis.risk_model import unusable_reason

    reason = unusable_reason(info.evaluation)
    return info.model_copy(update={"usable": reason is None, "unusable_reason": reason})


@dataclass(frozen=True, slots=True)
class RetrainResult:
    """What :func:`retrain_if_due` did: ``retrained``, the model now current (``info``; may be
    the old one) and why (``reason``)."""

    retrained: bool
    info: RiskModelInfo | None
    reason: str


def _now(now: datetime | None) -> datetime:
    value = now or datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _history_rows(
    store: Store, repository: str | None, start: datetime | None, until: datetime
) -> tuple[list[FeatureRow], dict[str, tuple[int, str, str | None]]]:
    """Feature rows of the runs created in ``[start, until)`` (history from
    :data:`HISTORY_LOOKBACK` before), and run key → (store run id, status, provider run id)."""
    from cimedic.analysis.risk_features import extract_features
    from cimedic.store.risk import risk_history

    history = risk_history(
        store, repository=repository, since=start - HISTORY_LOOKBACK if start else None, until=until
    )
    targets = {h.run.key for h in history if start is None or h.run.created_at >= start}
    rows = extract_features([h.run for h in history], targets=targets)
    return rows, {h.run.key: (h.run_id, h.status, h.provider_id) for h in history}


def _evaluate(
    train: list[FeatureRow], held: list[FeatureRow], random_state: int
) -> tuple[RiskEvaluation, tuple[FeatureImportance, ...]]:
    """Fit on ``train``, score ``held`` next to the baselines."""
    from cimedic.analysis.risk_features import FEATURE_NAMES
    from cimedic.analysis.risk_model import evaluate_scores, fit_risk_model, permutation_importances

    labels = [bool(r.label) for r in held]
    n, k = len(held), sum(labels)
    start, end = held[0].run.created_at, held[-1].run.created_at
    rate = k / n if n else None
    note: str | None = None
    if len({bool(r.label) for r in train}) < 2:
        note = "the older runs hold a single outcome, so no model could be fitted on them"
        return RiskEvaluation(
            start=start,
            end=end,
            n_samples=n,
            n_failures=k,
            failure_rate=rate,
            methods=(),
            meaningful=False,
            note=note,
        ), ()
    model = fit_risk_model(
        [r.values for r in train],
        [bool(r.label) for r in train],
        FEATURE_NAMES,
        groups=[r.run.repository for r in train],
        random_state=random_state,
    )
    scores = {
        "model": model.predict([r.values for r in held]),
        "previous_outcome": [r.previous_outcome for r in held],
        "recent_failure_rate": [r.recent_failure_rate for r in held],
    }
    methods = evaluate_scores(labels, scores, seed=random_state)
    importances = permutation_importances(model, [r.values for r in held], labels, random_state=random_state)
    meaningful = n >= MIN_EVALUATION_RUNS and k >= MIN_EVALUATION_FAILURES and k < n
    if not meaningful:
        note = (
            f"evaluation on {plural(n, 'run')} ({k} failed) is not meaningful: at least {MIN_EVALUATION_RUNS} runs "
            f"and {MIN_EVALUATION_FAILURES} failures (and some successes) are needed for a useful AUC"
        )
    return RiskEvaluation(
        start=start, end=end, n_samples=n, n_failures=k, failure_rate=rate, methods=methods,
        meaningful=meaningful, note=note,
    ), importances  # fmt: skip


def train_risk_model(
    store: Store,
    *,
    repository: str | None = None,
    since: timedelta | datetime | None = DEFAULT_TRAIN_SINCE,
    now: datetime | None = None,
    random_state: int = 0,
) -> RiskModelInfo:
    """Train, evaluate and store a failure-risk model on the runs of ``repository``
    (``owner/name``; ``None``: every repository, one pooled model) created in
    ``[since, now)`` (``since``: a ``timedelta`` back from ``now``, a UTC ``datetime`` or
    ``None`` for all). Runs without a usable outcome (in progress, cancelled, skipped) are
    not training examples but are part of the history.

    The newest :data:`EVALUATION_FRACTION` of the labelled runs are held out: a model fitted
    on the older runs scores them next to the two baselines (ROC AUC with bootstrap 95%
    interval, precision at the top 10%); then the model is refitted on every labelled run and
    stored with version, window, counts and that evaluation. Returns the stored model's info.

    Raises :class:`RiskTrainingError` with fewer than :data:`MIN_TRAINING_RUNS` labelled runs
    or :data:`MIN_TRAINING_FAILURES` failures (or no success); SQLAlchemy errors propagate.
    """
    import sklearn

    from cimedic.analysis.risk_features import FEATURE_NAMES
    from cimedic.analysis.risk_model import fit_risk_model
    from cimedic.store.risk import save_model

    until = _now(now)
    start = resolve_since(since, until)
    rows, _ = _history_rows(store, repository, start, until)
    labelled = [r for r in rows if r.label is not None]
    n, k = len(labelled), sum(1 for r in labelled if r.label)
    scope = repository or "the store"
    if n < MIN_TRAINING_RUNS or k < MIN_TRAINING_FAILURES or k == n:
        have = f"{plural(n, 'finished run')} with an outcome and {plural(k, 'failure')}"
        when = f" since {start:%Y-%m-%d %H:%M} UTC" if start else ""
        raise RiskTrainingError(
            f"too little history to train a risk model on {scope}: {have}{when}; at least "
            f"{MIN_TRAINING_RUNS} runs, {MIN_TRAINING_FAILURES} failures and one success are needed"
        )
    cut = max(1, round(n * (1 - EVALUATION_FRACTION)))
    evaluation, importances = _evaluate(labelled[:cut], labelled[cut:], random_state)
    model = fit_risk_model(
        [r.values for r in labelled],
        [bool(r.label) for r in labelled],
        FEATURE_NAMES,
        groups=[r.run.repository for r in labelled],
        random_state=random_state,
    )
    blob = model.to_bytes()
    version = f"risk-{until:%Y%m%dT%H%M%SZ}-{hashlib.sha256(blob).hexdigest()[:8]}"
    info = judged(RiskModelInfo(
        version=version,
        repository=repository,
        trained_at=until,
        window_start=labelled[0].run.created_at,
        window_end=labelled[-1].run.created_at,
        n_samples=n,
        n_failures=k,
        estimator=model.estimator_name,
        candidates=model.candidates,
        features=FEATURE_NAMES,
        evaluation=evaluation,
        importances=importances,
        library=f"scikit-learn {sklearn.__version__}",
    ))  # fmt: skip
    save_model(store, info, blob)
    return info


def _load(store: Store, repository: str | None):  # type: ignore[no-untyped-def]
    from cimedic.analysis.risk_model import RiskModel
    from cimedic.store.risk import latest_model

    stored = latest_model(store, repository=repository)
    if stored is None and repository is not None:
        stored = latest_model(store, repository=None)  # the pooled model covers every repository
    if stored is None:
        scope = f"repository {repository}" if repository else "the store"
        raise RiskModelMissing(f"no risk model trained for {scope} yet; run 'cimedic risk train' first")
    info = judged(stored.info)
    if not info.usable:
        raise RiskModelUnusable(info)
    return info, RiskModel.from_bytes(stored.blob)


def score_runs(
    store: Store,
    *,
    repository: str | None = None,
    since: timedelta | datetime | None = DEFAULT_SCORE_SINCE,
    now: datetime | None = None,
    top_features: int = 3,
) -> list[RiskScore]:
    """Score the runs of ``repository`` (or all) created in ``[since, now)``, finished or
    not, with the newest model of that repository (else the pooled model), store the scores
    and return them, highest probability first.

    Raises :class:`RiskModelMissing` when no model was trained, :class:`RiskModelUnusable`
    (a ``RiskModelMissing``) when that model does not beat its baselines (it never scores),
    ``ValueError`` when the stored model is damaged or of another format; SQLAlchemy errors
    propagate.
    """
    from cimedic.store.risk import upsert_scores

    info, model = _load(store, repository)
    until = _now(now)
    start = resolve_since(since, until)
    rows, ids = _history_rows(store, repository, start, until)
    if not rows:
        return []
    values = [r.values for r in rows]
    probabilities = model.predict(values)
    explanations = model.explain(values, top=top_features)
    scores = [
        RiskScore(
            run_id=ids[r.key][0],
            key=r.key,
            run_provider_id=ids[r.key][2],
            repository=r.run.repository,
            workflow=r.run.workflow,
            branch=r.run.branch,
            head_sha=r.run.head_sha,
            created_at=r.run.created_at,
            status=ids[r.key][1],
            failed=r.label,
            probability=round(p, 6),
            top_features=e,
            model_version=info.version,
            scored_at=until,
        )
        for r, p, e in zip(rows, probabilities, explanations, strict=True)
    ]
    upsert_scores(store, scores)
    return sorted(scores, key=lambda s: (-s.probability, s.created_at, s.key))


def retrain_if_due(
    store: Store,
    max_age: timedelta = DEFAULT_MAX_AGE,
    *,
    repository: str | None = None,
    since: timedelta | datetime | None = DEFAULT_TRAIN_SINCE,
    now: datetime | None = None,
) -> RetrainResult:
    """Retrain when the newest model of the scope is missing or older than ``max_age``.

    Never raises for too little history (``retrained=False`` and the reason), so a scheduler
    can call it blindly; SQLAlchemy errors propagate.
    """
    from cimedic.store.risk import model_infos

    until = _now(now)
    infos = [i for i in model_infos(store, repository=repository) if i.repository == repository]
    current = judged(infos[0]) if infos else None
    if current is not None and until - current.trained_at < max_age:
        return RetrainResult(False, current, f"model {current.version} is younger than {max_age}")
    try:
        info = train_risk_model(store, repository=repository, since=since, now=until)
    except RiskTrainingError as exc:
        return RetrainResult(False, current, str(exc))
    reason = "no model yet" if current is None else f"model {current.version} was due"
    if not info.usable:
        reason += f"; the new model {info.version} is unusable: {info.unusable_reason}"
    return RetrainResult(True, info, reason)


def risk_report(
    store: Store,
    repository: str | None = None,
    *,
    since: timedelta | datetime | None = timedelta(days=7),
    now: datetime | None = None,
    top: int = 10,
) -> RiskReport:
    """The newest model of ``repository`` (else the pooled one), judged usable or not
    (:func:`judged`), how many runs created since ``since`` it scored, and the ``top`` highest
    of those scores (none for an unusable model: its scores are not to be read)."""
    from cimedic.store.risk import latest_model, top_scores

    until = _now(now)
    start = resolve_since(since, until)
    stored = latest_model(store, repository=repository)
    if stored is None and repository is not None:
        stored = latest_model(store, repository=None)
    if stored is None:
        return RiskReport(repository=repository, since=start)
    info = judged(stored.info)
    if not info.usable:
        return RiskReport(repository=repository, model=info, since=start)
    count, best = top_scores(store, info.version, repository=repository, since=start, limit=top)
    return RiskReport(repository=repository, model=info, since=start, scored_runs=count, top=tuple(best))
