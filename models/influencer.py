"""Influencer marketing ROI: revenue, cost, profit, ROI, ROAS and engagement.

Queries read the marts of `data.marts` (``inf_sales``, ``inf_posts``, ``inf_payments``,
``inf_credit``). One change runs at most four small queries (sales by influencer x brand x product
x campaign x platform for the period and the previous one; sales by day; passing posts; credit
under the chosen attribution model). Everything else works on their small results as numpy
columns (`Columns`): a few thousand rows, where each pandas operation would cost more than
its arithmetic.

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
import itertools
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

import ibis
import numpy as np
import pandas as pd
import param

from data.marts import ATTRIBUTION_MODELS, TIER_NAMES, tier_of
from models import presentation
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


#: A frame as its numpy columns: the computation after the queries works on these (a few
#: thousand rows), since a pandas operation costs far more than the arithmetic at this size.
Columns = dict[str, np.ndarray]
LEDGER_TEXT = ("influencer_id", "brand", "product", "campaign", "platform")


def _columns(frame: pd.DataFrame) -> Columns:
    return {c: frame[c].to_numpy() for c in frame.columns}


def _take(cols: Columns, rows: np.ndarray) -> Columns:
    return {c: v[rows] for c, v in cols.items()}


def _isin(values: np.ndarray, chosen: list[Any]) -> np.ndarray:
    """``values`` (text, missing values never pass) is one of ``chosen``."""
    return pd.Series(values, dtype=object, copy=False).isin(chosen).to_numpy()


def _datetimes(values: pd.Series) -> np.ndarray:
    """Dates or timestamps as datetime64[ns] (``pd.to_datetime`` only when they are not already
    datetimes: it looks at each value of a short column)."""
    if values.dtype.kind == "M":
        return values.to_numpy().astype("datetime64[ns]")
    return pd.to_datetime(values).to_numpy().astype("datetime64[ns]")


def _sum_by(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys`` in order (missing ones left out) and the sum of ``values`` for
    each, as int64: what ``groupby(keys).sum()`` gives."""
    codes, uniques = pd.factorize(keys, sort=True)
    ok = codes >= 0
    sums = np.zeros(len(uniques), dtype=np.int64)
    np.add.at(sums, codes[ok], np.asarray(values, dtype=np.int64)[ok])
    return np.asarray(uniques, dtype=object), sums


def _weights(sales: Columns) -> pd.DataFrame:
    """Each influencer's Influenced revenue by brand x product in each period."""
    infl = sales["attribution_type"] == "Influenced"
    keys = ["cur", "influencer_id", "brand", "product"]
    frame = pd.DataFrame({k: sales[k][infl] for k in (*keys, "revenue_cents")})
    return frame.groupby(keys, as_index=False)["revenue_cents"].sum()


