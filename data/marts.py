"""Per-domain rollups ("marts") built once at ingest, so interactive queries read small tables.

Each builder takes the ingest-time Ibis backend and returns ``{mart_name: expression}``;
`data.engine` materialises them as tables. All are Ibis expressions (portable to other engines).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis.backends.duckdb import Backend


@functools.cache
def _min_by(dtype: dt.DataType, key: dt.DataType) -> Callable[..., ir.Scalar]:
    return ibis.udf.agg.builtin(
        lambda arg, key: None, name="min_by", signature=((dtype, key), dtype)
    )


def first_by(value: ir.Column, key: ir.Column, be: Any) -> ir.Scalar:
    """``value`` on the row with the least ``key`` (ties: any of them, as Ibis's ``argmin``).

    ``min_by`` on DuckDB and Spark rather than Ibis's ``argmin``, which DuckDB runs as an ordered
    ``FIRST(value ORDER BY key)``: buffering and sorting each group made the payments intents
    about three times slower (10M attempts: 3.6 s against about 10 s). PostgreSQL has no
    ``min_by``: ``argmin`` there.
    """
    if be.name in ("duckdb", "pyspark"):
        return _min_by(value.type(), key.type())(value, key)
    return value.argmin(key)


PAY_KEYS = ("merchant_id", "day", "channel", "payment_method")
PAY_TEXT_KEYS = ("channel", "payment_method")  # the keys that may be empty
MERCHANT_ATTRS = ("segment", "industry", "region", "account_manager")
PAY_MEASURES = (
    "attempts",
    "approved",
    "amount_attempted_cents",
    "gpv_cents",
    "fee_cents",
    "intents",
    "intents_approved",
)


def payments_marts(be: Backend) -> dict[str, ibis.Table]:
    """``pay_daily``: merchant x day x channel x payment method, with merchant attributes.

    Measures: attempts, approved, attempted and approved amount (cents), fee of approved (cents),
    and intents (retries of one payment grouped by intent_id; a row without one is its own
    intent) counted on the day, channel and method of the intent's first attempt.
    ``pay_declines``: declined attempts by merchant x day x channel x method x reason.
    ``pay_merchant_daily``: ``pay_daily`` summed over channels and methods (about a third of
    its rows), read when neither of those filters is on.
    ``_pay_intents`` (dropped once the marts are built): intents by the keys of their first
    attempt.
    ``pay_monthly``: approved attempts and GPV by merchant x month (``year * 12 + month - 1``) x
    channel x method, with merchant attributes: what cohort retention reads.
    """
    t = be.table("transactions")
    cols = t.columns
    if "payment_method" not in cols:
        t = t.mutate(payment_method=ibis.null(str))
    has_intent = "intent_id" in cols
    t = t.mutate(day=t.ts.date(), ok=(t.status == "approved"))
    zero = ibis.literal(0, "int64")
    base = (
        t.group_by(list(PAY_KEYS))
        .agg(
            attempts=t.count(),
            approved=t.ok.ifelse(1, 0).sum(),  # portable: PostgreSQL casts no boolean to bigint
            amount_attempted_cents=t.amount_cents.sum(),
            gpv_cents=t.ok.ifelse(t.amount_cents, 0).sum(),
            fee_cents=t.ok.ifelse(t.fee_cents, 0).sum(),
        )
        .mutate(intents=zero, intents_approved=zero)
    )
    if has_intent:
        # Each intent's first attempt (its row number; ties at the same time: any of them, as
        # before), then that attempt's keys by joining back. Only fixed-size values are held per
        # intent: `min_by` of text (the merchant id) could not spill to disk and ran out of
        # memory at 100M rows under the 2 GiB limit.
        key = t.intent_id.fill_null(t.txn_id)
        i = (
            t.mutate(intent=key)
            .group_by("intent")
            .agg(r=first_by(t._row, t.ts, be), any_ok=t.ok.any())
        )
        f = t.join(i, t._row == i.r)
        intents = f.group_by(list(PAY_KEYS)).agg(n=f.count(), n_ok=f.any_ok.ifelse(1, 0).sum())
    m = be.table("merchants").select("merchant_id", *MERCHANT_ATTRS)

    def daily() -> ibis.Table:
        """The attempts rollup with the intents' counts (stored first, as ``_pay_intents``:
        both grouped in one statement ran out of memory at 100M rows under a 2 GiB limit). An
        intent's first attempt is an attempt, so its keys are among the rollup's: a left join
        (NULL-safe: payment_method may be empty) adds the counts."""
        rolled = base
        if has_intent:
            it = be.table("_pay_intents")
            if be.name == "duckdb":
                on = [base[k].identical_to(it[k]) for k in PAY_KEYS]
            else:  # PostgreSQL hash-joins no IS NOT DISTINCT FROM: equal keys, empty as ''
                on = [base[k].fill_null("") == it[k].fill_null("") for k in PAY_TEXT_KEYS]
                on += [base[k] == it[k] for k in PAY_KEYS if k not in PAY_TEXT_KEYS]
            j = base.left_join(it, on)
            rolled = j.select(
                *(base[k] for k in PAY_KEYS),
                *(base[m] for m in PAY_MEASURES[:-2]),
                intents=j.n.fill_null(0),
                intents_approved=j.n_ok.fill_null(0),
            )
        return rolled.join(m, "merchant_id").order_by("day")

    d = t.filter(~t.ok)
    declines = d.group_by([*PAY_KEYS, "decline_reason"]).agg(count=d.count())
    declines = declines.join(m, "merchant_id").order_by("day")

    def monthly() -> ibis.Table:
        daily = be.table("pay_daily")
        month = (daily.day.year() * 12 + daily.day.month() - 1).name("month")
        by = ["merchant_id", month, "channel", "payment_method", *MERCHANT_ATTRS]
        return daily.group_by(by).agg(
            approved=daily.approved.sum(), gpv_cents=daily.gpv_cents.sum()
        )

    def per_day() -> ibis.Table:
        daily = be.table("pay_daily")
        per_day = daily.group_by(["merchant_id", "day", *MERCHANT_ATTRS])
        return per_day.agg(**{k: daily[k].sum() for k in PAY_MEASURES}).order_by("day")

    return {
        **({"_pay_intents": intents} if has_intent else {}),
        "pay_daily": daily,
        "pay_merchant_daily": per_day,
        "pay_declines": declines,
        "pay_monthly": monthly,
    }


# --------------------------------------------------------------------------- influencer

#: Influencer tier from follower_count: Nano < 10k <= Micro < 100k <= Mid < 500k <= Macro < 1M
#: <= Mega (KPI_DEFINITIONS.md).
TIERS = (("Nano", 10_000), ("Micro", 100_000), ("Mid", 500_000), ("Macro", 1_000_000))
TIER_NAMES = (*(t for t, _ in TIERS), "Mega")
#: Touchpoints older than this many days before a sale are not part of its path.
ATTRIBUTION_LOOKBACK_DAYS = 30
TIME_DECAY_HALF_LIFE_DAYS = 7
ATTRIBUTION_MODELS = ("last_touch", "linear", "time_decay", "position_based")
#: Commission fractions are applied at six decimals: cost = round(rate x revenue) per sale.
RATE_SCALE = 1_000_000
#: ``inf_credit`` holds credit in millionths of a cent (whole numbers).
CREDIT_SCALE = 1_000_000


@dataclass(frozen=True)
class Values:
    """The values a mart's text column can hold: those of stored columns (``table.column``)
    and ``listed`` ones. A value outside them fails the domain's ingest, so they must cover
    every value the mart's expression can give."""

    columns: tuple[str, ...] = ()
    listed: tuple[str, ...] = ()


