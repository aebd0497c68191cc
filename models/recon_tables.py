"""The reconciliation's tables around the bridge: spend, funnel users, the KPI dict, ROAS and
CAC by campaign and channel, the funnel, the daily claimed vs booked series with unusual days,
and the user's own anomaly rows. A part of `models.reconciliation.ReconciliationModel`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import ibis
import numpy as np
import pandas as pd

from models.kpi import money, money_column, ratio
from models.recon_common import (
    FUNNEL_STEPS,
    ORDER_COUNTS,
    kpi_dict,
    robust_scores,
)


class ReconTables:
    """The tables of the reconciliation model (its mixin)."""

    def _spend(self, start: dt.date, end: dt.date, camps: list[str] | None) -> pd.DataFrame:
        """Spend (cents) per campaign in [start, end]."""

        def build(start: dt.date, end: dt.date, camps: list[str] | None) -> ibis.Table:
            sp = self._by_campaign(self._spend_t, camps)
            sp = sp.filter(sp.date >= start, sp.date <= end)
            return sp.group_by(campaign=sp.campaign.cast("string")).agg(spend=sp.spend_cents.sum())

        return self._run("spend", build, camps, start=start, end=end)

    def _users(
        self, start: dt.date, end: dt.date, camps: list[str] | None
    ) -> tuple[int, pd.Series]:
        """Distinct users with a checkout event in [start, end] that carries a passing campaign:
        in total, and per channel of that campaign (one query)."""

        def build(start: dt.date, end: dt.date, camps: list[str] | None) -> ibis.Table:
            days, rep = self._funnel_rows(start, end, camps)
            days, rep = (t.filter(t.step == "checkout") for t in (days, rep))
            days, rep = (t.left_join(self._channels_t, "campaign") for t in (days, rep))
            days, rep = (t.mutate(channel=t.channel.fill_null("(no channel)")) for t in (days, rep))
            return ibis.union(
                days.agg(channel=ibis.null("string"), users=days.users.sum()),
                rep.agg(channel=ibis.null("string"), users=rep.user.nunique()),
                days.group_by("channel").agg(users=days.users.sum()),
                rep.group_by("channel").agg(users=rep.user.nunique()),
                distinct=False,
            )

        r = self._run("users", build, camps, start=start, end=end).fillna({"users": 0})
        is_total = r["channel"].isna()
        n = int(r.loc[is_total, "users"].sum())
        per = r[~is_total].groupby("channel")["users"].sum()
        return n, per.astype(np.int64)

    def _funnel_rows(
        self, start: dt.date, end: dt.date, camps: list[str] | None
    ) -> tuple[ibis.Table, ibis.Table]:
        """Funnel rows in [start, end] of passing campaigns: (users by day, repeat users)."""
        out = []
        for t in (self._funnel_days, self._funnel_repeat):
            t = self._by_campaign(t, camps)
            out.append(t.filter(t.date >= start, t.date <= end))
        return out[0], out[1]

    def _kpis(self, spend_df: pd.DataFrame, users: int, r: dict[str, Any]) -> dict[str, Any]:
        s = r["summary"]
        counts = {k: int(s[k]) for k in ORDER_COUNTS if k != "orders_finance_only"}
        counts["orders_finance_only"] = int(r["n_finance_only"])
        mkt, fin = int(s["marketing"]), int(r["finance_cents"])
        spend = int(spend_df["spend"].sum())
        return kpi_dict(spend, mkt, fin, users, self._step_names(), r["bridge"], counts)

    def _campaign_table(
        self, spend: pd.DataFrame, claims: pd.DataFrame, finance: pd.Series
    ) -> pd.DataFrame:
        cols = [
            "campaign",
            "channel",
            "spend",
            "revenue_marketing",
            "revenue_finance",
            "roas_marketing",
            "roas_finance",
            "roas_inflation",
        ]
        sp = spend.set_index("campaign")["spend"]
        cl = _claims_by_campaign(claims)
        keys = sorted(set(sp.index) | set(cl.index) | set(finance.index))
        if not keys:
            return pd.DataFrame(columns=cols)
        sp, cl, fi = (x.reindex(keys).fillna(0).astype(np.int64) for x in (sp, cl, finance))
        chan = self._channel_map.set_index("campaign")["channel"]
        out = pd.DataFrame({"campaign": keys})
        out["channel"] = chan.reindex(keys).to_numpy()
        _revenue_columns(out, sp, cl, fi)
        out["roas_inflation"] = [
            None if m is None or f is None or f == 0 else m / f - 1
            for m, f in zip(out["roas_marketing"], out["roas_finance"], strict=True)
        ]
        return out[cols]

    def _channel_table(
        self, spend: pd.DataFrame, claims: pd.DataFrame, finance: pd.Series, users: pd.Series
    ) -> pd.DataFrame:
        cols = [
            "channel",
            "spend",
            "revenue_marketing",
            "revenue_finance",
            "roas_marketing",
            "roas_finance",
            "checkout_users",
            "cac",
        ]
        chan = self._channel_map.set_index("campaign")["channel"]
        frames = {
            "spend": spend.set_index("campaign")["spend"],
            "claims": _claims_by_campaign(claims),
            "fin": finance,
        }
        by = {
            k: v.groupby(chan.reindex(v.index).fillna("(no channel)").to_numpy()).sum()
            for k, v in frames.items()
        }
        keys = sorted(set().union(*(set(v.index) for v in by.values())))
        if not keys:
            return pd.DataFrame(columns=cols)
        sp, cl, fi = (
            by[k].reindex(keys).fillna(0).astype(np.int64) for k in ("spend", "claims", "fin")
        )
        nu = users.reindex(keys).fillna(0).astype(np.int64)
        out = pd.DataFrame({"channel": keys})
        _revenue_columns(out, sp, cl, fi)
        out["checkout_users"] = nu.to_numpy()
        out["cac"] = [
            money(Decimal(int(s)) / int(n)) if n else None for s, n in zip(sp, nu, strict=True)
        ]
        return out[cols]

    def _funnel_table(self, start: dt.date, end: dt.date, camps: list[str] | None) -> pd.DataFrame:
        cols = ["campaign", "step", "users", "step_conversion"]

        def build(start: dt.date, end: dt.date, camps: list[str] | None) -> ibis.Table:
            days, rep = self._funnel_rows(start, end, camps)
            return ibis.union(
                days.group_by("campaign", "step").agg(users=days.users.sum()),
                rep.group_by("campaign", "step").agg(users=rep.user.nunique()),
                distinct=False,
            )

        g = self._run("funnel", build, camps, start=start, end=end)
        users = g.groupby(["campaign", "step"])["users"].sum().unstack(fill_value=0)
        users = users.reindex(columns=list(FUNNEL_STEPS), fill_value=0).sort_index()
        n = users.to_numpy(np.int64)
        rows = [
            (campaign, step, int(n[i, j]), None if j == 0 else ratio(n[i, j], n[i, j - 1]))
            for i, campaign in enumerate(users.index)
            for j, step in enumerate(FUNNEL_STEPS)
        ]
        return pd.DataFrame(rows, columns=cols)

    def _daily(self, claims: pd.DataFrame, finance: pd.DataFrame, lag: float) -> pd.DataFrame:
        """Claimed vs booked per day, booked also shifted back by the typical lag; each day's
        lag-aligned variance scored with median / MAD and flagged above the threshold."""
        cols = ["date", "claimed", "booked", "booked_shifted", "variance", "score", "flagged"]
        c = claims.rename(columns={"date": "day"}).set_index("day")["claims"]
        f = finance.rename(columns={"fin_date": "day"}).set_index("day")["finance"]
        c.index, f.index = pd.to_datetime(c.index), pd.to_datetime(f.index)
        days = c.index.union(f.index)
        if len(days) == 0:
            return pd.DataFrame(columns=cols)
        days = pd.date_range(days.min(), days.max(), freq="D")
        c, f = c.reindex(days, fill_value=0), f.reindex(days, fill_value=0)
        shift = round(lag)
        shifted = f.shift(-shift, fill_value=0) if shift else f
        out = pd.DataFrame(
            {
                "date": days.date,
                "claimed": money_column(c),
                "booked": money_column(f),
                "booked_shifted": money_column(shifted),
            }
        )
        out["variance"] = money_column(shifted.to_numpy() - c.to_numpy())
        out["score"] = robust_scores((shifted.to_numpy() - c.to_numpy()) / 100.0)
        out["flagged"] = np.abs(out["score"]) > self.anomaly_threshold
        return out[cols]

    def _anomaly_rows(self, start: dt.date, end: dt.date, camps: list[str] | None) -> pd.DataFrame:
        a = self._anomalies
        if a.empty:
            return a
        d = pd.to_datetime(a["date"]).dt.date
        keep = (d >= start) & (d <= end)
        if camps is not None:
            keep &= a["campaign"].isin(camps) | a["campaign"].isin(["None", "nan", ""])
        return a[keep].reset_index(drop=True)


def _claims_by_campaign(claims: pd.DataFrame) -> pd.Series:
    """Claimed revenue (cents) by campaign; an empty series when nothing was claimed."""
    return claims.set_index("campaign")["claims"] if len(claims) else pd.Series(dtype=np.int64)


def _revenue_columns(out: pd.DataFrame, sp: pd.Series, cl: pd.Series, fi: pd.Series) -> None:
    """Spend, marketing and finance revenue (cents in, Decimal out) and both ROAS, row by row,
    for the campaign and the channel tables alike."""
    out["spend"] = money_column(sp)
    out["revenue_marketing"] = money_column(cl)
    out["revenue_finance"] = money_column(fi)
    out["roas_marketing"] = [ratio(int(a), int(b)) for a, b in zip(cl, sp, strict=True)]
    out["roas_finance"] = [ratio(int(a), int(b)) for a, b in zip(fi, sp, strict=True)]
