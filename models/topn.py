"""Top N and "Other": a chart of many categories (campaigns, products, merchants) shows the
largest few and one bar for all the rest, whose values are worked out here, never in a view.

Sums are exact for what they are given (Decimal money stays Decimal, cents stay integers);
ratios of the "Other" row are its summed numerator over its summed denominator (the pooled
ROAS of the other campaigns), never a sum or mean of the rows' ratios. No Panel here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from models.kpi import ratio

#: How many categories a bar chart shows before the rest become "Other", and how many more it
#: may show rather than an "Other" of one or two (a bar "Other (1 campaign)" hides a name).
TOP_N = 8
SLACK = 2


def _sum(values: pd.Series) -> Any:
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if not present:
        return None
    total = present[0]
    for v in present[1:]:
        total = total + v
    return total


def other_label(count: int, noun: str) -> str:
    """``Other (4 campaigns)``: the label of the bar for ``count`` rest categories."""
    return f"Other ({count:,} {noun if count == 1 else noun + 's'})"


def top_and_other(
    df: pd.DataFrame | None,
    key: str,
    by: str,
    sums: Sequence[str],
    ratios: Mapping[str, tuple[str, str]] | None = None,
    noun: str = "other",
    n: int = TOP_N,
    slack: int = SLACK,
    split: str | None = None,
) -> pd.DataFrame:
    """The rows of the ``n`` categories of ``key`` with the largest total ``by``, largest first,
    then one row per ``split`` value (or one row) for every other category, ``key`` =
    `other_label`. ``sums`` columns of that row are the others' sums; each ``ratios`` column is
    ``sum(numerator) / sum(denominator)`` of the others (None for a zero denominator); any other
    column is None. With at most ``n + slack`` categories every row is kept (ranked the same).

    ``split``: a second key (a chart stacked by platform) kept apart in the "Other" rows; the
    ranking is by each category's total over it.
    """
    if df is None or df.empty:
        return pd.DataFrame() if df is None else df
    totals = df.groupby(key, sort=False)[by].apply(_sum)
    ranked = sorted(
        totals.index,
        key=lambda k: (-(float(totals[k]) if totals[k] is not None else float("-inf")), str(k)),
    )
    order = {k: i for i, k in enumerate(ranked)}
    ranked_rows = df.assign(_rank=df[key].map(order)).sort_values("_rank", kind="stable")
    if len(ranked) <= n + slack:
        return ranked_rows.drop(columns="_rank").reset_index(drop=True)
    top = ranked_rows[ranked_rows["_rank"] < n]
    rest = ranked_rows[ranked_rows["_rank"] >= n]
    label = other_label(len(ranked) - n, noun)
    groups = [((), rest)] if split is None else list(rest.groupby(split, sort=True))
    others = []
    for part_key, part in groups:
        row: dict[str, Any] = {c: None for c in df.columns}
        row[key] = label
        if split is not None:
            row[split] = part_key[0] if isinstance(part_key, tuple) else part_key
        for c in sums:
            row[c] = _sum(part[c])
        for c, (num, den) in (ratios or {}).items():
            a, b = _sum(part[num]), _sum(part[den])
            row[c] = ratio(None if a is None else float(a), None if b is None else float(b))
        others.append(row)
    # as records: concatenating frames with all-missing columns is deprecated in pandas
    out = pd.DataFrame([*top.drop(columns="_rank").to_dict("records"), *others], columns=df.columns)
    for c in df.columns:  # keep each column's kind (a float column stays float)
        if df[c].dtype.kind in "fi" and out[c].dtype == object:
            out[c] = pd.to_numeric(out[c])
    return out
