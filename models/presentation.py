"""How people see each number: its kind, a label in words and a one-line definition.

Declared once, beside the models, for every KPI key and output column of the three domains; the
pages (cards, tables, chart axes and hovers), the XLSX export and the KPI reference in the docs
read it. Keys stay as they are in ``tieout kpis`` JSON and in CSV/Parquet exports. No Panel here.

A label with ``{compared}`` (the "prev" columns: ``GPV, {compared}``) names what the period is
compared with, in the words of `compared_name` (``GPV, previous quarter``, ``GPV, same period
last year``): pass those words to `field` / `label`.

Kinds:
  money     dollars: ``$1,653,204.17`` (compact on axes: ``$1.7M``)
  count     whole numbers: ``1,234``
  percent   a fraction shown as a percent: 0.8476 -> ``84.8%``
  pct       already in percent: 46.7 -> ``46.7%``
  points    a change of a fraction, in percentage points: 0.006 -> ``+0.6 pp``
  bps       basis points: ``262.4 bps``
  multiple  a ratio of money to money: ``1.43x``
  index     a unitless index: ``4,926``
  coef      a coefficient or score: ``0.957``
  date      ``2025-01-31``
  text      as given (known codes get their label: `code_label`)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    """One number or column as people see it."""

    label: str
    kind: str
    definition: str = ""


F = Field

FIELDS: dict[str, Field] = {
    # ------------------------------------------------------------------ payments
    "attempts": F("Attempts", "count", "Payment attempts in the period, approved or declined."),
    "approved": F("Approved", "count", "Approved attempts."),
    "approval_rate": F(
        "Approval rate (per attempt)", "percent", "Approved attempts / all attempts."
    ),
    "approval_rate_value": F(
        "Approval (by value)", "percent", "Approved amount / attempted amount."
    ),
    "approval_rate_dedup": F(
        "Approval (per payment)",
        "percent",
        "Payments (retries of one intent counted once) with an approved attempt / payments.",
    ),
    "gpv": F("GPV", "money", "Gross payment volume: the amount of approved attempts."),
    "gpv_prev_period": F("GPV, {compared}", "money", "GPV of the compared period."),
    "gpv_prev": F("GPV, {compared}", "money"),
    "approval_rate_prev": F("Approval rate (per attempt), {compared}", "percent"),
    "fee_yield_bps_prev": F("Fee yield, {compared}", "bps"),
    "gpv_change_pct": F("GPV change", "pct", "(GPV - previous GPV) / previous GPV x 100."),
    "fee_revenue": F("Fee revenue", "money", "Fees on approved attempts."),
    "fee_yield_bps": F("Fee yield", "bps", "Fee revenue / GPV x 10,000."),
    "fee_yield_change_bps": F("Fee yield change", "bps", "Fee yield - previous fee yield."),
    "approval_rate_change": F(
        "Approval rate change", "points", "Approval rate - previous approval rate."
    ),
    "avg_ticket": F("Average ticket", "money", "GPV / approved attempts."),
    "active_merchants": F("Active merchants", "count", "Merchants with an approved payment."),
    "top10_share": F("Top-10 share", "percent", "GPV of the 10 largest merchants / GPV."),
    "top1pct_share": F("Top 1% share", "percent", "GPV of the largest 1% of merchants / GPV."),
    "hhi": F(
        "HHI",
        "index",
        "Sum of squared GPV shares in percent (0-10,000; over 2,500 is highly concentrated).",
    ),
    "gini": F("Gini", "coef", "0 when every merchant has the same GPV, near 1 when one has all."),
    "churn_risk_merchants": F(
        "Merchants at churn risk",
        "count",
        "Merchants whose GPV in the 28 days to the end date is at most 40% of the 28 days "
        "before (which had GPV).",
    ),
    "merchant_id": F("Merchant ID", "text"),
    "merchant_name": F("Merchant", "text"),
    "segment": F("Segment", "text"),
    "industry": F("Industry", "text"),
    "region": F("Region", "text"),
    "account_manager": F("Account manager", "text"),
    "channel": F("Channel", "text"),
    "payment_method": F("Payment method", "text"),
    "decline_reason": F("Decline reason", "text"),
    "decline_class": F("Decline class", "text"),
    "suggested_action": F("Suggested action", "text"),
    "reason": F("Reason", "text"),
    "period": F("Period", "date"),
    "days": F("Days in period", "count", "Days of the period inside the selected dates."),
    "count": F("Declines", "count"),
    "declines": F("Declines", "count"),
    "decline_rate": F(
        "Decline rate in the channel",
        "percent",
        "Declines of the reason in the channel / the channel's attempts, in the period.",
    ),
    "share_of_cell": F("Share of the cell", "percent", "The merchant's declines / the cell's."),
    "cohort": F("Cohort", "date", "Month of each merchant's first approved payment."),
    "k": F("Months since start", "count"),
    "merchants": F("Merchants", "count"),
    "active": F("Active", "count", "Merchants of the cohort with GPV in the month."),
    "active_share": F("Active share", "percent", "Active merchants / the cohort's merchants."),
    "gpv_retention": F("GPV retention", "percent", "The month's GPV / the first month's."),
    "merchant_share": F("Share of merchants", "percent"),
    "gpv_share": F("Share of GPV", "percent"),
    "share": F("Share", "percent", "Its part of the total."),
    "gpv_prior_28d": F("GPV, 28 days before", "money"),
    "gpv_last_28d": F("GPV, last 28 days", "money"),
    "gpv_at_risk": F("GPV at risk", "money", "Prior-28-day GPV of merchants at churn risk."),
    "txn_id": F("Transaction ID", "text"),
    "ts": F("Time", "text"),
    "amount": F("Amount", "money"),
    # ---------------------------------------------------------------- influencer
    "revenue_total": F("Revenue", "money", "Revenue of every tracked sale."),
    "revenue": F("Revenue", "money", "Revenue of the sales."),
    "revenue_influenced": F("Influenced revenue", "money", "Revenue of Influenced sales."),
    "revenue_organic": F("Organic revenue", "money", "Revenue of Organic sales."),
    "orders_total": F("Orders", "count", "Orders of every tracked sale."),
    "orders_influenced": F("Influenced orders", "count", "Orders of Influenced sales."),
    "orders": F("Orders", "count"),
    "payout": F("Payout", "money", "What the influencers cost in the period (commission, fees)."),
    "gross_profit": F("Gross profit", "money", "Influenced revenue x (1 - cost of goods)."),
    "net_profit": F("Net profit", "money", "Gross profit - payout."),
    "roi_pct": F("ROI", "pct", "Net profit / payout x 100."),
    "roas": F("ROAS", "multiple", "Influenced revenue / payout."),
    "blended_roas": F("Blended ROAS", "multiple", "All revenue / payout."),
    "engagement_rate_pct": F("Engagement rate", "pct", "(Likes + comments) / reach x 100."),
    "posts": F("Posts", "count", "Posts published in the period."),
    "reach": F("Reach", "count", "People who saw the posts."),
    "active_influencers": F(
        "Active influencers", "count", "Influencers with posts or influenced sales."
    ),
    "revenue_per_influencer": F(
        "Influenced revenue per influencer", "money", "Influenced revenue / active influencers."
    ),
    "influencer_id": F("Influencer ID", "text"),
    "name": F("Name", "text"),
    "tier": F("Tier", "text"),
    "category": F("Category", "text"),
    "platform": F("Platform", "text"),
    "product": F("Product", "text"),
    "brand": F("Brand", "text"),
    "campaign": F("Campaign", "text"),
    "source": F("Source", "text"),
    # ------------------------------------------------------------ reconciliation
    "spend": F("Spend", "money", "Marketing spend in the period."),
    "revenue_marketing": F("Marketing revenue", "money", "Revenue marketing claims."),
    "revenue_finance": F("Finance revenue", "money", "Revenue finance booked."),
    "discrepancy_pct": F(
        "Discrepancy", "pct", "(Marketing revenue - finance revenue) / finance revenue x 100."
    ),
    "roas_marketing": F("Marketing ROAS", "multiple", "Marketing revenue / spend."),
    "roas_finance": F("Finance ROAS", "multiple", "Finance revenue / spend."),
    "roas_inflation": F(
        "ROAS inflation", "percent", "(Marketing ROAS - finance ROAS) / finance ROAS."
    ),
    "cac": F("CAC", "money", "Spend / distinct users who checked out from a campaign."),
    "checkout_users": F("Customers at checkout", "count"),
    "match_rate": F("Match rate", "percent", "Claimed orders matched in finance / claimed."),
    "orders_claimed": F("Orders claimed", "count", "Distinct orders with a claim in the period."),
    "orders_matched": F(
        "Orders matched", "count", "Claimed orders booked in finance at the claimed amount."
    ),
    "orders_amount_mismatch": F(
        "Amount differences", "count", "Booked orders whose amount differs past the tolerance."
    ),
    "orders_missing_in_finance": F(
        "Missing in finance", "count", "Claimed orders that finance does not have."
    ),
    "orders_refunded": F("Refunded", "count", "Claimed orders finance has as not booked."),
    "orders_duplicate_claims": F(
        "Duplicate claims", "count", "Orders claimed more than once in the period."
    ),
    "orders_timing": F(
        "Timing differences",
        "count",
        "Booked orders whose finance date is more than the timing window from the claim.",
    ),
    "orders_finance_only": F(
        "Finance only", "count", "Orders booked in finance that no campaign claimed."
    ),
    "step": F("Step", "text"),
    "users": F("Users", "count"),
    "step_conversion": F("Step conversion", "percent", "Users at this step / at the step before."),
    "date": F("Date", "date"),
    "claimed": F("Claimed", "money", "Revenue marketing claims on the day."),
    "booked": F("Booked", "money", "Revenue finance booked on the day."),
    "booked_shifted": F("Booked (timing window)", "money"),
    "variance": F("Variance", "money", "Booked - claimed."),
    "score": F("Unusual-day score", "coef", "How many spreads the day's variance is from usual."),
    "flagged": F("Unusual", "text"),
    "description": F("Description", "text"),
    "order_id": F("Order ID", "text"),
    "class": F("Class", "text"),
    "flags": F("Flags", "text"),
    "claimed_revenue": F("Claimed revenue", "money"),
    "claims_total": F("All claims", "money", "Every claim on the order in the period."),
    "finance_revenue": F("Finance revenue", "money", "What finance booked for the order."),
    "finance_date": F("Finance date", "date"),
    "claim_date": F("Claim date", "date"),
    "campaigns": F("Campaigns", "text"),
    # reconciliation review (models/review.py)
    "status": F("Status", "text", "Where the review of the exception stands."),
    "owner": F("Owner", "text", "Who works on the exception."),
    "note": F("Latest note", "text"),
    "value_at_stake": F(
        "Value at stake",
        "money",
        "How much the exception moves revenue away from a plain match (see docs/review.md).",
    ),
    "age_days": F("Age (days)", "count", "Days from the claim date (finance date) to period end."),
    "version": F("Version", "count", "Changes saved so far (checked when saving)."),
    "claim_id": F("Claimed order", "text"),
    "finance_id": F("Finance order", "text"),
    "days_apart": F("Days apart", "count", "Finance date - claim date."),
    "rule": F("Rule", "text"),
    "age_bucket": F("Age", "text"),
    "open_exceptions": F("Open exceptions", "count", "Not explained, resolved or written off."),
    "decision": F("Decision", "text"),
    "who": F("Who", "text"),
    "at": F("When (UTC)", "text"),
    "action": F("Change", "text"),
    "old": F("Before", "text"),
    "new": F("After", "text"),
    "signoff_id": F("Sign-off", "count"),
    "period_start": F("Period start", "text"),
    "period_end": F("Period end", "text"),
    "state": F("State", "text"),
    "preparer": F("Prepared by", "text"),
    "prepared_at": F("Prepared (UTC)", "text"),
    "reviewer": F("Approved by", "text"),
    "approved_at": F("Approved (UTC)", "text"),
    "item": F("Item", "text"),
    "signed": F("When signed", "text"),
    "now": F("Now", "text"),
    # ----------------------------------------------------- settings (the sidebars' names)
    "compare": F("Compare with", "text", "The period the KPIs are compared with."),
    "cogs": F("Cost of goods (share of revenue)", "percent", "Cost of goods sold / revenue."),
    "attribution": F("Attribution model", "text", "How influenced revenue is credited."),
    "abs_tol": F("Amount tolerance ($)", "money", "Largest difference counted as matched."),
    "rel_tol": F("Relative tolerance", "percent", "Largest difference as a share of finance."),
    "timing_days": F("Timing window (days)", "count", "Days apart before a pair is timing."),
    "anomaly_threshold": F(
        "Unusual-day threshold", "coef", "Robust score above which a day is unusual."
    ),
}

#: Labels of the codes the app itself uses or knows (decline reasons, funnel and bridge steps,
#: exception classes, churn reasons); a code not listed is shown as given.
CODES: dict[str, str] = {
    "insufficient_funds": "Insufficient funds",
    "do_not_honor": "Do not honor",
    "suspected_fraud": "Suspected fraud",
    "stolen_card": "Stolen card",
    "expired_card": "Expired card",
    "invalid_card_number": "Invalid card number",
    "incorrect_cvc": "Incorrect CVC",
    "issuer_unavailable": "Issuer unavailable",
    "processing_error": "Processing error",
    "network_timeout": "Network timeout",
    "soft": "Soft",
    "hard": "Hard",
    "data-quality": "Data quality",
    "technical": "Technical",
    "page_view": "Page view",
    "add_to_cart": "Add to cart",
    "checkout": "Checkout",
    "marketing_revenue": "Marketing revenue",
    "duplicate_claims": "Duplicate claims",
    "missing_in_finance": "Missing in finance",
    "refunded": "Refunded",
    "amount_differences": "Amount differences",
    "amount_mismatch": "Amount difference",
    "timing": "Timing",
    "duplicate_claim": "Duplicate claim",
    "duplicate_claim,timing": "Duplicate claim, timing",
    "finance_only": "Finance only",
    "finance_revenue": "Finance revenue",
    "matched": "Matched",
    "day_level_difference (approximate)": "Day-level difference (approximate)",
    "finance_on_days_without_claims": "Finance on days without claims",
    "stopped_processing": "Stopped processing",
    "approval_drop": "Approval drop",
    "volume_drop": "Volume drop",
    # reconciliation review (models/review.py)
    "matched_on_review": "Matched on review",
    "matched_on_review,timing": "Matched on review, timing",
    "duplicate_claim,matched_on_review": "Duplicate claim, matched on review",
    "duplicate_claim,matched_on_review,timing": "Duplicate claim, matched on review, timing",
    "open": "Open",
    "investigating": "Investigating",
    "explained": "Explained",
    "resolved": "Resolved",
    "written_off": "Written off",
    "amount_and_date": "Amount and date",
    "id": "Order ID alike",
    "id_and_amount": "Order ID alike, amount and date",
    "confirmed": "Confirmed",
    "rejected": "Rejected",
    "undone": "Undone",
    "reopened": "Reopened",
    "status": "Status",
    "unmatched": "Match undone",
    "amounts": "Amounts changed",
    "note": "Note",
    "owner": "Owner",
    "prepared": "Prepared",
    "approved": "Approved",
    # what the period is compared with (DomainModel.compare)
    "previous_period": "Previous period",
    "same_period_last_year": "Same period last year",
    # attribution models (InfluencerModel.attribution)
    "last_touch": "Last touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position_based": "Position based",
}

#: Columns whose values are codes: shown by `code_label`.
CODE_COLUMNS = frozenset(
    {"decline_reason", "decline_class", "step", "reason", "class", "flags"}
    | {"status", "rule", "decision", "action", "state"}  # the reconciliation review's codes
)

_SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")


def field(key: str, compared: str | None = None) -> Field:
    """The field of ``key``; one not declared gets its key in words and no kind of its own.

    ``compared``: what the period is compared with, in words (`compared_name`), for the labels
    of the "prev" columns (``GPV, same period last year``); none given: ``previous period``.
    """
    found = FIELDS.get(key)
    if found is not None:
        if "{compared}" not in found.label:
            return found
        return Field(
            found.label.format(compared=compared or compared_name()), found.kind, found.definition
        )
    words = key.replace("_", " ").strip()
    return Field(words[:1].upper() + words[1:], "text")


def label(key: str, compared: str | None = None) -> str:
    """The label of ``key`` (``compared``: as for `field`)."""
    return field(key, compared).label


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 influencer``, ``3 influencers``, ``1,204 differences`` (``plural``: when not noun+s)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def code_label(value: Any) -> Any:
    """A known code's label; anything else as given."""
    return CODES.get(value, value) if isinstance(value, str) else value


