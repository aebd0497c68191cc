"""Reconciliation page: summary, ROAS both ways, CAC, funnel, bridge, daily variance, exceptions."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers .hvplot)
import pandas as pd
import panel as pn
import param

from models import presentation
from models.reconciliation import ReconciliationModel, no_exceptions
from models.topn import top_and_other
from views.common import (
    axis_formatter,
    bound_table,
    cards_html,
    checks_notice,
    choice_filter,
    dim_while_busy,
    empty_plot,
    for_display,
    hover,
    label_colour,
    live_plot,
    model_filters,
    money_floats,
    period_line,
    period_widgets,
    show_frame,
    table,
    tabs,
    toggle,
    with_downloads,
    workbook_download,
)
from views.review import ReviewView

CARDS = [
    ("spend", None),  # spend up or down is neither good nor bad: ROAS and CAC say that
    ("revenue_finance", True),
    ("revenue_marketing", True),
    ("roas_finance", True),
    ("discrepancy_pct", False),
    ("match_rate", True),
    ("cac", False),
]


#: Campaigns the ROAS chart shows by name before folding the rest into "Other": more than the
#: other charts' eight, since the campaigns with little spend are often the best or the worst
#: ROAS (the 1M demo's 12: four of them, 5.2x to 7.4x, were hidden in one "Other" bar).
ROAS_CAMPAIGNS = 20


def roas_plot(by_campaign: pd.DataFrame) -> Any:
    # the campaigns with most spend first (at the top); past eight or so the rest as one bar
    # whose ROAS is their pooled revenue / spend (`models.topn`)
    ranked = top_and_other(
        by_campaign,
        "campaign",
        by="spend",
        sums=["spend", "revenue_marketing", "revenue_finance"],
        ratios={
            "roas_marketing": ("revenue_marketing", "spend"),
            "roas_finance": ("revenue_finance", "spend"),
        },
        noun="campaign",
        n=ROAS_CAMPAIGNS,
    )
    df = for_display(ranked).iloc[::-1]
    if df.empty or df[["roas_marketing", "roas_finance"]].isna().all().all():
        return empty_plot()
    data = df[["campaign", "roas_marketing", "roas_finance"]].melt(
        id_vars="campaign", var_name="View", value_name="ROAS"
    )
    data["View"] = data["View"].map({"roas_marketing": "Marketing", "roas_finance": "Finance"})
    return data.hvplot.barh(
        x="campaign",
        y="ROAS",
        by="View",
        responsive=True,
        height=max(320, 44 * data["campaign"].nunique() + 80),
        title="ROAS by campaign, most spend first: marketing vs finance",
        xformatter=axis_formatter("multiple"),
        xlabel="",
        ylabel="ROAS",
        hover_tooltips=[
            ("Campaign", "@{campaign}"),
            ("View", "@{View}"),
            ("ROAS", "@{ROAS}{0.00}x"),
        ],
    ).opts(multi_level=False, legend_position="bottom")


def cac_plot(by_channel: pd.DataFrame) -> Any:
    df = for_display(by_channel)
    if df.empty or df["cac"].isna().all():
        return empty_plot("No checkout users for these filters")
    return df.hvplot.bar(
        x="channel",
        y="cac",
        responsive=True,
        height=320,
        yformatter=axis_formatter("money"),
        title="CAC by channel",
        ylabel="CAC",
        xlabel="Channel",
        hover_cols=["spend", "checkout_users"],
        hover_tooltips=[("Channel", "@{channel}"), *hover("cac", "spend", "checkout_users")],
    )


def funnel_plot(funnel: pd.DataFrame, campaign: str | None) -> Any:
    """Distinct users per step; each step after the first carries its conversion from the step
    before (the model's ``step_conversion``) over its bar."""
    if funnel is None or funnel.empty or not campaign:
        return empty_plot()
    df = funnel[funnel["campaign"] == campaign]
    if df.empty:
        return empty_plot()
    df = df.assign(step=df["step"].map(presentation.code_label))
    df = df.assign(
        label=[
            presentation.full(u, "count")
            + ("" if pd.isna(c) else f" ({presentation.full(c, 'percent')})")
            for u, c in zip(df["users"], df["step_conversion"], strict=True)
        ]
    )
    bars = df.hvplot.bar(
        x="step",
        y="users",
        responsive=True,
        height=320,
        hover_cols=["step_conversion"],
        title=f"Funnel: {campaign} (users; in brackets, the share of the step before)",
        ylabel="Distinct users",
        xlabel="Step",
        yformatter=axis_formatter("count"),
        ylim=(0, float(df["users"].max()) * 1.15 or 1.0),
        hover_tooltips=[("Step", "@{step}"), *hover("users", "step_conversion")],
    )
    labels = hv.Labels(df, kdims=["step", "users"], vdims=["label"]).opts(
        text_baseline="bottom",
        text_font_size="10pt",
        yoffset=float(df["users"].max()) * 0.01,
        text_color=label_colour(),
    )
    return bars * labels


def bridge_plot(bridge: pd.DataFrame) -> Any:
    """Waterfall: first and last steps are totals, the others move the running sum. The value
    axis spans the steps (it does not start at 0, so a step of 0.1% of revenue still shows),
    and each bar carries its value."""
    if bridge is None or bridge.empty:
        return empty_plot()
    amounts = [float(v) for v in bridge["amount"]]
    rows, running = [], 0.0
    for i, (step, amount) in enumerate(zip(bridge["step"], amounts, strict=True)):
        total = i in (0, len(amounts) - 1)
        lo, hi = (0.0, amount) if total else (running, running + amount)
        running = amount if total else running + amount
        kind = "total" if total else ("increase" if amount >= 0 else "decrease")
        rows.append(
            {
                "step": presentation.code_label(step),
                "bottom": min(lo, hi),
                "top": max(lo, hi),
                "amount": amount,
                "kind": kind,
                "x": i,
                "text": presentation.compact(amount, "money", digits=3),
            }
        )
    df = pd.DataFrame(rows)
    levels = [
        v for r in rows for v in ((r["top"],) if r["kind"] == "total" else (r["bottom"], r["top"]))
    ]
    lo, hi = min(levels), max(levels)
    pad = max((hi - lo) * 0.25, abs(hi) * 0.002, 1.0)
    floor = max(lo - pad, 0.0) if lo >= 0 else lo - pad
    df["bottom"] = df["bottom"].clip(lower=floor)  # totals drawn from the axis floor
    colours = {"total": "#57606a", "increase": "#1a7f37", "decrease": "#cf222e"}
    bars = hv.Overlay(
        [
            hv.Rectangles(
                [(r.x - 0.4, r.bottom, r.x + 0.4, r.top, r.step, r.amount) for r in g.itertuples()],
                vdims=["step", "amount"],
            ).opts(
                color=colours[kind],
                tools=["hover"],
                line_color=None,
                hover_tooltips=[("Step", "@{step}"), *hover("amount")],
            )
            for kind, g in df.groupby("kind")
        ]
    )
    labels = hv.Labels(
        [(r.x, r.top, r.text) for r in df.itertuples()], kdims=["x", "y"], vdims=["text"]
    ).opts(
        text_baseline="bottom",
        text_font_size="9pt",
        yoffset=(hi - floor) * 0.01,
        text_color=label_colour(),
    )
    ticks = list(zip(df["x"], df["step"], strict=True))
    return (bars * labels).opts(
        responsive=True,
        height=380,
        title="Bridge: marketing revenue to finance revenue (axis starts at "
        + presentation.compact(floor, "money")
        + ")",
        xticks=ticks,
        xrotation=20,
        yformatter=axis_formatter("money"),
        ylim=(floor, hi + pad * 0.6),
        xlabel="",
        ylabel="Revenue",
    )


def variance_plot(daily: pd.DataFrame) -> Any:
    """Daily variance (booked - claimed, lag-aligned) as a time series, unusual days marked."""
    if daily is None or daily.empty:
        return empty_plot()
    d = money_floats(daily).assign(date=pd.to_datetime(daily["date"]))
    line = hv.Curve(d, "date", ["variance", "claimed", "booked_shifted", "score"]).opts(
        color="#0969da",
        tools=["hover"],
        hover_tooltips=[("Date", "@{date}{%F}"), *hover("variance", "claimed", "booked_shifted")],
    )
    flagged = d[d["flagged"].astype(bool)]
    marks = hv.Points(flagged, ["date", "variance"], ["score"], label="Unusual day").opts(
        color="#cf222e",
        size=8,
        tools=["hover"],
        hover_tooltips=[("Unusual day", "@{date}{%F}"), *hover("variance", "score")],
    )
    zero = hv.HLine(0).opts(color="gray", line_dash="dashed", line_width=1)
    title = "Daily variance, finance - marketing " + (
        "(red: unusual days)" if len(flagged) else "(no day past the threshold)"
    )
    return (line * marks * zero).opts(
        responsive=True,
        height=340,
        xlabel="Date",
        ylabel="Variance (finance - marketing)",
        yformatter=axis_formatter("money"),
        title=title,
        legend_position="top_left",
        show_legend=bool(len(flagged)),  # a legend for no points says nothing
    )


def variance_scatter(daily: pd.DataFrame) -> Any:
    """The same days as points: marketing against finance (on the diagonal when they agree)."""
    if daily is None or daily.empty:
        return empty_plot()
    d = money_floats(daily).assign(day=daily["date"].astype(str))
    top = max(d["claimed"].max(), d["booked_shifted"].max(), 1.0)
    diag = hv.Curve([(0, 0), (top, top)], label="Finance = marketing").opts(
        color="gray", line_dash="dashed"
    )
    points = hv.Points(
        d, kdims=["claimed", "booked_shifted"], vdims=["day", "variance", "score", "flagged"]
    ).opts(
        color="flagged",
        cmap={True: "#cf222e", False: "#0969da"},
        size=6,
        tools=["hover"],
        hover_tooltips=[("Date", "@{day}"), *hover("claimed", "booked_shifted", "variance")],
    )
    return (diag * points).opts(
        responsive=True,
        height=360,
        xlabel="Marketing (claimed) per day",
        ylabel="Finance (booked, lag-aligned) per day",
        xformatter=axis_formatter("money"),
        yformatter=axis_formatter("money"),
        title="Each day: marketing against finance (red: unusual days)",
        show_legend=False,
    )


class ReconciliationView(pn.viewable.Viewer):
    """Displays a `ReconciliationModel`; widgets come from its parameters."""

    model = param.ClassSelector(class_=ReconciliationModel, doc="The model shown.")
    funnel_campaign = param.Selector(default=None, objects=[], doc="Campaign of the funnel chart.")
    exception_class = param.ListSelector(
        default=[],
        objects={
            presentation.code_label(c): c
            for c in (
                "amount_mismatch",
                "missing_in_finance",
                "refunded",
                "matched",
                "finance_only",
            )
        },
    )
    exception_flag = param.Selector(
        default="any",
        objects={"Any flag": "any", "Duplicate claim": "duplicate_claim", "Timing": "timing"},
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        m = self.model
        self.filters = pn.Column(
            *period_widgets(m),
            *model_filters(m),
            pn.widgets.FloatInput.from_param(
                m.param.abs_tol, name="Amount tolerance ($)", step=0.01
            ),
            pn.widgets.FloatInput.from_param(
                m.param.rel_tol, name="Relative tolerance (0.01 = 1%)", step=0.01
            ),
            pn.widgets.IntInput.from_param(m.param.timing_days, name="Timing window (days)"),
            pn.widgets.FloatInput.from_param(
                m.param.anomaly_threshold, name="Unusual-day threshold (robust score)"
            ),
            sizing_mode="stretch_width",
        )
        self._sync_campaigns()
        m.param.watch(lambda e: self._sync_campaigns(), "funnel")
        approx = pn.pane.Alert(
            "These claims have no order ID: the comparison is by day x campaign, with each day's "
            "finance revenue allocated to campaigns pro rata to their claims. **Approximate.**",
            alert_type="warning",
            visible=m.approximate,
            sizing_mode="stretch_width",
        )
        self.cards = pn.pane.HTML(
            pn.bind(cards_html, CARDS, m.param.kpis, m.param.kpis_prev, m, m.param.computations),
            sizing_mode="stretch_width",
        )
        #: The tables of the page by output name (named handles, not positions in the layout).
        self.tables = {n: bound_table(m, n) for n in ("bridge", "by_campaign", "by_channel")}
        summary = pn.Column(
            approx,
            self.cards,
            live_plot(bridge_plot, m.param.bridge),
            with_downloads(self.tables["bridge"], "bridge"),
            name="Summary",
        )
        roas = pn.Column(
            live_plot(roas_plot, m.param.by_campaign),
            with_downloads(self.tables["by_campaign"], "roas_by_campaign"),
            live_plot(cac_plot, m.param.by_channel),
            with_downloads(self.tables["by_channel"], "cac_by_channel"),
            name="ROAS & CAC",
        )
        funnel = pn.Column(
            # one campaign's funnel: the sidebar's campaign filter narrows this list
            pn.widgets.Select.from_param(self.param.funnel_campaign, name="Funnel of campaign"),
            live_plot(funnel_plot, m.param.funnel, self.param.funnel_campaign),
            name="Funnel",
        )
        anomalies = bound_table(m, "anomalies")
        daily = pn.Column(
            pn.pane.Markdown(
                pn.bind(
                    lambda lag: (
                        f"Finance is shifted back by the typical lag between claim and "
                        f"booking: **{lag:.0f} day{'' if round(lag) == 1 else 's'}** (median "
                        "over matched orders)."
                    ),
                    m.param.lag_days,
                )
            ),
            live_plot(variance_plot, m.param.daily),
            live_plot(variance_scatter, m.param.daily),
            pn.pane.Markdown("**Your own anomaly notes**"),
            with_downloads(anomalies, "anomaly_notes"),
            name="Daily variance",
        )
        # The exceptions (100k+ rows for a year of a million orders) are worked out only while
        # their tab is open, and sent to the browser a page at a time.
        self._exceptions = table(no_exceptions(), header_filters=True, pagination="remote")
        self._exceptions_shown: tuple[Any, ...] = ()
        exceptions = pn.Column(
            choice_filter(self.param.exception_class, name="Classes shown (all when none)"),
            pn.Row(
                pn.pane.Markdown("Flags shown:", margin=(12, 5, 0, 10)),
                toggle(self.param.exception_flag),
            ),
            with_downloads(self._exceptions, "exceptions"),
            name="Exceptions",
        )
        self._exceptions_tab = exceptions
        self.review = ReviewView(model=m)  # work each exception, sign off (views/review.py)
        self.tabs = tabs(summary, roas, funnel, daily, exceptions, self.review.__panel__())
        self.review.attach(self.tabs)
        #: tabs inside a tab, by the outer tab's name: the open one is in the link (`subtab`)
        self.subtabs = {"Review": self.review.tabs}
        self.tabs.param.watch(self._update_exceptions, "active")
        m.param.watch(self._update_exceptions, "computations")
        for p_ in ("exception_class", "exception_flag"):
            self.param.watch(self._update_exceptions, p_)
        self._layout = pn.Column(
            pn.Row(
                pn.pane.Markdown("## Marketing vs finance reconciliation"),
                pn.Spacer(),
                workbook_download(m),
            ),
            period_line(m),
            checks_notice(
                m,
                "**Check the dates of the files.** The tables do not cover the period alike, "
                "so ROAS, CAC and the bridge mix days with and without part of the data.",
            ),
            self.tabs,
            dim_while_busy(m, self.filters),
            sizing_mode="stretch_width",
        )

    def _sync_campaigns(self) -> None:
        f = self.model.funnel
        names = sorted(f["campaign"].unique()) if f is not None and len(f) else []
        self.param.funnel_campaign.objects = names
        if self.funnel_campaign not in names:
            self.funnel_campaign = names[0] if names else None

    def _filtered_exceptions(self) -> pd.DataFrame:
        ex = self.model.exceptions
        keep = pd.Series(True, index=ex.index)
        if self.exception_class:
            keep &= ex["class"].isin(self.exception_class)
        if self.exception_flag != "any":
            keep &= ex["flags"].str.contains(self.exception_flag, regex=False)
        return ex[keep]

    def _update_exceptions(self, *_: Any) -> None:
        """Show the current exceptions if their tab is open and they are not shown yet."""
        if self.tabs.objects[self.tabs.active] is not self._exceptions_tab:
            return
        key = (self.model.computations, tuple(self.exception_class), self.exception_flag)
        if key != self._exceptions_shown:
            self._exceptions_shown = key
            show_frame(self._exceptions, self._filtered_exceptions())

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
