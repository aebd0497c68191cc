"""Influencer marketing ROI: revenue, cost, profit, ROI, ROAS and engagement.

Queries read the marts of `data.marts` (``inf_sales``, ``inf_posts``, ``inf_payments``,
``inf_credit``). One change runs at most four small queries (sales by influencer x brand x product
x campaign x platform for the period and the previous one; sales by day; passing posts; credit
under the chosen attribution model) and everything else is pandas on their small results.

Cost is a ledger of integer cents, each row dated and tagged with influencer, brand, product,
campaign and platform, so every filter applies to cost as it does to revenue:
- commissions (Order basis): round(rate x revenue) per sale, on the sale's date;
- post fees (Post basis): ``rate`` on the post's date, split over the products of the post's brand
  pro rata to the influencer's Influenced revenue for that brand in the period (largest remainder,
  so a fee's parts add up to the fee); a fee with no such revenue has no product ("unallocated")
  and drops out under a product filter, as KPI_DEFINITIONS.md says (0 when that revenue is 0);
- dated payouts (``payouts`` with a ``date`` column): used as they are, split over brands and
  products pro rata to the influencer's Influenced revenue in the period in the same way.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

import ibis
import numpy as np
import pandas as pd
import param

from data.marts import ATTRIBUTION_MODELS, TIER_NAMES, tier_of
from models.base import DomainModel, FiniteNumber, passes, set_options
from models.kpi import apportion, money, money_column, pct, ratio, split_cents

SALE_FILTERS = {"platforms": "platform", "categories": "category", "tiers": "tier"}
GROUP_KEYS = ["influencer_id", "attribution_type", "brand", "product", "campaign", "platform"]
UNALLOCATED = "(unallocated)"
ORGANIC = "(organic)"
NO_VALUE = {"campaign": "(no campaign)", "platform": ORGANIC}
BY_INFLUENCER_COLUMNS = [
    "influencer_id",
    "name",
    "tier",
    "category",
    "platform",
    "posts",
    "reach",
    "engagement_rate_pct",
    "orders",
    "revenue",
    "payout",
    "gross_profit",
    "net_profit",
    "roas",
    "roi_pct",
]


# --------------------------------------------------------------------------- pure functions


def half_up(value: Decimal) -> int:
    """Round a Decimal number of cents to whole cents, half away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def gross_cents(revenue_cents: int, cogs: float) -> int:
    """revenue x (1 - cogs), to the cent."""
    return half_up(Decimal(int(revenue_cents)) * (1 - Decimal(str(cogs))))


def grain_for(days: int) -> str:
    """Trend grain from the period's length: day up to 2 months, week up to 2 years, else month."""
    if days <= 62:
        return "day"
    if days <= 731:
        return "week"
    return "month"


