"""The app renders for a session (no browser): get_root on a fresh Document."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import panel as pn
from bokeh.document import Document
from pyviz_comms import Comm

from app.main import create_app
from data.engine import open_source
from tests import influencer_tiny, recon_tiny
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS


def test_create_app_renders_and_reacts(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    app = create_app(open_source(root))
    app.main[0].get_root(Document(), Comm())
    payments_view = app.tieout_pages["payments"][0]
    model = payments_view.model
    cards = payments_view.cards
    assert "GPV" in cards.object
    before = cards.object
    model.segments = ["Enterprise"]
    assert cards.object != before and "$1,000.01" in cards.object


def test_data_page_and_missing_domains(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    app = create_app(open_source(root))
    for page in ("influencer", "reconciliation", "data", "payments"):
        app.tieout_nav.value = page
        app.main[0].get_root(Document(), Comm())
    assert "No influencer/ folder" in app.tieout_pages["influencer"][0].object
    assert "No reconciliation/ folder" in app.tieout_pages["reconciliation"][0].object


def test_reconciliation_page_renders_and_reacts(tmp_path: Path) -> None:
    root = write_tables(tmp_path, "reconciliation", recon_tiny.tables())
    app = create_app(open_source(root))
    app.tieout_nav.value = "reconciliation"
    app.main[0].get_root(Document(), Comm())
    view = app.tieout_pages["reconciliation"][0]
    tabs = view.tabs
    cards = view.cards
    before = cards.object
    view.model.campaigns = ["CampB"]
    assert cards.object != before
    assert view._exceptions.value.empty  # worked out only once their tab is open
    roas_table = view.tables["by_campaign"]  # on a tab not drawn yet: keeps new rows
    assert roas_table.tieout_frame["campaign"].tolist() == ["CampB"]
    assert roas_table.value["campaign"].tolist() == ["CampA", "CampB"]
    for i in range(len(tabs)):
        tabs.active = i
        tabs[i].get_root(Document(), Comm())
    assert roas_table.value["campaign"].tolist() == ["CampB"]
    # CampB over the whole data span: A3 missing, A4 refunded, A7 matched but booked 4 days on
    assert set(view._exceptions.value["order_id"]) == {"A3", "A4", "A7"}
    # drawn empty first (every column text then): its money now shows as money, not 81.2
    money = view._exceptions.formatters["claimed_revenue"]
    assert getattr(money, "format", None) == "$0,0.00", money
    tabs.active = tabs.objects.index(view._exceptions_tab)
    view.exception_class = ["missing_in_finance"]
    assert set(view._exceptions.tieout_frame["class"]) == {"missing_in_finance"}
    assert set(view._exceptions.value["class"]) == {"Missing in finance"}  # shown in words


def test_influencer_page_renders_and_reacts(tmp_path: Path) -> None:
    root = write_tables(tmp_path, "influencer", influencer_tiny.tables())
    app = create_app(open_source(root))
    app.tieout_nav.value = "influencer"
    app.main[0].get_root(Document(), Comm())
    view = app.tieout_pages["influencer"][0]
    cards = view.cards
    assert "Net profit" in cards.object
    before = cards.object
    view.model.brands = ["BrandB"]
    # Whole span (2025-02-20..2025-03-10), BrandB: revenue O3 300.00 + O5 200.00.
    assert cards.object != before and "$500.00" in cards.object
    tabs = view.tabs
    for i in range(len(tabs)):
        tabs.active = i
        tabs[i].get_root(Document(), Comm())
    # No computation per chart: one filter change, one computation.
    n = view.model.computations
    view.model.platforms = ["YouTube"]
    assert view.model.computations == n + 1


def test_closing_a_session_releases_its_cursors(tmp_path: Path) -> None:
    import duckdb
    import pytest

    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    template = create_app(open_source(root))
    app = template.tieout_app
    con = app.model("payments")._be.con
    assert con.execute("SELECT 1").fetchone() == (1,)
    app.close()
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")
    assert app.built == {}


def test_declines_drill_down_from_the_table(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    view = create_app(open_source(root)).tieout_pages["payments"][0]
    rows = view.model.declines
    i = rows.index[(rows.decline_reason == "do_not_honor") & (rows.channel == "mobile")][0]
    view._select_cell(type("E", (), {"new": [int(i)]})())
    # (the page is not drawn here: its tables hold the frames they will show when drawn)
    # do_not_honor x mobile: T6 alone (M3, 200.00).
    assert view.drill_cell == ("do_not_honor", "mobile")
    assert "1 declines" in view._drill_text.object
    assert view._drill_merchants.tieout_frame["merchant_id"].tolist() == ["M3"]
    assert view._drill_transactions.tieout_frame["txn_id"].tolist() == ["T6"]
    view.model.segments = ["Enterprise"]  # the drill follows the filters: M3 is SMB
    assert view._drill_merchants.tieout_frame.empty


def test_changed_source_files_show_a_notice_and_reload(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path / "d", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    app = create_app(open_source(root)).tieout_app
    assert app.check_files() == [] and not app.stale_text.visible
    gpv = app.model("payments").kpis["gpv"]
    # T1 200.00 -> 300.00: GPV (approved amounts) grows by 100.00
    (root / "payments" / "transactions.csv").write_text(
        TRANSACTIONS.strip().replace("M1,200.00", "M1,300.00", 1) + "\n"
    )
    assert app.check_files() == [str(root / "payments" / "transactions.csv")]
    assert app.stale_text.visible and app.stale_button.visible
    assert "payments/transactions.csv" in app.stale_text.object
    assert app.model("payments").kpis["gpv"] == gpv  # nothing changes until the user asks
    app.reload_changed()
    app._reload.wait(60)
    assert app.model("payments").kpis["gpv"] - gpv == 100
    assert app.check_files() == [] and not app.stale_text.visible


def test_period_presets_and_clear_filters_in_the_sidebar(tmp_path: Path) -> None:
    import datetime as dt

    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    app = create_app(open_source(root))
    view = app.tieout_pages["payments"][0]
    model = view.model
    row = next(o for o in view.filters if isinstance(o, pn.Row))
    presets, clear = row
    presets.clicked = "Last full month"  # the tiny data ends 2025-02-28: all of February
    assert (model.start, model.end) == (dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    model.segments = ["SMB"]
    clear.clicks += 1
    assert model.segments == [] and (model.start, model.end) == (model.data_start, model.data_end)


def test_series_are_told_apart_by_colours_that_say_nothing_good_or_bad(tmp_path: Path) -> None:
    """Two series of a chart (this period / the compared one) are blue and grey, never the red
    HoloViews gives the second (red reads as a loss beside the cards' red and green)."""
    import holoviews as hv
    import hvplot.pandas  # noqa: F401  (registers .hvplot)

    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    create_app(open_source(root))
    df = pd.DataFrame({"k": ["a", "b", "a", "b"], "P": ["x", "x", "y", "y"], "v": [1, 2, 3, 4]})
    bars = hv.render(df.hvplot.barh(x="k", y="v", by="P"))
    assert [g.glyph.fill_color.transform.palette[:2] for g in bars.renderers] == [
        ["#0969da", "#8c959f"]
    ]
    lines = hv.render(hv.Curve([1, 2]) * hv.Curve([2, 3]))
    assert [g.glyph.line_color for g in lines.renderers] == ["#0969da", "#8c959f"]


def test_bridge_bars_carry_values_that_show_the_gap() -> None:
    """The bridge's totals read $5.15M and $5.00M (three significant digits), not $5.2M and $5M
    which would hide the $150K it explains; each step carries its value too."""
    import holoviews as hv

    from views.reconciliation import bridge_plot

    bridge = pd.DataFrame(
        {
            "step": ["marketing_revenue", "missing_in_finance", "timing", "finance_revenue"],
            # 5,148,930.12 - 160,000.00 + 11,281.28 = 5,000,211.40
            "amount": [5_148_930.12, -160_000.00, 11_281.28, 5_000_211.40],
        }
    )
    plot = bridge_plot(bridge)
    labels = next(e for e in plot.values() if isinstance(e, hv.Labels))
    assert list(labels.dimension_values("text")) == ["$5.15M", "-$160K", "$11.3K", "$5.00M"]
