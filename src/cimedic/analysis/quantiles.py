"""Percentiles without numpy: linear interpolation between closest ranks.

This is numpy's default method (``numpy.percentile(..., method="linear")``), R's type 7 and
``statistics.quantiles(..., method="inclusive")`` (Hyndman & Fan 1996, "Sample Quantiles in
Statistical Packages", definition 7): for ``n`` sorted values ``x[0..n-1]`` and ``q`` in
[0, 100], the rank is ``h = (n - 1) * q / 100`` and the percentile
``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["median", "percentile", "sorted_percentile"]


def sorted_percentile(xs: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (``0 <= q <= 100``) of the **already sorted** ``xs``; ``None`` if empty.

    Raises ``ValueError`` when ``q`` is outside [0, 100].
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {q}")
    if not xs:
        return None
    h = (len(xs) - 1) * q / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    frac = h - lo
    lo_value, hi_value = float(xs[lo]), float(xs[hi])
    return lo_value + frac * (hi_value - lo_value) if frac else lo_value


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (``0 <= q <= 100``) of ``values`` (any order) by linear
    interpolation, as ``numpy.percentile(values, q)``; ``None`` when there are no values.

    Raises ``ValueError`` when ``q`` is outside [0, 100].
    """
    return sorted_percentile(sorted(values), q)


def median(values: Iterable[float]) -> float | None:
    """The median (50th percentile) of ``values``; ``None`` when there are none."""
    return percentile(values, 50)
