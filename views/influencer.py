"""Influencer ROI page: Overview, Product & Brand, Influencers (the original report's tabs)."""

from __future__ import annotations

from typing import Any

import hvplot.pandas  # noqa: F401  (registers .hvplot)
import pandas as pd
import panel as pn
import param

from models import presentation
from models.influencer import InfluencerModel
from models.topn import top_and_other
from views.common import (
    axis_formatter,
    bound_table,
    cards_html,
    checks_notice,
    dim_while_busy,
    empty_plot,
    for_display,
    hover,
    live_plot,
    model_filters,
    money_floats,
    period_line,
    period_widgets,
    show_later,
    table,
    tabs,
    with_downloads,
    workbook_download,
)

CARDS = [
    ("revenue_total", True),
    ("revenue_influenced", True),
    ("payout", None),  # neither good nor bad on its own: ROI and ROAS say that
    ("net_profit", True),
    ("roi_pct", True),
    ("roas", True),
    ("blended_roas", True),
    ("engagement_rate_pct", True),
]
INFLUENCER_CARDS = [
    ("active_influencers", True),
    ("engagement_rate_pct", True),
    ("posts", True),
    ("reach", True),
    ("revenue_per_influencer", True),
]
LABELS = {
    "source": "Influenced vs organic",
    "brand": "Brand",
    "platform": "Platform",
    "product": "Product",
    "campaign": "Campaign",
}
#: What a share chart's bars are by ``dim``: revenue and net profit (`share_plot`).
TITLES = {
    "source": "Revenue and net profit, influenced vs organic",
    "brand": "Revenue and net profit by brand",
    "platform": "Revenue and net profit by platform",
    "product": "Revenue and net profit by product",
    "campaign": "Revenue and net profit by campaign",
}
#: Why Organic has no net-profit bar (`models.influencer`: organic sales carry no influencer
#: cost, and no profit is attributed to them), under the influenced-vs-organic chart.
ORGANIC_CAPTION = (
    "Organic has no net-profit bar: organic sales carry no influencer cost, so no profit is "
    "attributed to them."
)
#: The columns of a share table that add up, and what one row of it is called (for "Other").
SHARE_SUMS = ["revenue", "revenue_influenced", "payout", "gross_profit", "net_profit", "share"]
NOUNS = {"source": "source", "brand": "brand", "platform": "platform"}


def share_plot(shares: dict[str, pd.DataFrame], dim: str) -> Any:
    """Revenue and net profit by ``dim`` (horizontal bars, hover with values): the largest first,
    and past eight or so one "Other" bar for the rest (`models.topn`)."""
    ranked = top_and_other(
        shares.get(dim), dim, by="revenue", sums=SHARE_SUMS, noun=NOUNS.get(dim, dim)
    )
    df = for_display(ranked)
    if df.empty or df["revenue"].fillna(0).abs().sum() == 0:
        return empty_plot()
    folded = len(df) < len(shares.get(dim))  # the rest are one "Other" bar
    if folded:  # the largest at the top (horizontal bars draw the first row at the bottom)
        df = df.iloc[::-1]
    else:
        # every name shown: in name order from the top, so a change of the filters that keeps
        # the names updates the chart in place (views.common.LivePlot), faster than a redraw
        df = df.sort_values(dim, key=lambda c: c.astype(str), ascending=False)
    data = df[[dim, "revenue", "net_profit"]].melt(id_vars=dim, var_name="Measure")
    data["Measure"] = data["Measure"].map(presentation.label)
    title = TITLES[dim] + (" (largest first, the rest as Other)" if folded else "")
    return data.hvplot.barh(
        x=dim,
        y="value",
        by="Measure",
        responsive=True,
        height=max(220, 36 * len(df) + 80),
        xformatter=axis_formatter("money"),
        ylabel="",
        xlabel="",
        title=title,
        hover_tooltips=[
            (LABELS[dim], f"@{{{dim}}}"),
            ("Measure", "@{Measure}"),
            *hover("value", kinds={"value": "money"}),
        ],
    ).opts(multi_level=False, legend_position="bottom")  # one label per bar pair, colours


