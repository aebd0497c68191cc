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
from pathlib import Path
from typing import Any, ClassVar

import ibis
import pandas as pd
import param

from models.base import DomainModel, FiniteNumber, passes, set_options
from models.kpi import money, money_column
from models.presentation import counted, day_text, span_text
from models.recon_approx import AggregateFallback
from models.recon_common import (
    BRIDGE_STEPS,
    EXCEPTION_COLUMNS,
    REVIEW_STEP,
    no_exceptions,
    robust_scores,
)
from models.recon_orders import OrderLevel
from models.recon_tables import ReconTables

#: The dated tables in words, for `ReconciliationModel.coverage_warnings`.
COVERAGE = {
    "spend": "spend",
    "claims": "marketing's claimed revenue",
    "bookings": "finance's booked revenue",
}


class ReconciliationModel(OrderLevel, ReconTables, AggregateFallback, DomainModel):
    """Owns the reconciliation filters, tolerances and every reconciliation output."""

    domain = "reconciliation"
    FILTERS: ClassVar[dict[str, str]] = {"channels": "channel", "campaigns": "campaign"}
    SETTINGS = ("abs_tol", "rel_tol", "timing_days", "anomaly_threshold", *DomainModel.SETTINGS)

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
    warnings = param.List(
        default=[], precedence=-1, doc="Checks on the figures: a table's dates short of others'."
    )
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

    def _spans(self) -> dict[str, tuple[dt.date, dt.date]]:
        """First and last day of each dated table (`COVERAGE`'s words as keys), read once."""
        if getattr(self, "_span_cache", None) is None:
            spans = {}
            for what, t, col in (
                ("spend", self._spend_t, "date"),
                ("claims", self._raw_claims, "date"),
                ("bookings", self._fin, "fin_date"),
            ):
                r = self._be.execute(t.agg(lo=t[col].min(), hi=t[col].max()))
                if pd.notna(r["lo"].iloc[0]):
                    lo, hi = (pd.Timestamp(r[c].iloc[0]).date() for c in ("lo", "hi"))
                    spans[what] = (lo, hi)
            self._span_cache = spans
        return self._span_cache

    def _data_span(self) -> tuple[dt.date | None, dt.date | None]:
        parts = list(self._spans().values())
        if not parts:
            return None, None
        return min(p[0] for p in parts), max(p[1] for p in parts)

    def coverage_warnings(self, start: dt.date, end: dt.date) -> list[str]:
        """A table whose data stops (or starts) more than ``timing_days`` days before (after)
        another's inside ``start..end``: the days between count the others without it (spend
        without the revenue it bought, say), which moves ROAS, CAC and the bridge. In words,
        for the page and the Data page; nothing when the tables cover the period alike."""
        spans = self._spans()
        if len(spans) < 2:
            return []
        out = []
        last = min(end, max(hi for _, hi in spans.values()))
        first = max(start, min(lo for lo, _ in spans.values()))
        for what, (lo, hi) in spans.items():
            rest = [COVERAGE[w] for w in spans if w != what]
            others, s_ = " and ".join(rest), "" if len(rest) > 1 else "s"
            this = COVERAGE[what]
            gap = dt.timedelta(days=1)
            if first <= hi < last and (last - hi).days > self.timing_days:
                out.append(
                    f"{this[0].upper()}{this[1:]} ends on {day_text(hi)}; {others} run{s_} to "
                    f"{day_text(last)}. For {counted((last - hi).days, 'day')} of the period "
                    f"({span_text(hi + gap, last)}) the figures count {others} without {this}."
                )
            if first < lo <= last and (lo - first).days > self.timing_days:
                out.append(
                    f"{this[0].upper()}{this[1:]} starts on {day_text(lo)}; {others} start{s_} "
                    f"on {day_text(first)}. For {counted((lo - first).days, 'day')} of the "
                    f"period ({span_text(first, lo - gap)}) the figures count {others} without "
                    f"{this}."
                )
        return out

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
    def compute_staged(self) -> tuple[dict[str, Any], Any]:
        start, end = self.period()
        p_start, p_end = self.compared_period()
        camps = self._passing()
        # the exceptions of this state, read from `exceptions` when (if ever) they are wanted
        self._exceptions, self._exceptions_for = None, (camps, self._order_values(start, end))
        if self._orders_t is None:
            first = self._compute_approximate(start, end, p_start, p_end, camps)
            return {**first, "warnings": self.coverage_warnings(start, end)}, dict
        ignored = self._check_pairs()
        cur = self._orders(start, end, camps, details=False)
        prev = self._orders(p_start, p_end, camps, details=False)
        spend_c = self._spend(start, end, camps)
        users_c, users_by_channel = self._users(start, end, camps)
        kpis = self._kpis(spend_c, users_c, cur)
        kpis_prev = self._kpis(
            self._spend(p_start, p_end, camps), self._users(p_start, p_end, camps)[0], prev
        )

        def rest() -> dict[str, Any]:  # the bridge, tables and series, after the cards
            details = self._order_details(start, end, camps, cur["daily_f"], cur["reviewed"])
            steps = cur["bridge"]
            names = self._step_names()
            bridge = pd.DataFrame({"step": names, "amount": [money(v) for v in steps]})
            by_campaign = details["claims_by_campaign"], details["finance_by_campaign"]
            return {
                "bridge": bridge,
                "bridge_check": money(sum(steps[:-1]) - steps[-1]),
                "by_campaign": self._campaign_table(spend_c, *by_campaign),
                "by_channel": self._channel_table(spend_c, *by_campaign, users_by_channel),
                "funnel": self._funnel_table(start, end, camps),
                "daily": self._daily(details["daily_claims"], details["daily_finance"], cur["lag"]),
                "lag_days": float(cur["lag"]),
                "anomalies": self._anomaly_rows(start, end, camps),
            }

        first = {"confirmed_ignored": ignored, "kpis": kpis, "kpis_prev": kpis_prev}
        first["warnings"] = self.coverage_warnings(start, end)
        return first, rest

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
                fin_cents=f.fin_cents,
                finance_date=f.fin_date,
            ).order_by("order_id")
        )
        out["finance_date"] = pd.to_datetime(out["finance_date"]).dt.date
        out["finance_revenue"] = money_column(out["fin_cents"])
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