def is_snake_code(text: str) -> bool:
    """Whether ``text`` looks like a machine code (``do_not_honor``)."""
    return bool(_SNAKE.match(text))


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def full(value: Any, kind: str) -> str:
    """A value as people read it in a card, a table cell or a hover: ``n/a`` when missing."""
    if _missing(value):
        return "n/a"
    if kind == "money":
        v = float(value)
        return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    if kind == "pct":
        return f"{float(value):,.1f}%"
    if kind == "points":
        return f"{float(value) * 100:+.1f} pp"
    if kind == "bps":
        return f"{float(value):,.1f} bps"
    if kind == "multiple":
        return f"{float(value):,.2f}x"
    if kind == "index":
        return f"{float(value):,.0f}"
    if kind == "coef":
        return f"{float(value):.3f}"
    if kind == "date":
        return str(value)[:10]
    return str(code_label(value))


def compact(value: float, kind: str, digits: int | None = None) -> str:
    """A value for a chart axis: ``$2.2M``, ``85%``, ``1.2K``. ``digits``: significant digits
    of a money or count value, zeros kept (a bar's label: ``$5.15M`` beside ``$5.00M``, where
    the axis's ``$5.2M`` and ``$5M`` would hide the difference)."""
    if _missing(value):
        return ""
    v = float(value)
    if kind == "percent":
        return f"{v * 100:.0f}%"
    if kind == "pct":
        return f"{v:.0f}%"
    if kind == "multiple":
        return f"{v:.1f}x"
    if kind == "bps":
        return f"{v:.0f} bps"
    sign, v = ("-" if v < 0 else ""), abs(v)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= size:
            if digits:
                whole = len(str(int(v / size)))
                text = f"{v / size:.{max(digits - whole, 0)}f}" + suffix
            else:
                text = f"{v / size:.1f}".rstrip("0").rstrip(".") + suffix
            break
    else:
        text = f"{v:.0f}" if kind in ("money", "count", "index") else f"{v:.2f}"
    return f"{sign}${text}" if kind == "money" else f"{sign}{text}"