def trend_plot(trend: pd.DataFrame, grain: str) -> Any:
    if trend is None or trend.empty:
        return empty_plot()
    data = money_floats(trend).melt(
        id_vars="period",
        value_vars=["revenue", "payout", "net_profit"],
        var_name="Measure",
        value_name="amount",
    )
    data["Measure"] = data["Measure"].map(presentation.label)
    return data.hvplot.line(
        x="period",
        y="amount",
        by="Measure",
        responsive=True,
        height=300,
        yformatter=axis_formatter("money"),
        ylabel="Amount",
        xlabel=grain.capitalize(),
        hover_tooltips=[
            ("Period", "@{period}{%F}"),
            ("Measure", "@{Measure}"),
            *hover("amount"),
        ],
        title=f"Revenue, payout and net profit by {grain}",
    )


def product_platform_plot(df: pd.DataFrame) -> Any:
    if df is None or df.empty or df["revenue"].sum() == 0:
        return empty_plot()
    df = top_and_other(
        df, "product", by="revenue", sums=["revenue"], noun="product", split="platform"
    )
    df = for_display(df).rename(columns={"platform": "Platform"})
    return df.hvplot.bar(
        x="product",
        y="revenue",
        by="Platform",
        stacked=True,
        responsive=True,
        height=320,
        rot=30,
        yformatter=axis_formatter("money"),
        ylabel="Revenue",
        xlabel="Product",
        title="Product revenue by platform",
        hover_tooltips=[("Product", "@{product}"), ("Platform", "@{Platform}"), *hover("revenue")],
    )


def distinct_names(df: pd.DataFrame) -> pd.DataFrame:
    """Influencers named apart on a chart's axis: a name two of them share gets each one's ID
    (``Kai Okafor (INF0069)``), so their bars are not drawn as one."""
    names = df["name"].astype(str)
    shared = names.duplicated(keep=False)
    if shared.any():
        df = df.assign(name=names.where(~shared, names + " (" + df["influencer_id"] + ")"))
    return df


def valued_names(df: pd.DataFrame, text: Any) -> pd.DataFrame:
    """``df`` with ``bar``: each name and its values, ``text(row)`` (``Kai Weber: -100.0%,
    lost $1.23K``), for a chart's axis, so bars that reach the axis' end still say them."""
    return df.assign(bar=[f"{r.name}: {text(r)}" for r in df.itertuples()])


def roi_plot(worst: pd.DataFrame) -> Any:
    df = distinct_names(for_display(worst))
    if df.empty:
        return empty_plot("No influencer with negative ROI")
    df = valued_names(
        df,
        lambda r: (
            f"{presentation.full(r.roi_pct, 'pct')}, lost "
            + presentation.compact(-r.net_profit, "money", digits=3)
        ),
    )
    return df.hvplot.barh(
        x="bar",
        y="roi_pct",
        color="#cf222e",
        responsive=True,
        height=320,
        ylabel="ROI",
        xformatter=axis_formatter("pct"),
        xlabel="",
        title="Worst 10 by ROI (tied: the most money lost first)",
        hover_cols=["name", "influencer_id", "payout", "revenue"],
        hover_tooltips=[
            ("Name", "@{name}"),
            *hover("influencer_id", "roi_pct", "payout", "revenue"),
        ],
        colorbar=False,
    ).opts(invert_yaxis=True)  # the worst at the top, as the top 10 has the best


