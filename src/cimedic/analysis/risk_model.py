"""Failure-risk model: training (scikit-learn), per-run explanation and honest evaluation (pure).

Training (:func:`fit_risk_model`). Two candidate estimators, fixed hyper-parameters (never tuned
per project):

- ``logistic``: median imputation with missing-value indicators, standardisation, then an
  L2 ``LogisticRegression`` (``C=1``);
- ``hist_gradient_boosting``: ``HistGradientBoostingClassifier`` (native missing values;
  shallow and regularised for histories of hundreds to thousands of runs: 150 iterations,
  learning rate 0.05, depth 3, 50 samples per leaf, L2 1.0, no early stopping, so the fit is
  deterministic for a ``random_state``).

The rows come in time order (``created_at``). The candidates are fitted on the older rows and
compared on the newest :data:`VALIDATION_FRACTION` of each repository's rows (a time-ordered
validation inside the training data only) by the mean per-repository ROC AUC; the winner is
refitted on all rows. When the validation part holds fewer than :data:`MIN_VALIDATION_CLASS`
failures or successes, ``logistic`` (the simpler model) is kept. No calibration step: both estimators minimise log-loss, and the
scores are used for ranking.

Explanation (:meth:`RiskModel.explain`): *occlusion against a reference*. For each feature,
the run's value is replaced by the feature's training median (NaN when the feature was always
missing) and the change of the predicted log-odds is the feature's contribution (positive:
the value pushes towards failure). For the logistic model this is exactly ``coef ×
(standardised value − standardised median)``; for boosting it is the model's own answer, one
feature at a time (no interaction attribution). Global importance is
``sklearn.inspection.permutation_importance`` (ROC AUC drop) on the evaluation part.

Evaluation: ROC AUC with a percentile bootstrap 95% interval (:data:`BOOTSTRAP_RESAMPLES`
resamples of the evaluation runs, paired across scorers; Efron & Tibshirani, "An Introduction
to the Bootstrap", 1993, ch. 13) and precision at the top :data:`TOP_FRACTION` of the scores
(ties at the cut-off counted at their mean failure rate, i.e. the expectation under random
tie-breaking, so a binary baseline is not favoured or penalised by the order of ties).

Serialisation: :meth:`RiskModel.to_bytes` pickles the model. Only unpickle bytes this code
wrote into the operator's own store (pickle runs code on load): never a blob from elsewhere.
scikit-learn is imported inside the functions (it takes seconds to import).
"""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cimedic.model.risk import (
    AucEstimate,
    CandidateScore,
    FeatureContribution,
    FeatureImportance,
    MethodScores,
    RiskEvaluation,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "CHANCE_AUC",
    "ESTIMATORS",
    "TOP_FRACTION",
    "VALIDATION_FRACTION",
    "RiskModel",
    "bootstrap_aucs",
    "evaluate_scores",
    "fit_risk_model",
    "permutation_importances",
    "precision_at_top",
    "roc_auc",
    "unusable_reason",
]

ESTIMATORS: tuple[str, ...] = ("logistic", "hist_gradient_boosting")
VALIDATION_FRACTION = 0.25
"""Newest share of the training rows that compares the candidates (time-ordered hold-out)."""
TOP_FRACTION = 0.10
"""Share of the highest scores in ``precision@top`` (the benchmark asks for the top 10%)."""
BOOTSTRAP_RESAMPLES = 1000
"""Bootstrap resamples of the AUC interval (Efron & Tibshirani 1993 suggest ≥ 1000 for
percentile intervals)."""
MIN_VALIDATION_CLASS = 10
"""Failures and successes the validation part needs before it may pick a candidate other
than the first (``logistic``): with fewer, the AUC's standard error exceeds the gap between
candidates (Hanley & McNeil, Radiology 1982)."""
CHANCE_AUC = 0.5
"""ROC AUC of a random ranking: a model must rank above it, and above every baseline, to be used."""
RANDOM_STATE = 0
FORMAT_VERSION = 1
"""Version of the pickled layout of :class:`RiskModel` (bumped when its fields change)."""


