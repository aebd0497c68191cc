"""The presentation vocabulary: every KPI and output column has a label, a kind and (for KPIs) a
definition; values are written as people read them; the KPI reference in docs/ is generated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data.engine import open_source
from models import make_model, presentation
from models.presentation import FIELDS, KPI_KEYS, code_label, compact, full
from tests import influencer_tiny, recon_tiny
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

DOCS = Path(__file__).parents[1] / "docs" / "kpis.md"


@pytest.fixture
def models(tmp_path: Path) -> dict:
    root = tmp_path
    write_tables(root, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS})
    write_tables(root, "influencer", influencer_tiny.tables())
    write_tables(root, "reconciliation", recon_tiny.tables())
    source = open_source(root)
    return {d: make_model(d, source) for d in KPI_KEYS}


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (1653204.17, "money", "$1,653,204.17"),
        (-5.5, "money", "-$5.50"),
        (1234, "count", "1,234"),
        (0.847634, "percent", "84.8%"),  # 0.847634 x 100 = 84.7634 -> one decimal
        (46.68796, "pct", "46.7%"),
        (0.005971, "points", "+0.6 pp"),  # 0.005971 x 100 = 0.5971 pp
        (262.4438, "bps", "262.4 bps"),
        (1.433392, "multiple", "1.43x"),
        (4926.2, "index", "4,926"),
        (0.95712, "coef", "0.957"),
        (None, "money", "n/a"),
        (float("nan"), "percent", "n/a"),
        ("do_not_honor", "text", "Do not honor"),
        ("some_code_we_do_not_know", "text", "some_code_we_do_not_know"),
    ],
)
def test_values_are_written_for_their_kind(value: object, kind: str, shown: str) -> None:
    assert full(value, kind) == shown


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (2_200_000, "money", "$2.2M"),
        (1_000_000, "money", "$1M"),
        (-1500, "money", "-$1.5K"),
        (950, "money", "$950"),
        (0.85, "percent", "85%"),
        (1.43, "multiple", "1.4x"),
        (250, "bps", "250 bps"),
        (3_400_000_000, "count", "3.4B"),
    ],
)
def test_axis_values_are_compact(value: float, kind: str, shown: str) -> None:
    assert compact(value, kind) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (5_148_930.12, "$5.15M"),  # 5.14893M to three significant digits
        (5_000_211.40, "$5.00M"),  # zeros kept: beside $5.15M the gap shows
        (-148_718.72, "-$149K"),  # 148.7K -> 149K
        (12_345.0, "$12.3K"),
        (812.5, "$812"),  # under a thousand: whole dollars, as the axis
    ],
)
def test_bar_labels_keep_three_significant_digits(value: float, shown: str) -> None:
    assert compact(value, "money", digits=3) == shown


def test_every_kpi_has_a_label_kind_and_definition(models: dict) -> None:
    for domain, model in models.items():
        keys = set(model.kpis) - {"bridge"}  # the bridge is shown as its own table
        assert keys == set(KPI_KEYS[domain]), domain
        for key in keys:
            f = FIELDS[key]
            assert f.label and f.kind in presentation.KINDS_SHOWN and f.definition, key
            assert not presentation.is_snake_code(f.label), key


def test_every_output_column_is_declared(models: dict) -> None:
    missing = set()
    for model in models.values():
        outputs = [getattr(model, name) for name in model.param]
        for value in [*outputs, model.output_tables()]:
            frames = value.values() if isinstance(value, dict) else [value]
            for frame in frames:
                if isinstance(frame, pd.DataFrame):
                    missing |= {c for c in frame.columns if c not in FIELDS}
    assert missing == set()


def test_code_labels_cover_the_codes_the_app_writes() -> None:
    from models.payments import churn_reason
    from models.recon_common import BRIDGE_STEPS, CLASSES, FUNNEL_STEPS

    reference = pd.read_csv(
        Path(__file__).parents[1] / "data" / "reference" / "decline_classes.csv"
    )
    codes = {
        *BRIDGE_STEPS,
        *CLASSES,
        *FUNNEL_STEPS,
        *reference["decline_reason"],
        *reference["decline_class"],
        churn_reason(0, None, None)[0],
        churn_reason(1, 0.5, 0.9)[0],
        churn_reason(1, None, None)[0],
    }
    assert {c for c in codes if code_label(c) == c} == set()


def test_the_kpi_reference_in_docs_is_generated() -> None:
    assert DOCS.read_text(encoding="utf-8") == presentation.reference_markdown()


def test_cards_say_in_words_what_they_compare_with() -> None:
    import datetime as dt
    from decimal import Decimal

    from models.presentation import comparison
    from views.common import card_html

    D = dt.date
    quarter = comparison(
        D(2025, 10, 1),
        D(2025, 12, 31),
        D(2025, 7, 1),
        D(2025, 9, 30),
        D(2025, 1, 1),
        D(2025, 12, 31),
    )
    year = comparison(
        D(2025, 1, 1),
        D(2025, 12, 31),
        D(2024, 1, 1),
        D(2024, 12, 31),
        D(2025, 1, 1),
        D(2025, 12, 31),
    )
    # 1,200 against 1,000: +20.0%, named
    card = card_html("gpv", Decimal("1200.00"), Decimal("1000.00"), True, quarter)
    assert "▲ +20.0% vs previous quarter" in card and "Q3 2025 (Jul 1 - Sep 30, 2025)" in card
    # nothing in the data before the period: said in words, no change against $0.00
    card = card_html("gpv", Decimal("1200.00"), Decimal("0.00"), True, year)
    assert "no data for the previous year" in card and "+" not in card.split("kpi-value")[1]
    # a rate: the change in points; a ratio the compared period has none of: said so
    assert "+2.0 pp vs previous quarter" in card_html("approval_rate", 0.86, 0.84, True, quarter)
    assert "not defined for the previous quarter" in card_html("roas", 1.5, None, True, quarter)
    # 0.8400 against 0.8404: -0.04 pp rounds to nothing, said without a sign, in grey
    card = card_html("approval_rate", 0.8400, 0.8404, True, quarter)
    assert "• 0.0 pp vs previous quarter" in card and "-0.0" not in card
    # up from nothing, and a KPI without a compared value (churn risk): no comparison line
    assert "▲ from 0 vs previous quarter" in card_html("churn_risk_merchants", 3, 0, False, quarter)
    churn = card_html("churn_risk_merchants", 3, None, False, quarter, True)
    assert "as of the period&#x27;s end, no comparison" in churn and "vs" not in churn
    # spend: up is neither good nor bad (None): 1,100 against 1,000, +10.0%, in grey
    card = card_html("spend", Decimal("1100.00"), Decimal("1000.00"), None, quarter)
    assert "▲ +10.0% vs previous quarter" in card and "color:#6e7781" in card
    # good when up, down: red; bad when up (churn risk), down: green
    assert "color:#cf222e" in card_html("gpv", 900, 1000, True, quarter)
    assert "color:#1a7f37" in card_html("churn_risk_merchants", 2, 3, False, quarter)


def test_influencers_who_share_a_name_get_a_bar_each() -> None:
    """Two influencers named Kai Okafor among the worst 10 were drawn as one bar (nine bars under
    "Worst 10 by ROI" in the 1M demo's screenshot): each gets its ID on the axis."""
    import pandas as pd

    from views.influencer import roi_plot, top_plot

    df = pd.DataFrame(
        {
            "influencer_id": ["INF0069", "INF0149", "INF0001"],
            "name": ["Kai Okafor", "Kai Okafor", "Ava Stone"],
            "roi_pct": [-90.0, -80.0, -70.0],
            "revenue": [212_345.6, 1_500_000.0, 30.0],
            "payout": [100.0, 100.0, 100.0],
            "net_profit": [-90.0, -80.0, -70.0],  # ROI x payout
        }
    )
    for plot in (roi_plot(df), top_plot(df)):
        names = list(plot.dimension_values("name"))
        assert names == ["Kai Okafor (INF0069)", "Kai Okafor (INF0149)", "Ava Stone"]
    # each bar's axis label carries its value: bars at the axis' end (-100%) still say it
    # worst: the ROI and the money lost (-net profit)
    assert list(roi_plot(df).dimension_values("bar")) == [
        "Kai Okafor (INF0069): -90.0%, lost $90",
        "Kai Okafor (INF0149): -80.0%, lost $80",
        "Ava Stone: -70.0%, lost $70",
    ]
    assert list(top_plot(df).dimension_values("bar")) == [
        "Kai Okafor (INF0069): $212K",
        "Kai Okafor (INF0149): $1.50M",
        "Ava Stone: $30",
    ]


def test_a_table_that_fits_one_page_has_no_page_bar() -> None:
    from views.common import _ONE_PAGE_CSS, show_frame, table

    def rows(n: int) -> pd.DataFrame:
        return pd.DataFrame({"merchant_id": [f"M{i}" for i in range(n)], "merchants": range(n)})

    widget = table(rows(15))  # 15 rows, 15 to a page: one page, no bar
    assert _ONE_PAGE_CSS in widget.stylesheets
    widget.get_root()  # drawn, so a new frame is shown at once
    show_frame(widget, rows(16))  # two pages: the bar is back
    assert _ONE_PAGE_CSS not in widget.stylesheets
    show_frame(widget, rows(0))
    assert widget.stylesheets.count(_ONE_PAGE_CSS) == 1


def test_counts_read_as_words() -> None:
    assert presentation.counted(1, "influencer") == "1 influencer"
    assert presentation.counted(3, "influencer") == "3 influencers"
    assert presentation.counted(0, "problem") == "0 problems"
    assert presentation.counted(1204, "difference") == "1,204 differences"
    assert presentation.counted(2, "day", "days in the period") == "2 days in the period"


def test_work_after_the_cards_waits_for_changes_to_stop_but_not_for_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`views.common._Later`: charts wait until no change has come for CHART_DELAY_MS; what a
    job adds (the charts of the tables it just worked out) follows at once, without a new wait
    (it had one: a page's charts came a whole wait after its tables)."""
    import views.common as common

    class Doc:
        def __init__(self) -> None:
            self.calls: list[tuple[object, int]] = []

        def add_timeout_callback(self, callback: object, ms: int) -> None:
            self.calls.append((callback, ms))

    now = [0.0]
    monkeypatch.setattr(common.time, "monotonic", lambda: now[0])
    doc, ran = Doc(), []
    queue = common._Later(doc)

    def tables() -> None:
        ran.append("tables")
        queue.add(2, lambda: ran.append("chart"))  # from inside a job

    def run_next(at_ms: float) -> int:
        now[0] = at_ms / 1000
        callback, _ = doc.calls.pop(0)
        callback()
        return doc.calls[-1][1] if doc.calls else 0

    delay, gap = common.CHART_DELAY_MS, common.LATER_GAP_MS
    queue.add(1, tables)  # a change at 0 ms
    assert doc.calls[-1][1] == delay
    now[0] = 0.1
    queue.add(3, lambda: ran.append("cards' table"))  # another change at 100 ms
    # due at 250 ms, but the change at 100 ms postpones it to 350 ms
    assert run_next(delay) == delay - (delay - 100) and ran == []
    assert run_next(100 + delay) == gap and ran == ["tables"]  # the chart it added: no wait
    assert run_next(100 + delay + gap) == gap and ran == ["tables", "cards' table"]
    assert run_next(100 + delay + 2 * gap) == 0 and ran == ["tables", "cards' table", "chart"]


def test_partial_weeks_are_drawn_apart_with_the_same_numbers() -> None:
    """The last week of Q4 2025 (Dec 29-31, 3 days) read as a crash from $2.2M to $1.0M: the
    partial weeks are hollow grey points on dashed grey segments, off the solid line, their
    values the model's."""
    from decimal import Decimal

    from views.payments import trend_caption, trend_plot

    weeks = pd.DataFrame(
        {
            "period": pd.to_datetime(["2025-09-29", "2025-10-06", "2025-10-13", "2025-12-29"]),
            "gpv": [Decimal("1300000"), Decimal("2000000"), Decimal("2100000"), Decimal("1000000")],
            "gpv_change_pct": [None, 53.8, 5.0, -52.4],
            "days": [5, 7, 7, 3],
        }
    )
    solid, dashed, marks = trend_plot(weeks, weeks, "Week", "GPV")
    assert list(solid.dimension_values("gpv"))[1:3] == [2_000_000.0, 2_100_000.0]
    assert pd.isna(solid.dimension_values("gpv")[[0, 3]]).all()  # not on the solid line
    assert list(marks.dimension_values("gpv")) == [1_300_000.0, 1_000_000.0]
    assert list(marks.dimension_values("days")) == [5, 3]
    assert marks.opts.get().kwargs["fill_alpha"] == 0 and marks.opts.get().kwargs["size"] >= 12
    # dashed: only the two segments that reach a partial week, with a gap after each
    values = list(dashed.dimension_values("gpv"))
    assert values[:2] == [1_300_000.0, 2_000_000.0] and values[3:5] == [2_100_000.0, 1_000_000.0]
    assert dashed.opts.get().kwargs["line_dash"] == "dashed"
    assert "not a drop" in trend_caption("Week", "GPV")
    assert "partly in the period" in trend_caption("Month", "Approval rate")


def test_chart_titles_name_what_they_show() -> None:
    from views.influencer import ORGANIC_CAPTION, share_plot
    from views.payments import cohort_heatmap, lorenz_plot

    shares = pd.DataFrame(
        {
            "brand": ["Acme", "Zeta"],
            "revenue": [100.0, 50.0],
            "revenue_influenced": [80.0, 40.0],
            "payout": [10.0, 5.0],
            "gross_profit": [40.0, 20.0],
            "net_profit": [30.0, 15.0],
            "share": [0.667, 0.333],
        }
    )
    plot = share_plot({"brand": shares}, "brand")
    assert plot.opts.get().kwargs["title"] == "Revenue and net profit by brand"
    assert "no influencer cost" in ORGANIC_CAPTION
    cohorts = pd.DataFrame(
        {"cohort": ["2025-01-01"], "k": [0], "active_share": [1.0], "merchants": [3]}
    )
    title = cohort_heatmap(cohorts, "active_share").opts.get().kwargs["title"]
    assert title == "Merchants active by onboarding cohort, all dates"  # fits at 1024 px
    curve = pd.DataFrame({"merchant_share": [0.0, 0.5, 1.0], "gpv_share": [0.0, 0.1, 1.0]})
    assert lorenz_plot(curve).opts.get().kwargs["legend_position"] == "top_left"


def test_toggles_show_the_chosen_option_filled() -> None:
    """The chosen option of a toggle (Week / Month) was a shade apart from the others on the
    dark theme: primary and outlined, the chosen one is filled."""
    from views.common import toggle
    from views.payments import PaymentsView

    widget = toggle(PaymentsView.param.grain)
    assert (widget.color, widget.variant) == ("primary", "outline")


def test_change_columns_carry_their_sign_like_the_cards() -> None:
    from views.common import table

    df = pd.DataFrame(
        {"merchant_id": ["M1"], "gpv_change_pct": [74.7], "approval_rate_change": [-0.4]}
    )
    widget = table(df)
    plus = "(v > 0 ? '+' : '')"
    assert plus in widget.formatters["gpv_change_pct"].template  # +74.7%
    assert plus in widget.formatters["approval_rate_change"].template  # -0.4 pp (its own sign)
    ranked = table(pd.DataFrame({"merchant_id": ["M1"], "roi_pct": [12.0]}))
    assert plus not in ranked.formatters["roi_pct"].template  # a level, not a change: 12.0%
