"""The order-level reconciliation: which orders were claimed in a period, how each is
classified against finance (matched, amount mismatch, missing, refunded; duplicates, timing),
the bridge summed from them, the confirmed pairs of the review, and the exceptions table. A
part of `models.reconciliation.ReconciliationModel`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import numpy as np
import pandas as pd

from models.base import passes
from models.kpi import money, money_column, split_cents, weighted_median
from models.recon_common import (
    BRIDGE_STEPS,
    CLASSES,
    EXCEPTION_COLUMNS,
    REVIEW_FLAG,
    REVIEW_STEP,
    sum_if,
)


class OrderLevel:
    """The order-by-order queries of the reconciliation model (its mixin; uses the model's
    backend, marts and parameters)."""

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
            **{f"orders_{k}": sum_if(o.code == i, w) for i, k in enumerate(CLASSES)},
            orders_duplicate_claims=sum_if(o.dup, w),
            orders_timing=sum_if(o.timing, w),
            marketing=o.claims_cents.sum(),
            dups=(o.claims_cents - o.primary_cents).sum(),
            missing=sum_if(o.code == CLASSES.index("missing_in_finance"), o.primary_cents),
            refunded=sum_if(o.code == CLASSES.index("refunded"), o.primary_cents),
            amount_diff=sum_if(o.booked, o.fin_cents - o.primary_cents),
            timing_out=sum_if(o.outside, o.fin_cents),
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
            finance=sum_if(in_c | everything, f.fin_cents),
            timing_in=sum_if(in_c & ~in_p, f.fin_cents),
            finance_only=sum_if(~in_c & everything, f.fin_cents),
            n_finance_only=sum_if(~in_c & everything, f.rows),
        )

    def _claims_daily_q(self, start: dt.date, end: dt.date, camps: list[str] | None) -> ibis.Table:
        u = self._claimed_in(self._order_groups, start, end, camps)
        booked = u.in_finance & (u.fin_status == "booked")
        return u.group_by(["date", "campaign"]).agg(
            claims=u.claims_cents.sum(), fin=sum_if(booked, u.fin_cents)
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
            # one type whatever the engine makes of the union (None where there is no amount)
            **{k: ex[k].cast("int64") for k in ("primary_cents", "claims_cents", "fin_cents")},
        ).order_by("cls", "order_id")

    def _orders(
        self, start: dt.date, end: dt.date, camps: list[str] | None, details: bool
    ) -> dict[str, Any]:
        """Classify the orders claimed in [start, end] and sum the bridge steps (cents); with
        ``details``, also the claims and finance revenue by day and by campaign
        (`_order_details`, which a change runs after its KPIs are out)."""
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
            "daily_f": daily_f,
            "reviewed": reviewed,
        }
        if details:
            out |= self._order_details(start, end, camps, daily_f, reviewed)
        return out

    def _order_details(
        self,
        start: dt.date,
        end: dt.date,
        camps: list[str] | None,
        daily_f: pd.DataFrame,
        reviewed: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """`_orders`'s details: claims by day and by campaign, finance revenue by day and by
        campaign (``daily_f``: its finance by day, ``reviewed``: its confirmed pairs)."""
        period = {"start": start, "end": end}
        out: dict[str, Any] = {}
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
            table.at[i, "finance_revenue"] = money(int(r["fin"]))
            table.at[i, "finance_date"] = r["fin_date"]
        return table.sort_values(["class", "order_id"], kind="stable").reset_index(drop=True)

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
                "claimed_revenue": money_column(rows["primary_cents"]),
                "claims_total": money_column(rows["claims_cents"]),
                "finance_revenue": money_column(rows["fin_cents"]),
                "claim_date": rows["date"].dt.date,  # datetime64 from the query
                "finance_date": rows["fin_date"].dt.date,
                "campaigns": rows["campaigns"],
            },
            columns=EXCEPTION_COLUMNS,
        )