def _one_thread() -> Any:
    """Run scikit-learn's OpenMP code on one thread: on the small matrices of CI histories,
    thread start-up costs more than it saves (a 120-run fit took 7.5 s with the default
    threads on a busy 2-core machine, 0.3 s on one)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _matrix(rows: Sequence[Sequence[float]]) -> npt.NDArray[np.float64]:
    import numpy as np

    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def make_estimator(name: str, random_state: int = RANDOM_STATE) -> Any:
    """A fresh, unfitted scikit-learn estimator for candidate ``name`` (see the module doc).
    Raises ``ValueError`` for an unknown name."""
    if name == "logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000),
        )
    if name == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=150,
            learning_rate=0.05,
            max_depth=3,
            min_samples_leaf=50,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=random_state,
        )
    raise ValueError(f"unknown estimator {name!r}; expected one of {', '.join(ESTIMATORS)}")


@dataclass
class RiskModel:
    """A fitted failure-risk model over ``feature_names`` (the column order of its inputs).

    ``reference`` holds the training medians used by :meth:`explain`; ``candidates`` the
    validation AUCs of the model selection; ``columns`` the indexes of the features the
    estimator uses (a feature that was missing in every training row, e.g. churn in the
    product, is left out: it contributes nothing)."""

    estimator_name: str
    feature_names: tuple[str, ...]
    reference: tuple[float, ...]
    estimator: Any
    columns: tuple[int, ...]
    candidates: tuple[CandidateScore, ...] = ()
    library: str = ""
    format_version: int = field(default=FORMAT_VERSION)

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """Failure probabilities in [0, 1] of feature rows (``NaN`` = missing)."""
        if not rows:
            return []
        with _one_thread():
            proba = self.estimator.predict_proba(_matrix(rows)[:, list(self.columns)])[:, 1]
        return [float(p) for p in proba]

    def explain(self, rows: Sequence[Sequence[float]], top: int = 3) -> list[tuple[FeatureContribution, ...]]:
        """The ``top`` features of each row by absolute contribution in log-odds (occlusion
        against :attr:`reference`, see the module doc); ``top <= 0`` gives every feature."""
        import numpy as np

        if not rows:
            return []
        cols = list(self.columns)
        x = _matrix(rows)[:, cols]
        n, f = x.shape
        ref = np.asarray(self.reference, dtype=np.float64)[cols]
        variants = np.repeat(x, f, axis=0)
        idx = np.arange(n * f)
        variants[idx, np.tile(np.arange(f), n)] = np.tile(ref, n)
        eps = 1e-6
        with _one_thread():
            base = np.clip(self.estimator.predict_proba(x)[:, 1], eps, 1 - eps)
            occl = np.clip(self.estimator.predict_proba(variants)[:, 1], eps, 1 - eps).reshape(n, f)
        logit_base = np.log(base / (1 - base))
        contrib = logit_base[:, None] - np.log(occl / (1 - occl))
        out: list[tuple[FeatureContribution, ...]] = []
        k = f if top <= 0 else min(top, f)
        for r in range(n):
            order = sorted(range(f), key=lambda c: (-abs(float(contrib[r, c])), c))[:k]
            out.append(
                tuple(
                    FeatureContribution(
                        name=self.feature_names[cols[c]],
                        value=None if math.isnan(float(x[r, c])) else round(float(x[r, c]), 6),
                        contribution=round(float(contrib[r, c]), 6),
                    )
                    for c in order
                )
            )
        return out

    def to_bytes(self) -> bytes:
        """Pickled bytes of this model (see the module doc on trusting them)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> RiskModel:
        """Load bytes written by :meth:`to_bytes` **of a model this code trained** (pickle
        executes code on load). Raises ``ValueError`` when they hold something else or an
        older layout."""
        obj = pickle.loads(data)
        if not isinstance(obj, cls) or obj.format_version != FORMAT_VERSION:
            raise ValueError("the stored risk model has another format; retrain it (cimedic risk train)")
        return obj


