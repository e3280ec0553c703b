"""Change points of a duration series: robust scaling, penalised PELT (``ruptures``), pruning;
and the small statistical tests the anomaly detectors share (Mann-Whitney U, Wilson, binomial).

Pure: takes a sequence of positive numbers in time order (seconds), returns the level shifts
that survive the filters. The method, step by step (``docs/anomalies.md`` gives the reasons):

1. **Log scale.** ``y = log(max(x, floor))``. Durations are skewed and multiplicative: a job
   that gets 40 % slower moves by the same amount in log space whatever its size, so one
   penalty fits every series. ``floor`` (1 s for durations, :data:`QUEUE_FLOOR_S` for queue
   times) keeps near-zero values from dominating.
2. **Robust noise scale.** ``sigma = 1.4826 * MAD(diff(y)) / sqrt(2)``: the median absolute
   deviation of the first differences, which level shifts barely touch (the estimator used
   with PELT and Wild Binary Segmentation: Killick, Fearnhead & Eckley 2012, JASA 107(500);
   Fryzlewicz 2014, Ann. Statist. 42(6); 1.4826 makes the MAD consistent for a normal sigma,
   Hampel 1974). Floored at :data:`SIGMA_FLOOR` so a perfectly regular series does not turn
   every wobble into a change.
3. **Winsorised z-scores.** ``z = clip((y - median(y)) / sigma, -CLIP, CLIP)`` with
   :data:`CLIP` = 3 (Huber-type clipping): one runaway run (a stuck job) cannot create a
   segment of its own.
4. **PELT** (Killick et al. 2012) with the least-squares cost, through ``ruptures``'
   ``KernelCPD(kernel="linear")`` (the same cost as ``Pelt(model="l2")``, in C), minimum
   segment :data:`MIN_SEGMENT` runs and a BIC-type penalty ``pen = PENALTY_FACTOR * log(n) *
   sigma_z**2`` with ``sigma_z = 1`` after scaling and :data:`PENALTY_FACTOR` = 3 (the
   modified BIC of Zhang & Siegmund 2007).
5. **Pruning** (backward elimination): a change point is kept only when the runs on its two
   sides differ by a Mann-Whitney U test at :data:`ALPHA` (normal approximation with tie
   correction and continuity correction; Mann & Whitney 1947) **and** the medians differ by at
   least :data:`MIN_RELATIVE_CHANGE` (relative) and ``min_absolute`` seconds. While some change
   point fails, the weakest (largest p-value) is removed and its two segments merge.

The thresholds are module constants, the same for every project (never tuned per dataset).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALPHA",
    "CLIP",
    "MIN_ABSOLUTE_CHANGE_S",
    "MIN_RELATIVE_CHANGE",
    "MIN_SEGMENT",
    "PENALTY_FACTOR",
    "QUEUE_FLOOR_S",
    "SIGMA_FLOOR",
    "VALUE_FLOOR_S",
    "WILSON_Z",
    "Shift",
    "ShiftParams",
    "ShiftResult",
    "binomial_tail",
    "detect_shifts",
    "mann_whitney_p",
    "robust_sigma",
    "wilson_centre",
    "wilson_interval",
]

MIN_SEGMENT = 5
"""Runs a level must last to count (a shift shorter than five runs is a blip, not a regression);
also the minimum segment size given to PELT. Detection therefore lags the onset by up to five
runs of the new level."""
PENALTY_FACTOR = 3.0
"""``pen = PENALTY_FACTOR * log(n)`` on unit-variance data: the per-change penalty of the
modified BIC (Zhang & Siegmund 2007, Biometrics 63(1)), the default penalty of R's
``changepoint`` package (Killick & Eckley 2014, J. Stat. Softw. 58(3)). Plain BIC (2 log n)
over-segments heavy-tailed series: on simulated t(4) noise with outliers it put a false change
in about 10 % of 200-run series, 3 log n in about 1 % (``docs/anomalies.md``)."""
CLIP = 3.0
"""Winsorising bound of the robust z-scores (the usual 3-sigma outlier rule)."""
SIGMA_FLOOR = 0.05
"""Smallest noise scale in log units (5 %): runs within a few per cent are treated as equal."""
ALPHA = 0.01
"""Two-sided significance level of the Mann-Whitney U test that keeps a change point."""
MIN_RELATIVE_CHANGE = 0.20
"""Smallest relative change of the median worth reporting (20 %): below the run-to-run spread
of most pipelines (``bench/README.md`` (``anomalies_lrts.py``) measures the spread on the LRTS builds)."""
MIN_ABSOLUTE_CHANGE_S = 10.0
"""Smallest absolute change of the median worth reporting, seconds (a 3 s step that doubles
is not a regression anyone acts on)."""
VALUE_FLOOR_S = 1.0
"""Durations under one second are taken as one second before the log."""
QUEUE_FLOOR_S = 10.0
"""Queue times under ten seconds are taken as ten seconds (no wait worth the name: GitHub's
hosted runners usually pick a job up within seconds)."""


@dataclass(frozen=True)
class ShiftParams:
    """Parameters of :func:`detect_shifts` (defaults: the module constants)."""

    min_segment: int = MIN_SEGMENT
    penalty_factor: float = PENALTY_FACTOR
    clip: float = CLIP
    sigma_floor: float = SIGMA_FLOOR
    alpha: float = ALPHA
    min_relative: float = MIN_RELATIVE_CHANGE
    min_absolute: float = MIN_ABSOLUTE_CHANGE_S
    floor: float = VALUE_FLOOR_S

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "method": "PELT, least squares (ruptures KernelCPD linear) on winsorised robust z of log values",
            "min_segment": self.min_segment,
            "penalty_factor": self.penalty_factor,
            "clip": self.clip,
            "sigma_floor": self.sigma_floor,
            "alpha": self.alpha,
            "min_relative_change": self.min_relative,
            "min_absolute_change_s": self.min_absolute,
            "value_floor_s": self.floor,
        }


@dataclass(frozen=True)
class Shift:
    """A kept change point: the segment ``[before_start, index)`` then ``[index, after_end)``
    (indices into the series). Medians in the series' unit; ``relative = after/before - 1``."""

    index: int
    before_start: int
    after_end: int
    median_before: float
    median_after: float
    relative: float
    absolute: float
    p_value: float

    @property
    def increase(self) -> bool:
        return self.absolute > 0


