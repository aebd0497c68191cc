"""The aggregate fallback of the reconciliation: when the claims have no order ids (an aggregate
export), day x campaign is compared instead, each day's finance revenue allocated to that day's
claiming campaigns pro rata to their claims; the order counts are null. A part of
`models.reconciliation.ReconciliationModel`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from models.kpi import apportion, money
from models.recon_common import (
    APPROX_STEPS,
    kpi_dict,
)


class AggregateFallback:
    """Day x campaign reconciliation (the model's mixin, used when ``rec_orders`` is absent)."""

    def _compute_approximate(
        self,
        start: dt.date,
        end: dt.date,
        p_start: dt.date,
        p_end: dt.date,
        camps: list[str] | None,
    ) -> dict[str, Any]:
        cur = self._day_campaign(start, end, camps)
        prev = self._day_campaign(p_start, p_end, camps)
        spend_c, users_c = self._spend(start, end, camps), self._users(start, end, camps)[1]
        kpis = self._approx_kpis(start, end, camps, cur)
        kpis_prev = self._approx_kpis(p_start, p_end, camps, prev)
        steps = self._approx_steps(cur, camps)
        names = list(APPROX_STEPS)
        claims_c = cur.groupby("campaign", as_index=False)["claims"].sum()
        fin_c = cur.groupby("campaign")["finance"].sum().astype(np.int64)
        daily = cur.groupby("date", as_index=False)[["claims", "finance"]].sum()
        return {
            "kpis": kpis,
            "kpis_prev": kpis_prev,
            "bridge": pd.DataFrame({"step": names, "amount": [money(v) for v in steps]}),
            "bridge_check": money(sum(steps[:-1]) - steps[-1]),
            "by_campaign": self._campaign_table(spend_c, claims_c, fin_c),
            "by_channel": self._channel_table(spend_c, claims_c, fin_c, users_c),
            "funnel": self._funnel_table(start, end, camps),
            "daily": self._daily(
                daily[["date", "claims"]],
                daily[["date", "finance"]].rename(columns={"date": "fin_date"}),
                0.0,
            ),
            "lag_days": 0.0,
            "anomalies": self._anomaly_rows(start, end, camps),
        }

    def _day_campaign(self, start: dt.date, end: dt.date, camps: list[str] | None) -> pd.DataFrame:
        """Claims per day x campaign, and each day's booked finance revenue allocated to that
        day's claiming campaigns pro rata to their claims (all campaigns, then filtered)."""
        be = self._be
        m = self._raw_claims
        m = m.filter(m.date >= start, m.date <= end)
        claims = be.execute(
            m.group_by(["date", m.campaign.cast("string").name("campaign")]).agg(
                claims=m.revenue_cents.sum()
            )
        )
        f = self._fin.filter(
            self._fin.fin_status == "booked", self._fin.fin_date >= start, self._fin.fin_date <= end
        )
        fin = be.execute(f.group_by(date=f.fin_date).agg(fin=f.fin_cents.sum()))
        claims["date"] = pd.to_datetime(claims["date"]).dt.date
        fin["date"] = pd.to_datetime(fin["date"]).dt.date
        claims = claims.sort_values(["date", "campaign"]).reset_index(drop=True)
        claims["finance"] = 0
        day_fin = dict(zip(fin["date"], fin["fin"], strict=True))
        for day, idx in claims.groupby("date").groups.items():
            w = claims.loc[idx, "claims"].to_numpy()
            claims.loc[idx, "finance"] = apportion(w, int(day_fin.get(day, 0)))
        claimed_days = set(claims["date"])
        unclaimed = sum(int(v) for d, v in day_fin.items() if d not in claimed_days)
        if camps is not None:
            claims = claims[claims["campaign"].isin(camps)]
            unclaimed = 0  # finance of unclaimed days belongs to no campaign
        claims.attrs["unclaimed_finance"] = unclaimed
        return claims

    @staticmethod
    def _approx_steps(cur: pd.DataFrame, camps: list[str] | None) -> list[int]:
        """Bridge of the aggregate fallback: claims, allocated finance - claims, finance of days
        nobody claimed (no filter only), finance revenue."""
        mkt, alloc = int(cur["claims"].sum()), int(cur["finance"].sum())
        unclaimed = int(cur.attrs.get("unclaimed_finance", 0))
        return [mkt, alloc - mkt, unclaimed, alloc + unclaimed]

    def _approx_kpis(
        self, start: dt.date, end: dt.date, camps: list[str] | None, cur: pd.DataFrame
    ) -> dict[str, Any]:
        spend_df, users = self._spend(start, end, camps), self._users(start, end, camps)[0]
        steps = self._approx_steps(cur, camps)
        spend = int(spend_df["spend"].sum())
        return kpi_dict(spend, steps[0], steps[-1], users, APPROX_STEPS, steps, None)
