"""Marketing vs finance reconciliation, order by order, with a bridge that ties to the cent.

The rules are KPI_DEFINITIONS.md section 3. Queries read the marts of `data.marts`
(``rec_orders``: orders aggregated at ingest whose claims one filter cannot split;
``rec_split_claims``: the claims of the few others; ``rec_finance``; their grouped forms
``rec_order_groups`` and ``rec_finance_groups``; ``rec_channels``) and the spend and funnel
tables. Per period, one query classifies the orders claimed in the period (groups of orders
alike, and split orders one by one) and sums the bridge; one sums finance revenue by day;
nothing is materialised. The exceptions table, listing orders one by one, is worked out only
when read (`exceptions`). The bridge's end (finance revenue) is computed independently of its
steps, and ``bridge_check`` reports their difference (always 0; the property tests hold it to
that).

When ``revenue_marketing`` has no order_id (an aggregate export), the model compares day x
campaign instead: finance revenue of a day is allocated to that day's claimed campaigns pro rata
to their claims. Every output then carries ``approximate = True`` and the order counts are null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import ibis
import numpy as np
import pandas as pd
import param

from models.base import DomainModel, FiniteNumber, passes, set_options
from models.kpi import apportion, money, pct, ratio, split_cents, weighted_median

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
_MONEY_COLUMNS = ("claimed_revenue", "claims_total", "finance_revenue")


def no_exceptions() -> pd.DataFrame:
    """An exceptions table without rows, its columns typed."""
    return pd.DataFrame(
        {c: pd.Series(dtype=float if c in _MONEY_COLUMNS else object) for c in EXCEPTION_COLUMNS}
    )


def _sum_if(cond: ibis.BooleanValue, v: ibis.IntegerValue) -> ibis.IntegerValue:
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


class ReconciliationModel(DomainModel):
    """Owns the reconciliation filters, tolerances and every reconciliation output."""

    domain = "reconciliation"
    FILTERS: ClassVar[dict[str, str]] = {"channels": "channel", "campaigns": "campaign"}
    SETTINGS = ("abs_tol", "rel_tol", "timing_days", "anomaly_threshold")

    channels = param.ListSelector(default=[], objects=[], doc="Marketing channels to include.")
    campaigns = param.ListSelector(default=[], objects=[], doc="Campaigns to include.")
    # Upper bounds refuse absurd values from a link or a flag (a tolerance wider than any
    # order, a timing window of centuries).
    abs_tol = FiniteNumber(default=0.01, bounds=(0, 1_000_000), doc="Amount tolerance (currency).")
    rel_tol = FiniteNumber(default=0.0, bounds=(0, 1), doc="Amount tolerance (share of finance).")
    timing_days = param.Integer(default=3, bounds=(0, 3660), doc="Days apart before 'timing'.")
    anomaly_threshold = FiniteNumber(
        default=3.5, bounds=(0, 1000), doc="Robust score above which a day's variance is flagged."
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
    anomalies = param.DataFrame(default=None, precedence=-1, doc="The user's own anomaly rows.")
    confirmed = param.List(
        default=[],
        precedence=-1,
        doc="(claim order id, finance order id) pairs a person confirmed as one sale: each "
        "counts as a matched order (models.review).",
    )
    confirmed_ignored = param.List(
        default=[],
        precedence=-1,
        doc="Confirmed pairs the data no longer allows, as (claim id, finance id, why).",
    )

    LAZY_OUTPUTS = ("exceptions",)

    def __init__(self, source: Any, **params: Any):
        super().__init__(source, **params)
        self.param.watch(self._refresh, ["confirmed"])

    @property
    def exceptions(self) -> pd.DataFrame:
        """Every order not plainly matched (the exceptions table) for the last computed state.

        Worked out on the first read after a change, then kept: it is the largest output (over
        100k rows for a year of a million orders), and most changes are never looked at in it.
        Reading it after a change costs what computing it in the change would have cost.
        """
        if self._exceptions is None:
            camps, values = self._exceptions_for
            if self._orders_t is None:
                self._exceptions = no_exceptions()
            else:
                rows = self._run("exceptions", self._exceptions_q, camps, **values)
                self._exceptions = self._reviewed_exceptions(
                    self._exception_table(rows), camps, **values
                )
        return self._exceptions

    def _setup(self) -> None:
        self._exceptions: pd.DataFrame | None = None
        self._pairs_for: tuple[tuple[str, str], ...] | None = None
        self._pairs: list[dict[str, Any]] = []
        self._pairs_ignored: list[tuple[str, str, str]] = []
        self._exceptions_for: tuple[list[str] | None, dict[str, Any]] = (None, {})
        be = self._be
        names = be.list_tables()
        self._channels_t = be.table("rec_channels")
        self._channel_map = be.execute(self._channels_t)
        self._spend_t = be.table("marketing_spend")
        self._funnel_days = be.table("rec_funnel_days")
        self._funnel_repeat = be.table("rec_funnel_repeat")
        self._fin = be.table("rec_finance")
        by_order = "rec_orders" in names
        self._orders_t = be.table("rec_orders") if by_order else None
        self._order_groups = be.table("rec_order_groups") if by_order else None
        self._fin_groups = be.table("rec_finance_groups") if by_order else None
        self._split = be.table("rec_split_claims") if by_order else None
        self._raw_claims = be.table("revenue_marketing")
        with param.edit_constant(self):
            self.approximate = not by_order
        claimed = (
            be.execute(
                self._raw_claims.select(c=self._raw_claims.campaign.cast("string")).distinct()
            )["c"]
            .dropna()
            .tolist()
        )
        set_options(self, "campaigns", sorted(set(claimed) | set(self._channel_map["campaign"])))
        set_options(self, "channels", self._channel_map["channel"].dropna().unique().tolist())
        self._facets = self._channel_map[["channel", "campaign"]].rename(
            columns={"channel": "channels", "campaign": "campaigns"}
        )
        if "anomalies" in names:
            a = be.execute(be.table("anomalies").drop("_row"))
            self._anomalies = a.astype({c: str for c in a.columns if c != "date"})
        else:
            self._anomalies = pd.DataFrame(columns=["date", "campaign", "description"])

    def _data_span(self) -> tuple[dt.date | None, dt.date | None]:
        parts = []
        for t, col in (
            (self._spend_t, "date"),
            (self._raw_claims, "date"),
            (self._fin, "fin_date"),
        ):
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
        if not camps:
            return t.filter(ibis.literal(False))
        return t.filter(passes(t[col], camps))

    def _run(
        self, name: str, build: Callable[..., ibis.Expr], camps: list[str] | None, **values: Any
    ) -> pd.DataFrame:
        """Run query ``name`` for these campaigns and values (a prepared statement per shape:
        no campaign filter, a filter matching nothing, a list of campaigns)."""
        shape = "all" if camps is None else ("some" if camps else "none")
        fixed = None if camps is None else []
        if camps:
            values["camps"] = camps
        return self._query(name, lambda **v: build(**{"camps": fixed, **v}), shape, **values)

    # -- computation --------------------------------------------------------------------------
    def compute(self) -> dict[str, Any]:
        start, end = self.period()
        p_start, p_end = self.previous_period()
        camps = self._passing()
        # the exceptions of this state, read from `exceptions` when (if ever) they are wanted
        self._exceptions, self._exceptions_for = None, (camps, self._order_values(start, end))
        if self._orders_t is None:
            return self._compute_approximate(start, end, p_start, p_end, camps)
        ignored = self._check_pairs()
        cur = self._orders(start, end, camps, details=True)
        prev = self._orders(p_start, p_end, camps, details=False)
        spend_c = self._spend(start, end, camps)
        users_c, users_by_channel = self._users(start, end, camps)
        kpis = self._kpis(spend_c, users_c, cur)
        kpis_prev = self._kpis(
            self._spend(p_start, p_end, camps), self._users(p_start, p_end, camps)[0], prev
        )
        steps = cur["bridge"]
        names = self._step_names()
        bridge = pd.DataFrame({"step": names, "amount": [money(v) for v in steps]})
        check = money(sum(steps[:-1]) - steps[-1])
        return {
            "confirmed_ignored": ignored,
            "kpis": kpis,
            "kpis_prev": kpis_prev,
            "bridge": bridge,
            "bridge_check": check,
            "by_campaign": self._campaign_table(
                spend_c, cur["claims_by_campaign"], cur["finance_by_campaign"]
            ),
            "by_channel": self._channel_table(
                spend_c, cur["claims_by_campaign"], cur["finance_by_campaign"], users_by_channel
            ),
            "funnel": self._funnel_table(start, end, camps),
            "daily": self._daily(cur["daily_claims"], cur["daily_finance"], cur["lag"]),
            "lag_days": float(cur["lag"]),
            "anomalies": self._anomaly_rows(start, end, camps),
        }

    # Query builders: Ibis expressions of (start, end, camps, tolerances), compiled once each.
    def _claimed_in(
        self, t: ibis.Table, start: dt.date, end: dt.date, camps: list[str] | None
    ) -> ibis.Table:
        """Rows of ``t`` claimed in [start, end] by passing campaigns."""
        t = self._by_campaign(t, camps)
        return t.filter(t.date >= start, t.date <= end)

    def _claims_in(
        self, start: dt.date, end: dt.date, camps: list[str] | None
    ) -> tuple[ibis.Table, ibis.Table]:
        """Orders of ``rec_orders`` and claims of split orders, claimed in [start, end] by
        passing campaigns."""
        return (
            self._claimed_in(self._orders_t, start, end, camps),
            self._claimed_in(self._split, start, end, camps),
        )

    def _split_orders(self, s: ibis.Table) -> ibis.Table:
        """Split orders grouped from their claims ``s`` (those of the period and campaigns)."""
        return s.group_by("order_id").agg(
            date=s.date.argmin(s.seq),
            campaign=s.campaign.argmin(s.seq),
            n=s.count(),
            claims_cents=s.claim_cents.sum().cast("int64"),
            primary_cents=s.claim_cents.argmin(s.seq),
            in_finance=s.in_finance.max(),
            fin_cents=s.fin_cents.max(),
            fin_date=s.fin_date.max(),
            fin_status=s.fin_status.max(),
        )

    @staticmethod
    def _classify(
        o: ibis.Table,
        start: dt.date,
        end: dt.date,
        abs_tol: float,
        rel_tol: float,
        timing_days: int,
    ) -> ibis.Table:
        """Add class code, booked, timing, days apart and outside-the-period to order rows."""
        booked = o.in_finance & (o.fin_status == "booked")
        diff = (o.fin_cents - o.primary_cents).cast("float64")
        tol = ibis.literal(abs_tol) * 100 + ibis.literal(rel_tol) * o.fin_cents.abs().cast(
            "float64"
        )
        code = ibis.cases(  # index in CLASSES: integers compare faster than text
            (~o.in_finance, CLASSES.index("missing_in_finance")),
            (~booked, CLASSES.index("refunded")),
            (diff.abs() > tol + 1e-9, CLASSES.index("amount_mismatch")),
            else_=CLASSES.index("matched"),
        )
        apart = o.fin_date.delta(o.date, unit="day")
        return o.mutate(
            code=code,
            booked=booked,
            timing=booked & (apart.abs() > ibis.literal(timing_days)),
            apart=apart,
            outside=booked & ((o.fin_date < start) | (o.fin_date > end)),
        )

    def _order_rows(self, camps: list[str] | None, **v: Any) -> ibis.Table:
        """The orders claimed in the period, one classified row each: ``rec_orders`` rows as they
        are, split orders grouped from their claims in the period."""
        u, s = self._claims_in(v["start"], v["end"], camps)
        g = self._split_orders(s)
        o = ibis.union(u, g.select(*u.columns).cast(u.schema()))
        return self._classify(o.mutate(dup=o.n > 1), **v)

    def _summary_q(self, camps: list[str] | None, **v: Any) -> ibis.Table:
        """The bridge sums and order counts of the period, one row per days apart of matched
        orders (for the median lag) and one for the other orders.

        Reads ``rec_order_groups`` (orders summed by everything classified on, ``orders``
        counting them) and the period's split orders, counted one each."""
        start, end = v["start"], v["end"]
        u = self._claimed_in(self._order_groups, start, end, camps)
        _, s = self._claims_in(start, end, camps)
        g = self._split_orders(s)
        g = g.mutate(dup=g.n > 1, orders=ibis.literal(1, "int64"))
        o = self._classify(ibis.union(u, g.select(*u.columns).cast(u.schema())), **v)
        w = o.orders
        return o.group_by(lag=(o.code == 0).ifelse(o.apart, ibis.null("int64"))).agg(
            orders_claimed=w.sum(),
            **{f"orders_{k}": _sum_if(o.code == i, w) for i, k in enumerate(CLASSES)},
            orders_duplicate_claims=_sum_if(o.dup, w),
            orders_timing=_sum_if(o.timing, w),
            marketing=o.claims_cents.sum(),
            dups=(o.claims_cents - o.primary_cents).sum(),
            missing=_sum_if(o.code == CLASSES.index("missing_in_finance"), o.primary_cents),
            refunded=_sum_if(o.code == CLASSES.index("refunded"), o.primary_cents),
            amount_diff=_sum_if(o.booked, o.fin_cents - o.primary_cents),
            timing_out=_sum_if(o.outside, o.fin_cents),
        )

    def _finance_rows(
        self, start: dt.date, end: dt.date, camps: list[str] | None
    ) -> tuple[ibis.Table, ibis.BooleanValue, ibis.BooleanValue]:
        """Booked finance revenue dated in the period (``rec_finance_groups``: ``rows`` rows
        each), with ``in_c`` (claimed by a passing campaign at any date) and ``in_p`` (claimed
        by one in the period)."""
        f = self._fin_groups.filter(
            self._fin_groups.fin_date >= start, self._fin_groups.fin_date <= end
        )
        sa = self._by_campaign(self._split, camps)
        sa = sa.group_by("order_id").agg(s_in_p=((sa.date >= start) & (sa.date <= end)).any())
        f = f.left_join(sa, "order_id").drop("order_id_right")
        if camps is None:
            passing = f.claimed
        elif camps:
            passing = passes(f.c_campaign, camps).fill_null(False)
        else:
            passing = ibis.literal(False)
        by_order = ~f.split & passing
        in_c = by_order | f.s_in_p.notnull()
        in_p = (by_order & (f.c_date >= start) & (f.c_date <= end)) | f.s_in_p.fill_null(False)
        return f, in_c, in_p

    def _finance_daily_q(self, start: dt.date, end: dt.date, camps: list[str] | None) -> ibis.Table:
        f, in_c, in_p = self._finance_rows(start, end, camps)
        everything = ibis.literal(camps is None)
        return f.group_by("fin_date").agg(
            finance=_sum_if(in_c | everything, f.fin_cents),
            timing_in=_sum_if(in_c & ~in_p, f.fin_cents),
            finance_only=_sum_if(~in_c & everything, f.fin_cents),
            n_finance_only=_sum_if(~in_c & everything, f.rows),
        )

    def _claims_daily_q(self, start: dt.date, end: dt.date, camps: list[str] | None) -> ibis.Table:
        u = self._claimed_in(self._order_groups, start, end, camps)
        booked = u.in_finance & (u.fin_status == "booked")
        return u.group_by(["date", "campaign"]).agg(
            claims=u.claims_cents.sum(), fin=_sum_if(booked, u.fin_cents)
        )

    def _split_claims_q(self, start: dt.date, end: dt.date, camps: list[str] | None) -> ibis.Table:
        _, s = self._claims_in(start, end, camps)
        return s.select(
            "order_id",
            "date",
            "campaign",
            claims=s.claim_cents,
            fin=s.fin_cents,
            booked=s.in_finance & (s.fin_status == "booked"),
        )

    def _exceptions_q(self, **v: Any) -> ibis.Table:
        """Every order not plainly matched, then the finance-only orders (no campaign filter),
        sorted by class and order_id; an order claimed by several campaigns lists them all."""
        start, end, camps = v["start"], v["end"], v["camps"]
        o = self._order_rows(**v)
        _, s = self._claims_in(start, end, camps)
        pairs = s.select("order_id", "campaign").distinct()
        names = pairs.group_by("order_id").agg(
            names=pairs.campaign.group_concat(", ", order_by=pairs.campaign)
        )
        ex = o.filter((o.code != 0) | o.dup | o.timing).left_join(names, "order_id")
        ex = ex.select(
            order_id=ex.order_id.cast("string"),
            code=ex.code,
            dup=ex.dup,
            timing=ex.timing,
            primary_cents=ex.primary_cents,
            claims_cents=ex.claims_cents,
            fin_cents=ex.fin_cents,
            date=ex.date,
            fin_date=ex.fin_date,
            campaigns=ex.names.fill_null(ex.campaign),
        )
        if camps is None:
            f = self._fin
            only = f.filter(
                f.fin_status == "booked", f.fin_date >= start, f.fin_date <= end, ~f.claimed
            )
            only = only.select(
                order_id=only.order_id.cast("string"),
                code=ibis.literal(len(CLASSES)),
                dup=ibis.literal(False),
                timing=ibis.literal(False),
                primary_cents=ibis.null("int64"),
                claims_cents=ibis.null("int64"),
                fin_cents=only.fin_cents,
                date=ibis.null("date"),
                fin_date=only.fin_date,
                campaigns=ibis.literal(""),
            )
            ex = ibis.union(ex, only.cast(ex.schema()))
        names_by_code = [*CLASSES, "finance_only"]
        cls = ibis.cases(*((ex.code == i, n) for i, n in enumerate(names_by_code)))
        return ex.mutate(
            cls=cls,
            # in SQL, so the column types are exact whatever the engine makes of the union
            **{
                k: ex[k].cast("float64") / 100
                for k in ("primary_cents", "claims_cents", "fin_cents")
            },
        ).order_by("cls", "order_id")

    def _orders(
        self, start: dt.date, end: dt.date, camps: list[str] | None, details: bool
    ) -> dict[str, Any]:
        """Classify the orders claimed in [start, end] and sum the bridge steps (cents)."""
        period = {"start": start, "end": end}
        rows = self._run("summary", self._summary_q, camps, **self._order_values(start, end))
        summary = {k: int(rows[k].sum()) for k in rows.columns if k != "lag"}
        matched = rows[rows["lag"].notna()]
        daily_f = self._run("finance_daily", self._finance_daily_q, camps, **period)
        tot = {
            k: int(daily_f[k].sum())
            for k in ("finance", "timing_in", "finance_only", "n_finance_only")
        }
        reviewed = self._pairs_in(start, end, camps)
        review_step, lags = self._apply_pairs(reviewed, camps, summary, tot)
        summary["lag"] = weighted_median(
            [*matched["lag"], *lags], [*matched["orders_matched"], *([1] * len(lags))]
        )
        steps = [
            int(summary["marketing"]),
            -int(summary["dups"]),
            -int(summary["missing"]),
            -int(summary["refunded"]),
            int(summary["amount_diff"]),
            *([review_step] if self.confirmed else []),
            -int(summary["timing_out"]) + tot["timing_in"],
            tot["finance_only"],
            tot["finance"],
        ]
        out: dict[str, Any] = {
            "summary": summary,
            "bridge": steps,
            "finance_cents": tot["finance"],
            "n_finance_only": tot["n_finance_only"],
            "lag": summary["lag"],
        }
        if not details:
            return out
        # Claims by day x campaign, and finance revenue by campaign: orders of one campaign
        # from rec_orders; split claims (few) in pandas, an order claimed by k campaigns giving
        # 1/k of its finance revenue to each.
        dc = self._run("claims_daily", self._claims_daily_q, camps, **period)
        sc = self._run("split_claims", self._split_claims_q, camps, **period)
        claims = pd.concat([dc[["date", "campaign", "claims"]], sc[["date", "campaign", "claims"]]])
        out["daily_claims"] = claims.groupby("date", as_index=False)["claims"].sum()
        daily_fin = daily_f[["fin_date", "finance"]]
        # A confirmed pair: its booking counts for a campaign filter that passes its claim
        # (without a filter it was counted already, as finance only), and for the campaigns of
        # its claims in the period, split over them as a split order's is.
        extra = [
            (pd.Timestamp(r["fin_date"]), r["fin"])
            for r in reviewed
            if r["y_in_p"] and r["in_c"] and camps is not None
        ]
        if extra:
            extra_df = pd.DataFrame(extra, columns=["fin_date", "finance"])
            base = daily_fin.assign(fin_date=pd.to_datetime(daily_fin["fin_date"]))
            both = pd.concat([base, extra_df]) if len(base) else extra_df
            daily_fin = both.groupby("fin_date", as_index=False)["finance"].sum()
        out["daily_finance"] = daily_fin
        out["claims_by_campaign"] = claims.groupby("campaign", as_index=False)["claims"].sum()
        booked = sc[sc["booked"]][["order_id", "campaign", "fin"]]
        by_review = [
            (("review", r["claim_id"]), c, r["fin"])
            for r in reviewed
            if r["in_p"]
            for c in r["campaigns_in_p"]
        ]
        if by_review:
            extra_df = pd.DataFrame(by_review, columns=["order_id", "campaign", "fin"])
            if len(booked):
                extra_df = pd.concat([booked.astype({"order_id": object}), extra_df])
            booked = extra_df.assign(order_id=extra_df["order_id"].map(str))
        pairs = booked.drop_duplicates(["order_id", "campaign"])
        pairs = pairs.sort_values(["order_id", "campaign"]).assign(one=1)
        pairs["share"] = split_cents(pairs, "order_id", "fin", "one").astype(np.int64)
        fin = pd.concat([dc[["campaign", "fin"]], pairs[["campaign"]].assign(fin=pairs["share"])])
        out["finance_by_campaign"] = fin.groupby("campaign")["fin"].sum().astype(np.int64)
        return out

    # -- confirmed pairs (models.review) ---------------------------------------------------------
    def _step_names(self) -> list[str]:
        """The bridge's steps: `BRIDGE_STEPS`, with `REVIEW_STEP` when pairs are confirmed."""
        names = list(BRIDGE_STEPS)
        if self.confirmed:
            names.insert(names.index("amount_differences") + 1, REVIEW_STEP)
        return names

    def _check_pairs(self) -> list[tuple[str, str, str]]:
        """Read the claims and bookings of the confirmed pairs (once per set of pairs) and keep
        those the data allows: the claim has no finance row, the finance order is booked and
        claimed by nobody, and neither is in an earlier pair. Returns the others, with why."""
        wanted = tuple((str(a), str(b)) for a, b in self.confirmed)
        if wanted == self._pairs_for:
            return list(self._pairs_ignored)
        self._pairs_for, self._pairs, self._pairs_ignored = wanted, [], []
        if not wanted:
            return []
        ids = sorted({i for p in wanted for i in p})
        m = self._raw_claims
        claims = self._be.execute(
            m.filter(m.order_id.cast("string").isin(ids)).select(
                order_id=m.order_id.cast("string"),
                date=m.date,
                campaign=m.campaign.cast("string"),
                cents=m.revenue_cents,
                row=m._row,
            )
        )
        claims["date"] = pd.to_datetime(claims["date"]).dt.date
        f = self._fin
        fin = self._be.execute(
            f.filter(f.order_id.cast("string").isin(ids)).select(
                order_id=f.order_id.cast("string"),
                fin_date=f.fin_date,
                fin_cents=f.fin_cents,
                fin_status=f.fin_status,
            )
        )
        fin["fin_date"] = pd.to_datetime(fin["fin_date"]).dt.date
        fin = fin.set_index("order_id")
        used: set[str] = set()
        for a, b in wanted:
            why = None
            own = claims[claims["order_id"] == a].sort_values(["date", "row"])
            if a == b:
                why = "a pair of one order with itself"
            elif own.empty:
                why = f"{a} has no claim in the data"
            elif a in fin.index:
                why = f"{a} is in the finance data now"
            elif b not in fin.index:
                why = f"{b} is not in the finance data"
            elif fin.loc[b, "fin_status"] != "booked":
                why = f"{b} is {fin.loc[b, 'fin_status']}, not booked"
            elif (claims["order_id"] == b).any():
                why = f"{b} has a claim of its own now"
            elif a in used or b in used:
                why = "one of its orders is in an earlier confirmed pair"
            if why is not None:
                self._pairs_ignored.append((a, b, why))
                continue
            used.update((a, b))
            self._pairs.append(
                {
                    "claim_id": a,
                    "finance_id": b,
                    "claims": own.reset_index(drop=True),
                    "fin": int(fin.loc[b, "fin_cents"]),
                    "fin_date": fin.loc[b, "fin_date"],
                }
            )
        return list(self._pairs_ignored)

    def _pairs_in(
        self, start: dt.date, end: dt.date, camps: list[str] | None
    ) -> list[dict[str, Any]]:
        """What each usable confirmed pair is in [start, end] for these campaigns: claimed in
        the period by a passing campaign (``in_p``; its primary claim and the campaigns), claimed
        by one at any date (``in_c``), booked in the period (``y_in_p``)."""
        out = []
        for p in self._pairs:
            c = p["claims"]
            if camps is not None:
                c = c[c["campaign"].isin(camps)]
            cp = c[(c["date"] >= start) & (c["date"] <= end)]
            out.append(
                {
                    "claim_id": p["claim_id"],
                    "finance_id": p["finance_id"],
                    "fin": p["fin"],
                    "fin_date": p["fin_date"],
                    "in_c": not c.empty,
                    "in_p": not cp.empty,
                    "primary": int(cp["cents"].iloc[0]) if len(cp) else 0,
                    "primary_date": cp["date"].iloc[0] if len(cp) else None,
                    "campaigns_in_p": sorted(set(cp["campaign"])),
                    "y_in_p": start <= p["fin_date"] <= end,
                }
            )
        return out

    def _apply_pairs(
        self,
        reviewed: list[dict[str, Any]],
        camps: list[str] | None,
        summary: dict[str, int],
        tot: dict[str, int],
    ) -> tuple[int, list[int]]:
        """Count confirmed pairs as matched orders: the claim leaves "missing in finance", the
        booking leaves "finance only" (or, under a campaign filter, joins finance revenue when
        a passing campaign claimed it); a booking outside the period, or a claim outside it, is
        timing, as for any matched order. Changes ``summary`` and ``tot`` in place; returns the
        review step (finance minus claimed revenue of the pairs claimed in the period) and their
        days from claim to booking (for the typical lag)."""
        step, lags = 0, []
        for r in reviewed:
            if r["in_p"]:
                summary["orders_missing_in_finance"] -= 1
                summary["orders_matched"] += 1
                summary["missing"] -= r["primary"]
                step += r["fin"] - r["primary"]
                apart = (r["fin_date"] - r["primary_date"]).days
                lags.append(apart)
                if abs(apart) > int(self.timing_days):
                    summary["orders_timing"] += 1
                if not r["y_in_p"]:
                    summary["timing_out"] += r["fin"]
            if r["y_in_p"]:
                if camps is None:
                    tot["finance_only"] -= r["fin"]
                    tot["n_finance_only"] -= 1
                elif r["in_c"]:
                    tot["finance"] += r["fin"]
                if r["in_c"] and not r["in_p"]:
                    tot["timing_in"] += r["fin"]
        return step, lags

    def _reviewed_exceptions(
        self, table: pd.DataFrame, camps: list[str] | None, **v: Any
    ) -> pd.DataFrame:
        """The exceptions with confirmed pairs applied: the claim is matched (flag
        ``matched_on_review``, its booking beside it), the finance-only row is gone."""
        if not self._pairs or table.empty:
            return table
        reviewed = {r["claim_id"]: r for r in self._pairs_in(v["start"], v["end"], camps)}
        gone = {r["finance_id"] for r in reviewed.values()}
        table = table[~((table["class"] == "finance_only") & table["order_id"].isin(gone))].copy()
        hit = (table["class"] == "missing_in_finance") & table["order_id"].isin(list(reviewed))
        for i in table.index[hit]:
            r = reviewed[table.at[i, "order_id"]]
            if not r["in_p"]:
                continue
            apart = (r["fin_date"] - r["primary_date"]).days
            flags = [f for f in str(table.at[i, "flags"]).split(",") if f and f != "timing"]
            flags.append(REVIEW_FLAG)
            if abs(apart) > int(v["timing_days"]):
                flags.append("timing")
            table.at[i, "class"] = "matched"
            table.at[i, "flags"] = ",".join(flags)
            table.at[i, "finance_revenue"] = r["fin"] / 100
            table.at[i, "finance_date"] = r["fin_date"]
        return table.sort_values(["class", "order_id"], kind="stable").reset_index(drop=True)

    # -- for the review workflow (models.review) -----------------------------------------------
    def finance_only_orders(self) -> pd.DataFrame:
        """Every booked finance order nobody claimed, at any date (the finance side of suggested
        matches): order_id, finance_revenue, finance_date."""
        cols = ["order_id", "finance_revenue", "finance_date"]
        if self._orders_t is None:
            return pd.DataFrame(columns=cols)
        f = self._fin
        f = f.filter(f.fin_status == "booked", ~f.claimed)
        out = self._be.execute(
            f.select(
                order_id=f.order_id.cast("string"),
                finance_revenue=f.fin_cents.cast("float64") / 100,
                finance_date=f.fin_date,
            ).order_by("order_id")
        )
        out["finance_date"] = pd.to_datetime(out["finance_date"]).dt.date
        return out[cols]

    def extra_sheets(self) -> dict[str, pd.DataFrame]:
        """Sheets the review adds to the domain workbook (the log, decided matches, sign-offs:
        `models.review_session.ReviewSession` attaches them); none without a review."""
        provider = getattr(self, "_extra_sheets", None)
        return provider() if provider is not None else {}

    def attach_sheets(self, provider: Callable[[], dict[str, pd.DataFrame]] | None) -> None:
        """Have the workbook ask ``provider`` for extra sheets (`extra_sheets`)."""
        self._extra_sheets = provider

    def channel_of(self) -> dict[str, str]:
        """Campaign -> channel (from marketing spend)."""
        m = self._channel_map.dropna(subset=["campaign"])
        return dict(zip(m["campaign"].astype(str), m["channel"].astype(str), strict=True))

    def input_digests(self) -> dict[str, str]:
        """The reconciliation input files and their BLAKE2b digests (what a sign-off signs)."""
        from data.engine import file_digest

        if getattr(self, "_digests", None) is None:  # the files of a source do not change
            status = self._source.status.get(self.domain)
            files = status.files if status is not None else {}
            self._digests = {t: file_digest(Path(p)) for t, p in sorted(files.items())}
        return dict(self._digests)

    def _order_values(self, start: dt.date, end: dt.date) -> dict[str, Any]:
        """The values of the order-level queries: period and tolerances."""
        return {
            "start": start,
            "end": end,
            "abs_tol": float(self.abs_tol),
            "rel_tol": float(self.rel_tol),
            "timing_days": int(self.timing_days),
        }

    @staticmethod
    def _exception_table(rows: pd.DataFrame) -> pd.DataFrame:
        flags = np.where(
            rows["dup"] & rows["timing"],
            "duplicate_claim,timing",
            np.where(rows["dup"], "duplicate_claim", np.where(rows["timing"], "timing", "")),
        )
        return pd.DataFrame(
            {
                "order_id": rows["order_id"],
                "class": rows["cls"],
                "flags": flags,
                "claimed_revenue": rows["primary_cents"],
                "claims_total": rows["claims_cents"],
                "finance_revenue": rows["fin_cents"],
                "claim_date": rows["date"].dt.date,  # datetime64 from the query
                "finance_date": rows["fin_date"].dt.date,
                "campaigns": rows["campaigns"],
            },
            columns=EXCEPTION_COLUMNS,
        )

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
            "cac": money(Decimal(spend) / users) if users else None,
            "orders_claimed": int(s["orders_claimed"]),
            **{f"orders_{c}": int(s[f"orders_{c}"]) for c in CLASSES},
            "orders_duplicate_claims": int(s["orders_duplicate_claims"]),
            "orders_timing": int(s["orders_timing"]),
            "orders_finance_only": int(r["n_finance_only"]),
            "match_rate": ratio(int(s["orders_matched"]), int(s["orders_claimed"])),
            "bridge": [
                {"step": step, "amount": money(v)}
                for step, v in zip(self._step_names(), r["bridge"], strict=True)
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
            "claims": claims.set_index("campaign")["claims"]
            if len(claims)
            else pd.Series(dtype=np.int64),
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
            "cac": money(Decimal(spend) / users) if users else None,
            **dict.fromkeys(keys),
            "bridge": [
                {"step": n, "amount": money(v)} for n, v in zip(APPROX_STEPS, steps, strict=True)
            ],
        }

    def summary(self, tables: bool = False) -> dict[str, Any]:
        """`DomainModel.summary`, naming the confirmed pairs its numbers count, if any."""
        out = super().summary(tables)
        if self.confirmed:
            out["confirmed_matches"] = [list(p) for p in self.confirmed]
        return out

    def tables(self) -> dict[str, Any]:
        bc = self.by_campaign.drop(columns=["roas_inflation"])
        ex = self.exceptions[["order_id", "class", "flags"]]
        return {"by_campaign": bc, "exceptions": ex}


__all__ = [
    "BRIDGE_STEPS",
    "EXCEPTION_COLUMNS",
    "REVIEW_STEP",
    "ReconciliationModel",
    "no_exceptions",
    "robust_scores",
]