#: Text columns a mart is stored with as ENUM on DuckDB (`data.engine`), the types made from
#: these values before the mart is written; other engines store text, and queries read either
#: as text. Writing ``inf_credit``'s 2.8M rows (1M sales) as text was a third of its time.
#: (``credited``, an influencer id, stays text: no faster as an ENUM.)
MART_ENUMS: dict[str, dict[str, Values]] = {
    "inf_credit": {
        "model": Values(listed=tuple(m for m in ATTRIBUTION_MODELS if m != "last_touch")),
        "brand": Values(columns=("tracking_data.brand",)),
        "product": Values(columns=("tracking_data.product",)),
        "platform": Values(columns=("posts.platform", "influencers.platform")),
        "category": Values(columns=("influencers.category",)),
        "tier": Values(listed=TIER_NAMES),
    },
}


def tier_of(followers: ibis.IntegerValue) -> ibis.StringValue:
    """The tier of a follower count."""
    case = ibis.cases(*((followers < bound, name) for name, bound in TIERS), else_=TIER_NAMES[-1])
    return case


def _influencer_dims(be: Backend) -> ibis.Table:
    """Per influencer: platform, category, tier, and payment terms (first payouts row)."""
    inf = be.table("influencers")
    inf = inf.select(
        "influencer_id",
        inf_platform=inf.platform.cast("string"),
        category=inf.category.cast("string"),
        tier=tier_of(inf.follower_count),
    )
    p = be.table("payouts")
    dated = "date" in p.columns
    terms = p.group_by("influencer_id").agg(
        basis=p.basis.cast("string").argmin(p._row),
        rate_micro=(p.rate * RATE_SCALE).round().cast("int64").argmin(p._row),
    )
    if dated:  # the dated rows are the payment log: nothing is derived
        terms = terms.mutate(basis=ibis.literal("dated"))
    return inf.left_join(terms, "influencer_id").drop("influencer_id_right")


