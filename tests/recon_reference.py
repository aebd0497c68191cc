"""KPI_DEFINITIONS.md section 3 written plainly with pandas, straight from the raw files: the
reference the model is compared with (property test) and the pandas side of `make bench`.

It shares no code with the model: claims in P are filtered row by row, the primary claim is the
first by (date, file order), and the bridge steps are summed as the table in the definitions
reads. Amounts are integer cents.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd


def load(root: Path) -> dict[str, pd.DataFrame]:
    """The two revenue tables with integer cents and file order."""
    f = root / "reconciliation"
    claims = pd.read_parquet(f / "revenue_marketing.parquet").reset_index(names="_row")
    fin = pd.read_parquet(f / "revenue_finance.parquet")
    for t in (claims, fin):
        t["cents"] = (t["revenue"] * 100).round().astype("int64")
        t["date"] = pd.to_datetime(t["date"]).dt.date
    if "status" not in fin.columns:
        fin["status"] = None
    fin["status"] = fin["status"].fillna("booked").astype(str)
    spend = pd.read_parquet(f / "marketing_spend.parquet", columns=["campaign", "channel"])
    return {"claims": claims, "finance": fin, "spend": spend}


def passing(
    tables: dict[str, pd.DataFrame], campaigns: list[str], channels: list[str]
) -> list[str] | None:
    """The campaigns the campaign and channel filters leave (None: no filter): a campaign is in
    the spend table with its channel, or only in the claims (no channel, so no channel passes)."""
    if not campaigns and not channels:
        return None
    spend = tables["spend"].astype(str)
    keep = set(tables["claims"]["campaign"].dropna().astype(str)) | set(spend["campaign"])
    if campaigns:
        keep &= set(campaigns)
    if channels:
        keep &= set(spend.loc[spend["channel"].isin(channels), "campaign"])
    return sorted(keep)


def reconcile(
    tables: dict[str, pd.DataFrame],
    start: dt.date,
    end: dt.date,
    campaigns: list[str] | None = None,
    abs_tol: float = 0.01,
    rel_tol: float = 0.0,
    timing_days: int = 3,
) -> dict[str, Any]:
    """The bridge (cents, in the order of the definitions), the order counts and the typical
    lag (median days from claim to booking over matched orders; 0 when none)."""
    c, fin = tables["claims"], tables["finance"]
    if campaigns is not None:
        c = c[c["campaign"].astype(str).isin(campaigns)]
    cp = c[(c["date"] >= start) & (c["date"] <= end)].sort_values(["date", "_row"])
    first = cp.drop_duplicates("order_id")
    n_claims = cp.groupby("order_id").size()
    o = first.merge(fin, on="order_id", how="left", suffixes=("", "_f"))
    missing = o["cents_f"].isna()
    booked = ~missing & (o["status"] == "booked")
    refunded = ~missing & ~booked
    gap = (o["cents_f"] - o["cents"]).abs()
    mismatch = booked & (gap > abs_tol * 100 + rel_tol * o["cents_f"].abs() + 1e-9)
    apart = (pd.to_datetime(o["date_f"]) - pd.to_datetime(o["date"])).dt.days
    outside = booked & ((o["date_f"] < start) | (o["date_f"] > end))
    fp = fin[(fin["status"] == "booked") & (fin["date"] >= start) & (fin["date"] <= end)]
    claimed_any = fp["order_id"].isin(c["order_id"])  # by a passing campaign, at any date
    in_p = fp["order_id"].isin(cp["order_id"])
    everything = campaigns is None
    finance = int(fp["cents"].sum() if everything else fp.loc[claimed_any, "cents"].sum())
    finance_only = int(fp.loc[~claimed_any, "cents"].sum()) if everything else 0
    marketing = int(cp["cents"].sum())
    bridge = [
        marketing,
        -(marketing - int(first["cents"].sum())),
        -int(o.loc[missing, "cents"].sum()),
        -int(o.loc[refunded, "cents"].sum()),
        int((o.loc[booked, "cents_f"] - o.loc[booked, "cents"]).sum()),
        -int(o.loc[outside, "cents_f"].sum()) + int(fp.loc[claimed_any & ~in_p, "cents"].sum()),
        finance_only,
        finance,
    ]
    matched_apart = apart[booked & ~mismatch]
    return {
        "bridge": bridge,
        "lag_days": float(matched_apart.median()) if len(matched_apart) else 0.0,
        "orders_claimed": len(o),
        "orders_missing_in_finance": int(missing.sum()),
        "orders_refunded": int(refunded.sum()),
        "orders_amount_mismatch": int(mismatch.sum()),
        "orders_matched": int((booked & ~mismatch).sum()),
        "orders_duplicate_claims": int((n_claims > 1).sum()),
        "orders_timing": int((booked & (apart.abs() > timing_days)).sum()),
        "orders_finance_only": int((~claimed_any).sum()) if everything else 0,
    }