def day_text(day: Any, year: bool = True) -> str:
    """``Oct 1, 2025`` (``Oct 1`` without the year)."""
    return f"{day:%b} {day.day}, {day.year}" if year else f"{day:%b} {day.day}"


def span_text(start: Any, end: Any) -> str:
    """``Jul 1 - Sep 30, 2025``; ``Dec 2, 2024 - Jan 31, 2025`` across a year; one day alone."""
    if start == end:
        return day_text(start)
    return f"{day_text(start, year=start.year != end.year)} - {day_text(end)}"


def _calendar(start: Any, end: Any) -> tuple[str, str] | None:
    """(``quarter``, ``Q3 2025``) when ``start..end`` is exactly a calendar month, quarter or
    year; else None."""
    import datetime as dt

    after = end + dt.timedelta(days=1)
    if start.day != 1 or after.day != 1:
        return None
    months = (after.year - start.year) * 12 + after.month - start.month
    if months == 1:
        return "month", f"{start:%b %Y}"
    if months == 3 and start.month % 3 == 1:
        return "quarter", f"Q{(start.month + 2) // 3} {start.year}"
    if months == 12 and start.month == 1:
        return "year", str(start.year)
    return None


def period_text(start: Any, end: Any) -> str:
    """A period as people name it: ``Q4 2025 (Oct 1 - Dec 31, 2025)``, ``Nov 2025 (...)``, or
    its dates."""
    cal = _calendar(start, end)
    return f"{cal[1]} ({span_text(start, end)})" if cal else span_text(start, end)