def _fit(name: str, x: npt.NDArray[np.float64], y: npt.NDArray[np.int_], random_state: int) -> Any:
    est = make_estimator(name, random_state)
    with _one_thread():
        est.fit(x, y)
    return est


def _validation_split(n: int, groups: Sequence[str] | None) -> tuple[list[int], list[int]]:
    """Row indexes (rows in time order) of the fitting part and of the validation part: the
    newest :data:`VALIDATION_FRACTION` of each group's rows (of all rows without groups)."""
    members: dict[str, list[int]] = {}
    for i in range(n):
        members.setdefault(groups[i] if groups is not None else "", []).append(i)
    fit: list[int] = []
    val: list[int] = []
    for idx in members.values():
        cut = round(len(idx) * (1 - VALIDATION_FRACTION))
        fit += idx[:cut]
        val += idx[cut:]
    return sorted(fit), sorted(val)


def _macro_auc(y: Sequence[int], scores: Sequence[float], groups: Sequence[str]) -> float | None:
    by: dict[str, tuple[list[int], list[float]]] = {}
    for label, score, group in zip(y, scores, groups, strict=True):
        ys, ss = by.setdefault(group, ([], []))
        ys.append(label)
        ss.append(score)
    aucs = [a for ys, ss in by.values() if (a := roc_auc(ys, ss)) is not None]
    return sum(aucs) / len(aucs) if aucs else None


def fit_risk_model(
    rows: Sequence[Sequence[float]],
    labels: Sequence[bool],
    feature_names: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    candidates: Sequence[str] = ESTIMATORS,
    random_state: int = RANDOM_STATE,
) -> RiskModel:
    """Fit the failure-risk model on ``rows`` (feature vectors **in time order**, oldest
    first) and their ``labels`` (``True`` = failed), selecting among ``candidates`` by a
    time-ordered validation: each candidate is fitted on all but the newest
    :data:`VALIDATION_FRACTION` of every group's rows (``groups``: one repository or project
    name per row; ``None`` = one group) and scored by the mean over groups of the ROC AUC on
    those newest rows (the model ranks runs within a repository). Deterministic for a
    ``random_state``.

    Raises ``ValueError`` when the rows, labels and groups differ in length, the columns and
    ``feature_names`` differ in number, or the labels hold a single class.
    """
    import numpy as np
    import sklearn

    if len(rows) != len(labels) or (groups is not None and len(groups) != len(rows)):
        raise ValueError(f"{len(rows)} feature rows but {len(labels)} labels")
    y = np.asarray([1 if v else 0 for v in labels], dtype=np.int_)
    if len(set(y.tolist())) < 2:
        raise ValueError("the training runs must hold failures and successes")
    full = _matrix(rows)
    if full.shape[1] != len(feature_names):
        raise ValueError(f"{full.shape[1]} feature columns but {len(feature_names)} feature names")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = np.nanmedian(full, axis=0)
    columns = tuple(int(c) for c in np.flatnonzero(~np.isnan(full).all(axis=0)))
    x = full[:, list(columns)]
    fit_idx, val_idx = _validation_split(len(rows), groups)
    val_groups = [groups[i] for i in val_idx] if groups is not None else [""] * len(val_idx)
    y_fit, y_val = y[fit_idx], y[val_idx]
    scores: list[CandidateScore] = []
    best, best_auc = candidates[0], -1.0
    val_pos = int(y_val.sum())
    enough = min(val_pos, len(y_val) - val_pos) >= MIN_VALIDATION_CLASS
    if len(candidates) > 1 and len(set(y_fit.tolist())) == 2 and len(set(y_val.tolist())) == 2:
        for name in candidates:
            est = _fit(name, x[fit_idx], y_fit, random_state)
            with _one_thread():
                proba = [float(p) for p in est.predict_proba(x[val_idx])[:, 1]]
            auc = _macro_auc(y_val.tolist(), proba, val_groups)
            scores.append(CandidateScore(estimator=name, auc=auc))
            if enough and auc is not None and auc > best_auc:
                best, best_auc = name, auc
    else:
        scores = [CandidateScore(estimator=name, auc=None) for name in candidates]
    return RiskModel(
        estimator_name=best,
        feature_names=tuple(feature_names),
        reference=tuple(float(v) for v in medians),
        estimator=_fit(best, x, y, random_state),
        columns=columns,
        candidates=tuple(scores),
        library=f"scikit-learn {sklearn.__version__}",
    )


