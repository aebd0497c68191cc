"""The input tables of KPI_DEFINITIONS.md, declared once, as data.

This one declaration drives validation (`data.validate`), the ingest types (`data.engine`),
the demo generator's output columns (`data.generate`) and the data contract in docs/data.md
(`python -m data.schemas` prints it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["str", "int", "money", "float", "date", "timestamp", "enum"]


@dataclass(frozen=True)
class Column:
    """One column of an input table.

    ``required`` columns must exist; ``nullable`` columns may hold empty cells.
    ``allowed`` lists the values of an enum column (matched case-insensitively, stored as given
    here). ``min``/``max`` bound numbers (money in currency units). ``ref`` is ``table.column``.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    ref: str | None = None
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """One input table: its columns, key and whether the domain needs it."""

    domain: str
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = True
    doc: str = ""
    # Low-cardinality text columns stored as dictionary/ENUM at ingest.
    categorical: tuple[str, ...] = field(default=())
    # The column a fact table is stored sorted by (then ``_row``), so date filters skip row groups:
    # only for the tables a filter change reads directly (transactions, the marketing claims and
    # spend). The others only feed the marts and stay in file order: sorting them cost time and
    # memory (1M influencer tracking rows: peak RSS of the ingest 1,009 -> 661 MB).
    order_by: str | None = None

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


C = Column

TABLES: tuple[Table, ...] = (
    # ---------------------------------------------------------------- influencer
    Table(
        "influencer",
        "influencers",
        (
            C("influencer_id", "str"),
            C("name", "str"),
            C("category", "str"),
            C("gender", "str", required=False, nullable=True),
            C("follower_count", "int", min=0),
            C("platform", "str"),
            C("payout_basis", "enum", allowed=("Post", "Order")),
        ),
        key=("influencer_id",),
        categorical=("category", "gender", "platform", "payout_basis"),
        doc="One row per influencer.",
    ),
    Table(
        "influencer",
        "posts",
        (
            C("post_id", "str"),
            C("influencer_id", "str", ref="influencers.influencer_id"),
            C("platform", "str"),
            C("date", "date"),
            C("brand", "str"),
            C("campaign", "str"),
            C("reach", "int", min=0),
            C("likes", "int", min=0),
            C("comments", "int", min=0),
        ),
        key=("post_id",),
        categorical=("platform", "brand", "campaign"),
        doc="One row per sponsored post.",
    ),
    Table(
        "influencer",
        "tracking_data",
        (
            C("order_id", "str", required=False),
            C("source", "str"),
            C("campaign", "str", nullable=True),
            C("influencer_id", "str", nullable=True, ref="influencers.influencer_id"),
            C("user_id", "str", nullable=True),
            C("product", "str"),
            C("brand", "str"),
            C("date", "date"),
            C("orders", "int", min=1),
            C("revenue", "money", min=0),
            C("attribution_type", "enum", allowed=("Influenced", "Organic")),
            C("post_id", "str", required=False, nullable=True, ref="posts.post_id"),
        ),
        key=("order_id",),
        categorical=("source", "campaign", "product", "brand", "attribution_type"),
        doc="One row per sale record; influencer_id is empty for organic sales.",
    ),
    Table(
        "influencer",
        "payouts",
        (
            C("payout_id", "str"),
            C("influencer_id", "str", ref="influencers.influencer_id"),
            C("basis", "enum", allowed=("Post", "Order")),
            C("rate", "float", min=0, doc="money per post (Post) or commission fraction (Order)"),
            C("orders", "int", required=False, nullable=True, min=0),
            C("total_payout", "money", min=0),
            C("date", "date", required=False),
        ),
        key=("payout_id",),
        categorical=("basis",),
        doc="Payout terms and totals; with a date column, the dated payment log itself.",
    ),
    Table(
        "influencer",
        "touchpoints",
        (
            C("user_id", "str"),
            C("post_id", "str", ref="posts.post_id"),
            C("timestamp", "timestamp"),
        ),
        required=False,
        doc="Exposures of users to posts, for multi-touch attribution.",
    ),
    # ---------------------------------------------------------------- payments
    Table(
        "payments",
        "merchants",
        (
            C("merchant_id", "str"),
            C("merchant_name", "str"),
            C("industry", "str"),
            C("segment", "str"),
            C("region", "str"),
            C("onboard_date", "date"),
            C("account_manager", "str"),
        ),
        key=("merchant_id",),
        categorical=("industry", "segment", "region", "account_manager"),
        doc="One row per merchant.",
    ),
    Table(
        "payments",
        "transactions",
        (
            C("txn_id", "str"),
            C("ts", "timestamp"),
            C("merchant_id", "str", ref="merchants.merchant_id"),
            C("amount", "money", min=0),
            C("currency", "str", required=False),
            C("channel", "str"),
            C("status", "enum", allowed=("approved", "declined")),
            C("decline_reason", "str", nullable=True),
            C("fee", "money", min=0),
            C("customer_id", "str", required=False, nullable=True),
            C("payment_method", "str", required=False, nullable=True),
            C("intent_id", "str", required=False, nullable=True),
        ),
        key=("txn_id",),
        categorical=("currency", "channel", "status", "decline_reason", "payment_method"),
        doc="One row per payment attempt.",
        order_by="ts",
    ),
    Table(
        "payments",
        "fx_rates",
        (
            C("date", "date"),
            C("currency", "str"),
            C("rate_to_reporting", "float", min=0),
        ),
        key=("date", "currency"),
        required=False,
        doc="Daily rates converting transaction currencies to the reporting currency.",
    ),
    # ---------------------------------------------------------------- reconciliation
    Table(
        "reconciliation",
        "marketing_spend",
        (
            C("date", "date"),
            C("campaign", "str"),
            C("channel", "str"),
            C("spend", "money", min=0),
        ),
        key=("date", "campaign"),
        categorical=("campaign", "channel"),
        doc="Ad spend per day and campaign; a campaign belongs to one channel.",
        order_by="date",
    ),
    Table(
        "reconciliation",
        "funnel_events",
        (
            C("timestamp", "timestamp"),
            C("user_id", "str"),
            C("event_type", "enum", allowed=("page_view", "add_to_cart", "checkout")),
            C("campaign", "str", required=False, nullable=True),
        ),
        categorical=("event_type", "campaign"),
        doc="Funnel events per user.",
    ),
    Table(
        "reconciliation",
        "revenue_marketing",
        (
            C("order_id", "str", required=False),
            C("date", "date"),
            C("campaign", "str"),
            C("revenue", "money", min=0),
        ),
        categorical=("campaign",),
        doc="Revenue marketing claims, one row per claim (duplicates are findings).",
        order_by="date",
    ),
    Table(
        "reconciliation",
        "revenue_finance",
        (
            C("order_id", "str"),
            C("date", "date"),
            C("revenue", "money", min=0),
            C(
                "status",
                "enum",
                required=False,
                nullable=True,
                allowed=("booked", "refunded", "cancelled"),
            ),
        ),
        key=("order_id",),
        categorical=("status",),
        doc="Revenue finance booked, one row per order.",
    ),
    Table(
        "reconciliation",
        "anomalies",
        (
            C("date", "date"),
            C("campaign", "str", nullable=True),
            C("description", "str", nullable=True),
        ),
        required=False,
        doc="Manual flags shown beside computed ones (extra columns are kept).",
    ),
)


