"""Statistics of outcome sequences: flip rate, exponentially weighted flip rate, the Beta
posterior of a failure probability and its credible interval, and how many runs it takes to see
a failure. Pure functions of the standard library (no SciPy in the analysis layer); the Beta
quantile is checked against ``scipy.stats.beta.ppf`` in the tests.

Sources:

- Flip rate = flips / (outcomes - 1): Kowalczyk et al., "Modeling and Ranking Flaky Tests at
  Apple", ICSE-SEIP 2020 (flipRate). Buildkite's test analytics scores transitions per window
  the same way (field notes: ``PPFFF`` = 0.2 with the window length as denominator; ours is 0.25).
- The Jeffreys prior ``Beta(1/2, 1/2)`` and the equal-tailed interval: Brown, Cai & DasGupta,
  "Interval Estimation for a Binomial Proportion", Statistical Science 16(2), 2001, who
  recommend the Jeffreys interval for small counts and small proportions (most flaky tests fail
  in under 1% of runs: FlakeFlagger, field notes).
- The incomplete beta function by its continued fraction (modified Lentz): Press et al.,
  Numerical Recipes, 3rd ed., section 6.4.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import lru_cache

__all__ = [
    "CREDIBLE_LEVEL",
    "EWMA_ALPHA",
    "JEFFREYS_PRIOR",
    "beta_cdf",
    "beta_interval",
    "beta_ppf",
    "ewma_flip_rate",
    "flip_rate",
    "flips",
    "runs_to_observe",
]

#: Smoothing factor of the exponentially weighted flip rate: the weight of a transition halves
#: every ln 2 / -ln(1 - 0.1) = 6.6 transitions, so roughly the last 20 executions decide it.
#: Our choice (the Apple paper aggregates flip rates over time; it publishes no factor).
EWMA_ALPHA = 0.1

#: The Jeffreys prior Beta(1/2, 1/2) (Brown, Cai & DasGupta 2001).
JEFFREYS_PRIOR = (0.5, 0.5)

#: Probability of the equal-tailed credible interval.
CREDIBLE_LEVEL = 0.95

_EPS = 1e-15
_TINY = 1e-300


def flips(outcomes: Sequence[bool]) -> int:
    """Number of changes between consecutive outcomes (``True`` = failed)."""
    return sum(1 for a, b in itertools.pairwise(outcomes) if a != b)


def flip_rate(outcomes: Sequence[bool]) -> float | None:
    """Flips / (len - 1) over ``outcomes`` (``True`` = failed), in ``[0, 1]``; ``None`` below two
    outcomes. ``PPFFF`` gives 0.25, ``PFPFP`` 1.0 (Kowalczyk et al., ICSE-SEIP 2020)."""
    if len(outcomes) < 2:
        return None
    return flips(outcomes) / (len(outcomes) - 1)


def ewma_flip_rate(outcomes: Sequence[bool], alpha: float = EWMA_ALPHA) -> float | None:
    """Exponentially weighted flip rate: the mean of the transition indicators (1 = flip) with
    weight ``(1 - alpha) ** k`` for the transition ``k`` steps before the latest one, normalised
    by the sum of the weights (so a constant flip indicator gives that constant, and
    ``alpha -> 0`` gives :func:`flip_rate`). ``None`` below two outcomes.

    Raises ``ValueError`` unless ``0 < alpha <= 1``.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], not {alpha}")
    if len(outcomes) < 2:
        return None
    keep = 1.0 - alpha
    num = den = 0.0
    for a, b in itertools.pairwise(outcomes):
        num = num * keep + (1.0 if a != b else 0.0)
        den = den * keep + 1.0
    return num / den


# ----------------------------------------------------------------------------------- Beta


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (Numerical Recipes 6.4, Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``: P(X <= x) for X ~ Beta(a, b).

    Raises ``ValueError`` unless ``a > 0`` and ``b > 0``.
    """
    if a <= 0.0 or b <= 0.0:
        raise ValueError(f"Beta parameters must be positive, not ({a}, {b})")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b): the ``x`` with ``I_x(a, b) = q``, to a relative error of
    about 1e-12 (also for tail probabilities like 1e-6).

    Solves ``log I_x(a, b) = log q`` for ``t = log x`` by Newton steps safeguarded by bisection
    (near 0, ``log I`` is almost linear in ``t``); an upper quantile is found as
    ``1 - ppf(1 - q; b, a)``. Raises ``ValueError`` unless ``0 <= q <= 1``, ``a > 0`` and
    ``b > 0``.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], not {q}")
    if a <= 0.0 or b <= 0.0:
        raise ValueError(f"Beta parameters must be positive, not ({a}, {b})")
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return 1.0
    if q > 0.5:
        return 1.0 - _ppf_lower(1.0 - q, b, a)
    return _ppf_lower(q, a, b)


def _ppf_lower(q: float, a: float, b: float) -> float:
    log_q = math.log(q)
    log_b = _log_beta(a, b)
    # small-x start: I_x ~ x^a / (a B(a, b))
    t = min((log_q + math.log(a) + log_b) / a, math.log(a / (a + b)))
    lo, hi = -math.inf, 0.0
    for _ in range(300):
        x = math.exp(t)
        cdf = beta_cdf(x, a, b) if x > 0.0 else 0.0
        if cdf <= 0.0:
            lo = t
            t = t / 2.0 if hi == 0.0 else (t + hi) / 2.0
            continue
        g = math.log(cdf) - log_q
        if abs(g) < 1e-13:
            return x
        if g < 0.0:
            lo = t
        else:
            hi = t
        # d log I / d t = pdf(x) * x / I
        log_slope = a * t + (b - 1.0) * math.log1p(-x) - log_b - math.log(cdf) if x < 1.0 else -math.inf
        nt = t - g / math.exp(log_slope) if -700.0 < log_slope < 700.0 else math.nan
        if lo < nt < hi:
            t = nt
        elif lo == -math.inf:
            t = hi - 2.0 * (1.0 + abs(hi))
        else:
            t = (lo + hi) / 2.0
        if hi - lo < 1e-15:
            break
    return math.exp(t)


@lru_cache(maxsize=65_536)
def beta_interval(
    failures: int,
    trials: int,
    prior: tuple[float, float] = JEFFREYS_PRIOR,
    level: float = CREDIBLE_LEVEL,
) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the posterior ``Beta(prior[0] + failures, prior[1] + trials -
    failures)``: the posterior mean and the equal-tailed credible interval of probability
    ``level``. Cached (histories repeat counts).

    Raises ``ValueError`` when ``0 <= failures <= trials`` or ``0 < level < 1`` does not hold.
    """
    if not 0 <= failures <= trials:
        raise ValueError(f"need 0 <= failures <= trials, got {failures} of {trials}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), not {level}")
    a = prior[0] + failures
    b = prior[1] + trials - failures
    tail = (1.0 - level) / 2.0
    return a / (a + b), beta_ppf(tail, a, b), beta_ppf(1.0 - tail, a, b)


def runs_to_observe(p: float, confidence: float = CREDIBLE_LEVEL) -> int | None:
    """Executions needed to see at least one failure with probability ``confidence`` when each
    fails independently with probability ``p``: ``ceil(ln(1 - confidence) / ln(1 - p))``.
    ``None`` for ``p == 0`` (never), ``1`` for ``p == 1``.

    Raises ``ValueError`` unless ``0 <= p <= 1`` and ``0 < confidence < 1``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], not {p}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    if p == 0.0:
        return None
    if p == 1.0:
        return 1
    return max(1, math.ceil(math.log1p(-confidence) / math.log1p(-p)))