def top_plot(top: pd.DataFrame) -> Any:
    df = distinct_names(for_display(top))
    if df.empty:
        return empty_plot()
    df = valued_names(df, lambda r: presentation.compact(r.revenue, "money", digits=3))
    return df.hvplot.barh(
        x="bar",
        y="revenue",
        responsive=True,
        height=320,
        xformatter=axis_formatter("money"),
        ylabel="Influenced revenue",
        xlabel="",
        title="Top 10 by influenced revenue",
        hover_cols=["name", "influencer_id", "payout", "roi_pct"],
        hover_tooltips=[
            ("Name", "@{name}"),
            *hover("influencer_id", "revenue", "payout", "roi_pct"),
        ],
    ).opts(invert_yaxis=True)


class InfluencerView(pn.viewable.Viewer):
    """Displays an `InfluencerModel`; widgets come from its parameters."""

    model = param.ClassSelector(class_=InfluencerModel, doc="The model shown.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        m = self.model
        self.filters = pn.Column(
            *period_widgets(m),
            *model_filters(m),
            pn.widgets.FloatSlider.from_param(
                m.param.cogs, name="Cost of goods (share of revenue)", step=0.01, format="0%"
            ),
            pn.widgets.Select.from_param(  # the models in words, their codes as values
                m.param.attribution,
                name=presentation.label("attribution"),
                options={presentation.code_label(a): a for a in m.param.attribution.objects},
            ),
            sizing_mode="stretch_width",
        )
        warnings = checks_notice(
            m,
            "**Check the payouts file.** This page counts the payouts worked out from each "
            "influencer's payment terms.",
        )

        def shares(dim: str) -> Any:
            return live_plot(share_plot, m.param.shares, dim)

        self.cards = pn.pane.HTML(
            pn.bind(cards_html, CARDS, m.param.kpis, m.param.kpis_prev, m, m.param.computations),
            sizing_mode="stretch_width",
        )
        overview = pn.Column(
            self.cards,
            # one under another: side by side, three bar charts of names were unreadable at 1024 px
            shares("source"),
            pn.pane.Markdown(ORGANIC_CAPTION, styles={"font-size": "0.9em"}, margin=(0, 10)),
            *(shares(d) for d in ("brand", "platform")),
            live_plot(trend_plot, m.param.trend, m.param.trend_grain),
            live_plot(product_platform_plot, m.param.product_platform),
            name="Overview",
        )
        share_tables = {d: table(m.shares.get(d)) for d in ("product", "brand", "campaign")}
        m.param.watch(
            lambda e: [show_later(w, e.new.get(d)) for d, w in share_tables.items()],
            "shares",
        )
        product_brand = pn.Column(
            *(
                pn.Column(shares(d), with_downloads(share_tables[d], f"shares_by_{d}"))
                for d in ("product", "brand", "campaign")
            ),
            name="Product & Brand",
        )
        full = bound_table(m, "by_influencer", header_filters=True)
        influencers = pn.Column(
            pn.pane.HTML(
                pn.bind(
                    self._influencer_cards,
                    m.param.page_kpis,
                    m.param.page_kpis_prev,
                    m.param.computations,
                ),
                sizing_mode="stretch_width",
            ),
            # one above the other: side by side at 1024 px each had half the width for the
            # names and values on its axis, and the bars were squeezed
            live_plot(top_plot, m.param.top_influencers),
            live_plot(roi_plot, m.param.worst_influencers),
            pn.pane.Markdown(
                "**Every influencer** (revenue is Influenced revenue credited by the chosen "
                "attribution model; sort by clicking a header, filter under it)"
            ),
            with_downloads(full, "influencers"),
            name="Influencers",
        )
        self.tabs = tabs(overview, product_brand, influencers)
        self._layout = pn.Column(
            pn.Row(
                pn.pane.Markdown("## Influencer marketing ROI"), pn.Spacer(), workbook_download(m)
            ),
            period_line(m),
            warnings,
            self.tabs,
            dim_while_busy(m, self.filters),
            sizing_mode="stretch_width",
        )

    def _influencer_cards(self, kpis: dict[str, Any], prev: dict[str, Any], n: int = 0) -> str:
        return cards_html(INFLUENCER_CARDS, kpis, prev, self.model, n)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
