"""Influencer ROI page: Overview, Product & Brand, Influencers (the original report's tabs)."""

from __future__ import annotations

from typing import Any

import hvplot.pandas  # noqa: F401  (registers .hvplot)
import pandas as pd
import panel as pn
import param

from models.influencer import InfluencerModel
from views.common import (
    bound_table,
    cards_html,
    choice_filter,
    empty_plot,
    esc,
    for_display,
    live_plot,
    show_frame,
    table,
    with_downloads,
    workbook_download,
)

CARDS = [
    ("Revenue", "revenue_total", "money", True),
    ("Influenced revenue", "revenue_influenced", "money", True),
    ("Payout", "payout", "money", False),
    ("Net profit", "net_profit", "money", True),
    ("ROI", "roi_pct", "pct", True),
    ("ROAS", "roas", "ratio", True),
    ("Blended ROAS", "blended_roas", "ratio", True),
    ("Engagement rate", "engagement_rate_pct", "pct", True),
]
INFLUENCER_CARDS = [
    ("Active influencers", "active_influencers", "count", True),
    ("Avg engagement rate", "engagement_rate_pct", "pct", True),
    ("Posts", "posts", "count", True),
    ("Reach", "reach", "count", True),
    ("Revenue per influencer", "revenue_per_influencer", "money", True),
]
LABELS = {
    "source": "Influenced vs organic",
    "brand": "Brand",
    "platform": "Platform",
    "product": "Product",
    "campaign": "Campaign",
}


def share_plot(shares: dict[str, pd.DataFrame], dim: str) -> Any:
    """Revenue and net profit by ``dim`` (horizontal bars, hover with values)."""
    df = for_display(shares.get(dim))
    if df.empty or df["revenue"].fillna(0).abs().sum() == 0:
        return empty_plot()
    # Bars in name order from the top (horizontal bars draw the first row at the bottom; the
    # table beside it ranks by revenue): a stable order lets the chart update in place when
    # only the values change (views.common.LivePlot).
    df = df.sort_values(dim, key=lambda c: c.astype(str), ascending=False)
    data = df[[dim, "revenue", "net_profit"]].melt(id_vars=dim, var_name="measure")
    data["measure"] = data["measure"].map({"revenue": "Revenue", "net_profit": "Net profit"})
    return data.hvplot.barh(
        x=dim,
        y="value",
        by="measure",
        responsive=True,
        height=max(220, 36 * len(df) + 80),
        xformatter="$%.0f",
        ylabel="",
        xlabel="$",
        title=LABELS[dim],
    )


def trend_plot(trend: pd.DataFrame, grain: str) -> Any:
    if trend is None or trend.empty:
        return empty_plot()
    data = trend.melt(
        id_vars="period",
        value_vars=["revenue", "payout", "net_profit"],
        var_name="measure",
        value_name="amount",
    )
    return data.hvplot.line(
        x="period",
        y="amount",
        by="measure",
        responsive=True,
        height=300,
        yformatter="$%.0f",
        ylabel="$",
        xlabel=grain.capitalize(),
        title=f"Revenue, payout and net profit by {grain}",
    )


def product_platform_plot(df: pd.DataFrame) -> Any:
    if df is None or df.empty or df["revenue"].sum() == 0:
        return empty_plot()
    return df.hvplot.bar(
        x="product",
        y="revenue",
        by="platform",
        stacked=True,
        responsive=True,
        height=320,
        rot=30,
        yformatter="$%.0f",
        ylabel="Revenue ($)",
        title="Product revenue by platform",
    )


def roi_plot(worst: pd.DataFrame) -> Any:
    df = for_display(worst)
    if df.empty:
        return empty_plot("No influencer with negative ROI")
    return df.hvplot.barh(
        x="name",
        y="roi_pct",
        color="roi_pct",
        cmap="Reds_r",
        responsive=True,
        height=320,
        xlabel="ROI (%)",
        ylabel="",
        title="Worst 10 by ROI",
        hover_cols=["influencer_id", "payout", "revenue"],
        colorbar=False,
    )


