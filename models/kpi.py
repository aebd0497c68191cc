"""Small pure KPI functions with units in their names; `None` for an empty denominator.

Money is integer cents everywhere inside; `money` turns cents into an exact two-decimal Decimal
for output (the KPI dict, the CLI, exports).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd


def money(cents: int | float | None) -> Decimal | None:
    """Integer cents -> exact Decimal with two decimals (12345 -> Decimal('123.45'))."""
    if cents is None or (isinstance(cents, float) and math.isnan(cents)):
        return None
    return Decimal(round(cents)).scaleb(-2)


def money_column(cents: Iterable[Any]) -> list[Decimal | None]:
    """Integer cents as exact two-decimal Decimals: the money columns of every output table
    (the KPI dict's type too; the page converts to floats for display only)."""
    return [None if pd.isna(c) else money(int(c)) for c in cents]


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


def apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Split integer ``total`` over ``weights`` (>= 0) by largest remainder; parts sum to total.

    Ties go to the earlier weight. All zero weights: everything to nothing (zeros) unless total
    is 0; callers handle "no weight" themselves.
    """
    w = np.asarray(weights, dtype=np.float64)
    s = w.sum()
    if len(w) == 0 or s <= 0:
        return np.zeros(len(w), dtype=np.int64)
    exact = w / s * total
    base = np.floor(exact).astype(np.int64)
    left = int(total - base.sum())
    if left:
        order = np.lexsort((np.arange(len(w)), -(exact - base)))
        base[order[:left]] += 1
    return base


def split_cents(parts: pd.DataFrame, key: str, amount: str, weight: str) -> pd.Series:
    """Per group ``key``: split the group's integer ``amount`` (same on every row) over its rows
    pro rata to integer ``weight``, exactly, by largest remainder (ties: earlier row)."""
    amt = parts[amount].to_numpy(np.int64)
    w = parts[weight].to_numpy(np.int64)
    tot = parts.groupby(key, sort=False)[weight].transform("sum").to_numpy(np.int64)
    safe = np.where(tot == 0, 1, tot)
    if np.abs(amt).max(initial=0) * np.abs(w).max(initial=0) < 2**62:
        exact = amt * w  # numpy's // and % floor like Python's
        q, r = exact // safe, exact % safe
    else:  # Python ints avoid int64 overflow of amount x weight on large values
        exact = amt.astype(object) * w.astype(object)
        q = np.array([int(e // t) for e, t in zip(exact, safe, strict=True)], dtype=np.int64)
        r = np.array([int(e % t) for e, t in zip(exact, safe, strict=True)], dtype=np.int64)
    frame = pd.DataFrame({"k": parts[key].to_numpy(), "q": q, "r": r, "i": np.arange(len(parts))})
    left = amt - frame.groupby("k", sort=False)["q"].transform("sum").to_numpy(np.int64)
    rank = (
        frame.sort_values(["k", "r", "i"], ascending=[True, False, True])
        .groupby("k", sort=False)
        .cumcount()
        .reindex(frame.index)
        .to_numpy()
    )
    return pd.Series(q + (rank < left).astype(np.int64), index=parts.index)