class InfluencerModel(DomainModel):
    """Owns the influencer filters and every influencer output."""

    domain = "influencer"
    FILTERS: ClassVar[dict[str, str]] = {
        "brands": "brand",
        "products": "product",
        "platforms": "platform",
        "categories": "category",
        "tiers": "tier",
    }
    SETTINGS = ("cogs", "attribution", *DomainModel.SETTINGS)

    brands = param.ListSelector(default=[], objects=[], doc="Brands to include.")
    products = param.ListSelector(default=[], objects=[], doc="Products to include.")
    platforms = param.ListSelector(default=[], objects=[], doc="Platforms to include.")
    categories = param.ListSelector(default=[], objects=[], doc="Influencer categories.")
    tiers = param.ListSelector(default=[], objects=[], doc="Influencer tiers (by followers).")
    cogs = FiniteNumber(
        default=0.55, bounds=(0, 1), doc="Cost of goods sold as a fraction of revenue."
    )
    attribution = param.Selector(
        default="last_touch",
        objects=list(ATTRIBUTION_MODELS),
        doc="How Influenced revenue is credited to influencers.",
    )

    trend = param.DataFrame(default=None, precedence=-1, doc="Revenue, payout, net profit.")
    trend_grain = param.String(default="day", precedence=-1, doc="day, week or month.")
    shares = param.Dict(default={}, precedence=-1, doc="By source/brand/platform/product/campaign.")
    product_platform = param.DataFrame(default=None, precedence=-1, doc="Revenue by both.")
    by_influencer = param.DataFrame(default=None, precedence=-1, doc="Per-influencer table.")
    top_influencers = param.DataFrame(default=None, precedence=-1, doc="Top 10 by revenue.")
    worst_influencers = param.DataFrame(default=None, precedence=-1, doc="Worst 10 by ROI < 0.")
    page_kpis = param.Dict(
        default={},
        precedence=-1,
        doc="The KPI dict plus page-only figures (revenue_per_influencer); not in `tieout kpis`.",
    )
    page_kpis_prev = param.Dict(default={}, precedence=-1, doc="page_kpis, previous period.")
    warnings = param.List(default=[], precedence=-1, doc="Data-quality warnings.")

    def _setup(self) -> None:
        be = self._be
        self._sales = be.table("inf_sales")
        self._posts = be.table("inf_posts")
        names = be.list_tables()
        self._payments = be.table("inf_payments") if "inf_payments" in names else None
        self._credit = be.table("inf_credit")
        inf = be.table("influencers")
        self._influencers = be.execute(
            inf.select(
                "influencer_id",
                name=inf.name.cast("string"),
                category=inf.category.cast("string"),
                platform=inf.platform.cast("string"),
                tier=tier_of(inf.follower_count),
            )
        )
        opts = be.execute(
            self._sales.select("brand", "product", "platform", "category", "tier").distinct()
        )
        self._facets = opts.astype(object).rename(
            columns={
                "brand": "brands",
                "product": "products",
                "platform": "platforms",
                "category": "categories",
                "tier": "tiers",
            }
        )
        set_options(self, "brands", opts["brand"].dropna().unique().tolist())
        set_options(self, "products", opts["product"].dropna().unique().tolist())
        set_options(self, "platforms", opts["platform"].dropna().unique().tolist())
        set_options(self, "categories", self._influencers["category"].unique().tolist())
        self.param.tiers.objects = [t for t in TIER_NAMES if t in set(self._influencers["tier"])]
        self.param.tiers.check_on_set = True
        self.warnings = self._payout_warnings()

    def _payout_warnings(self) -> list[str]:
        """Influencers whose derived cost differs from the reported total_payout by > 1 cent."""
        if self._payments is not None:
            return []
        be = self._be
        s = self._sales
        com = be.execute(s.group_by("influencer_id").agg(c=s.commission_cents.sum()))
        p = self._posts
        fee = be.execute(p.group_by("influencer_id").agg(c=p.fee_cents.sum()))
        pay = be.table("payouts")
        rep = be.execute(pay.group_by("influencer_id").agg(r=pay.total_payout_cents.sum()))
        derived = pd.concat([com, fee]).dropna().groupby("influencer_id")["c"].sum()
        both = rep.set_index("influencer_id")["r"].to_frame().join(derived, how="outer")
        both = both.fillna(0)
        off = both[(both["r"] - both["c"]).abs() > 1]
        if off.empty:
            return []
        names = self._influencers.set_index("influencer_id")["name"]
        listed = ", ".join(
            f"{i} ({names.get(i, '?')}: ${money(int(r.c)):,} from the terms, "
            f"${money(int(r.r)):,} reported)"
            for i, r in off.iterrows()
        )
        return [
            f"The payout worked out from the payment terms differs from the total payout in "
            f"the payouts file for {len(off)} influencer(s): {listed}"
        ]

    def _data_span(self) -> tuple[dt.date | None, dt.date | None]:
        s, p = self._sales, self._posts
        a = self._be.execute(s.agg(lo=s.day.min(), hi=s.day.max()))
        b = self._be.execute(p.agg(lo=p.day.min(), hi=p.day.max()))
        los = [pd.Timestamp(x).date() for x in (a["lo"].iloc[0], b["lo"].iloc[0]) if pd.notna(x)]
        his = [pd.Timestamp(x).date() for x in (a["hi"].iloc[0], b["hi"].iloc[0]) if pd.notna(x)]
        return (min(los), max(his)) if los else (None, None)

    # -- queries --------------------------------------------------------------------------
    @staticmethod
    def _sql_filtered(t: ibis.Table, choices: dict[str, list[str]]) -> ibis.Table:
        cols = {**SALE_FILTERS, "brands": "brand", "products": "product"}
        preds = [passes(t[cols[p]], values) for p, values in choices.items()]
        return t.filter(*preds) if preds else t

    def _run(
        self, name: str, build: Any, filters: tuple[str, ...], key: Any = None, **values: Any
    ) -> pd.DataFrame:
        """Run query ``name`` with those of ``filters`` that are active (one prepared statement
        per set of active filters and ``key``; dates and filter values are its parameters)."""
        choices = {f: [str(v) for v in getattr(self, f)] for f in filters if getattr(self, f)}
        return self._query(name, build, (tuple(sorted(choices)), key), **values, **choices)

    def _pandas_filtered(self, df: pd.DataFrame) -> pd.DataFrame:
        keep = np.ones(len(df), dtype=bool)
        if self.brands:
            keep &= df["brand"].isin(self.brands).to_numpy()
        if self.products:
            keep &= df["product"].isin(self.products).to_numpy()
        return df[keep]

    def compute(self) -> dict[str, Any]:
        start, end = self.period()
        p_start, p_end = self.compared_period()

        def sales_q(
            p_start: dt.date, p_end: dt.date, start: dt.date, end: dt.date, **ch: list[str]
        ) -> ibis.Table:
            s = self._sql_filtered(self._sales, ch)
            s = s.filter(s.day >= p_start, s.day <= end, (s.day <= p_end) | (s.day >= start))
            return s.group_by([(s.day >= start).name("cur"), *GROUP_KEYS]).agg(
                sales=s.count(),
                orders=s.orders.sum(),
                revenue_cents=s.revenue_cents.sum(),
                commission_cents=s.commission_cents.sum(),
            )

        def rows_q(t: ibis.Table) -> Any:
            def build(
                p_start: dt.date, p_end: dt.date, start: dt.date, end: dt.date, **ch: list[str]
            ) -> ibis.Table:
                t_ = self._sql_filtered(t, ch)
                # the compared window need not touch the period (the same period last year)
                return t_.filter(
                    t_.day >= p_start, t_.day <= end, (t_.day <= p_end) | (t_.day >= start)
                )

            return build

        period = {"p_start": p_start, "p_end": p_end, "start": start, "end": end}
        sales = self._run("sales", sales_q, tuple(SALE_FILTERS), **period)
        posts = self._run("posts", rows_q(self._posts), (*SALE_FILTERS, "brands"), **period)
        posts["cur"] = posts["day"] >= pd.Timestamp(start)
        payments = None
        if self._payments is not None:
            payments = self._run("payments", rows_q(self._payments), tuple(SALE_FILTERS), **period)
            payments["cur"] = payments["day"] >= pd.Timestamp(start)

        ledger = self._pandas_filtered(self._ledger(sales, posts, payments))
        passing = self._pandas_filtered(sales)
        cur_sales, prev_sales = passing[passing["cur"]], passing[~passing["cur"]]
        cur_posts, prev_posts = posts[posts["cur"]], posts[~posts["cur"]]
        cur_cost, prev_cost = ledger[ledger["cur"]], ledger[~ledger["cur"]]

        kpis = self._kpis(cur_sales, cur_posts, cur_cost)
        kpis_prev = self._kpis(prev_sales, prev_posts, prev_cost)
        credited = self._credited(cur_sales, start, end)
        by_inf = self._by_influencer(cur_sales, cur_posts, cur_cost, credited, kpis)
        top = by_inf[by_inf["revenue"] > 0].sort_values("revenue", ascending=False).head(10)
        worst = by_inf[by_inf["roi_pct"].notna() & (by_inf["roi_pct"] < 0)]
        worst = worst.sort_values("roi_pct").head(10)
        grain = grain_for((end - start).days + 1)
        return {
            "kpis": kpis,
            "kpis_prev": kpis_prev,
            "page_kpis": self._page_kpis(kpis),
            "page_kpis_prev": self._page_kpis(kpis_prev),
            "trend": self._trend(start, end, cur_posts, cur_cost, grain),
            "trend_grain": grain,
            "shares": {
                dim: self._share(cur_sales, cur_cost, dim)
                for dim in ("source", "brand", "platform", "product", "campaign")
            },
            "product_platform": self._product_platform(cur_sales),
            "by_influencer": by_inf,
            "top_influencers": top.reset_index(drop=True),
            "worst_influencers": worst.reset_index(drop=True),
        }

    # -- cost ledger ------------------------------------------------------------------------
    def _ledger(
        self, sales: pd.DataFrame, posts: pd.DataFrame, payments: pd.DataFrame | None
    ) -> pd.DataFrame:
        """Every cost in cents with its period flag, influencer, brand, product, campaign,
        platform and day (commissions carry no day: the trend reads them by day from SQL)."""
        cols = [
            "cur",
            "influencer_id",
            "brand",
            "product",
            "campaign",
            "platform",
            "day",
            "kind",
            "cost_cents",
        ]
        parts = []
        com = sales[(sales["commission_cents"] > 0)]
        if len(com):
            parts.append(
                com.assign(day=pd.NaT, kind="commission", cost_cents=com["commission_cents"])
            )
        infl = sales[sales["attribution_type"] == "Influenced"]
        # Weights: each influencer's Influenced revenue by brand x product in each period.
        w = infl.groupby(["cur", "influencer_id", "brand", "product"], as_index=False)[
            "revenue_cents"
        ].sum()
        fees = posts[posts["fee_cents"] > 0]
        if len(fees):
            parts.append(
                self._split(
                    fees, w, ["cur", "influencer_id", "brand"], "fee_cents", "post_fee", "post_id"
                )
            )
        if payments is not None and len(payments):
            pay = payments[payments["amount_cents"] > 0].assign(
                _pay=np.arange(int((payments["amount_cents"] > 0).sum())), campaign=None
            )
            parts.append(
                self._split(pay, w, ["cur", "influencer_id"], "amount_cents", "payment", "_pay")
            )
        if not parts:
            return pd.DataFrame(columns=cols).astype({"cur": bool, "cost_cents": np.int64})
        text = dict.fromkeys(("influencer_id", "brand", "product", "campaign", "platform"), object)
        typed = [
            p_[cols]
            .astype({**text, "cur": bool, "cost_cents": np.int64})
            .assign(day=pd.to_datetime(p_["day"]).astype("datetime64[ns]"))
            for p_ in parts
        ]
        out = pd.concat(typed, ignore_index=True)
        return out

    @staticmethod
    def _split(
        items: pd.DataFrame,
        weights: pd.DataFrame,
        on: list[str],
        amount: str,
        kind: str,
        item_key: str,
    ) -> pd.DataFrame:
        """Split each item's amount over the brand/product rows of ``weights`` matching ``on``;
        items without weight stay whole with no product (and no brand if ``on`` has none)."""
        drop = [c for c in ("brand", "product") if c not in on and c in items.columns]
        m = items.drop(columns=drop).merge(weights, on=on, how="left")
        has = m["revenue_cents"].fillna(0) > 0
        split = m[has].copy()
        if len(split):
            split["revenue_cents"] = split["revenue_cents"].astype(np.int64)
            split["cost_cents"] = split_cents(split, item_key, amount, "revenue_cents")
        whole = m[~has].drop_duplicates(item_key).copy()
        whole["product"] = None
        if "brand" not in on:
            whole["brand"] = None
        whole["cost_cents"] = whole[amount]
        out = pd.concat([split, whole], ignore_index=True)
        out["kind"] = kind
        for c in ("campaign", "platform", "day"):
            if c not in out.columns:
                out[c] = None
        return out

    # -- outputs --------------------------------------------------------------------------
    def _kpis(self, sales: pd.DataFrame, posts: pd.DataFrame, cost: pd.DataFrame) -> dict:
        infl = sales["attribution_type"] == "Influenced"
        rev_total = int(sales["revenue_cents"].sum())
        rev_infl = int(sales.loc[infl, "revenue_cents"].sum())
        payout = int(cost["cost_cents"].sum())
        gross = gross_cents(rev_infl, self.cogs)
        net = gross - payout
        reach = int(posts["reach"].sum())
        active = set(posts["influencer_id"]) | set(
            sales.loc[infl & (sales["sales"] > 0), "influencer_id"]
        )
        return {
            "revenue_total": money(rev_total),
            "revenue_influenced": money(rev_infl),
            "revenue_organic": money(rev_total - rev_infl),
            "orders_total": int(sales["orders"].sum()),
            "orders_influenced": int(sales.loc[infl, "orders"].sum()),
            "payout": money(payout),
            "gross_profit": money(gross),
            "net_profit": money(net),
            "roi_pct": pct(net, payout),
            "roas": ratio(rev_infl, payout),
            "blended_roas": ratio(rev_total, payout),
            "engagement_rate_pct": pct(
                int(posts["likes"].sum()) + int(posts["comments"].sum()), reach
            ),
            "posts": len(posts),
            "reach": reach,
            "active_influencers": len(active),
        }

    @staticmethod
    def _page_kpis(kpis: dict[str, Any]) -> dict[str, Any]:
        """Influenced revenue per active influencer, beside the KPI dict."""
        n = kpis["active_influencers"]
        per = (kpis["revenue_influenced"] / n).quantize(Decimal("0.01")) if n else None
        return {**kpis, "revenue_per_influencer": per}

    def _credited(self, sales: pd.DataFrame, start: dt.date, end: dt.date) -> pd.Series:
        """Influenced revenue (cents) credited to each influencer under the chosen model; the
        parts add up exactly to the passing Influenced revenue."""
        infl = sales[sales["attribution_type"] == "Influenced"]
        own = infl.groupby("influencer_id")["revenue_cents"].sum()
        if self.attribution == "last_touch" or own.empty:
            return own.astype(np.int64)

        def build(start: dt.date, end: dt.date, **ch: list[str]) -> ibis.Table:
            c = self._sql_filtered(self._credit, ch)
            c = c.filter(c.model == self.attribution, c.day >= start, c.day <= end)
            return c.group_by("credited").agg(w=c.credit_cents.sum())

        filters = (*SALE_FILTERS, "brands", "products")
        credit = self._run("credit", build, filters, self.attribution, start=start, end=end)
        credit = credit.sort_values("credited")
        parts = apportion(credit["w"].to_numpy(), int(own.sum()))
        return pd.Series(parts, index=credit["credited"].to_numpy(), dtype=np.int64)

    def _by_influencer(
        self,
        sales: pd.DataFrame,
        posts: pd.DataFrame,
        cost: pd.DataFrame,
        credited: pd.Series,
        kpis: dict[str, Any],
    ) -> pd.DataFrame:
        infl = sales[sales["attribution_type"] == "Influenced"]
        g = pd.DataFrame(index=pd.Index([], name="influencer_id"))
        g = g.join(
            posts.groupby("influencer_id").agg(
                posts=("post_id", "count"),
                reach=("reach", "sum"),
                likes=("likes", "sum"),
                comments=("comments", "sum"),
            ),
            how="outer",
        )
        g = g.join(infl.groupby("influencer_id")["orders"].sum(), how="outer")
        g = g.join(credited.rename("revenue_cents"), how="outer")
        g = g.join(cost.groupby("influencer_id")["cost_cents"].sum(), how="outer")
        g = g.fillna(0).astype(np.int64)
        if g.empty:
            return pd.DataFrame(columns=BY_INFLUENCER_COLUMNS)
        g = g.sort_index()
        total_gross = gross_cents(int(g["revenue_cents"].sum()), self.cogs)
        gross = apportion(g["revenue_cents"].to_numpy(), total_gross)
        info = self._influencers.set_index("influencer_id")
        out = pd.DataFrame({"influencer_id": g.index.astype(str)})
        out["name"] = info["name"].reindex(g.index).to_numpy()
        out["tier"] = info["tier"].reindex(g.index).to_numpy()
        out["category"] = info["category"].reindex(g.index).to_numpy()
        out["platform"] = info["platform"].reindex(g.index).to_numpy()
        out["posts"] = g["posts"].to_numpy()
        out["reach"] = g["reach"].to_numpy()
        out["engagement_rate_pct"] = [
            pct(lk + cm, r) for lk, cm, r in zip(g["likes"], g["comments"], g["reach"], strict=True)
        ]
        out["orders"] = g["orders"].to_numpy()
        out["revenue"] = [money(int(v)) for v in g["revenue_cents"]]
        out["payout"] = [money(int(v)) for v in g["cost_cents"]]
        out["gross_profit"] = [money(int(v)) for v in gross]
        net = gross - g["cost_cents"].to_numpy()
        out["net_profit"] = [money(int(v)) for v in net]
        out["roas"] = [
            ratio(r, c) for r, c in zip(g["revenue_cents"], g["cost_cents"], strict=True)
        ]
        out["roi_pct"] = [pct(n, c) for n, c in zip(net, g["cost_cents"], strict=True)]
        return out[BY_INFLUENCER_COLUMNS]

    def _share(self, sales: pd.DataFrame, cost: pd.DataFrame, dim: str) -> pd.DataFrame:
        """Revenue, Influenced revenue, payout and net profit by ``dim``; rows add up to the
        KPI totals (gross profit split by Influenced revenue, largest remainder)."""
        cols = [
            dim,
            "revenue",
            "revenue_influenced",
            "payout",
            "gross_profit",
            "net_profit",
            "share",
        ]
        if dim == "source":
            s = sales.assign(source=sales["attribution_type"])
            c = cost.assign(source="Influenced")
        else:
            s, c = sales, cost
        s_key = s[dim].astype(object).where(s[dim].notna(), NO_VALUE.get(dim, ORGANIC))
        c_key = c[dim].astype(object).where(c[dim].notna(), UNALLOCATED)
        infl = (s["attribution_type"] == "Influenced").to_numpy()
        rev = s.groupby(s_key)["revenue_cents"].sum()
        rev_i = s[infl].groupby(s_key[infl])["revenue_cents"].sum()
        pay = c.groupby(c_key)["cost_cents"].sum()
        keys = sorted(set(rev.index) | set(pay.index), key=str)
        if not keys:
            return pd.DataFrame(columns=cols)
        rev, rev_i, pay = (x.reindex(keys).fillna(0).astype(np.int64) for x in (rev, rev_i, pay))
        gross = apportion(rev_i.to_numpy(), gross_cents(int(rev_i.sum()), self.cogs))
        total = int(rev.sum())
        out = pd.DataFrame({dim: [str(k) for k in keys]})
        out["revenue"] = [money(int(v)) for v in rev]
        out["revenue_influenced"] = [money(int(v)) for v in rev_i]
        out["payout"] = [money(int(v)) for v in pay]
        out["gross_profit"] = [money(int(v)) for v in gross]
        out["net_profit"] = [money(int(v)) for v in gross - pay.to_numpy()]
        out["share"] = [ratio(int(v), total) for v in rev]
        if dim == "source":  # organic sales carry no influencer cost and no attributed profit
            organic = out["source"] == "Organic"
            out.loc[organic, ["gross_profit", "net_profit"]] = None
        return out.sort_values("revenue", ascending=False, key=lambda x: x.astype(float))[
            cols
        ].reset_index(drop=True)

    def _product_platform(self, sales: pd.DataFrame) -> pd.DataFrame:
        if sales.empty:
            return pd.DataFrame(columns=["product", "platform", "revenue"])
        s = sales.assign(platform=sales["platform"].fillna(ORGANIC))
        g = s.groupby(["product", "platform"], as_index=False)["revenue_cents"].sum()
        g["revenue"] = money_column(g["revenue_cents"])
        return g[["product", "platform", "revenue"]]

    def _trend(
        self, start: dt.date, end: dt.date, posts: pd.DataFrame, cost: pd.DataFrame, grain: str
    ) -> pd.DataFrame:
        """Revenue, payout and net profit per day/week/month."""
        cols = ["period", "revenue", "revenue_influenced", "payout", "net_profit"]

        def build(start: dt.date, end: dt.date, **ch: list[str]) -> ibis.Table:
            s = self._sql_filtered(self._sales, ch)
            s = s.filter(s.day >= start, s.day <= end)
            infl = s.attribution_type == "Influenced"
            return s.group_by("day").agg(
                revenue_cents=s.revenue_cents.sum(),
                infl_cents=infl.ifelse(s.revenue_cents, 0).sum(),
                commission_cents=s.commission_cents.sum(),
            )

        filters = (*SALE_FILTERS, "brands", "products")
        daily = self._run("trend", build, filters, start=start, end=end)
        dated = cost[cost["kind"] != "commission"][["day", "cost_cents"]]
        dated = dated.assign(day=pd.to_datetime(dated["day"]))
        daily["day"] = pd.to_datetime(daily["day"])
        parts = [
            daily.rename(columns={"commission_cents": "cost_cents"}),
            dated.assign(revenue_cents=0, infl_cents=0),
        ]
        parts = [p_ for p_ in parts if len(p_)]
        frame = pd.concat(parts, ignore_index=True) if parts else daily
        if frame.empty:
            return pd.DataFrame(columns=cols)
        freq = {"day": "D", "week": "W-SUN", "month": "M"}[grain]
        frame["period"] = frame["day"].dt.to_period(freq).dt.start_time
        g = frame.groupby("period")[["revenue_cents", "infl_cents", "cost_cents"]].sum()
        g = g.astype(np.int64)
        gross = np.array([gross_cents(int(v), self.cogs) for v in g["infl_cents"]])
        return pd.DataFrame(
            {
                "period": g.index,
                "revenue": money_column(g["revenue_cents"]),
                "revenue_influenced": money_column(g["infl_cents"]),
                "payout": money_column(g["cost_cents"]),
                "net_profit": money_column(gross - g["cost_cents"].to_numpy()),
            }
        )[cols]

    def tables(self) -> dict[str, Any]:
        cols = [c for c in BY_INFLUENCER_COLUMNS if c not in ("tier", "category", "platform")]
        return {"by_influencer": self.by_influencer[cols]}


__all__ = ["InfluencerModel", "apportion", "gross_cents", "split_cents"]
