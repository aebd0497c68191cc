"""Payments page: executive overview, drivers, declines, cohorts, concentration, churn."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers .hvplot)
import numpy as np
import pandas as pd
import panel as pn
import param

from models import presentation
from models.payments import PaymentsModel
from models.topn import top_and_other
from views.common import (
    axis_formatter,
    bound_table,
    cards_html,
    dim_while_busy,
    empty_plot,
    esc,
    hover,
    label_colour,
    live_plot,
    model_filters,
    money_floats,
    period_line,
    period_widgets,
    show_frame,
    show_later,
    table,
    tabs,
    toggle,
    with_downloads,
    workbook_download,
)

CARDS = [
    ("gpv", True),
    ("approval_rate", True),
    ("approval_rate_value", True),
    ("approval_rate_dedup", True),
    ("fee_revenue", True),
    ("fee_yield_bps", True),
    ("avg_ticket", True),
    ("active_merchants", True),
    ("top10_share", False),
    ("churn_risk_merchants", False),
]
METRICS = {
    "GPV": ("gpv", "GPV ($)"),
    "Approval rate": ("approval_rate", "Approval rate"),
    "Fee yield": ("fee_yield_bps", "Fee yield (bps)"),
}


def trend_plot(weekly: pd.DataFrame, monthly: pd.DataFrame, grain: str, metric: str) -> Any:
    df = weekly if grain == "Week" else monthly
    if df is None or df.empty:
        return empty_plot()
    col, label = METRICS[metric]
    change = {
        "gpv": "gpv_change_pct",
        "approval_rate": "approval_rate_change",
        "fee_yield_bps": "fee_yield_change_bps",
    }[col]
    data = money_floats(df[["period", col, change, "days"]])
    data["period"] = pd.to_datetime(data["period"])
    # A first or last week (month) cut by the period's dates sums fewer days: drawn apart
    # (hollow grey points on a dashed grey line), so its dip is read as the calendar, not the
    # business. The numbers are the model's, unchanged.
    full_days = 7 if grain == "Week" else data["period"].dt.days_in_month
    part = (data["days"] < full_days).to_numpy()
    solid = data.assign(**{col: data[col].where(~part)})  # a gap at each partial point
    # the segments that reach a partial point, dashed: each its two ends, then a gap
    ends = [i for i in range(len(data) - 1) if part[i] or part[i + 1]]
    rows = [r for i in ends for r in (i, i + 1, None)]
    dashed = pd.DataFrame(
        {
            "period": [data["period"].iloc[r] if r is not None else pd.NaT for r in rows],
            col: [data[col].iloc[r] if r is not None else np.nan for r in rows],
        },
        columns=["period", col],
    )
    line = solid.hvplot.line(
        x="period",
        y=col,
        hover_cols=[change],
        ylabel=label,
        xlabel=grain,
        responsive=True,
        height=300,
        title=f"{metric} by {grain.lower()}",
        yformatter=axis_formatter(presentation.field(col).kind),
        hover_tooltips=[("Period", "@{period}{%F}"), *hover(col, change)],
    )
    grey = "#8c959f"  # reads on white and on the dark theme's background
    partial_line = hv.Curve(dashed, "period", col).opts(
        color=grey, line_dash="dashed", line_width=2, tools=[]
    )
    marks = hv.Scatter(data[part], "period", [col, "days"], label=f"Partial {grain.lower()}").opts(
        marker="circle",
        size=13,
        fill_alpha=0,  # hollow on either theme
        line_color=grey,
        line_width=3,
        tools=["hover"],
        hover_tooltips=[
            (f"Partial {grain.lower()}", "@{period}{%F}"),
            *hover(col),
            ("Days in the period", "@{days}"),
        ],
    )
    # padded, so the hollow points at the ends are whole circles, not cut by the frame
    return (line * partial_line * marks).opts(
        legend_position="top_left", show_legend=False, padding=(0.02, 0.08)
    )


def trend_caption(grain: str, metric: str) -> str:
    """The line under the trend: what the hollow grey points are, in words."""
    unit = grain.lower()
    why = "fewer days, not a drop" if metric == "GPV" else "fewer days: fewer payments behind it"
    return (
        f"Hollow grey points on a dashed line: a first or last {unit} only partly in the "
        f"period ({why})."
    )


def decline_heatmap(declines: pd.DataFrame) -> Any:
    if declines is None or declines.empty:
        return empty_plot("No declines for these filters")
    cells = declines.sort_values(["channel", "decline_reason"])  # axes in name order
    cells = cells.assign(
        decline_reason=cells["decline_reason"].map(presentation.code_label),
        decline_class=cells["decline_class"].map(presentation.code_label),
    )
    return hv.HeatMap(
        cells,
        kdims=["channel", "decline_reason"],
        vdims=["count", "decline_rate", "decline_class"],
    ).opts(
        tools=["hover"],
        hover_tooltips=[
            ("Channel", "@{channel}"),
            ("Decline reason", "@{decline_reason}"),
            *hover("count", "decline_rate", "decline_class"),
        ],
        colorbar=True,
        clabel="Declines",
        colorbar_opts={"formatter": axis_formatter("count")},
        cmap="Reds",
        responsive=True,
        height=360,
        title="Declines by reason and channel",
        xlabel="Channel",
        ylabel="Decline reason",
    )


def cohort_heatmap(cohorts: pd.DataFrame, measure: str) -> Any:
    if cohorts is None or cohorts.empty:
        return empty_plot("No onboarding cohorts inside the data")
    data = money_floats(cohorts)
    data["cohort"] = pd.to_datetime(data["cohort"]).dt.strftime("%b %Y")
    label = {"active_share": "Merchants active", "gpv_retention": "GPV vs month 0"}[measure]
    return hv.HeatMap(data, kdims=["k", "cohort"], vdims=[measure, "merchants"]).opts(
        tools=["hover"],
        hover_tooltips=[
            ("Cohort", "@{cohort}"),
            ("Months since onboarding", "@{k}"),
            *hover(measure, "merchants"),
        ],
        colorbar=True,
        clabel=label,
        colorbar_opts={"formatter": axis_formatter("percent")},
        cmap="viridis",  # no white end: a pale cell is never mistaken for a blank one
        clipping_colors={"NaN": "rgba(0, 0, 0, 0)"},
        responsive=True,
        height=380,
        # cohorts span the data, whatever the period chosen (the other filters apply): said
        # in full in `COHORT_CAPTION` under the chart (a longer title was cut at 1024 px)
        title=f"{label} by onboarding cohort, all dates",
        xlabel="Months since onboarding",
        ylabel="Onboarding cohort",
        invert_yaxis=True,
    )


#: The line under the cohort chart: what its rows, columns and empty cells are.
COHORT_CAPTION = (
    "A cohort is the merchants onboarded in one month; month 0 is that month. Cohorts use all "
    "the dates in the data, whatever the period chosen (the other filters apply). An empty "
    "cell is a month not observable yet."
)


def lorenz_plot(curve: pd.DataFrame) -> Any:
    if curve is None or len(curve) < 2:
        return empty_plot()
    line = curve.hvplot.line(
        x="merchant_share",
        y="gpv_share",
        label="Lorenz curve",
        xlabel="Share of merchants (smallest first)",
        ylabel="Share of GPV",
        responsive=True,
        height=320,
        xformatter=axis_formatter("percent"),
        yformatter=axis_formatter("percent"),
        hover_tooltips=hover("merchant_share", "gpv_share"),
    )
    # in the theme's text colour, so the line and its legend sample read on both themes
    diag = hv.Curve([(0, 0), (1, 1)], label="Equal shares").opts(
        line_dash="dashed", color=label_colour(), line_width=2
    )
    return (line * diag).opts(  # the legend where neither curve goes: top left
        responsive=True, height=320, title="GPV concentration", legend_position="top_left"
    )


NOUNS = {"segment": "segment", "industry": "industry", "region": "region"}


def breakdown_plot(df: pd.DataFrame, dim: str, compared: str = "previous period") -> Any:
    """GPV by ``dim``, this period against the compared one: ``compared`` names it in words
    (`DomainModel.compared_name`: ``previous quarter``, ``same period last year``) in the
    legend, the hover and the title."""
    if df is None or df.empty:
        return empty_plot()
    # the largest first (at the top), past eight or so the rest as one "Other" bar
    ranked = top_and_other(df, dim, by="gpv", sums=["gpv", "gpv_prev"], noun=NOUNS[dim])
    data = money_floats(ranked.iloc[::-1][[dim, "gpv", "gpv_prev"]]).melt(
        id_vars=dim, var_name="Period", value_name="GPV"
    )
    data["Period"] = data["Period"].map({"gpv": "This period", "gpv_prev": compared.capitalize()})
    return data.hvplot.barh(
        x=dim,
        y="GPV",
        by="Period",
        responsive=True,
        height=max(300, 60 * data[dim].nunique()),
        xformatter=axis_formatter("money"),
        hover_tooltips=[
            (presentation.label(dim), f"@{{{dim}}}"),
            ("Period", "@{Period}"),
            *hover("GPV", kinds={"GPV": "money"}),
        ],
        title=f"GPV by {presentation.label(dim).lower()} vs the {compared}",
        xlabel="",
        ylabel="GPV",
    ).opts(multi_level=False, legend_position="bottom")  # one name per pair, colours below


class PaymentsView(pn.viewable.Viewer):
    """Displays a `PaymentsModel`; widgets come from its parameters."""

    model = param.ClassSelector(class_=PaymentsModel, doc="The model shown.")
    grain = param.Selector(default="Week", objects=["Week", "Month"], doc="Trend grain.")
    metric = param.Selector(default="GPV", objects=list(METRICS), doc="Trend metric.")
    cohort_measure = param.Selector(
        default="active_share",
        objects={"Merchants active": "active_share", "GPV retention": "gpv_retention"},
        doc="Cohort cell measure.",
    )
    drill_cell = param.Tuple(
        default=None, length=2, allow_None=True, doc="(decline reason, channel) drilled into."
    )
    breakdown_dim = param.Selector(
        default="segment",
        objects={"Segment": "segment", "Industry": "industry", "Region": "region"},
        doc="Drivers dimension.",
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        m = self.model
        self.filters = pn.Column(
            *period_widgets(m),
            *model_filters(m),
            sizing_mode="stretch_width",
        )
        self.cards = cards = pn.pane.HTML(  # a named handle for tests and callers
            pn.bind(cards_html, CARDS, m.param.kpis, m.param.kpis_prev, m, m.param.computations),
            sizing_mode="stretch_width",
        )
        trend = live_plot(
            trend_plot, m.param.weekly, m.param.monthly, self.param.grain, self.param.metric
        )
        overview = pn.Column(
            cards,
            pn.Row(
                toggle(self.param.grain),
                toggle(self.param.metric),
            ),
            trend,
            pn.pane.Markdown(
                pn.bind(trend_caption, self.param.grain, self.param.metric),
                styles={"font-size": "0.9em"},
                margin=(0, 10),
            ),
            name="Overview",
        )
        # a named handle for tests and callers; its "prev" titles name the comparison
        self.drivers_table = drivers_table = table(None, model=m)

        def _drivers(*_: Any) -> None:
            show_later(drivers_table, m.breakdowns.get(self.breakdown_dim, pd.DataFrame()))

        m.param.watch(_drivers, "breakdowns")
        self.param.watch(_drivers, "breakdown_dim")
        _drivers()
        drivers = pn.Column(
            toggle(self.param.breakdown_dim),
            live_plot(
                lambda b, d: breakdown_plot(b.get(d), d, m.compared_name()),
                m.param.breakdowns,
                self.param.breakdown_dim,
            ),
            with_downloads(drivers_table, "drivers"),
            name="Drivers",
        )
        declines_table = bound_table(m, "declines", selectable=1)
        declines_table.param.watch(self._select_cell, "selection")
        self._drill_text = pn.pane.Markdown(
            "Click a cell of the heatmap (or a row of the table) to see the merchants behind it."
        )
        self._drill_merchants = table(None)
        self._drill_transactions = table(None)
        m.param.watch(lambda *_: self._drill(), [*m.FILTERS, "start", "end"])
        declines = pn.Column(
            live_plot(self._heatmap, m.param.declines, in_place=False),  # keeps its Tap stream
            with_downloads(declines_table, "declines"),
            self._drill_text,
            with_downloads(self._drill_merchants, "declines_cell_merchants"),
            with_downloads(self._drill_transactions, "declines_cell_transactions"),
            name="Declines",
        )
        cohorts = pn.Column(
            toggle(self.param.cohort_measure),
            live_plot(cohort_heatmap, m.param.cohorts, self.param.cohort_measure),
            pn.pane.Markdown(COHORT_CAPTION, styles={"font-size": "0.9em"}, margin=(0, 10)),
            name="Cohorts",
        )
        top_table = bound_table(m, "top_merchants")
        conc_text = pn.pane.Markdown(pn.bind(self._concentration_text, m.param.kpis))
        concentration = pn.Column(
            conc_text,
            live_plot(lorenz_plot, m.param.lorenz_curve),
            with_downloads(top_table, "top_merchants"),
            name="Concentration",
        )
        # Not grouped by account manager: Tabulator writes group headers as HTML, so a hostile
        # name would run. The summary above groups them; a header filter narrows the list.
        churn_table = bound_table(m, "churn", header_filters=True)
        am_table = bound_table(m, "am_summary")
        churn = pn.Column(
            pn.pane.Markdown("**Account-manager summary**"),
            with_downloads(am_table, "account_managers"),
            pn.pane.Markdown(
                "**Churn risk and interventions** (GPV in the last 28 days of the "
                "period at most 40% of the 28 days before)"
            ),
            with_downloads(churn_table, "churn_risk"),
            name="Churn",
        )
        self.tabs = tabs(overview, drivers, declines, cohorts, concentration, churn)
        self._layout = pn.Column(
            pn.Row(pn.pane.Markdown("## Payments analytics"), pn.Spacer(), workbook_download(m)),
            period_line(m),
            self.tabs,
            dim_while_busy(m, self.filters),
            sizing_mode="stretch_width",
        )

    def _heatmap(self, declines: pd.DataFrame) -> Any:
        """The heatmap; clicking a cell drills into it."""
        plot = decline_heatmap(declines)
        if isinstance(plot, hv.HeatMap):
            plot = plot.opts(tools=["hover", "tap"])
            hv.streams.Tap(source=plot).add_subscriber(self._tapped)
        return plot

    def _tapped(self, x: Any = None, y: Any = None) -> None:
        if x is not None and y is not None:  # the heatmap shows reasons by their labels
            reasons = self.model.declines["decline_reason"].unique()
            codes = {str(presentation.code_label(c)): c for c in reasons}
            self.drill_cell = (codes.get(str(y), str(y)), str(x))

    def _select_cell(self, event: Any) -> None:
        table_rows = self.model.declines
        if event.new and table_rows is not None and len(table_rows) > event.new[0]:
            row = table_rows.iloc[event.new[0]]
            self.drill_cell = (row["decline_reason"], row["channel"])

    @param.depends("drill_cell", watch=True)
    def _drill(self) -> None:
        if not self.drill_cell:
            return
        reason, channel = (str(v) for v in self.drill_cell)
        cell = self.model.decline_drill(reason, channel)
        self._drill_text.object = (
            f"**{esc(presentation.code_label(reason))} x {esc(channel)}**: {cell['total']:,} "
            "declines in the period; the merchants with most of them, and the latest declined "
            "transactions."
        )
        show_frame(self._drill_merchants, cell["merchants"])
        show_frame(self._drill_transactions, cell["transactions"])

    @staticmethod
    def _concentration_text(kpis: dict[str, Any]) -> str:
        hhi_v, gini_v = kpis.get("hhi"), kpis.get("gini")
        top10, top1 = kpis.get("top10_share"), kpis.get("top1pct_share")

        def f(v, s):
            return "n/a" if v is None else s.format(v)

        return (
            f"**HHI {f(hhi_v, '{:,.0f}')}**: sum of squared GPV shares in percent (0-10,000; "
            f"above 2,500 is highly concentrated).  \n"
            f"**Gini {f(gini_v, '{:.3f}')}**: 0 when every merchant processes the same GPV, "
            f"near 1 when one merchant processes almost all.  \n"
            f"Top 10 merchants hold **{f(top10 and top10 * 100, '{:.1f}%')}** of GPV; the top 1% "
            f"hold **{f(top1 and top1 * 100, '{:.1f}%')}**."
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
