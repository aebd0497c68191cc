"""Small pure KPI functions with units in their names; `None` for an empty denominator.

Money is integer cents everywhere inside; `money` turns cents into an exact two-decimal Decimal
for output (the KPI dict, the CLI, exports).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np


def money(cents: int | float | None) -> Decimal | None:
    """Integer cents -> exact Decimal with two decimals (12345 -> Decimal('123.45'))."""
    if cents is None or (isinstance(cents, float) and math.isnan(cents)):
        return None
    return Decimal(round(cents)).scaleb(-2)


def ratio(num: float | int | None, den: float | int | None) -> float | None:
    """num / den, or None when the denominator is zero or missing."""
    if num is None or den is None or den == 0:
        return None
    return float(num) / float(den)


def pct(num: float | int | None, den: float | int | None) -> float | None:
    """num / den x 100, or None when the denominator is zero."""
    r = ratio(num, den)
    return None if r is None else r * 100.0


def bps(num: float | int | None, den: float | int | None) -> float | None:
    """num / den x 10,000 (basis points), or None when the denominator is zero."""
    r = ratio(num, den)
    return None if r is None else r * 10_000.0


def change_pct(current: float | int | None, previous: float | int | None) -> float | None:
    """(current - previous) / previous x 100, or None when previous is zero or missing."""
    if current is None or previous is None:
        return None
    return pct(float(current) - float(previous), previous)


def as_number(value: object) -> float | None:
    """A KPI value as a float for comparisons (Decimal, int, float, None)."""
    if value is None:
        return None
    return float(value)  # type: ignore[arg-type]


def weighted_median(values: Sequence[float], weights: Sequence[int]) -> float:
    """The median of ``values`` each repeated ``weights`` times (the mean of the two middle
    ones for an even count, as ``numpy.median``); 0.0 when there is nothing to take it of."""
    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=np.int64)
    keep = w > 0
    v, w = v[keep], w[keep]
    if not len(v):
        return 0.0
    order = np.argsort(v, kind="stable")
    v, ends = v[order], np.cumsum(w[order])  # positions ends[i-1] .. ends[i]-1 hold v[i]
    n = int(ends[-1])
    lo, hi = np.searchsorted(ends, [(n - 1) // 2, n // 2], side="right")
    return float((v[lo] + v[hi]) / 2)