def top_plot(top: pd.DataFrame) -> Any:
    df = for_display(top)
    if df.empty:
        return empty_plot()
    return df.hvplot.barh(
        x="name",
        y="revenue",
        responsive=True,
        height=320,
        xformatter="$%.0f",
        xlabel="Revenue ($)",
        ylabel="",
        title="Top 10 by revenue",
        hover_cols=["influencer_id", "payout", "roi_pct"],
    ).opts(invert_yaxis=True)


class InfluencerView(pn.viewable.Viewer):
    """Displays an `InfluencerModel`; widgets come from its parameters."""

    model = param.ClassSelector(class_=InfluencerModel, doc="The model shown.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        m = self.model
        self.filters = pn.Column(
            pn.widgets.DatePicker.from_param(m.param.start, name="From"),
            pn.widgets.DatePicker.from_param(m.param.end, name="To"),
            *(choice_filter(m.param[p], name=p.capitalize()) for p in m.FILTERS),
            pn.widgets.FloatSlider.from_param(m.param.cogs, name="COGS share", step=0.01),
            pn.widgets.Select.from_param(m.param.attribution, name="Attribution model"),
            sizing_mode="stretch_width",
        )
        warnings = pn.pane.Alert(
            pn.bind(lambda w: "\n\n".join(esc(x) for x in w), m.param.warnings),
            alert_type="warning",
            visible=bool(m.warnings),
            sizing_mode="stretch_width",
        )
        m.param.watch(lambda e: setattr(warnings, "visible", bool(e.new)), "warnings")

        def shares(dim: str) -> Any:
            return live_plot(share_plot, m.param.shares, dim)

        overview = pn.Column(
            pn.pane.HTML(
                pn.bind(cards_html, CARDS, m.param.kpis, m.param.kpis_prev),
                sizing_mode="stretch_width",
            ),
            pn.Row(shares("source"), shares("brand"), shares("platform")),
            live_plot(trend_plot, m.param.trend, m.param.trend_grain),
            live_plot(product_platform_plot, m.param.product_platform),
            name="Overview",
        )
        share_tables = {d: table(m.shares.get(d)) for d in ("product", "brand", "campaign")}
        m.param.watch(
            lambda e: [show_frame(w, e.new.get(d)) for d, w in share_tables.items()],
            "shares",
        )
        product_brand = pn.Column(
            *(
                pn.Row(shares(d), with_downloads(share_tables[d], f"shares_by_{d}"))
                for d in ("product", "brand", "campaign")
            ),
            name="Product & Brand",
        )
        full = bound_table(m, "by_influencer", header_filters=True)
        influencers = pn.Column(
            pn.pane.HTML(
                pn.bind(self._influencer_cards, m.param.page_kpis, m.param.page_kpis_prev),
                sizing_mode="stretch_width",
            ),
            pn.Row(
                live_plot(top_plot, m.param.top_influencers),
                live_plot(roi_plot, m.param.worst_influencers),
            ),
            pn.pane.Markdown(
                "**Every influencer** (revenue is Influenced revenue credited by the chosen "
                "attribution model; sort by clicking a header, filter under it)"
            ),
            with_downloads(full, "influencers"),
            name="Influencers",
        )
        self._layout = pn.Column(
            pn.Row(
                pn.pane.Markdown("## Influencer marketing ROI"), pn.Spacer(), workbook_download(m)
            ),
            warnings,
            pn.Tabs(overview, product_brand, influencers, dynamic=True),
            sizing_mode="stretch_width",
        )

    @staticmethod
    def _influencer_cards(kpis: dict[str, Any], prev: dict[str, Any]) -> str:
        return cards_html(INFLUENCER_CARDS, kpis, prev)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
