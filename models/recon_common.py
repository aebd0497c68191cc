"""What the parts of the reconciliation model share: its codes (order classes, bridge steps,
funnel steps), the exceptions table's columns, and the KPI dict both ways of reconciling give
(order by order, or day x campaign when the claims have no order ids)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import ibis
import numpy as np
import pandas as pd

from models.kpi import money, pct, ratio

CLASSES = ("matched", "amount_mismatch", "missing_in_finance", "refunded")
BRIDGE_STEPS = (
    "marketing_revenue",
    "duplicate_claims",
    "missing_in_finance",
    "refunded",
    "amount_differences",
    "timing",
    "finance_only",
    "finance_revenue",
)
#: The bridge step of pairs a person confirmed (a missing-in-finance claim and a finance-only
#: order that are one sale, `models.review`): their finance minus claimed revenue. The bridge has
#: it, after the amount differences, whenever the model is given confirmed pairs.
REVIEW_STEP = "matched_on_review"
REVIEW_FLAG = "matched_on_review"
APPROX_STEPS = (
    "marketing_revenue",
    "day_level_difference (approximate)",
    "finance_on_days_without_claims",
    "finance_revenue",
)
FUNNEL_STEPS = ("page_view", "add_to_cart", "checkout")
EXCEPTION_COLUMNS = [
    "order_id",
    "class",
    "flags",
    "claimed_revenue",
    "claims_total",
    "finance_revenue",
    "claim_date",
    "finance_date",
    "campaigns",
]


def no_exceptions() -> pd.DataFrame:
    """An exceptions table without rows, its columns typed."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in EXCEPTION_COLUMNS})


def sum_if(cond: ibis.BooleanValue, v: ibis.IntegerValue) -> ibis.IntegerValue:
    return cond.ifelse(v, ibis.literal(0, "int64")).sum()


def robust_scores(values: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 x MAD); 0 where MAD is 0 and x is the median, inf elsewhere."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return x
    med = np.median(x)
    mad = 1.4826 * np.median(np.abs(x - med))
    if mad == 0:
        return np.select([x > med, x < med], [np.inf, -np.inf], 0.0)
    return (x - med) / mad


#: The order counts of the KPI dict (null when the claims have no order ids).
ORDER_COUNTS = (
    "orders_claimed",
    *(f"orders_{c}" for c in CLASSES),
    "orders_duplicate_claims",
    "orders_timing",
    "orders_finance_only",
)


def kpi_dict(
    spend: int,
    marketing: int,
    finance: int,
    users: int,
    steps: Sequence[str],
    amounts: Sequence[int],
    counts: dict[str, int] | None,
) -> dict[str, Any]:
    """The reconciliation KPIs from cents and counts (``counts`` None: no order ids, so the
    order counts and the match rate are null)."""
    return {
        "spend": money(spend),
        "revenue_marketing": money(marketing),
        "revenue_finance": money(finance),
        "discrepancy_pct": pct(marketing - finance, finance),
        "roas_marketing": ratio(marketing, spend),
        "roas_finance": ratio(finance, spend),
        "cac": money(Decimal(spend) / users) if users else None,
        **({k: counts[k] for k in ORDER_COUNTS} if counts else dict.fromkeys(ORDER_COUNTS)),
        "match_rate": ratio(counts["orders_matched"], counts["orders_claimed"]) if counts else None,
        "bridge": [{"step": s, "amount": money(v)} for s, v in zip(steps, amounts, strict=True)],
    }