def influencer_marts(be: Backend) -> dict[str, ibis.Table]:
    """``inf_sales``: sales by day x influencer x type x brand x product x campaign x platform,
    with the influencer's category and tier, revenue, orders and the commission cost of each sale
    (Order-basis influencers: round(rate x revenue) per sale, half up).
    ``inf_posts``: posts with category, tier and fee (Post-basis: ``rate`` per post).
    ``inf_payments``: the dated payment log (only when ``payouts`` has a date column).
    ``inf_credit``: each Influenced sale's revenue credited to influencers under the multi-touch
    models (linear, time-decay, position-based) over the user's touchpoints in the 30 days up to
    the sale day; a sale without touchpoints credits its own influencer; ``credit_micro`` in
    millionths of a cent (`CREDIT_SCALE`).
    """
    dims = _influencer_dims(be)
    posts = be.table("posts")
    t = be.table("tracking_data")
    post_platform = posts.select("post_id", post_platform=posts.platform.cast("string"))
    if "post_id" in t.columns:
        t = t.left_join(post_platform, "post_id").drop("post_id_right")
    else:
        t = t.mutate(post_platform=ibis.null(str))
    t = t.left_join(dims, "influencer_id").drop("influencer_id_right")
    influenced = t.attribution_type.cast("string") == "Influenced"
    commission = ibis.ifelse(
        influenced & (t.basis == "Order"),
        (t.rate_micro * t.revenue_cents + RATE_SCALE // 2) // RATE_SCALE,
        0,
    )
    t = t.mutate(
        day=t.date,
        attribution_type=t.attribution_type.cast("string"),
        brand=t.brand.cast("string"),
        product=t.product.cast("string"),
        campaign=t.campaign.cast("string"),
        platform=ibis.coalesce(t.post_platform, t.inf_platform),
        commission_cents=commission.cast("int64"),
    )
    keys = [
        "day",
        "influencer_id",
        "attribution_type",
        "brand",
        "product",
        "campaign",
        "platform",
        "category",
        "tier",
    ]
    sales = (
        t.group_by(keys)
        .agg(
            sales=t.count(),
            orders=t.orders.sum(),
            revenue_cents=t.revenue_cents.sum(),
            commission_cents=t.commission_cents.sum(),
        )
        .order_by("day")
    )
    p = posts.left_join(dims, "influencer_id").drop("influencer_id_right")
    fee = ibis.ifelse(p.basis == "Post", (p.rate_micro * 100 + RATE_SCALE // 2) // RATE_SCALE, 0)
    post_mart = p.select(
        "post_id",
        "influencer_id",
        day=p.date,
        brand=p.brand.cast("string"),
        campaign=p.campaign.cast("string"),
        platform=p.platform.cast("string"),
        category=p.category,
        tier=p.tier,
        reach=p.reach,
        likes=p.likes,
        comments=p.comments,
        fee_cents=fee.cast("int64"),
    ).order_by("day")
    out = {"inf_sales": sales, "inf_posts": post_mart}
    pay = be.table("payouts")
    if "date" in pay.columns:
        d = pay.left_join(dims, "influencer_id").drop("influencer_id_right")
        out["inf_payments"] = d.select(
            "influencer_id",
            day=d.date,
            platform=d.inf_platform,
            category=d.category,
            tier=d.tier,
            amount_cents=d.total_payout_cents,
        ).order_by("day")
    out["inf_credit"] = _credit_mart(be, t.filter(influenced), posts)
    return out


def _credit_mart(be: Backend, sales: ibis.Table, posts: ibis.Table) -> ibis.Table:
    """Multi-touch credit of each Influenced sale, aggregated by the sale's filter dimensions.

    One pass for the three models: each touch row carries its credit under every model (in
    whole millionths of a cent), the rows are summed once by the filter dimensions, then turned
    into one row per model. (A union of the three models summed 4.9M rows at 1M sales, three
    times the rows.)"""
    dims = ["day", "brand", "product", "platform", "category", "tier"]
    s = sales.select("_row", "user_id", "influencer_id", "revenue_cents", *dims)
    names = be.list_tables()
    models = [m for m in ATTRIBUTION_MODELS if m != "last_touch"]

    def micro(credit_cents: ir.FloatingValue) -> ir.IntegerValue:
        # whole millionths of a cent: exact sums, the same in any order (float credit summed by
        # parallel threads could move a cent between runs once the model splits it)
        return (credit_cents * CREDIT_SCALE).round().cast("int64")

    own = micro(s.revenue_cents.cast("float64"))
    if "touchpoints" not in names:
        rows = s.select(*dims, credited=s.influencer_id, **dict.fromkeys(models, own))
    else:
        tp = be.table("touchpoints")
        tp = tp.join(posts.select("post_id", touched=posts.influencer_id), "post_id")
        j = s.filter(s.user_id.notnull()).join(tp, "user_id")
        sale_ts = j.day.cast("timestamp")
        age_days = (sale_ts.epoch_seconds() - j.timestamp.epoch_seconds()) / 86400.0
        j = j.filter(age_days <= ATTRIBUTION_LOOKBACK_DAYS, j.timestamp.date() <= j.day)
        j = j.mutate(age_days=age_days)
        j = j.mutate(decay=(-j.age_days / TIME_DECAY_HALF_LIFE_DAYS * math.log(2)).exp())
        w = ibis.window(group_by=j._row)
        ordered = ibis.window(group_by=j._row, order_by=[j.timestamp, j.post_id])
        j = j.mutate(n=j.count().over(w), pos=ibis.row_number().over(ordered))
        j = j.mutate(decay_total=j.decay.sum().over(w))
        middle = 0.2 / (j.n - 2).cast("float64")
        position = ibis.cases(
            (j.n == 1, 1.0),
            (j.n == 2, 0.5),
            ((j.pos == 0) | (j.pos == j.n - 1), 0.4),
            else_=middle,
        )
        weights = {
            "linear": 1.0 / j.n.cast("float64"),
            "time_decay": j.decay / j.decay_total,
            "position_based": position,
        }
        cents = j.revenue_cents.cast("float64")
        touched = j.select(
            *dims, credited=j.touched, **{m: micro(cents * weights[m]) for m in models}
        )
        alone = s.anti_join(j.select("_row").distinct(), "_row")
        alone = alone.select(
            *dims,
            credited=alone.influencer_id,
            **dict.fromkeys(models, micro(alone.revenue_cents.cast("float64"))),
        )
        rows = ibis.union(touched, alone)
    sums = rows.group_by([*dims, "credited"]).agg(**{m: rows[m].sum() for m in models})
    return ibis.union(
        *(
            sums.select(ibis.literal(m).name("model"), *dims, "credited", credit_micro=sums[m])
            for m in models
        )
    )


# --------------------------------------------------------------------------- reconciliation


def reconciliation_marts(be: Backend) -> dict[str, ibis.Table]:
    """``rec_channels``: campaign -> channel (from marketing_spend).

    When claims carry order_id, the claims are split by how a filter can cut them:

    - ``rec_orders``: orders whose claims all share one date and one campaign (nearly all of
      them). A period or campaign filter keeps all of such an order's claims or none, so the
      order's aggregates (claim count, claims total, primary claim = earliest, ties first in
      file order) are exact for every filter and are computed here once, with the order's
      finance row (revenue, date, status; status defaults to booked).
    - ``rec_split_claims``: every claim of the other orders, with ``seq`` (claim order: date,
      then file order, so the primary claim is ``min(seq)``) and the order's finance row; the
      model groups these per filter.

    ``_rec_per`` (dropped once the marts are built): each claimed order's aggregates and finance
    row, which the three above are read from.

    ``rec_finance``: finance rows with ``claimed`` (the order has a claim at any date), ``split``
    (its claims are in ``rec_split_claims``) and, for the other claimed orders, their claim date
    and campaign (``c_date``, ``c_campaign``).

    The period sums read grouped forms of these, about a tenth of their rows:
    ``rec_order_groups`` sums ``rec_orders`` by what the queries filter and classify on (claim
    date, campaign, finance date and status, duplicate or not) with ``orders`` counting them,
    except orders booked at an amount other than their primary claim, which a tolerance decides
    one by one and so stay one a row. ``rec_finance_groups`` sums the booked rows of
    ``rec_finance`` by date and claim, except rows of split orders (kept with their order_id).

    Funnel events that carry a campaign, by how distinct users can be counted: a user with a
    single (date, campaign) for a step is counted by ``rec_funnel_days`` (users per date x
    campaign x step, summable over any period and campaigns); the rows of the other users are in
    ``rec_funnel_repeat`` (date, campaign, step, ``user`` as an integer) and are counted
    distinct per query. Both read ``_rec_funnel`` (dropped once the marts are built): the
    distinct (user, date, campaign, step) rows with the user's count of rows for the step.
    """
    spend = be.table("marketing_spend")
    channels = spend.group_by(campaign=spend.campaign.cast("string")).agg(
        channel=spend.channel.cast("string").argmin(spend._row)
    )
    fin = be.table("revenue_finance")
    status = fin.status.cast("string") if "status" in fin.columns else ibis.null(str)
    fin = fin.select(
        "order_id",
        fin_date=fin.date,
        fin_cents=fin.revenue_cents,
        fin_status=status.fill_null("booked"),
    )
    fe = be.table("funnel_events")
    fe = fe.filter(fe.campaign.notnull())
    d = fe.select(
        "user_id",
        date=fe.timestamp.date(),
        campaign=fe.campaign.cast("string"),
        step=fe.event_type.cast("string"),
    ).distinct()
    d = d.mutate(rows=d.count().over(group_by=["step", "user_id"]))

    def funnel_days() -> ibis.Table:
        once = be.table("_rec_funnel")
        once = once.filter(once.rows == 1)
        return once.group_by("date", "campaign", "step").agg(users=once.count()).order_by("date")

    def funnel_repeat() -> ibis.Table:
        again = be.table("_rec_funnel")
        again = again.filter(again.rows > 1)
        return again.select(
            "date", "campaign", "step", user=ibis.dense_rank().over(order_by=again.user_id)
        ).order_by("date")

    out = {
        "rec_channels": channels,
        # the events' distinct rows, counted per user and step, stored once (dropped once the
        # marts are built) for the two funnel marts, which each worked them out before
        "_rec_funnel": d,
        "rec_funnel_days": funnel_days,
        "rec_funnel_repeat": funnel_repeat,
    }
    claims = be.table("revenue_marketing")
    if "order_id" not in claims.columns:
        out["rec_finance"] = fin.mutate(claimed=ibis.literal(False)).order_by("fin_date")
        return out
    c = claims.mutate(campaign=claims.campaign.cast("string"))
    c = c.mutate(seq=ibis.row_number().over(order_by=[c.date, c._row]))
    per = c.group_by("order_id").agg(
        n=c.count(),
        claims_cents=c.revenue_cents.sum().cast("int64"),
        primary_cents=c.revenue_cents.argmin(c.seq),
        date=c.date.min(),
        campaign=c.campaign.min(),
        # one date and one campaign (neither is ever empty): min = max, cheaper than two
        # COUNT(DISTINCT) per order (this step at 1M claims: 1.6 -> 1.0 s)
        uniform=(c.date.min() == c.date.max()) & (c.campaign.min() == c.campaign.max()),
    )
    per = per.left_join(fin, "order_id").drop("order_id_right")
    # stored once (dropped once the marts are built): the orders, the split claims and the
    # finance rows each read it, and each computed it again before (a quarter of the ingest)
    out["_rec_per"] = per.mutate(in_finance=per.fin_cents.notnull())

    def orders() -> ibis.Table:
        per = be.table("_rec_per")
        orders = per.filter(per.uniform).select(
            "order_id",
            "date",
            "campaign",
            "n",
            "claims_cents",
            "primary_cents",
            "in_finance",
            "fin_cents",
            "fin_date",
            "fin_status",
        )
        return orders.order_by("date")

    out["rec_orders"] = orders

    def keys(t: ibis.Table) -> dict[str, ibis.Value]:
        cols = ("date", "campaign", "fin_date", "in_finance", "fin_status")
        return {k: t[k] for k in cols} | {"dup": t.n > 1}

    def order_groups() -> ibis.Table:
        """From the stored ``rec_orders`` (not its whole computation again, twice: PostgreSQL
        planned that as a nested loop, 25 s at 50k orders)."""
        orders = be.table("rec_orders")
        sums = ("claims_cents", "primary_cents", "fin_cents")
        exact = ~(orders.in_finance & (orders.fin_status == "booked")) | (
            orders.fin_cents == orders.primary_cents
        )
        e = orders.filter(exact)
        grouped = e.group_by(**keys(e)).agg(
            orders=e.count(), **{k: e[k].sum().cast("int64") for k in sums}
        )
        singles = orders.filter(~exact)
        singles = singles.select(
            **keys(singles), orders=ibis.literal(1, "int64"), **{k: singles[k] for k in sums}
        )
        return ibis.union(grouped, singles.cast(grouped.schema())).order_by("date")

    out["rec_order_groups"] = order_groups

    def split_claims() -> ibis.Table:
        per = be.table("_rec_per")
        split = c.semi_join(per.filter(~per.uniform), "order_id")
        split = split.left_join(fin, "order_id").drop("order_id_right")
        return split.select(
            "order_id",
            "date",
            "campaign",
            "seq",
            claim_cents=split.revenue_cents,
            in_finance=split.fin_cents.notnull(),
            fin_date=split.fin_date,
            fin_cents=split.fin_cents,
            fin_status=split.fin_status,
        ).order_by("date")

    out["rec_split_claims"] = split_claims

    def finance() -> ibis.Table:
        per = be.table("_rec_per")
        info = per.select(
            "order_id",
            claimed=ibis.literal(True),
            split=~per.uniform,
            c_date=per.uniform.ifelse(per.date, ibis.null("date")),
            c_campaign=per.uniform.ifelse(per.campaign, ibis.null("string")),
        )
        f = fin.left_join(info, "order_id").drop("order_id_right")
        f = f.mutate(claimed=f.claimed.fill_null(False), split=f.split.fill_null(False))
        return f.order_by("fin_date")

    out["rec_finance"] = finance

    def finance_groups() -> ibis.Table:
        """From the stored ``rec_finance`` (not its computation again)."""
        f = be.table("rec_finance")
        booked = f.filter(f.fin_status == "booked")
        fkeys = ("fin_date", "claimed", "split", "c_date", "c_campaign")
        one = booked.filter(~booked.split)
        one = one.group_by(*fkeys).agg(
            order_id=ibis.null("string"),
            rows=one.count(),
            fin_cents=one.fin_cents.sum().cast("int64"),
        )
        split_rows = booked.filter(booked.split)
        split_rows = split_rows.select(*fkeys, "order_id", rows=1, fin_cents="fin_cents")
        return ibis.union(one, split_rows.cast(one.schema())).order_by("fin_date")

    out["rec_finance_groups"] = finance_groups
    return out