def compared_name(compare: str = "previous_period", p_start: Any = None, p_end: Any = None) -> str:
    """What the period is compared with, in words: the one name the cards, the "prev" columns'
    labels, the charts' legends and the workbook's KPI sheet give it.

    ``compare``: ``same_period_last_year`` -> ``same period last year``; ``previous_period`` ->
    with the compared window's dates ``p_start..p_end`` (`DomainModel.compared_period`)
    ``previous quarter`` when it is exactly a calendar month, quarter or year, else ``previous
    30 days`` (``previous day``); without them ``previous period``.
    """
    if compare == "same_period_last_year":
        return "same period last year"
    if compare != "previous_period":
        raise ValueError(f"unknown comparison {compare!r}")
    if p_start is None or p_end is None:
        return "previous period"
    cal = _calendar(p_start, p_end)
    days = (p_end - p_start).days + 1
    if cal:
        return f"previous {cal[0]}"
    return "previous day" if days == 1 else f"previous {days:,} days"


def comparison(
    start: Any,
    end: Any,
    p_start: Any,
    p_end: Any,
    first: Any,
    last: Any,
    compare: str = "previous_period",
) -> dict[str, Any]:
    """How the cards name what they compare with: the period ``start..end`` against
    ``p_start..p_end`` (`DomainModel.compared_period`), for data from ``first`` to ``last``.

    ``compare``: ``previous_period`` (the equally long window just before the period) or
    ``same_period_last_year`` (the same dates a year earlier; an empty window, one that ends
    before it starts, for a period longer than a year, which has none).

    Returns ``name`` (``previous quarter`` when the compared window is exactly one, else
    ``previous 30 days``; ``same period last year``), ``coverage`` (``all``, ``part`` or
    ``none`` of it in the data), ``short`` (after a change on a card: ``vs previous quarter``),
    ``missing`` (a card with nothing to compare: ``no data for the previous quarter``),
    ``tooltip`` and ``caption`` (one line above the cards naming both periods).
    """
    name = compared_name(compare, p_start, p_end)
    if compare == "same_period_last_year":
        if p_end < p_start:  # a period longer than a year: its year back overlaps it
            return {
                "name": name,
                "coverage": "none",
                "short": f"vs {name}",
                "missing": f"no {name} (the period is over a year)",
                "tooltip": f"A period longer than a year has no {name} to compare with.",
                "caption": f"{period_text(start, end)}: a period longer than a year has no "
                f"{name} to compare with",
            }
    if first is None or p_end < first or (last is not None and p_start > last):
        coverage = "none"
    elif p_start < first:
        coverage = "part"
    else:
        coverage = "all"
    compared = period_text(p_start, p_end)
    tooltip = f"Compared with the {name}, {compared}."
    if coverage == "none":
        tooltip += (
            f" The data starts on {day_text(first)}: nothing to compare with." if first else ""
        )
    elif coverage == "part":
        tooltip += f" The data starts on {day_text(first)}: only part of it is in the data."
    short = f"vs {name}" + (" (part in the data)" if coverage == "part" else "")
    caption = f"{period_text(start, end)} compared with the {name}, {compared}"
    if coverage == "none":
        caption = f"{period_text(start, end)}: no data for the {name} ({compared}) to compare with"
    elif coverage == "part":
        caption += f" (the data starts on {day_text(first)})"
    return {
        "name": name,
        "coverage": coverage,
        "short": short,
        "missing": f"no data for the {name}",
        "tooltip": tooltip,
        "caption": caption,
    }


