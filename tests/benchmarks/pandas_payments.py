"""The payments KPIs computed naively with pandas from the raw rows: the benchmark's baseline.

Same definitions as models.payments (period KPIs, previous-period GPV, concentration, churn
count), on an in-memory DataFrame of raw transactions joined to merchants.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd


def load(root: str) -> pd.DataFrame:
    tx = pd.read_parquet(f"{root}/payments/transactions.parquet")
    m = pd.read_parquet(f"{root}/payments/merchants.parquet")
    tx = tx.merge(
        m[["merchant_id", "segment", "industry", "region", "account_manager"]], on="merchant_id"
    )
    tx["day"] = tx["ts"].dt.normalize()
    tx["amount_cents"] = (tx["amount"] * 100).round().astype("int64")
    tx["fee_cents"] = (tx["fee"] * 100).round().astype("int64")
    return tx


def kpis(
    tx: pd.DataFrame, start: dt.date, end: dt.date, filters: dict[str, list[str]]
) -> dict[str, Any]:
    for col, values in filters.items():
        tx = tx[tx[col].isin(values)]
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    days = (e - s).days + 1
    cur = tx[(tx["day"] >= s) & (tx["day"] <= e)]
    prev = tx[(tx["day"] >= s - pd.Timedelta(days=days)) & (tx["day"] < s)]
    ok = cur[cur["status"] == "approved"]
    gpv = int(ok["amount_cents"].sum())
    intents = (cur["status"] == "approved").groupby(cur["intent_id"], observed=True).any()
    per_m = ok.groupby("merchant_id")["amount_cents"].sum().to_numpy()
    x = np.sort(per_m.astype(float))
    n = len(x)
    a = tx[
        (tx["day"] > e - pd.Timedelta(days=28)) & (tx["day"] <= e) & (tx["status"] == "approved")
    ]
    b = tx[
        (tx["day"] > e - pd.Timedelta(days=56))
        & (tx["day"] <= e - pd.Timedelta(days=28))
        & (tx["status"] == "approved")
    ]
    ga = a.groupby("merchant_id")["amount_cents"].sum()
    gb = b.groupby("merchant_id")["amount_cents"].sum()
    both = pd.concat([ga.rename("a"), gb.rename("b")], axis=1).fillna(0)
    return {
        "attempts": len(cur),
        "approved": len(ok),
        "gpv_cents": gpv,
        "fee_cents": int(ok["fee_cents"].sum()),
        "approval_rate_dedup": float(intents.mean()) if len(intents) else None,
        "gpv_prev_cents": int(prev.loc[prev["status"] == "approved", "amount_cents"].sum()),
        "active_merchants": n,
        "top10_share": float(np.sort(per_m)[::-1][:10].sum() / gpv) if gpv else None,
        "top1pct_share": float(np.sort(per_m)[::-1][: math.ceil(0.01 * n)].sum() / gpv)
        if gpv
        else None,
        "hhi": float(((100 * per_m / gpv) ** 2).sum()) if gpv else None,
        "gini": float(2 * (np.arange(1, n + 1) * x).sum() / (n * x.sum()) - (n + 1) / n)
        if gpv
        else None,
        "churn_risk": int(((both["b"] > 0) & (both["a"] <= 0.4 * both["b"])).sum()),
    }