def split_amounts(key: np.ndarray, amount: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`models.kpi.split_cents` on arrays: per ``key``, the group's integer ``amount`` (same on
    every row) split over its rows pro rata to integer ``weight`` by largest remainder (ties:
    earlier row); the same parts, without a DataFrame."""
    n = len(key)
    if not n:
        return np.zeros(0, dtype=np.int64)
    amt, w = np.asarray(amount, dtype=np.int64), np.asarray(weight, dtype=np.int64)
    if np.abs(amt).max() * np.abs(w).max() >= 2**62:  # int64 would overflow: the exact path
        parts = pd.DataFrame({"k": key, "a": amt, "w": w})
        return split_cents(parts, "k", "a", "w").to_numpy(np.int64)
    codes, uniques = pd.factorize(key)
    groups = len(uniques)
    tot = np.zeros(groups, dtype=np.int64)
    np.add.at(tot, codes, w)
    safe = np.where(tot == 0, 1, tot)[codes]
    exact = amt * w  # numpy's // and % floor like Python's
    q, r = exact // safe, exact % safe
    given = np.zeros(groups, dtype=np.int64)
    np.add.at(given, codes, q)
    left = amt - given[codes]
    order = np.lexsort((np.arange(n), -r, codes))  # by group, largest remainder, then row
    first = np.cumsum(np.bincount(codes, minlength=groups)) - np.bincount(codes, minlength=groups)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first[codes[order]]
    return q + (rank < left).astype(np.int64)


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
        self._info = self._influencers.set_index("influencer_id")
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
            f"the payouts file for {presentation.counted(len(off), 'influencer')}: {listed}"
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

    def compute_staged(self) -> tuple[dict[str, Any], Any]:
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

        s = _columns(sales)
        p = _columns(posts)
        cost = self._ledger(s, posts, payments)
        cost = _take(cost, self._passes(cost))
        passing = _take(s, self._passes(s))
        cur_sales, prev_sales = _take(passing, passing["cur"]), _take(passing, ~passing["cur"])
        cur_posts, prev_posts = _take(p, p["cur"]), _take(p, ~p["cur"])
        cur_cost, prev_cost = _take(cost, cost["cur"]), _take(cost, ~cost["cur"])

        kpis = self._kpis(cur_sales, cur_posts, cur_cost)
        kpis_prev = self._kpis(prev_sales, prev_posts, prev_cost)

        def rest() -> dict[str, Any]:  # the tables and series, after the cards
            credited = self._credited(cur_sales, start, end)
            by_inf = self._by_influencer(cur_sales, cur_posts, cur_cost, credited)
            top = by_inf[by_inf["revenue"] > 0].sort_values("revenue", ascending=False).head(10)
            worst = by_inf[by_inf["roi_pct"].notna() & (by_inf["roi_pct"] < 0)]
            # ties (many at -100%: paid, nothing sold) by the money lost, the most first
            worst = worst.sort_values(
                ["roi_pct", "net_profit", "influencer_id"], kind="stable"
            ).head(10)
            grain = grain_for((end - start).days + 1)
            return {
                "trend": self._trend(start, end, cur_cost, grain),
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

        first = {
            "kpis": kpis,
            "kpis_prev": kpis_prev,
            "page_kpis": self._page_kpis(kpis),
            "page_kpis_prev": self._page_kpis(kpis_prev),
        }
        return first, rest

    def _passes(self, cols: Columns) -> np.ndarray:
        """Rows whose brand and product pass the brand and product filters (applied here, not
        in SQL: the cost split needs every brand's and product's revenue)."""
        keep = np.ones(len(cols["brand"]), dtype=bool)
        if self.brands:
            keep &= _isin(cols["brand"], self.brands)
        if self.products:
            keep &= _isin(cols["product"], self.products)
        return keep

    # -- cost ledger ------------------------------------------------------------------------
    def _ledger(
        self, sales: Columns, posts: pd.DataFrame, payments: pd.DataFrame | None
    ) -> Columns:
        """Every cost in cents with its period flag, influencer, brand, product, campaign,
        platform and day, and whether it is dated (commissions carry no day: the trend reads
        them by day from SQL)."""
        parts = []
        com = sales["commission_cents"] > 0
        if com.any():
            parts.append(
                {
                    **{k: sales[k][com] for k in ("cur", *LEDGER_TEXT)},
                    "day": np.full(int(com.sum()), np.datetime64("NaT"), dtype="datetime64[ns]"),
                    "dated": np.zeros(int(com.sum()), dtype=bool),
                    "cost_cents": sales["commission_cents"][com],
                }
            )
        # Weights: each influencer's Influenced revenue by brand x product in each period.
        w = _weights(sales)
        fees = posts[posts["fee_cents"].to_numpy() > 0]
        if len(fees):
            parts.append(
                self._split(fees, w, ["cur", "influencer_id", "brand"], "fee_cents", "post_id")
            )
        if payments is not None and len(payments):
            pay = payments[payments["amount_cents"].to_numpy() > 0]
            pay = pay.assign(_pay=np.arange(len(pay)), campaign=None)
            if len(pay):
                parts.append(self._split(pay, w, ["cur", "influencer_id"], "amount_cents", "_pay"))
        if not parts:
            empty = np.array([], dtype=object)
            return {
                "cur": np.array([], dtype=bool),
                **dict.fromkeys(LEDGER_TEXT, empty),
                "day": np.array([], dtype="datetime64[ns]"),
                "dated": np.array([], dtype=bool),
                "cost_cents": np.array([], dtype=np.int64),
            }
        return {
            k: np.concatenate([p_[k] for p_ in parts])
            for k in ("cur", *LEDGER_TEXT, "day", "dated", "cost_cents")
        }

    @staticmethod
    def _split(
        items: pd.DataFrame, weights: pd.DataFrame, on: list[str], amount: str, item_key: str
    ) -> Columns:
        """Split each item's amount over the brand/product rows of ``weights`` matching ``on``;
        items without weight stay whole with no product (and no brand if ``on`` has none)."""
        carry = [c for c in ("campaign", "platform", "day") if c in items.columns]
        m = items[[*on, item_key, amount, *carry]].merge(weights, on=on, how="left")
        n = len(m)
        weight = m["revenue_cents"].to_numpy(dtype=np.float64, na_value=0)
        has = weight > 0
        key = m[item_key].to_numpy()
        amt = m[amount].to_numpy(dtype=np.int64)
        cost = amt.copy()
        cost[has] = split_amounts(key[has], amt[has], weight[has].astype(np.int64))
        # each item with a weightless row also stays whole, once (its first such row)
        loose = np.flatnonzero(~has)
        whole = np.zeros(n, dtype=bool)
        whole[loose[~pd.Series(key[loose]).duplicated().to_numpy()]] = True
        rows = has | whole
        none = np.full(n, None, dtype=object)
        return {
            "cur": m["cur"].to_numpy(dtype=bool)[rows],
            "influencer_id": m["influencer_id"].to_numpy(dtype=object)[rows],
            "brand": np.where(has | ("brand" in on), m["brand"].to_numpy(dtype=object), none)[rows],
            "product": np.where(has, m["product"].to_numpy(dtype=object), none)[rows],
            **{
                c: (m[c].to_numpy(dtype=object) if c in m.columns else none)[rows]
                for c in ("campaign", "platform")
            },
            "day": (
                _datetimes(m["day"])
                if "day" in m.columns
                else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
            )[rows],
            "dated": np.ones(int(rows.sum()), dtype=bool),
            "cost_cents": cost[rows],
        }

    # -- outputs --------------------------------------------------------------------------
    def _kpis(self, sales: Columns, posts: Columns, cost: Columns) -> dict:
        infl = sales["attribution_type"] == "Influenced"
        rev_total = int(sales["revenue_cents"].sum())
        rev_infl = int(sales["revenue_cents"][infl].sum())
        payout = int(cost["cost_cents"].sum())
        gross = gross_cents(rev_infl, self.cogs)
        net = gross - payout
        reach = int(posts["reach"].sum())
        active = set(posts["influencer_id"]) | set(
            sales["influencer_id"][infl & (sales["sales"] > 0)]
        )
        return {
            "revenue_total": money(rev_total),
            "revenue_influenced": money(rev_infl),
            "revenue_organic": money(rev_total - rev_infl),
            "orders_total": int(sales["orders"].sum()),
            "orders_influenced": int(sales["orders"][infl].sum()),
            "payout": money(payout),
            "gross_profit": money(gross),
            "net_profit": money(net),
            "roi_pct": pct(net, payout),
            "roas": ratio(rev_infl, payout),
            "blended_roas": ratio(rev_total, payout),
            "engagement_rate_pct": pct(
                int(posts["likes"].sum()) + int(posts["comments"].sum()), reach
            ),
            "posts": len(posts["post_id"]),
            "reach": reach,
            "active_influencers": len(active),
        }

    @staticmethod
    def _page_kpis(kpis: dict[str, Any]) -> dict[str, Any]:
        """Influenced revenue per active influencer, beside the KPI dict."""
        n = kpis["active_influencers"]
        per = (kpis["revenue_influenced"] / n).quantize(Decimal("0.01")) if n else None
        return {**kpis, "revenue_per_influencer": per}

    def _credited(self, sales: Columns, start: dt.date, end: dt.date) -> pd.Series:
        """Influenced revenue (cents) credited to each influencer under the chosen model; the
        parts add up exactly to the passing Influenced revenue."""
        infl = sales["attribution_type"] == "Influenced"
        ids, sums = _sum_by(sales["influencer_id"][infl], sales["revenue_cents"][infl])
        own = pd.Series(sums, index=pd.Index(ids, name="influencer_id"), dtype=np.int64)
        if self.attribution == "last_touch" or own.empty:
            return own

        def build(start: dt.date, end: dt.date, **ch: list[str]) -> ibis.Table:
            c = self._sql_filtered(self._credit, ch)
            c = c.filter(c.model == self.attribution, c.day >= start, c.day <= end)
            return c.group_by("credited").agg(w=c.credit_micro.sum())

        filters = (*SALE_FILTERS, "brands", "products")
        credit = self._run("credit", build, filters, self.attribution, start=start, end=end)
        credit = credit.sort_values("credited")
        parts = apportion(credit["w"].to_numpy(), int(own.sum()))
        return pd.Series(parts, index=credit["credited"].to_numpy(), dtype=np.int64)

    def _by_influencer(
        self, sales: Columns, posts: Columns, cost: Columns, credited: pd.Series
    ) -> pd.DataFrame:
        infl = sales["attribution_type"] == "Influenced"
        post_ids = posts["influencer_id"]
        keys = [
            post_ids,
            sales["influencer_id"][infl],
            credited.index.to_numpy(),
            cost["influencer_id"],
        ]
        codes, ids = pd.factorize(np.concatenate(keys), sort=True)
        if not len(ids):
            return pd.DataFrame(columns=BY_INFLUENCER_COLUMNS)
        bounds = np.cumsum([0, *(len(k) for k in keys)])
        part = [codes[a:b] for a, b in itertools.pairwise(bounds)]

        def total(i: int, values: np.ndarray) -> np.ndarray:
            ok = part[i] >= 0
            out = np.zeros(len(ids), dtype=np.int64)
            np.add.at(out, part[i][ok], np.asarray(values, dtype=np.int64)[ok])
            return out

        n_posts = total(0, pd.notna(posts["post_id"]))
        reach = total(0, posts["reach"])
        likes, comments = total(0, posts["likes"]), total(0, posts["comments"])
        orders = total(1, sales["orders"][infl])
        revenue = total(2, credited.to_numpy())
        paid = total(3, cost["cost_cents"])
        total_gross = gross_cents(int(revenue.sum()), self.cogs)
        gross = apportion(revenue, total_gross)
        net = gross - paid
        info = self._info.reindex(ids)
        return pd.DataFrame(
            {
                "influencer_id": pd.Index(ids).astype(str),
                "name": info["name"].to_numpy(),
                "tier": info["tier"].to_numpy(),
                "category": info["category"].to_numpy(),
                "platform": info["platform"].to_numpy(),
                "posts": n_posts,
                "reach": reach,
                "engagement_rate_pct": [
                    pct(lk + cm, r) for lk, cm, r in zip(likes, comments, reach, strict=True)
                ],
                "orders": orders,
                "revenue": money_column(revenue),
                "payout": money_column(paid),
                "gross_profit": money_column(gross),
                "net_profit": money_column(net),
                "roas": [ratio(r, c) for r, c in zip(revenue, paid, strict=True)],
                "roi_pct": [pct(n, c) for n, c in zip(net, paid, strict=True)],
            }
        )

    def _share(self, sales: Columns, cost: Columns, dim: str) -> pd.DataFrame:
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
            s_val = sales["attribution_type"]
            c_val = np.full(len(cost["cost_cents"]), "Influenced", dtype=object)
        else:
            s_val, c_val = sales[dim], cost[dim]
        s_key = np.where(pd.isna(s_val), NO_VALUE.get(dim, ORGANIC), s_val).astype(object)
        c_key = np.where(pd.isna(c_val), UNALLOCATED, c_val).astype(object)
        keys, codes = np.unique(np.concatenate([s_key, c_key]), return_inverse=True)
        if not len(keys):
            return pd.DataFrame(columns=cols)
        s_codes, c_codes = codes[: len(s_key)], codes[len(s_key) :]
        infl = sales["attribution_type"] == "Influenced"
        rev, rev_i, pay = (np.zeros(len(keys), dtype=np.int64) for _ in range(3))
        np.add.at(rev, s_codes, sales["revenue_cents"])
        np.add.at(rev_i, s_codes[infl], sales["revenue_cents"][infl])
        np.add.at(pay, c_codes, cost["cost_cents"])
        gross = apportion(rev_i, gross_cents(int(rev_i.sum()), self.cogs))
        total = int(rev.sum())
        out = pd.DataFrame(
            {
                dim: [str(k) for k in keys],
                "revenue": money_column(rev),
                "revenue_influenced": money_column(rev_i),
                "payout": money_column(pay),
                "gross_profit": money_column(gross),
                "net_profit": money_column(gross - pay),
                "share": [ratio(int(v), total) for v in rev],
            }
        )
        if dim == "source":  # organic sales carry no influencer cost and no attributed profit
            organic = out["source"] == "Organic"
            out.loc[organic, ["gross_profit", "net_profit"]] = None
        return out.sort_values("revenue", ascending=False, key=lambda x: x.astype(float))[
            cols
        ].reset_index(drop=True)

    def _product_platform(self, sales: Columns) -> pd.DataFrame:
        if not len(sales["product"]):
            return pd.DataFrame(columns=["product", "platform", "revenue"])
        platform = sales["platform"]
        s = pd.DataFrame(
            {
                "product": sales["product"],
                "platform": np.where(pd.isna(platform), ORGANIC, platform).astype(object),
                "revenue_cents": sales["revenue_cents"],
            }
        )
        g = s.groupby(["product", "platform"], as_index=False)["revenue_cents"].sum()
        g["revenue"] = money_column(g["revenue_cents"])
        return g[["product", "platform", "revenue"]]

    def _trend(self, start: dt.date, end: dt.date, cost: Columns, grain: str) -> pd.DataFrame:
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
        dated = cost["dated"]
        days = np.concatenate(
            [
                _datetimes(daily["day"]).astype("datetime64[D]"),
                cost["day"][dated].astype("datetime64[D]"),
            ]
        )
        n_daily = len(daily)
        fees = cost["cost_cents"][dated]
        known = ~np.isnat(days)
        if not known.any():
            return pd.DataFrame(columns=cols)
        if grain == "week":  # weeks run Monday to Sunday; 1970-01-01 was a Thursday
            days = days - (days.astype(np.int64) + 3) % 7
        elif grain == "month":
            days = days.astype("datetime64[M]").astype("datetime64[D]")
        periods, codes = np.unique(days[known], return_inverse=True)
        full = np.full(len(days), -1)
        full[known] = codes
        rev, infl, paid = (np.zeros(len(periods), dtype=np.int64) for _ in range(3))
        d_codes, f_codes = full[:n_daily], full[n_daily:]
        d_ok, f_ok = d_codes >= 0, f_codes >= 0
        np.add.at(rev, d_codes[d_ok], daily["revenue_cents"].to_numpy(dtype=np.int64)[d_ok])
        np.add.at(infl, d_codes[d_ok], daily["infl_cents"].to_numpy(dtype=np.int64)[d_ok])
        np.add.at(paid, d_codes[d_ok], daily["commission_cents"].to_numpy(dtype=np.int64)[d_ok])
        np.add.at(paid, f_codes[f_ok], fees[f_ok])
        gross = np.array([gross_cents(int(v), self.cogs) for v in infl], dtype=np.int64)
        return pd.DataFrame(
            {
                "period": pd.DatetimeIndex(periods.astype("datetime64[ns]")),
                "revenue": money_column(rev),
                "revenue_influenced": money_column(infl),
                "payout": money_column(paid),
                "net_profit": money_column(gross - paid),
            }
        )[cols]

    def tables(self) -> dict[str, Any]:
        cols = [c for c in BY_INFLUENCER_COLUMNS if c not in ("tier", "category", "platform")]
        return {"by_influencer": self.by_influencer[cols]}


__all__ = ["InfluencerModel", "apportion", "gross_cents", "split_amounts", "split_cents"]