# ---------------------------------------------------------------------------- evaluation


def _weighted_auc(
    inverse: npt.NDArray[np.intp], levels: int, y: npt.NDArray[np.int_], weights: npt.NDArray[np.float64]
) -> float | None:
    """Mann-Whitney ROC AUC (ties count one half, as ``roc_auc_score``) of runs with score
    level ``inverse`` (index into the sorted distinct scores), label ``y`` and multiplicity
    ``weights``: O(n) once the levels are known, which makes the bootstrap cheap."""
    import numpy as np

    pos = np.bincount(inverse, weights=weights * y, minlength=levels)
    neg = np.bincount(inverse, weights=weights * (1 - y), minlength=levels)
    p_total, n_total = float(pos.sum()), float(neg.sum())
    if p_total == 0 or n_total == 0:
        return None
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (p_total * n_total))


def _auc_np(y: npt.NDArray[np.int_], s: npt.NDArray[np.float64]) -> float | None:
    import numpy as np

    levels, inverse = np.unique(s, return_inverse=True)
    return _weighted_auc(inverse.ravel(), len(levels), y, np.ones(len(y)))


def roc_auc(labels: Sequence[bool] | Sequence[int], scores: Sequence[float]) -> float | None:
    """ROC AUC of ``scores`` against ``labels`` (truthy = failed); ``None`` with one class."""
    import numpy as np

    return _auc_np(
        np.asarray([1 if v else 0 for v in labels], dtype=np.int_), np.asarray(scores, dtype=float)
    )


def bootstrap_aucs(
    labels: Sequence[bool],
    scores: Mapping[str, Sequence[float]],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = RANDOM_STATE,
) -> dict[str, list[float]]:
    """AUC of each scorer on ``resamples`` bootstrap resamples of the runs, the **same**
    resamples for every scorer (paired, so differences between scorers have intervals too).
    Resamples with a single class are skipped."""
    import numpy as np

    y = np.asarray([1 if v else 0 for v in labels], dtype=np.int_)
    levels = {}
    for k, v in scores.items():
        uniq, inverse = np.unique(np.asarray(v, dtype=float), return_inverse=True)
        levels[k] = (inverse.ravel(), len(uniq))
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {k: [] for k in scores}
    n = len(y)
    for _ in range(resamples):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        positives = float((weights * y).sum())
        if positives == 0 or positives == weights.sum():
            continue
        for k, (inverse, count) in levels.items():
            auc = _weighted_auc(inverse, count, y, weights)
            if auc is not None:
                out[k].append(auc)
    return out