def tables_of(domain: str) -> tuple[Table, ...]:
    """The declared tables of one domain, in declaration order."""
    found = tuple(t for t in TABLES if t.domain == domain)
    if not found:
        known = ", ".join(dict.fromkeys(t.domain for t in TABLES))
        raise KeyError(f"unknown domain {domain!r}; expected one of {known}")
    return found


def table(domain: str, name: str) -> Table:
    """The declaration of ``domain/name``."""
    for t in tables_of(domain):
        if t.name == name:
            return t
    raise KeyError(f"{domain}/{name}")


def _describe(col: Column) -> str:
    parts = [col.kind]
    if col.allowed:
        parts = [" | ".join(f"`{a}`" for a in col.allowed)]
    if col.min is not None:
        parts.append(f">= {col.min:g}")
    if col.ref:
        parts.append(f"-> {col.ref}")
    if not col.required:
        parts.append("optional")
    if col.nullable:
        parts.append("may be empty")
    return ", ".join(parts)


def markdown() -> str:
    """The data-layout table for docs/data.md, generated from the declarations."""
    lines = ["| file | column | type and rule |", "|---|---|---|"]
    for t in TABLES:
        label = f"`{t.domain}/{t.name}`" + ("" if t.required else " (optional)")
        key = f" (key: {', '.join(t.key)})" if t.key else ""
        for i, col in enumerate(t.columns):
            lines.append(f"| {label + key if i == 0 else ''} | {col.name} | {_describe(col)} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown())  # noqa: T201