#: KPI keys of each domain's ``tieout kpis`` output, in the order the reference lists them.
KPI_KEYS: dict[str, tuple[str, ...]] = {
    "payments": (
        "attempts",
        "approved",
        "approval_rate",
        "approval_rate_value",
        "approval_rate_dedup",
        "gpv",
        "gpv_prev_period",
        "gpv_change_pct",
        "fee_revenue",
        "fee_yield_bps",
        "avg_ticket",
        "active_merchants",
        "top10_share",
        "top1pct_share",
        "hhi",
        "gini",
        "churn_risk_merchants",
    ),
    "influencer": (
        "revenue_total",
        "revenue_influenced",
        "revenue_organic",
        "orders_total",
        "orders_influenced",
        "payout",
        "gross_profit",
        "net_profit",
        "roi_pct",
        "roas",
        "blended_roas",
        "engagement_rate_pct",
        "posts",
        "reach",
        "active_influencers",
    ),
    "reconciliation": (
        "spend",
        "revenue_marketing",
        "revenue_finance",
        "discrepancy_pct",
        "roas_marketing",
        "roas_finance",
        "cac",
        "orders_claimed",
        "orders_matched",
        "orders_amount_mismatch",
        "orders_missing_in_finance",
        "orders_refunded",
        "orders_duplicate_claims",
        "orders_timing",
        "orders_finance_only",
        "match_rate",
    ),
}
KINDS_SHOWN = {
    "money": "$1,234.56",
    "count": "1,234",
    "percent": "84.8%",
    "pct": "46.7%",
    "points": "+0.6 pp",
    "bps": "262.4 bps",
    "multiple": "1.43x",
    "index": "4,926",
    "coef": "0.957",
    "date": "2025-01-31",
    "text": "as given",
}


def reference_markdown() -> str:
    """The KPI reference (docs/kpis.md): every KPI key with its label, kind and definition."""
    lines = [
        "# KPI reference",
        "",
        "Generated from `models/presentation.py` (`python -m models.presentation > docs/kpis.md`;",
        "a test keeps this file equal to it). Keys are those of `tieout kpis` JSON; pages show",
        "the label, and each value as its kind shows it; a label of a figure of the compared",
        "period names the comparison chosen (*GPV, previous quarter*, *GPV, same period last",
        "year*).",
        "",
    ]
    for domain, keys in KPI_KEYS.items():
        lines += [f"## {domain.capitalize()}", "", "| Key | Shown as | Shown like | Definition |"]
        lines += ["|---|---|---|---|"]
        for key in keys:
            f = field(key, "previous period (or same period last year)")
            lines.append(f"| `{key}` | {f.label} | {KINDS_SHOWN[f.kind]} | {f.definition} |")
        lines.append("")
    lines += ["## Codes shown in words", "", "| Code | Shown as |", "|---|---|"]
    lines += [f"| `{code}` | {text} |" for code, text in CODES.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(reference_markdown())