@dataclass(frozen=True)
class ShiftResult:
    """The kept shifts (in order), the noise scale ``sigma`` (log units), the penalty used and
    the number of change points PELT proposed before pruning."""

    shifts: tuple[Shift, ...] = ()
    sigma: float | None = None
    penalty: float | None = None
    proposed: int = 0
    params: ShiftParams = field(default_factory=ShiftParams)


WILSON_Z = 1.959964
"""z of the 95 % Wilson score interval (failure-rate statistics)."""


def wilson_interval(failures: int, n: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval of ``failures / n`` (Wilson 1927); ``(0, 1)`` when ``n == 0``."""
    if n <= 0:
        return 0.0, 1.0
    p = failures / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_centre(failures: int, n: int, z: float = WILSON_Z) -> float:
    """The centre of the Wilson score interval, ``(failures + z²/2) / (n + z²)``."""
    return (failures + z * z / 2) / (n + z * z)


def binomial_tail(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)`` (exact sum)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return min(1.0, sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def robust_sigma(y: npt.NDArray[np.float64]) -> float:
    """``1.4826 * MAD(diff(y)) / sqrt(2)``; 0.0 for fewer than three values."""
    if y.size < 3:
        return 0.0
    d = np.diff(y)
    mad = float(np.median(np.abs(d - np.median(d))))
    return 1.4826 * mad / math.sqrt(2.0)


def _avg_ranks(a: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    _uniq, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    cum = np.cumsum(counts)
    avg = cum - (counts - 1) / 2.0
    return avg[inverse].astype(np.float64), counts.astype(np.int64)


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test of ``a`` against ``b`` (normal approximation
    with tie and continuity corrections, as ``scipy.stats.mannwhitneyu(method="asymptotic")``).
    1.0 when either side is empty or all values are equal."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    joined = np.asarray([*a, *b], dtype=np.float64)
    ranks, counts = _avg_ranks(joined)
    n = n1 + n2
    u1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    mu = n1 * n2 / 2.0
    tie = float((counts.astype(np.float64) ** 3 - counts).sum())
    var = n1 * n2 / 12.0 * ((n + 1) - tie / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2.0)))


def _pelt(z: npt.NDArray[np.float64], min_segment: int, penalty: float) -> list[int]:
    import ruptures as rpt  # heavy import, only when a series is long enough

    algo = rpt.KernelCPD(kernel="linear", min_size=min_segment, jump=1).fit(z.reshape(-1, 1))
    bkps = algo.predict(pen=penalty)
    return [int(b) for b in bkps[:-1]]


def _evaluate(
    values: npt.NDArray[np.float64], cps: list[int], i: int, params: ShiftParams
) -> tuple[Shift, bool]:
    bounds = [0, *cps, len(values)]
    start, cp, end = bounds[i], bounds[i + 1], bounds[i + 2]
    before, after = values[start:cp], values[cp:end]
    mb, ma = float(np.median(before)), float(np.median(after))
    rel = ma / mb - 1.0 if mb > 0 else math.inf
    p = mann_whitney_p(before.tolist(), after.tolist())
    shift = Shift(cp, start, end, mb, ma, rel, ma - mb, p)
    keep = p < params.alpha and abs(rel) >= params.min_relative and abs(ma - mb) >= params.min_absolute
    return shift, keep


def detect_shifts(values: Sequence[float], params: ShiftParams | None = None) -> ShiftResult:
    """Level shifts of ``values`` (positive numbers in time order, e.g. seconds) that pass the
    pruning of the module docstring; increases and decreases, oldest first.

    A series shorter than ``2 * min_segment`` has none. Raises ``ValueError`` when a value is
    negative or not finite.
    """
    p = params or ShiftParams()
    x = np.asarray(values, dtype=np.float64)
    if x.size and (not np.all(np.isfinite(x)) or float(x.min()) < 0):
        raise ValueError("detect_shifts needs finite values >= 0")
    n = int(x.size)
    if n < 2 * p.min_segment:
        return ShiftResult(params=p)
    floored = np.maximum(x, p.floor)
    y = np.log(floored)
    sigma = max(robust_sigma(y), p.sigma_floor)
    z = np.clip((y - float(np.median(y))) / sigma, -p.clip, p.clip)
    penalty = p.penalty_factor * math.log(n)
    cps = _pelt(z, p.min_segment, penalty)
    proposed = len(cps)
    while cps:
        evaluated = [_evaluate(floored, cps, i, p) for i in range(len(cps))]
        failing = [(s.p_value, -abs(s.relative), i) for i, (s, keep) in enumerate(evaluated) if not keep]
        if not failing:
            shifts = tuple(s for s, _ in evaluated)
            return ShiftResult(shifts, sigma, penalty, proposed, p)
        cps.pop(max(failing)[2])
    return ShiftResult((), sigma, penalty, proposed, p)
