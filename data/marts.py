"""Per-domain rollups ("marts") built once at ingest, so interactive queries read small tables.

Each builder takes the ingest-time Ibis backend and returns ``{mart_name: expression}``;
`data.engine` materialises them as tables. All are Ibis expressions (portable to other engines).
"""

from __future__ import annotations

import ibis
from ibis.backends.duckdb import Backend

from data.engine import MART_BUILDERS

PAY_KEYS = ("merchant_id", "day", "channel", "payment_method")
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
            approved=t.ok.cast("int64").sum(),
            amount_attempted_cents=t.amount_cents.sum(),
            gpv_cents=t.ok.ifelse(t.amount_cents, 0).sum(),
            fee_cents=t.ok.ifelse(t.fee_cents, 0).sum(),
        )
        .mutate(intents=zero, intents_approved=zero)
    )
    if has_intent:
        key = t.intent_id.fill_null(t.txn_id)
        i = (
            t.mutate(intent=key)
            .group_by("intent")
            .agg(
                merchant_id=t.merchant_id.argmin(t.ts),
                day=t.day.argmin(t.ts),
                channel=t.channel.argmin(t.ts),
                payment_method=t.payment_method.argmin(t.ts),
                any_ok=t.ok.any(),
            )
        )
        intents = (
            i.group_by(list(PAY_KEYS))
            .agg(intents=i.count(), intents_approved=i.any_ok.cast("int64").sum())
            .mutate(
                attempts=zero,
                approved=zero,
                amount_attempted_cents=zero,
                gpv_cents=zero,
                fee_cents=zero,
            )
        )
        u = base.union(intents.select(base.columns))
        base = u.group_by(list(PAY_KEYS)).agg(**{m: u[m].sum() for m in PAY_MEASURES})
    m = be.table("merchants").select("merchant_id", *MERCHANT_ATTRS)
    daily = base.join(m, "merchant_id").order_by("day")
    d = t.filter(~t.ok)
    declines = d.group_by([*PAY_KEYS, "decline_reason"]).agg(count=d.count())
    declines = declines.join(m, "merchant_id").order_by("day")
    return {"pay_daily": daily, "pay_declines": declines}


MART_BUILDERS["payments"] = payments_marts