def percentile_interval(samples: Sequence[float], level: float = 0.95) -> tuple[float | None, float | None]:
    """The percentile interval of bootstrap ``samples`` (``None``s when there are none)."""
    import numpy as np

    if not samples:
        return None, None
    lo, hi = np.percentile(np.asarray(samples), [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def precision_at_top(
    labels: Sequence[bool], scores: Sequence[float], fraction: float = TOP_FRACTION
) -> float | None:
    """Failure rate among the ``ceil(fraction × n)`` highest scores; ties at the cut-off count
    at their mean failure rate (expected precision under random tie-breaking). ``None`` for no
    runs."""
    n = len(scores)
    if n == 0:
        return None
    k = max(1, math.ceil(fraction * n))
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    cut = pairs[k - 1][0]
    above = [bool(lab) for s, lab in pairs if s > cut]
    tied = [bool(lab) for s, lab in pairs if s == cut]
    need = k - len(above)
    return (sum(above) + need * (sum(tied) / len(tied))) / k


def evaluate_scores(
    labels: Sequence[bool],
    scores: Mapping[str, Sequence[float]],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = RANDOM_STATE,
) -> tuple[MethodScores, ...]:
    """AUC (with a paired bootstrap 95% interval) and precision at the top 10% of each scorer
    in ``scores`` (name → one score per run, aligned with ``labels``), in the given order."""
    boots = bootstrap_aucs(labels, scores, resamples=resamples, seed=seed)
    positives = sum(1 for v in labels if v)
    out = []
    for name, s in scores.items():
        lo, hi = percentile_interval(boots[name])
        out.append(
            MethodScores(
                method=name,
                auc=AucEstimate(
                    auc=roc_auc(labels, s), ci_low=lo, ci_high=hi, n=len(labels), positives=positives
                ),
                precision_at_10=precision_at_top(labels, s),
            )
        )
    return tuple(out)


def permutation_importances(
    model: RiskModel,
    rows: Sequence[Sequence[float]],
    labels: Sequence[bool],
    *,
    repeats: int = 5,
    random_state: int = RANDOM_STATE,
) -> tuple[FeatureImportance, ...]:
    """Mean ROC AUC drop when each feature column is shuffled (``repeats`` times), largest
    first; empty when ``labels`` hold one class."""
    import numpy as np
    from sklearn.inspection import permutation_importance

    y = np.asarray([1 if v else 0 for v in labels], dtype=np.int_)
    if len(set(y.tolist())) < 2:
        return ()
    with _one_thread():
        result = permutation_importance(
            model.estimator,
            _matrix(rows)[:, list(model.columns)],
            y,
            scoring="roc_auc",
            n_repeats=repeats,
            random_state=random_state,
        )
    pairs = sorted(
        zip(
            (model.feature_names[c] for c in model.columns),
            (float(v) for v in result.importances_mean),
            strict=True,
        ),
        key=lambda p: (-p[1], p[0]),
    )
    return tuple(FeatureImportance(name=name, importance=round(v, 6)) for name, v in pairs)


def unusable_reason(evaluation: RiskEvaluation | None) -> str | None:
    """Why a model with this hold-out ``evaluation`` must not score runs, or ``None`` when it
    may.

    The rule: a model is used only when it beats its baselines on the newest runs, i.e. its
    hold-out ROC AUC is above :data:`CHANCE_AUC` and strictly above the AUC of every baseline
    that has one (``previous_outcome``, ``recent_failure_rate``). A model that ranks runs no
    better than "it failed last time" adds nothing but false confidence (the point of the
    time-ordered evaluation against baselines, ``docs/risk.md``). Without an evaluation, or
    without a model AUC (one outcome only among the evaluation runs), nothing shows that it
    beats them, so it is unusable too. An evaluation too small to be meaningful does not by
    itself make a model unusable: its note says so.
    """
    if evaluation is None:
        return "it has no hold-out evaluation (too few runs to hold any out), so nothing shows it beats the baselines"
    by_method = {m.method: m.auc.auc for m in evaluation.methods}
    model_auc = by_method.get("model")
    if model_auc is None:
        why = evaluation.note or "the evaluation runs hold a single outcome"
        return f"its hold-out evaluation could not score it ({why}), so nothing shows it beats the baselines"
    baselines = [(auc, method) for method, auc in by_method.items() if method != "model" and auc is not None]
    if baselines:
        best, method = max(baselines)
        if model_auc <= best:
            return (
                f"its hold-out ROC AUC {model_auc:.3f} does not beat the "
                f"{method.replace('_', ' ')} baseline ({best:.3f})"
            )
    if model_auc <= CHANCE_AUC:
        return f"its hold-out ROC AUC {model_auc:.3f} is no better than chance ({CHANCE_AUC:.1f})"
    return None
