"""Payments analytics: GPV, approval, fee yield, declines, cohorts, concentration, churn.

Interactive queries read the ``pay_daily`` / ``pay_declines`` marts (see `data.marts`), never the
raw transactions. One filter change runs four small queries:
1. per merchant, conditional sums over the period, the compared period (the previous period or
   the same period last year: `DomainModel.compared_period`) and the two 28-day churn windows:
   the KPI dict, its compared-period twin, concentration, churn, breakdowns and the
   account-manager summary all come from this one result (the days between the compared period
   and the rest, a year of them against last year, are not read);
2. per day over the period: weekly and monthly series;
3. declines by reason x channel;
4. cohort x month-since-onboarding activity (all filters but the period).
The KPIs come from 1 alone: a page publishes them first and the outputs of 2-4 after its cards
(`DomainModel.compute_staged`). On PostgreSQL 2 and 3 run beside 1, on spare connections
(`DomainModel._query_soon`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from decimal import Decimal
from importlib import resources
from typing import Any, ClassVar

import ibis
import numpy as np
import pandas as pd
import param

from data.marts import PAY_MEASURES
from models.base import DomainModel, passes, set_options
from models.kpi import bps, change_pct, money, money_column, pct, ratio

CHURN_WINDOW_DAYS = 28
CHURN_THRESHOLD = 0.40
MERCHANT_FILTERS = {
    "segments": "segment",
    "industries": "industry",
    "regions": "region",
    "account_managers": "account_manager",
}
TXN_FILTERS = {"channels": "channel", "payment_methods": "payment_method"}
SUMS = PAY_MEASURES  # the measures of the pay_daily mart


def decline_classes() -> pd.DataFrame:
    """The reason -> class (hard / soft / data-quality / technical) map, kept as data."""
    with resources.files("data").joinpath("reference/decline_classes.csv").open() as fh:
        return pd.read_csv(fh, dtype=str)


# --------------------------------------------------------------------------- pure functions


def top_share(gpv_cents: np.ndarray, n: int) -> float | None:
    """Share of total GPV held by the ``n`` largest merchants."""
    total = int(gpv_cents.sum())
    if total == 0:
        return None
    return float(np.sort(gpv_cents)[::-1][:n].sum()) / total


def hhi(gpv_cents: np.ndarray) -> float | None:
    """Herfindahl-Hirschman index: sum of (100 x share)^2 over merchants, 0..10,000."""
    total = gpv_cents.sum()
    if total == 0:
        return None
    shares = 100.0 * gpv_cents / total
    # fsum: exactly rounded, so the merchants' order (a GROUP BY's, which varies between runs
    # and engines) cannot change the last digits
    return math.fsum((shares**2).tolist())


def gini(gpv_cents: np.ndarray) -> float | None:
    """Gini of merchants' GPV: 2*sum(i*x_i)/(n*sum x) - (n+1)/n, x sorted ascending, i from 1."""
    x = np.sort(gpv_cents.astype(np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return None
    i = np.arange(1, n + 1)
    return float(2.0 * (i * x).sum() / (n * total) - (n + 1) / n)


def lorenz(gpv_cents: np.ndarray) -> pd.DataFrame:
    """Cumulative share of merchants (ascending GPV) vs cumulative share of GPV, from (0, 0)."""
    x = np.sort(gpv_cents.astype(np.float64))
    if len(x) == 0 or x.sum() == 0:
        return pd.DataFrame({"merchant_share": [0.0], "gpv_share": [0.0]})
    return pd.DataFrame(
        {
            "merchant_share": np.r_[0.0, np.arange(1, len(x) + 1) / len(x)],
            "gpv_share": np.r_[0.0, np.cumsum(x) / x.sum()],
        }
    )


def kpis_from_sums(
    s: dict[str, int], merchant_gpv: np.ndarray, has_intents: bool
) -> dict[str, Any]:
    """The KPI dict's period KPIs from summed measures and each active merchant's GPV (cents)."""
    active = merchant_gpv[merchant_gpv > 0] if len(merchant_gpv) else merchant_gpv
    top1pct_n = math.ceil(0.01 * len(active)) if len(active) else 0
    return {
        "attempts": int(s["attempts"]),
        "approved": int(s["approved"]),
        "approval_rate": ratio(s["approved"], s["attempts"]),
        "approval_rate_value": ratio(s["gpv_cents"], s["amount_attempted_cents"]),
        "approval_rate_dedup": ratio(s["intents_approved"], s["intents"]) if has_intents else None,
        "gpv": money(s["gpv_cents"]),
        "fee_revenue": money(s["fee_cents"]),
        "fee_yield_bps": bps(s["fee_cents"], s["gpv_cents"]),
        "avg_ticket": money(s["gpv_cents"] / s["approved"]) if s["approved"] else None,
        "active_merchants": int(s["active_merchants"]),
        "top10_share": top_share(active, 10),
        "top1pct_share": top_share(active, top1pct_n) if top1pct_n else None,
        "hhi": hhi(active),
        "gini": gini(active),
    }


def churn_reason(
    gpv_recent: int, appr_recent: float | None, appr_before: float | None
) -> tuple[str, str]:
    """(reason code, suggested action) for a merchant at churn risk."""
    if gpv_recent == 0:
        return "stopped_processing", "Call the merchant this week: no approved volume in 28 days"
    if appr_recent is not None and appr_before is not None and appr_recent < appr_before - 0.05:
        return "approval_drop", "Review declines with the merchant's integration team"
    return "volume_drop", "Check in on volume; review pricing and competitor offers"


def _sum_by_period(daily: pd.DataFrame, freq: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The sums of ``daily`` by week (starting Monday) or month, with the number of days each
    had, and the periods' first days (``datetime.date``), in order. numpy on the few hundred
    days: a pandas group-by with named aggregations cost about ten times as much."""
    sums = ("gpv_cents", "fee_cents", "attempts", "approved")
    day = daily["day"].to_numpy()
    if day.dtype.kind != "M":
        day = pd.to_datetime(daily["day"]).to_numpy()
    day = day.astype("datetime64[D]")
    if freq == "W":  # 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays
        first = day - (day.astype(np.int64) + 3) % 7
    else:
        first = day.astype("datetime64[M]").astype("datetime64[D]")
    known = ~np.isnat(first)
    if not all(daily[m].dtype.kind in "iu" for m in sums):  # keep pandas' float summation
        frame = daily.assign(period=first)[known]
        grouped = frame.groupby("period", sort=True)
        g = grouped[list(sums)].sum().assign(days=grouped["day"].nunique())
        return g.reset_index(drop=True), g.index.to_numpy().astype("datetime64[D]").astype(object)
    periods, codes = np.unique(first[known], return_inverse=True)
    out = {}
    for m in sums:
        total = np.zeros(len(periods), dtype=np.int64)
        np.add.at(total, codes, daily[m].to_numpy()[known])
        out[m] = total
    _, one_per_day = np.unique(day[known], return_index=True)
    out["days"] = np.bincount(codes[one_per_day], minlength=len(periods)).astype(np.int64)
    return pd.DataFrame(out), periods.astype(object)


def _period_series(daily: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Weekly (W-MON starts) or monthly GPV, approval rate and fee yield with period change."""
    cols = [
        "period",
        "gpv",
        "attempts",
        "approved",
        "approval_rate",
        "fee_yield_bps",
        "gpv_change_pct",
        "approval_rate_change",
        "fee_yield_change_bps",
        "days",
    ]
    if daily.empty:
        return pd.DataFrame(columns=cols)
    g, periods = _sum_by_period(daily, freq)
    out = pd.DataFrame({"period": periods})
    out["gpv"] = money_column(g["gpv_cents"])
    out["attempts"] = g["attempts"].to_numpy()
    out["approved"] = g["approved"].to_numpy()
    out["approval_rate"] = [ratio(a, b) for a, b in zip(g["approved"], g["attempts"], strict=True)]
    out["fee_yield_bps"] = [bps(f, v) for f, v in zip(g["fee_cents"], g["gpv_cents"], strict=True)]
    gpv = g["gpv_cents"].tolist()
    out["gpv_change_pct"] = [None, *(change_pct(c, p) for p, c in itertools.pairwise(gpv))]
    ar = out["approval_rate"].tolist()
    out["approval_rate_change"] = [
        None,
        *(None if c is None or p is None else c - p for p, c in itertools.pairwise(ar)),
    ]
    fy = out["fee_yield_bps"].tolist()
    out["fee_yield_change_bps"] = [
        None,
        *(None if c is None or p is None else c - p for p, c in itertools.pairwise(fy)),
    ]
    out["days"] = g["days"].to_numpy()
    return out[cols]


class PaymentsModel(DomainModel):
    """Owns the payments filters and every payments output (KPIs, series, tables)."""

    domain = "payments"
    FILTERS: ClassVar[dict[str, str]] = {
        "segments": "segment",
        "industries": "industry",
        "regions": "region",
        "account_managers": "account_manager",
        "channels": "channel",
        "payment_methods": "payment_method",
    }

    segments = param.ListSelector(default=[], objects=[], doc="Merchant segments to include.")
    industries = param.ListSelector(default=[], objects=[], doc="Merchant industries to include.")
    regions = param.ListSelector(default=[], objects=[], doc="Merchant regions to include.")
    account_managers = param.ListSelector(
        default=[], objects=[], doc="Account managers whose merchants to include."
    )
    channels = param.ListSelector(default=[], objects=[], doc="Transaction channels to include.")
    payment_methods = param.ListSelector(default=[], objects=[], doc="Payment methods to include.")

    weekly = param.DataFrame(default=None, precedence=-1, doc="Weekly series with WoW change.")
    monthly = param.DataFrame(default=None, precedence=-1, doc="Monthly series with MoM change.")
    breakdowns = param.Dict(
        default={},
        precedence=-1,
        doc="By segment, industry, region: GPV and rates vs the compared period.",
    )
    declines = param.DataFrame(
        default=None, precedence=-1, doc="Declined attempts by reason x channel with decline class."
    )
    cohorts = param.DataFrame(
        default=None, precedence=-1, doc="Cohort retention: cohort month x months since onboarding."
    )
    lorenz_curve = param.DataFrame(default=None, precedence=-1, doc="Lorenz curve of merchant GPV.")
    top_merchants = param.DataFrame(default=None, precedence=-1, doc="Largest merchants by GPV.")
    churn = param.DataFrame(default=None, precedence=-1, doc="Merchants at churn risk.")
    am_summary = param.DataFrame(default=None, precedence=-1, doc="Per account manager.")

    def _setup(self) -> None:
        be = self._be
        self._daily = be.table("pay_daily")
        self._declines = be.table("pay_declines")
        self._monthly = be.table("pay_monthly")
        self._merchant_daily = be.table("pay_merchant_daily")
        self._merchants = be.execute(be.table("merchants").drop("_row"))
        self._has_intents = "intent_id" in be.table("transactions").columns
        opts = be.execute(
            self._daily.select(*MERCHANT_FILTERS.values(), *TXN_FILTERS.values()).distinct()
        )
        for p, col in {**MERCHANT_FILTERS, **TXN_FILTERS}.items():
            set_options(self, p, opts[col].dropna().astype(str).unique().tolist())
        names = {col: p for p, col in {**MERCHANT_FILTERS, **TXN_FILTERS}.items()}
        self._facets = opts.astype(object).where(opts.notna(), None).rename(columns=names)
        for p in self._facets.columns:
            self._facets[p] = [None if v is None else str(v) for v in self._facets[p]]
        self._classes = decline_classes()
        self._cohort_cache: dict[Any, pd.DataFrame] = {}  # by filter choice (period-free)

    def _data_span(self) -> tuple[dt.date | None, dt.date | None]:
        r = self._be.execute(self._daily.agg(lo=self._daily.day.min(), hi=self._daily.day.max()))
        lo, hi = r["lo"].iloc[0], r["hi"].iloc[0]
        return (None, None) if pd.isna(lo) else (pd.Timestamp(lo).date(), pd.Timestamp(hi).date())

    # -- query helpers ------------------------------------------------------------------
    def _choices(self) -> dict[str, list[str]]:
        """The active filters' values, by parameter name."""
        chosen = {**MERCHANT_FILTERS, **TXN_FILTERS}
        return {p: [str(v) for v in getattr(self, p)] for p in chosen if getattr(self, p)}

    def _days(self, choices: dict[str, list[str]]) -> ibis.Table:
        """The merchant x day mart, or the one that also splits channels and methods when
        either of those filters is on."""
        return self._daily if any(p in choices for p in TXN_FILTERS) else self._merchant_daily

    @staticmethod
    def _filtered(t: ibis.Table, choices: dict[str, list[str]]) -> ibis.Table:
        cols = {**MERCHANT_FILTERS, **TXN_FILTERS}
        preds = [passes(t[cols[p]], values) for p, values in choices.items()]
        return t.filter(*preds) if preds else t

    def _run(self, name: str, build: Any, **values: Any) -> pd.DataFrame:
        """Run query ``name`` with the current filters (one prepared statement per set of
        active filters; dates and filter values are its parameters)."""
        choices = self._choices()
        return self._query(name, build, tuple(sorted(choices)), **values, **choices)

    def _run_soon(self, name: str, build: Any, **values: Any) -> Any:
        """`_run`, started now (`DomainModel._query_soon`): ``.result()`` is the frame."""
        choices = self._choices()
        return self._query_soon(name, build, tuple(sorted(choices)), **values, **choices)

    def compute_staged(self) -> tuple[dict[str, Any], Any]:
        start, end = self.period()
        p_start, p_end = self.compared_period()
        a_start = end - dt.timedelta(days=CHURN_WINDOW_DAYS - 1)
        b_start = end - dt.timedelta(days=2 * CHURN_WINDOW_DAYS - 1)
        b_end = a_start - dt.timedelta(days=1)
        dates = {"start": start, "end": end, "p_start": p_start, "p_end": p_end}
        dates |= {"a_start": a_start, "b_start": b_start, "b_end": b_end}
        # read: the compared window, and from the first day of the period or the churn windows
        # to the end; not the days between (a year of them against the same period last year)
        lo, hi = min(p_start, b_start), min(start, b_start)

        def series_soon() -> tuple[Any, Any]:
            return (
                self._run_soon("daily", self._daily_q, start=start, end=end),
                self._run_soon("declines", self._declines_q, start=start, end=end),
            )

        # on a server (PostgreSQL) the series and declines run beside the merchant query; on
        # DuckDB, where they would run here and now, they wait for the rest of the outputs
        started = series_soon() if getattr(self._source, "spare", None) is not None else None
        per_m = self._run("per_merchant", self._per_merchant_q, lo=lo, hi=hi, **dates)

        kpis = self._period_kpis(per_m, "cur")
        kpis_prev = self._period_kpis(per_m, "prev")
        kpis["gpv_prev_period"] = kpis_prev["gpv"]
        kpis["gpv_change_pct"] = change_pct(
            per_m["cur_gpv_cents"].sum() if len(per_m) else 0,
            per_m["prev_gpv_cents"].sum() if len(per_m) else 0,
        )
        kpis["churn_risk_merchants"] = len(self._churn_risk(per_m))
        choices = self._choices()

        def rest() -> dict[str, Any]:
            daily_soon, declines_soon = started or series_soon()
            merged = per_m.merge(self._merchants, on="merchant_id", how="left")
            churn = self._churn(merged)
            daily = daily_soon.result()
            declines = self._decline_table(declines_soon.result())
            return self._outputs(merged, churn, daily, declines, choices)

        return {"kpis": kpis, "kpis_prev": dict(kpis_prev)}, rest

    # Query builders: each value is used only as an Ibis literal (see data.engine.Prepared).
    def _per_merchant_q(
        self,
        lo: dt.date,
        hi: dt.date,
        start: dt.date,
        end: dt.date,
        p_start: dt.date,
        p_end: dt.date,
        a_start: dt.date,
        b_start: dt.date,
        b_end: dt.date,
        **choices: list[str],
    ) -> ibis.Table:
        t = self._filtered(self._days(choices), choices)
        # the compared window (p_start..p_end) and hi..end: every window summed below lies in
        # one of them (lo: the first day of either, so the engine reads from there on)
        t = t.filter(t.day >= lo, t.day <= end, (t.day <= p_end) | (t.day >= hi))

        def within(a: dt.date, b: dt.date) -> ibis.BooleanValue:
            return (t.day >= a) & (t.day <= b)

        cur, prev = within(start, end), within(p_start, p_end)
        win_a, win_b = within(a_start, end), within(b_start, b_end)
        aggs = {}
        for tag, cond in (("cur", cur), ("prev", prev)):
            for m in SUMS:
                aggs[f"{tag}_{m}"] = cond.ifelse(t[m], 0).sum()
        for tag, cond in (("a", win_a), ("b", win_b)):
            for m in ("gpv_cents", "attempts", "approved"):
                aggs[f"{tag}_{m}"] = cond.ifelse(t[m], 0).sum()
        return t.group_by("merchant_id").agg(**aggs)

    def _daily_q(self, start: dt.date, end: dt.date, **choices: list[str]) -> ibis.Table:
        t = self._filtered(self._days(choices), choices)
        t = t.filter(t.day >= start, t.day <= end)
        return (
            t.group_by("day")
            .agg(**{m: t[m].sum() for m in ("gpv_cents", "fee_cents", "attempts", "approved")})
            .order_by("day")
        )

    def _declines_q(self, start: dt.date, end: dt.date, **choices: list[str]) -> ibis.Table:
        d = self._filtered(self._declines, choices)
        d = d.filter(d.day >= start, d.day <= end)
        by = d.group_by(["decline_reason", "channel"]).agg(count=d["count"].sum())
        # the channel's attempts in the period and filters: each row's decline rate
        t = self._filtered(self._daily, choices)
        t = t.filter(t.day >= start, t.day <= end)
        per_channel = t.group_by("channel").agg(channel_attempts=t.attempts.sum())
        return by.left_join(per_channel, "channel").select(
            "decline_reason", "channel", "count", "channel_attempts"
        )

    def _outputs(
        self,
        per_m: pd.DataFrame,
        churn: pd.DataFrame,
        daily: pd.DataFrame,
        declines: pd.DataFrame,
        choices: dict[str, list[str]],
    ) -> dict[str, Any]:
        gpv_cur = per_m.loc[per_m["cur_gpv_cents"] > 0]
        top = gpv_cur.sort_values("cur_gpv_cents", ascending=False).head(20)
        top_merchants = pd.DataFrame(
            {
                "merchant_id": top["merchant_id"],
                "merchant_name": top["merchant_name"],
                "segment": top["segment"],
                "gpv": money_column(top["cur_gpv_cents"]),
                "share": top["cur_gpv_cents"] / max(int(gpv_cur["cur_gpv_cents"].sum()), 1),
            }
        ).reset_index(drop=True)
        return {
            "weekly": _period_series(daily, "W"),
            "monthly": _period_series(daily, "M"),
            "breakdowns": {
                dim: self._breakdown(per_m, dim) for dim in ("segment", "industry", "region")
            },
            "declines": declines,
            "cohorts": self._cohorts(choices),
            "lorenz_curve": lorenz(gpv_cur["cur_gpv_cents"].to_numpy()),
            "top_merchants": top_merchants,
            "churn": churn,
            "am_summary": self._am_summary(per_m, churn),
        }

    def _period_kpis(self, per_m: pd.DataFrame, tag: str) -> dict[str, Any]:
        sums = {m: int(per_m[f"{tag}_{m}"].sum()) if len(per_m) else 0 for m in SUMS}
        approved = per_m[f"{tag}_approved"] > 0 if len(per_m) else pd.Series([], dtype=bool)
        sums["active_merchants"] = int(approved.sum())
        gpv = per_m.loc[approved, f"{tag}_gpv_cents"].to_numpy() if len(per_m) else np.array([])
        return kpis_from_sums(sums, gpv.astype(np.int64), self._has_intents)

    def _churn(self, per_m: pd.DataFrame) -> pd.DataFrame:
        cols = [
            "merchant_id",
            "merchant_name",
            "account_manager",
            "segment",
            "gpv_prior_28d",
            "gpv_last_28d",
            "gpv_change_pct",
            "reason",
            "suggested_action",
        ]
        if per_m.empty:
            return pd.DataFrame(columns=cols)
        risk = self._churn_risk(per_m)
        rows = []
        used = ["merchant_id", "merchant_name", "account_manager", "segment"]
        used += [f"{w}_{m}" for w in "ab" for m in ("gpv_cents", "approved", "attempts")]
        for r in risk[used].itertuples(index=False):  # only these: no date columns to box
            reason, action = churn_reason(
                int(r.a_gpv_cents),
                ratio(r.a_approved, r.a_attempts),
                ratio(r.b_approved, r.b_attempts),
            )
            rows.append(
                {
                    "merchant_id": r.merchant_id,
                    "merchant_name": r.merchant_name,
                    "account_manager": r.account_manager,
                    "segment": r.segment,
                    "gpv_prior_28d": money(int(r.b_gpv_cents)),
                    "gpv_last_28d": money(int(r.a_gpv_cents)),
                    "gpv_change_pct": change_pct(int(r.a_gpv_cents), int(r.b_gpv_cents)),
                    "reason": reason,
                    "suggested_action": action,
                }
            )
        out = pd.DataFrame(rows, columns=cols)
        return out.sort_values(
            ["account_manager", "gpv_prior_28d"], ascending=[True, False]
        ).reset_index(drop=True)

    @staticmethod
    def _churn_risk(per_m: pd.DataFrame) -> pd.DataFrame:
        """The merchants at churn risk: approved GPV in the last 28 days at most 40% of the 28
        days before (which had some)."""
        if per_m.empty:
            return per_m
        return per_m[
            (per_m["b_gpv_cents"] > 0)
            & (per_m["a_gpv_cents"] <= CHURN_THRESHOLD * per_m["b_gpv_cents"])
        ]

    def _breakdown(self, per_m: pd.DataFrame, dim: str) -> pd.DataFrame:
        cols = [
            dim,
            "gpv",
            "gpv_prev",
            "gpv_change_pct",
            "approval_rate",
            "approval_rate_prev",
            "fee_yield_bps",
            "share",
        ]
        if per_m.empty:
            return pd.DataFrame(columns=cols)
        g = per_m.groupby(dim, observed=True)[
            [f"{t}_{m}" for t in ("cur", "prev") for m in SUMS]
        ].sum()
        total = g["cur_gpv_cents"].sum()
        out = pd.DataFrame({dim: g.index.astype(str)})
        out["gpv"] = money_column(g["cur_gpv_cents"])
        out["gpv_prev"] = money_column(g["prev_gpv_cents"])
        out["gpv_change_pct"] = [
            change_pct(c, p) for c, p in zip(g["cur_gpv_cents"], g["prev_gpv_cents"], strict=True)
        ]
        out["approval_rate"] = [
            ratio(a, b) for a, b in zip(g["cur_approved"], g["cur_attempts"], strict=True)
        ]
        out["approval_rate_prev"] = [
            ratio(a, b) for a, b in zip(g["prev_approved"], g["prev_attempts"], strict=True)
        ]
        out["fee_yield_bps"] = [
            bps(f, v) for f, v in zip(g["cur_fee_cents"], g["cur_gpv_cents"], strict=True)
        ]
        out["share"] = [ratio(v, total) for v in g["cur_gpv_cents"]]
        return out.sort_values("gpv", ascending=False).reset_index(drop=True)

    def decline_drill(self, reason: str, channel: str, limit: int = 10) -> dict[str, Any]:
        """One cell of the declines heatmap, for the period and filters: the merchants behind it
        (declines and share of the cell, largest first), its latest declined transactions, read
        from the raw table by a date range (it is sorted by time), and its total declines."""
        start, end = self.period()
        d = self._filtered(self._declines, self._choices())
        d = d.filter(
            d.day >= start,
            d.day <= end,
            d.decline_reason.cast("string") == reason,
            d.channel.cast("string") == channel,
        )
        per = self._be.execute(d.group_by("merchant_id").agg(declines=d["count"].sum()))
        total = int(per["declines"].sum()) if len(per) else 0
        cols = ["merchant_id", "merchant_name", "account_manager", "segment"]
        per = per.merge(self._merchants[cols], on="merchant_id", how="left")
        per["share_of_cell"] = [ratio(int(v), total) for v in per["declines"]]
        merchants = (
            per.sort_values(["declines", "merchant_id"], ascending=[False, True])
            .head(limit)
            .reset_index(drop=True)[[*cols, "declines", "share_of_cell"]]
        )
        t = self._be.table("transactions")
        ts_lo = dt.datetime.combine(start, dt.time())
        ts_hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        preds = [
            t.ts >= ts_lo,
            t.ts < ts_hi,
            t.status.cast("string") == "declined",
            t.decline_reason.cast("string") == reason,
            t.channel.cast("string") == channel,
        ]
        if self.payment_methods:
            preds.append(t.payment_method.cast("string").isin(list(self.payment_methods)))
        if any(getattr(self, p) for p in MERCHANT_FILTERS):
            keep = self._merchants
            for p, col in MERCHANT_FILTERS.items():
                if getattr(self, p):
                    keep = keep[keep[col].astype(str).isin(getattr(self, p))]
            preds.append(t.merchant_id.isin(keep["merchant_id"].astype(str).tolist()))
        rows = self._be.execute(
            t.filter(*preds)
            .order_by([ibis.desc("ts"), ibis.desc("_row")])
            .limit(200)
            .select("txn_id", "ts", "merchant_id", "amount_cents", "payment_method")
        )
        transactions = pd.DataFrame(
            {
                "txn_id": rows["txn_id"].astype(str),
                "ts": rows["ts"].astype(str),
                "merchant_id": rows["merchant_id"].astype(str),
                "amount": [money(int(c)) for c in rows["amount_cents"]],
                "payment_method": rows["payment_method"].astype(str),
            }
        )
        return {"merchants": merchants, "transactions": transactions, "total": total}

    def _decline_table(self, declines: pd.DataFrame) -> pd.DataFrame:
        declines["decline_reason"] = declines["decline_reason"].astype(str)
        declines["channel"] = declines["channel"].astype(str)
        # declines of the reason in the channel / the channel's attempts (None: no attempts)
        declines["decline_rate"] = [
            ratio(int(n), None if pd.isna(a) else int(a))
            for n, a in zip(declines["count"], declines["channel_attempts"], strict=True)
        ]
        declines = declines.drop(columns="channel_attempts")
        out = declines.merge(self._classes, on="decline_reason", how="left")
        out["decline_class"] = out["decline_class"].fillna("unclassified")
        out["suggested_action"] = out["suggested_action"].fillna("Map this reason to a class")
        # Most declines first; ties by reason and channel, so the order never depends on the
        # engine's (parallel) grouping.
        out = out.sort_values(
            ["count", "decline_reason", "channel"], ascending=[False, True, True], kind="stable"
        )
        return out.reset_index(drop=True)

    def _cohorts(self, choices: dict[str, list[str]]) -> pd.DataFrame:
        """Cohort = onboarding month; cell k = share of the cohort's merchants with an approved
        transaction in month k after onboarding, and the cohort's GPV in month k / month 0.
        All filters but the period apply (so the result is kept per filter choice). Months
        outside the data are blank (None)."""
        key = tuple((k, tuple(v)) for k, v in sorted(choices.items()))
        cache = self._cohort_cache
        if key not in cache:
            if len(cache) >= 16:
                cache.pop(next(iter(cache)))
            cache[key] = self._cohort_grid()
        return cache[key]

    def _cohort_grid(self) -> pd.DataFrame:
        cols = ["cohort", "k", "merchants", "active", "active_share", "gpv", "gpv_retention"]

        def build(**choices: list[str]) -> ibis.Table:
            t = self._filtered(self._monthly, choices)
            return t.group_by(["merchant_id", "month"]).agg(
                approved=t.approved.sum(), gpv_cents=t.gpv_cents.sum()
            )

        merchants = self._merchants
        for p, col in MERCHANT_FILTERS.items():
            if getattr(self, p):
                merchants = merchants[merchants[col].astype(str).isin(getattr(self, p))]
        if merchants.empty or self.data_start is None or self.data_end is None:
            return pd.DataFrame(columns=cols)

        def month_index(d: pd.Series) -> pd.Series:  # year * 12 + month - 1, as in pay_monthly
            d = pd.to_datetime(d)
            return d.dt.year * 12 + d.dt.month - 1

        first = self.data_start.year * 12 + self.data_start.month - 1
        last = self.data_end.year * 12 + self.data_end.month - 1
        m = pd.DataFrame(
            {
                "merchant_id": merchants["merchant_id"],
                "cohort": month_index(merchants["onboard_date"]),
            }
        )
        m = m[m["cohort"] >= first]
        if m.empty:
            return pd.DataFrame(columns=cols)
        act = self._run("cohort_activity", build).merge(m, on="merchant_id")
        act["k"] = act["month"].astype(np.int64) - act["cohort"]
        act = act[act["k"] >= 0]
        g = act.assign(active=act["approved"] > 0).groupby(["cohort", "k"])[["active", "gpv_cents"]]
        g = g.sum()
        cells = g.reset_index()
        size = m.groupby("cohort").size()
        # every observable cell: cohort c, k = 0 .. last - c
        cohort = np.repeat(size.index.to_numpy(), last - size.index.to_numpy() + 1)
        k = np.concatenate([np.arange(last - c + 1) for c in size.index])
        grid = pd.DataFrame({"cohort": cohort, "k": k})
        grid = grid.merge(cells, on=["cohort", "k"], how="left").fillna(0)
        n = size.reindex(grid["cohort"]).to_numpy()
        at0 = cells[cells["k"] == 0].set_index("cohort")["gpv_cents"]
        month0 = at0.reindex(grid["cohort"]).fillna(0).to_numpy()
        active = grid["active"].astype(np.int64).to_numpy()
        gpv = grid["gpv_cents"].astype(np.int64).to_numpy()
        return pd.DataFrame(
            {
                "cohort": [dt.date(int(c) // 12, int(c) % 12 + 1, 1) for c in grid["cohort"]],
                "k": grid["k"].astype(np.int64),
                "merchants": n.astype(np.int64),
                "active": active,
                "active_share": active / n,
                "gpv": money_column(gpv),
                "gpv_retention": [
                    ratio(int(v), int(v0)) for v, v0 in zip(gpv, month0, strict=True)
                ],
            },
            columns=cols,
        )

    def _am_summary(self, per_m: pd.DataFrame, churn: pd.DataFrame) -> pd.DataFrame:
        cols = [
            "account_manager",
            "merchants",
            "active_merchants",
            "gpv",
            "gpv_change_pct",
            "approval_rate",
            "churn_risk_merchants",
            "gpv_at_risk",
        ]
        if per_m.empty:
            return pd.DataFrame(columns=cols)
        # plain sums, not named aggregations (their set-up alone cost ~10 ms a call)
        names = {
            "cur_gpv_cents": "gpv",
            "prev_gpv_cents": "gpv_prev",
            "cur_approved": "approved",
            "cur_attempts": "attempts",
            "active_merchants": "active_merchants",
        }
        by_am = per_m.assign(active_merchants=(per_m["cur_approved"] > 0).astype(np.int64)).groupby(
            "account_manager", observed=True
        )
        g = by_am[list(names)].sum().rename(columns=names)
        g.insert(0, "merchants", by_am["merchant_id"].nunique())
        by_risk = churn.groupby("account_manager")
        risk = pd.DataFrame(
            {
                "churn_risk_merchants": by_risk["merchant_id"].count(),
                "gpv_at_risk": by_risk["gpv_prior_28d"].sum(),
            }
        )
        out = g.join(risk, how="left").reset_index()
        out["churn_risk_merchants"] = pd.to_numeric(out["churn_risk_merchants"]).fillna(0)
        out["churn_risk_merchants"] = out["churn_risk_merchants"].astype(int)
        out["gpv_at_risk"] = [  # Decimal sums; none at risk: 0.00
            v if isinstance(v, Decimal) else money(0) for v in out["gpv_at_risk"]
        ]
        out["gpv_change_pct"] = [
            change_pct(c, p) for c, p in zip(out["gpv"], out["gpv_prev"], strict=True)
        ]
        out["approval_rate"] = [
            ratio(a, b) for a, b in zip(out["approved"], out["attempts"], strict=True)
        ]
        out["gpv"] = money_column(out["gpv"])
        out["account_manager"] = out["account_manager"].astype(str)
        return out[cols].sort_values("churn_risk_merchants", ascending=False).reset_index(drop=True)

    def tables(self) -> dict[str, Any]:
        d = self.declines
        return {"declines": d[["decline_reason", "channel", "count"]]}


__all__ = ["PaymentsModel", "gini", "hhi", "kpis_from_sums", "lorenz", "pct", "top_share"]
