"""Marketing vs finance reconciliation, order by order, with a bridge that ties to the cent.

The rules are KPI_DEFINITIONS.md section 3. Queries read the marts of `data.marts`
(``rec_claims``: each claim with its order's finance row; ``rec_finance``; ``rec_channels``) and
the spend and funnel tables. Per period, one query classifies the orders claimed in the period
and sums the bridge; one sums finance revenue by day. The bridge's end (finance revenue) is
computed independently of its steps, and ``bridge_check`` reports their difference (always 0; the
property tests hold it to that).

When ``revenue_marketing`` has no order_id (an aggregate export), the model compares day x
campaign instead: finance revenue of a day is allocated to that day's claimed campaigns pro rata
to their claims. Every output then carries ``approximate = True`` and the order counts are null.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import ibis
import numpy as np
import pandas as pd
import param

from models.base import DomainModel, set_options
from models.influencer import apportion
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


class ReconciliationModel(DomainModel):
    """Owns the reconciliation filters, tolerances and every reconciliation output."""

    domain = "reconciliation"
    FILTERS = ("channels", "campaigns")
    SETTINGS = ("abs_tol", "rel_tol", "timing_days", "anomaly_threshold")

    channels = param.ListSelector(default=[], objects=[], doc="Marketing channels to include.")
    campaigns = param.ListSelector(default=[], objects=[], doc="Campaigns to include.")
    abs_tol = param.Number(default=0.01, bounds=(0, None), doc="Amount tolerance (currency).")
    rel_tol = param.Number(default=0.0, bounds=(0, 1), doc="Amount tolerance (share of finance).")
    timing_days = param.Integer(default=3, bounds=(0, None), doc="Days apart before 'timing'.")
    anomaly_threshold = param.Number(
        default=3.5, bounds=(0, None), doc="Robust score above which a day's variance is flagged."
    )

    approximate = param.Boolean(
        default=False, constant=True, precedence=-1, doc="True for aggregate (no order_id) data."
    )
    bridge = param.DataFrame(default=None, precedence=-1, doc="Bridge steps and amounts.")
    bridge_check = param.Parameter(
        default=None, precedence=-1, doc="Sum of bridge steps minus finance revenue (Decimal)."
    )
    by_campaign = param.DataFrame(default=None, precedence=-1, doc="Spend, revenue, ROAS.")
    by_channel = param.DataFrame(default=None, precedence=-1, doc="Spend, revenue, ROAS, CAC.")
    funnel = param.DataFrame(default=None, precedence=-1, doc="Funnel users per campaign.")
    daily = param.DataFrame(default=None, precedence=-1, doc="Claimed vs booked per day.")
    lag_days = param.Number(default=0, precedence=-1, doc="Typical claim-to-booking lag (days).")
    exceptions = param.DataFrame(default=None, precedence=-1, doc="Orders not plainly matched.")
    anomalies = param.DataFrame(default=None, precedence=-1, doc="The user's own anomaly rows.")

    def _setup(self) -> None:
        be = self._be
        names = be.list_tables()
        self._channel_map = be.execute(be.table("rec_channels"))
        self._spend = be.table("marketing_spend")
        self._funnel = be.table("funnel_events")
        self._fin = be.table("rec_finance")
        self._claims = be.table("rec_claims") if "rec_claims" in names else None
        self._raw_claims = be.table("revenue_marketing")
        with param.edit_constant(self):
            self.approximate = self._claims is None
        claimed = (
            be.execute(
                self._raw_claims.select(c=self._raw_claims.campaign.cast("string")).distinct()
            )["c"]
            .dropna()
            .tolist()
        )
        set_options(self, "campaigns", sorted(set(claimed) | set(self._channel_map["campaign"])))
        set_options(self, "channels", self._channel_map["channel"].dropna().unique().tolist())
        if "anomalies" in names:
            a = be.execute(be.table("anomalies").drop("_row"))
            self._anomalies = a.astype({c: str for c in a.columns if c != "date"})
        else:
            self._anomalies = pd.DataFrame(columns=["date", "campaign", "description"])

    def _data_span(self) -> tuple[dt.date | None, dt.date | None]:
        parts = []
        for t, col in ((self._spend, "date"), (self._raw_claims, "date"), (self._fin, "fin_date")):
            r = self._be.execute(t.agg(lo=t[col].min(), hi=t[col].max()))
            if pd.notna(r["lo"].iloc[0]):
                parts.append(
                    (pd.Timestamp(r["lo"].iloc[0]).date(), pd.Timestamp(r["hi"].iloc[0]).date())
                )
        if not parts:
            return None, None
        return min(p[0] for p in parts), max(p[1] for p in parts)

    # -- filters ------------------------------------------------------------------------------
    def _passing(self) -> list[str] | None:
        """The campaigns that pass the channel and campaign filters (None: no filter)."""
        if not self.channels and not self.campaigns:
            return None
        camps = set(self.param.campaigns.objects)
        if self.campaigns:
            camps &= set(self.campaigns)
        if self.channels:
            m = self._channel_map
            camps &= set(m.loc[m["channel"].isin(self.channels), "campaign"])
        return sorted(camps)

    @staticmethod
    def _by_campaign(t: ibis.Table, camps: list[str] | None, col: str = "campaign") -> ibis.Table:
        if camps is None:
            return t
        return (
            t.filter(t[col].cast("string").isin(camps)) if camps else t.filter(ibis.literal(False))
        )

    # -- computation --------------------------------------------------------------------------
    def compute(self) -> dict[str, Any]:
        start, end = self.period()
        p_start, p_end = self.previous_period()
        camps = self._passing()
        if self._claims is None:
            return self._compute_approximate(start, end, p_start, p_end, camps)
        cur = self._orders(start, end, camps, details=True)
        prev = self._orders(p_start, p_end, camps, details=False)
        spend_c, users_c = self._spend_and_users(start, end, camps)
        kpis = self._kpis(spend_c, users_c, cur)
        kpis_prev = self._kpis(*self._spend_and_users(p_start, p_end, camps), prev)
        steps = cur["bridge"]
        bridge = pd.DataFrame({"step": list(BRIDGE_STEPS), "amount": [money(v) for v in steps]})
        check = money(sum(steps[:-1]) - steps[-1])
        return {
            "kpis": kpis,
            "kpis_prev": kpis_prev,
            "bridge": bridge,
            "bridge_check": check,
            "by_campaign": self._campaign_table(
                spend_c, cur["claims_by_campaign"], cur["finance_by_campaign"]
            ),
            "by_channel": self._channel_table(
                spend_c, cur["claims_by_campaign"], cur["finance_by_campaign"], users_c
            ),
            "funnel": self._funnel_table(start, end, camps),
            "daily": self._daily(cur["daily_claims"], cur["daily_finance"], cur["lag"]),
            "lag_days": float(cur["lag"]),
            "exceptions": cur["exceptions"],
            "anomalies": self._anomaly_rows(start, end, camps),
        }

    def _orders(
        self, start: dt.date, end: dt.date, camps: list[str] | None, details: bool
    ) -> dict[str, Any]:
        """Classify the orders claimed in [start, end] and sum the bridge steps (cents)."""
        be = self._be
        c = self._by_campaign(self._claims, camps)
        cp = c.filter(c.date >= start, c.date <= end)
        o = cp.group_by("order_id").agg(
            n=cp.count(),
            claims_cents=cp.claim_cents.sum(),
            primary_cents=cp.claim_cents.argmin(cp.seq),
            claim_date=cp.date.argmin(cp.seq),
            campaign=cp.campaign.argmin(cp.seq),
            n_campaigns=cp.campaign.nunique(),
            in_finance=cp.in_finance.max(),
            fin_cents=cp.fin_cents.max(),
            fin_date=cp.fin_date.max(),
            fin_status=cp.fin_status.max(),
        )
        booked = o.in_finance & (o.fin_status == "booked")
        diff = (o.fin_cents - o.primary_cents).cast("float64")
        tol = self.abs_tol * 100 + self.rel_tol * o.fin_cents.abs().cast("float64")
        cls = ibis.cases(
            (~o.in_finance, "missing_in_finance"),
            (~booked, "refunded"),
            (diff.abs() > tol + 1e-9, "amount_mismatch"),
            else_="matched",
        )
        apart = o.fin_date.delta(o.claim_date, unit="day")
        o = o.mutate(
            cls=cls,
            booked=booked,
            dup=o.n > 1,
            timing=booked & (apart.abs() > self.timing_days),
            apart=apart,
            outside=booked & ((o.fin_date < start) | (o.fin_date > end)),
        )
        # One materialisation per period (a session-local temp table): the queries below then
        # read a small table instead of recompiling and re-running the classification.
        o = be.create_table(
            f"_rec_orders_{'cur' if details else 'prev'}", o, temp=True, overwrite=True
        )
        zero = ibis.literal(0, "int64")

        def s(cond: ibis.BooleanValue, v: ibis.IntegerValue) -> ibis.IntegerValue:
            return cond.ifelse(v, zero).sum()

        agg = {
            "orders_claimed": o.count(),
            **{f"orders_{k}": (o.cls == k).sum() for k in CLASSES},
            "orders_duplicate_claims": o.dup.sum(),
            "orders_timing": o.timing.sum(),
            "marketing": o.claims_cents.sum(),
            "dups": (o.claims_cents - o.primary_cents).sum(),
            "missing": s(o.cls == "missing_in_finance", o.primary_cents),
            "refunded": s(o.cls == "refunded", o.primary_cents),
            "amount_diff": s(o.booked, o.fin_cents - o.primary_cents),
            "timing_out": s(o.outside, o.fin_cents),
            "lag": (o.cls == "matched").ifelse(o.apart, ibis.null("int64")).median(),
        }
        summary = be.execute(o.agg(**agg)).iloc[0].to_dict()
        summary = {k: (0 if pd.isna(v) else v) for k, v in summary.items()}

        # Finance side: booked orders with finance date in the period.
        f = self._fin.filter(
            self._fin.fin_status == "booked", self._fin.fin_date >= start, self._fin.fin_date <= end
        )
        in_p = o.select("order_id").mutate(in_p=ibis.literal(True))
        f = f.left_join(in_p, "order_id").drop("order_id_right")
        if camps is None:
            f = f.mutate(in_c=f.claimed)
        else:
            any_c = c.select("order_id").distinct().mutate(in_c=ibis.literal(True))
            f = f.left_join(any_c, "order_id").drop("order_id_right")
        f = f.mutate(in_c=f.in_c.fill_null(False), in_p=f.in_p.fill_null(False))
        counted = f.in_c | ibis.literal(camps is None)
        daily_f = be.execute(
            f.group_by("fin_date").agg(
                finance=s(counted, f.fin_cents),
                timing_in=s(f.in_c & ~f.in_p, f.fin_cents),
                finance_only=s(~f.in_c & ibis.literal(camps is None), f.fin_cents),
                n_finance_only=(~f.in_c & ibis.literal(camps is None)).sum(),
            )
        )
        tot = {
            k: int(daily_f[k].sum())
            for k in ("finance", "timing_in", "finance_only", "n_finance_only")
        }
        steps = [
            int(summary["marketing"]),
            -int(summary["dups"]),
            -int(summary["missing"]),
            -int(summary["refunded"]),
            int(summary["amount_diff"]),
            -int(summary["timing_out"]) + tot["timing_in"],
            tot["finance_only"],
            tot["finance"],
        ]
        out: dict[str, Any] = {
            "summary": summary,
            "bridge": steps,
            "finance_cents": tot["finance"],
            "n_finance_only": tot["n_finance_only"],
            "lag": float(summary["lag"]),
        }
        if not details:
            return out
        dc = be.execute(cp.group_by(["date", "campaign"]).agg(claims=cp.claim_cents.sum()))
        out["daily_claims"] = dc.groupby("date", as_index=False)["claims"].sum()
        out["daily_finance"] = daily_f[["fin_date", "finance"]]
        out["claims_by_campaign"] = dc.groupby("campaign", as_index=False)["claims"].sum()
        pairs = cp.filter(cp.in_finance & (cp.fin_status == "booked"))
        pairs = pairs.select("order_id", "campaign", "fin_cents").distinct()
        pairs = pairs.mutate(k=pairs.count().over(group_by="order_id"))
        single = be.execute(
            pairs.filter(pairs.k == 1).group_by("campaign").agg(fin=pairs.fin_cents.sum())
        )
        multi = be.execute(pairs.filter(pairs.k > 1))
        out["finance_by_campaign"] = self._split_multi(single, multi)
        ex = o.filter((o.cls != "matched") | o.dup | o.timing)
        ex_df = be.execute(
            ex.select(
                "order_id",
                "cls",
                "dup",
                "timing",
                "primary_cents",
                "claims_cents",
                "fin_cents",
                "claim_date",
                "fin_date",
                "campaign",
                "n_campaigns",
            )
        )
        only = None
        if camps is None:
            only = be.execute(f.filter(~f.in_c).select("order_id", "fin_cents", "fin_date"))
        out["exceptions"] = self._exception_table(ex_df, only, cp)
        return out

    @staticmethod
    def _split_multi(single: pd.DataFrame, multi: pd.DataFrame) -> pd.Series:
        """Finance revenue per campaign; an order claimed by k campaigns gives 1/k to each
        (largest remainder, campaigns in name order, so parts add up to the order)."""
        total = single.set_index("campaign")["fin"].astype(np.int64)
        if len(multi):
            multi = multi.sort_values(["order_id", "campaign"])
            parts = []
            for _, g in multi.groupby("order_id", sort=False):
                shares = apportion(np.ones(len(g)), int(g["fin_cents"].iloc[0]))
                parts.append(pd.Series(shares, index=g["campaign"].to_numpy()))
            extra = pd.concat(parts).groupby(level=0).sum()
            total = total.add(extra, fill_value=0).astype(np.int64)
        return total

    def _exception_table(
        self, ex: pd.DataFrame, only: pd.DataFrame | None, cp: ibis.Table
    ) -> pd.DataFrame:
        rows = ex.copy()
        flags = np.where(
            rows["dup"] & rows["timing"],
            "duplicate_claim,timing",
            np.where(rows["dup"], "duplicate_claim", np.where(rows["timing"], "timing", "")),
        )
        campaigns = rows["campaign"].astype(str)
        multi = rows["n_campaigns"] > 1
        if multi.any():
            ids = rows.loc[multi, "order_id"].tolist()
            sub = cp.filter(cp.order_id.isin(ids))
            names = self._be.execute(
                sub.group_by("order_id").agg(names=sub.campaign.collect(distinct=True))
            )
            joined = {r.order_id: ", ".join(sorted(r.names)) for r in names.itertuples()}
            campaigns = campaigns.where(~multi, rows["order_id"].map(joined))
        table = pd.DataFrame(
            {
                "order_id": rows["order_id"].astype(str),
                "class": rows["cls"],
                "flags": flags,
                "claimed_revenue": rows["primary_cents"] / 100.0,
                "claims_total": rows["claims_cents"] / 100.0,
                "finance_revenue": rows["fin_cents"] / 100.0,
                "claim_date": pd.to_datetime(rows["claim_date"]).dt.date,
                "finance_date": pd.to_datetime(rows["fin_date"]).dt.date,
                "campaigns": campaigns,
            }
        )
        if only is not None and len(only):
            finance_only = pd.DataFrame(
                {
                    "order_id": only["order_id"].astype(str),
                    "class": "finance_only",
                    "flags": "",
                    "claimed_revenue": np.nan,
                    "claims_total": np.nan,
                    "finance_revenue": only["fin_cents"] / 100.0,
                    "claim_date": None,
                    "finance_date": pd.to_datetime(only["fin_date"]).dt.date,
                    "campaigns": "",
                }
            )
            table = (
                pd.concat([table, finance_only], ignore_index=True)
                if len(table)
                else (finance_only)
            )
        return table[EXCEPTION_COLUMNS].sort_values(["class", "order_id"]).reset_index(drop=True)

    def _spend_and_users(
        self, start: dt.date, end: dt.date, camps: list[str] | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        sp = self._by_campaign(self._spend, camps)
        sp = sp.filter(sp.date >= start, sp.date <= end)
        spend = self._be.execute(
            sp.group_by(campaign=sp.campaign.cast("string")).agg(spend=sp.spend_cents.sum())
        )
        fe = self._by_campaign(self._funnel, camps)
        fe = fe.filter(
            fe.campaign.notnull(),
            fe.event_type.cast("string") == "checkout",
            fe.timestamp.date() >= start,
            fe.timestamp.date() <= end,
        )
        users = self._be.execute(
            fe.select("user_id", campaign=fe.campaign.cast("string")).distinct()
        )
        return spend, users

    def _kpis(
        self, spend_df: pd.DataFrame, users: pd.DataFrame, r: dict[str, Any]
    ) -> dict[str, Any]:
        spend = int(spend_df["spend"].sum())
        s = r["summary"]
        mkt, fin = int(s["marketing"]), int(r["finance_cents"])
        k = {
            "spend": money(spend),
            "revenue_marketing": money(mkt),
            "revenue_finance": money(fin),
            "discrepancy_pct": pct(mkt - fin, fin),
            "roas_marketing": ratio(mkt, spend),
            "roas_finance": ratio(fin, spend),
            "cac": money(Decimal(spend) / users["user_id"].nunique()) if len(users) else None,
            "orders_claimed": int(s["orders_claimed"]),
            **{f"orders_{c}": int(s[f"orders_{c}"]) for c in CLASSES},
            "orders_duplicate_claims": int(s["orders_duplicate_claims"]),
            "orders_timing": int(s["orders_timing"]),
            "orders_finance_only": int(r["n_finance_only"]),
            "match_rate": ratio(int(s["orders_matched"]), int(s["orders_claimed"])),
            "bridge": [
                {"step": step, "amount": money(v)}
                for step, v in zip(BRIDGE_STEPS, r["bridge"], strict=True)
            ],
        }
        return k

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
        cl = claims.set_index("campaign")["claims"] if len(claims) else pd.Series(dtype=np.int64)
        keys = sorted(set(sp.index) | set(cl.index) | set(finance.index))
        if not keys:
            return pd.DataFrame(columns=cols)
        sp, cl, fi = (x.reindex(keys).fillna(0).astype(np.int64) for x in (sp, cl, finance))
        chan = self._channel_map.set_index("campaign")["channel"]
        out = pd.DataFrame({"campaign": keys})
        out["channel"] = chan.reindex(keys).to_numpy()
        out["spend"] = [money(int(v)) for v in sp]
        out["revenue_marketing"] = [money(int(v)) for v in cl]
        out["revenue_finance"] = [money(int(v)) for v in fi]
        out["roas_marketing"] = [ratio(int(a), int(b)) for a, b in zip(cl, sp, strict=True)]
        out["roas_finance"] = [ratio(int(a), int(b)) for a, b in zip(fi, sp, strict=True)]
        out["roas_inflation"] = [
            None if m is None or f is None or f == 0 else m / f - 1
            for m, f in zip(out["roas_marketing"], out["roas_finance"], strict=True)
        ]
        return out[cols]

    def _channel_table(
        self, spend: pd.DataFrame, claims: pd.DataFrame, finance: pd.Series, users: pd.DataFrame
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
            "claims": claims.set_index("campaign")["claims"]
            if len(claims)
            else pd.Series(dtype=np.int64),
            "fin": finance,
        }
        by = {
            k: v.groupby(chan.reindex(v.index).fillna("(no channel)").to_numpy()).sum()
            for k, v in frames.items()
        }
        u = users.assign(channel=chan.reindex(users["campaign"]).fillna("(no channel)").to_numpy())
        n_users = u.groupby("channel")["user_id"].nunique()
        keys = sorted(set().union(*(set(v.index) for v in by.values())))
        if not keys:
            return pd.DataFrame(columns=cols)
        sp, cl, fi = (
            by[k].reindex(keys).fillna(0).astype(np.int64) for k in ("spend", "claims", "fin")
        )
        nu = n_users.reindex(keys).fillna(0).astype(np.int64)
        out = pd.DataFrame({"channel": keys})
        out["spend"] = [money(int(v)) for v in sp]
        out["revenue_marketing"] = [money(int(v)) for v in cl]
        out["revenue_finance"] = [money(int(v)) for v in fi]
        out["roas_marketing"] = [ratio(int(a), int(b)) for a, b in zip(cl, sp, strict=True)]
        out["roas_finance"] = [ratio(int(a), int(b)) for a, b in zip(fi, sp, strict=True)]
        out["checkout_users"] = nu.to_numpy()
        out["cac"] = [
            money(Decimal(int(s)) / int(n)) if n else None for s, n in zip(sp, nu, strict=True)
        ]
        return out[cols]

    def _funnel_table(self, start: dt.date, end: dt.date, camps: list[str] | None) -> pd.DataFrame:
        cols = ["campaign", "step", "users", "step_conversion"]
        fe = self._by_campaign(self._funnel, camps)
        fe = fe.filter(
            fe.campaign.notnull(), fe.timestamp.date() >= start, fe.timestamp.date() <= end
        )
        g = self._be.execute(
            fe.group_by(campaign=fe.campaign.cast("string"), step=fe.event_type.cast("string")).agg(
                users=fe.user_id.nunique()
            )
        )
        rows = []
        for campaign in sorted(g["campaign"].unique()):
            sub = g[g["campaign"] == campaign].set_index("step")["users"]
            prev = None
            for step in FUNNEL_STEPS:
                n = int(sub.get(step, 0))
                rows.append(
                    {
                        "campaign": campaign,
                        "step": step,
                        "users": n,
                        "step_conversion": None if prev is None else ratio(n, prev),
                    }
                )
                prev = n
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
                "claimed": c.to_numpy() / 100.0,
                "booked": f.to_numpy() / 100.0,
                "booked_shifted": shifted.to_numpy() / 100.0,
            }
        )
        out["variance"] = out["booked_shifted"] - out["claimed"]
        out["score"] = robust_scores(out["variance"].to_numpy())
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

    # -- aggregate fallback ---------------------------------------------------------------------
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
        spend_c, users_c = self._spend_and_users(start, end, camps)
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
            "exceptions": pd.DataFrame(columns=EXCEPTION_COLUMNS),
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
        spend_df, users = self._spend_and_users(start, end, camps)
        spend = int(spend_df["spend"].sum())
        steps = self._approx_steps(cur, camps)
        mkt, fin = steps[0], steps[-1]
        keys = [
            "orders_claimed",
            *(f"orders_{c}" for c in CLASSES),
            "orders_duplicate_claims",
            "orders_timing",
            "orders_finance_only",
            "match_rate",
        ]
        return {
            "spend": money(spend),
            "revenue_marketing": money(mkt),
            "revenue_finance": money(fin),
            "discrepancy_pct": pct(mkt - fin, fin),
            "roas_marketing": ratio(mkt, spend),
            "roas_finance": ratio(fin, spend),
            "cac": money(Decimal(spend) / users["user_id"].nunique()) if len(users) else None,
            **dict.fromkeys(keys),
            "bridge": [
                {"step": n, "amount": money(v)} for n, v in zip(APPROX_STEPS, steps, strict=True)
            ],
        }

    def tables(self) -> dict[str, Any]:
        bc = self.by_campaign.drop(columns=["roas_inflation"])
        ex = self.exceptions[["order_id", "class", "flags"]]
        return {"by_campaign": bc, "exceptions": ex}


__all__ = ["BRIDGE_STEPS", "ReconciliationModel", "robust_scores"]
