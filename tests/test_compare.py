"""What the period is compared with (issue 16): the previous period or the same period last year,
one choice (`DomainModel.compare`) for every domain, its link name and its flag. Expected values
are worked out by hand from the tiny datasets with rows a year earlier added here."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from models.base import DomainModel, year_earlier
from models.presentation import comparison
from tests import influencer_tiny, recon_tiny
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

D = dt.date
LAST_YEAR = "same_period_last_year"
FEB = {"start": D(2025, 2, 1), "end": D(2025, 2, 28)}
MARCH = {"start": D(2025, 3, 1), "end": D(2025, 3, 31)}

# Payments a year back: T11 opens the data before Feb 2024 (so all of Feb 1..28, 2024 is in it);
# T8 (400.00 approved) and T10 (declined) fall in Feb 1..28, 2024; T9 on Feb 29, 2024 does not
# (the same dates a year back stop on the 28th).
PAY_2024 = """
T11,2024-01-05 10:00:00,M1,30.00,USD,online,approved,,0.90,card,I10
T8,2024-02-12 10:00:00,M2,400.00,USD,pos,approved,,8.00,card,I7
T10,2024-02-15 10:00:00,M1,60.00,USD,online,declined,insufficient_funds,0,card,I9
T9,2024-02-29 11:00:00,M1,100.00,USD,online,approved,,3.00,card,I8
"""

# Influencer a year back: March 2024 has P5 (I1, fee 100.00) and its sale O6 (250.00 Influenced)
# and O7 (30.00 Organic); O8 (I2, 500.00, commission 50.00) in September 2024 lies between the
# compared window and the period and counts in neither; P6 (I3, Feb 2024) opens the data.
INF_POSTS = """
P5,I1,Instagram,2024-03-05,BrandA,CampA,800,40,8
P6,I3,Instagram,2024-02-01,BrandA,CampA,100,1,0
"""
INF_SALES = """
O6,Instagram,CampA,I1,U6,Lipstick,BrandA,2024-03-06,1,250.00,Influenced,P5
O7,Direct,,,U7,Mascara,BrandA,2024-03-20,1,30.00,Organic,
O8,YouTube,CampB,I2,U8,Phone,BrandB,2024-09-10,1,500.00,Influenced,
"""
# the reported totals with the rows above: I1 3 posts x 100, I2 10% of 300 + 200 + 500, I3 2 x 25
INF_PAYOUTS = """
payout_id,influencer_id,basis,rate,orders,total_payout
PO1,I1,Post,100,,300.00
PO2,I2,Order,0.10,3,100.00
PO3,I3,Post,25,,50.00
"""

# Reconciliation a year back: March 2024 has spend 80.00 (CampA) and two claims, both booked in
# March (B1 90.00, B2 40.00); B3 in October 2024 is in neither window; Feb 20 spend opens it.
REC_SPEND = "2024-02-20,CampA,Search,10.00\n2024-03-03,CampA,Search,80.00\n"
REC_CLAIMS = "B1,2024-03-04,CampA,90.00\nB2,2024-03-05,CampB,40.00\nB3,2024-10-01,CampA,500.00\n"
REC_FINANCE = (
    "B1,2024-03-05,90.00,booked\nB2,2024-03-06,40.00,booked\nB3,2024-10-01,500.00,booked\n"
)


def _with(text: str, rows: str) -> str:
    return text.strip() + "\n" + rows.strip() + "\n"


def payments_root(tmp_path: Path, last_year: bool = True) -> Path:
    tx = _with(TRANSACTIONS, PAY_2024) if last_year else TRANSACTIONS
    return write_tables(tmp_path, "payments", {"merchants": MERCHANTS, "transactions": tx})


def influencer_root(tmp_path: Path) -> Path:
    tables = influencer_tiny.tables()
    tables["posts"] = _with(tables["posts"], INF_POSTS)
    tables["tracking_data"] = _with(tables["tracking_data"], INF_SALES)
    tables["payouts"] = INF_PAYOUTS
    return write_tables(tmp_path, "influencer", tables)


def recon_root(tmp_path: Path) -> Path:
    tables = recon_tiny.tables(
        marketing_spend=_with(recon_tiny.SPEND, REC_SPEND),
        revenue_marketing=_with(recon_tiny.CLAIMS, REC_CLAIMS),
        revenue_finance=_with(recon_tiny.FINANCE, REC_FINANCE),
    )
    return write_tables(tmp_path, "reconciliation", tables)


# ------------------------------------------------------------------ the window, Feb 29


def test_a_year_earlier_makes_feb_29_feb_28() -> None:
    assert year_earlier(D(2024, 2, 29)) == D(2023, 2, 28)
    assert year_earlier(D(2024, 3, 1)) == D(2023, 3, 1)
    assert year_earlier(D(2025, 2, 28)) == D(2024, 2, 28)
    assert year_earlier(D(2025, 12, 31)) == D(2024, 12, 31)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        # Feb 2025 (28 days): Feb 1..28, 2024; Feb 29, 2024 is not one of the dates a year back
        ((D(2025, 2, 1), D(2025, 2, 28)), (D(2024, 2, 1), D(2024, 2, 28))),
        # Feb 2024 (29 days): the 29th becomes the 28th, so all of Feb 2023
        ((D(2024, 2, 1), D(2024, 2, 29)), (D(2023, 2, 1), D(2023, 2, 28))),
        ((D(2024, 2, 29), D(2024, 2, 29)), (D(2023, 2, 28), D(2023, 2, 28))),
        # Feb 28..Mar 1, 2025 (2 days): Feb 28..Mar 1, 2024, the same dates (3 days, with the 29th)
        ((D(2025, 2, 28), D(2025, 3, 1)), (D(2024, 2, 28), D(2024, 3, 1))),
        # Q4 2025: Q4 2024
        ((D(2025, 10, 1), D(2025, 12, 31)), (D(2024, 10, 1), D(2024, 12, 31))),
        # 366 days from Feb 29, 2024: Feb 28, 2023..Feb 28, 2024 ends the day before: no overlap
        ((D(2024, 2, 29), D(2025, 2, 28)), (D(2023, 2, 28), D(2024, 2, 28))),
        # longer than a year: a year back overlaps the period itself: an empty window
        ((D(2024, 1, 1), D(2025, 1, 1)), (D(2023, 1, 1), D(2022, 12, 31))),
    ],
)
def test_the_same_period_last_year(period: tuple, expected: tuple) -> None:
    stub = SimpleNamespace(compare=LAST_YEAR, period=lambda: period)
    assert DomainModel.compared_period(stub) == expected  # type: ignore[arg-type]
    stub.compare = "previous_period"
    stub.previous_period = lambda: DomainModel.previous_period(stub)  # type: ignore[arg-type]
    days = (period[1] - period[0]).days + 1
    previous = (period[0] - dt.timedelta(days=days), period[0] - dt.timedelta(days=1))
    assert DomainModel.compared_period(stub) == previous  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "coverage", "short", "caption"),
    [
        (
            D(2024, 1, 5),
            "all",
            "vs same period last year",
            "Q4 2025 (Oct 1 - Dec 31, 2025) compared with the same period last year, "
            "Q4 2024 (Oct 1 - Dec 31, 2024)",
        ),
        (
            D(2024, 11, 15),
            "part",
            "vs same period last year (part in the data)",
            "Q4 2025 (Oct 1 - Dec 31, 2025) compared with the same period last year, "
            "Q4 2024 (Oct 1 - Dec 31, 2024) (the data starts on Nov 15, 2024)",
        ),
        (
            D(2025, 1, 1),
            "none",
            "vs same period last year",
            "Q4 2025 (Oct 1 - Dec 31, 2025): no data for the same period last year "
            "(Q4 2024 (Oct 1 - Dec 31, 2024)) to compare with",
        ),
    ],
)
def test_the_cards_name_the_same_period_last_year(first, coverage, short, caption) -> None:
    c = comparison(
        D(2025, 10, 1),
        D(2025, 12, 31),
        D(2024, 10, 1),
        D(2024, 12, 31),
        first,
        D(2025, 12, 31),
        compare=LAST_YEAR,
    )
    assert (c["name"], c["coverage"], c["short"], c["caption"]) == (
        "same period last year",
        coverage,
        short,
        caption,
    )
    assert c["missing"] == "no data for the same period last year"
    assert (
        "Compared with the same period last year, Q4 2024 (Oct 1 - Dec 31, 2024)." in (c["tooltip"])
    )


def test_a_period_over_a_year_has_no_same_period_last_year() -> None:
    c = comparison(
        D(2024, 1, 1), D(2025, 1, 1), D(2023, 1, 1), D(2022, 12, 31), D(2023, 1, 1), None,
        compare=LAST_YEAR,
    )  # fmt: skip
    assert c["coverage"] == "none"
    assert c["missing"] == "no same period last year (the period is over a year)"
    assert c["caption"] == (
        "Jan 1, 2024 - Jan 1, 2025: a period longer than a year has no same period last year "
        "to compare with"
    )


# ------------------------------------------------------------------ the three domains


def test_payments_against_last_year(tmp_path: Path, engine: Callable[..., Any]) -> None:
    from models.payments import PaymentsModel
    from views.common import card_html

    m = PaymentsModel(engine(payments_root(tmp_path)), **FEB)
    # the previous 28 days (Jan 4..31, 2025) hold T1, 200.00 approved
    assert m.kpis["gpv_prev_period"] == Decimal("200.00")
    before = m.computations
    m.compare = LAST_YEAR
    assert m.computations == before + 1  # one computation
    assert m.compared_period() == (D(2024, 2, 1), D(2024, 2, 28))
    k, p = m.kpis, m.kpis_prev
    # Feb 1..28, 2024: T8 400.00 approved, T10 60.00 declined; T9 (Feb 29) is not counted
    assert (p["attempts"], p["approved"]) == (2, 1)
    assert p["gpv"] == Decimal("400.00")
    assert p["fee_revenue"] == Decimal("8.00")
    assert p["approval_rate"] == pytest.approx(0.5)
    assert k["gpv"] == Decimal("1060.01")  # February 2025 itself does not change
    assert k["gpv_prev_period"] == Decimal("400.00")
    # (1060.01 - 400.00) / 400.00 x 100 = 165.0025
    assert k["gpv_change_pct"] == pytest.approx(165.0025)
    c = m.comparison()
    assert c["coverage"] == "all"  # the data starts on Jan 5, 2024
    assert c["caption"] == (
        "Feb 2025 (Feb 1 - Feb 28, 2025) compared with the same period last year, "
        "Feb 1 - Feb 28, 2024"
    )
    card = card_html("gpv", k["gpv"], p["gpv"], True, c)
    assert "▲ +165.0% vs same period last year" in card
    # approval rate 4/6 against 1/2: +16.7 pp
    assert "+16.7 pp vs same period last year" in card_html(
        "approval_rate", k["approval_rate"], p["approval_rate"], True, c
    )
    # the breakdown tables' "prev" columns are last year's too: Enterprise (M2) had T8
    ent = m.breakdowns["segment"].set_index("segment").loc["Enterprise"]
    assert ent["gpv_prev"] == Decimal("400.00")


# A merchant seen only between last year's February and this one: M4 (Mid-market, Cy), whose
# one payment, 2024-09-10, lies in no window summed against Feb 2025: not the compared
# Feb 1..28, 2024, not the period, not the churn windows (Jan 4..Jan 31 and Feb 1..28, 2025).
GAP_MERCHANT = "M4,Delta Freight,Logistics,Mid-market,APAC,2024-09-01,Cy\n"
GAP_PAYMENT = "T12,2024-09-10 10:00:00,M4,900.00,USD,online,approved,,27.00,card,I11\n"


def test_payments_reads_no_days_between_last_year_and_the_period(
    tmp_path: Path, engine: Callable[..., Any]
) -> None:
    """The merchant query reads the compared window and the period (with the churn windows),
    not the year between them: what lies only there is in no table, and no number changes."""
    from models.payments import PaymentsModel

    tx = _with(_with(TRANSACTIONS, PAY_2024), GAP_PAYMENT)
    root = write_tables(
        tmp_path,
        "payments",
        {"merchants": _with(MERCHANTS, GAP_MERCHANT), "transactions": tx},
    )
    m = PaymentsModel(engine(root), **FEB, compare=LAST_YEAR)
    k, p = m.kpis, m.kpis_prev
    # the same numbers as without M4 (test_payments_against_last_year): Feb 2025 GPV 1060.01,
    # Feb 1..28, 2024 GPV 400.00 (T8); T9 (Feb 29, 2024) and T12 (September) in neither
    assert (k["gpv"], p["gpv"], k["gpv_prev_period"]) == (
        Decimal("1060.01"),
        Decimal("400.00"),
        Decimal("400.00"),
    )
    assert (p["attempts"], p["active_merchants"]) == (2, 1)
    assert k["active_merchants"] == 3  # M1 (T3), M2 (T4, T5), M3 (T7); not M4
    # No row for Mid-market or Cy (read before, as zeros: GPV 0.00 against 0.00)
    seg = m.breakdowns["segment"].set_index("segment")
    assert sorted(seg.index) == ["Enterprise", "SMB"]
    # Enterprise (M2): 1000.00 + 0.01 against T8 400.00: (1000.01 - 400.00) / 400.00 x 100
    assert seg.loc["Enterprise", "gpv_prev"] == Decimal("400.00")
    assert seg.loc["Enterprise", "gpv_change_pct"] == pytest.approx(150.0025)
    # SMB (M1, M3): T3 50.00 + T7 10.00 = 60.00 against nothing approved (T10 was declined)
    assert (seg.loc["SMB", "gpv"], seg.loc["SMB", "gpv_prev"]) == (
        Decimal("60.00"),
        Decimal("0.00"),
    )
    am = m.am_summary.set_index("account_manager")
    assert sorted(am.index) == ["Ann", "Bob"]
    # Ann: M1 and M3, attempts T2, T3, T6, T7 with T3 and T7 approved: 2 / 4
    assert (am.loc["Ann", "merchants"], am.loc["Ann", "approval_rate"]) == (2, 0.5)
    assert am.loc["Bob", "gpv_change_pct"] == pytest.approx(150.0025)
    # against the previous period (Jan 4..31, 2025: T1 200.00) nothing is read from 2024 either
    m.compare = "previous_period"
    assert m.kpis["gpv_prev_period"] == Decimal("200.00")
    assert sorted(m.am_summary["account_manager"]) == ["Ann", "Bob"]


def test_influencer_against_last_year(tmp_path: Path, engine: Callable[..., Any]) -> None:
    from models.influencer import InfluencerModel

    m = InfluencerModel(engine(influencer_root(tmp_path)), **MARCH, compare=LAST_YEAR)
    assert m.compared_period() == (D(2024, 3, 1), D(2024, 3, 31))
    p = m.kpis_prev
    # March 2024: O6 250.00 Influenced + O7 30.00 Organic; O8 (September) is in neither window
    assert p["revenue_total"] == Decimal("280.00")
    assert p["revenue_influenced"] == Decimal("250.00")
    assert (p["orders_total"], p["orders_influenced"]) == (2, 1)
    # cost: P5's fee 100.00 (I1 is paid per post; no commission in March 2024)
    assert p["payout"] == Decimal("100.00")
    assert p["gross_profit"] == Decimal("112.50")  # 250 x 0.45
    assert p["net_profit"] == Decimal("12.50")
    assert p["roi_pct"] == pytest.approx(12.5)  # 12.50 / 100.00
    assert p["engagement_rate_pct"] == pytest.approx(48 / 800 * 100)  # (40 + 8) / 800
    assert (p["posts"], p["reach"], p["active_influencers"]) == (1, 800, 1)
    # March 2025 itself is as in tests/test_influencer.py: 490.00, payout 230.00
    assert m.kpis["revenue_total"] == Decimal("490.00")
    assert m.kpis["payout"] == Decimal("230.00")
    assert m.page_kpis_prev["revenue_per_influencer"] == Decimal("250.00")  # 250 / 1
    # the change a card shows: (490 - 280) / 280 = +75.0%
    from views.common import card_html

    card = card_html(
        "revenue_total", m.kpis["revenue_total"], p["revenue_total"], True, m.comparison()
    )
    assert "▲ +75.0% vs same period last year" in card
    m.compare = "previous_period"  # Jan 29..Feb 28, 2025: O5 200.00 (tests/test_influencer.py)
    assert m.kpis_prev["revenue_total"] == Decimal("200.00")


def test_reconciliation_against_last_year(tmp_path: Path, engine: Callable[..., Any]) -> None:
    from models.reconciliation import ReconciliationModel

    m = ReconciliationModel(engine(recon_root(tmp_path)), **MARCH, compare=LAST_YEAR)
    p = m.kpis_prev
    # March 2024: spend 80.00; claims B1 90.00 + B2 40.00, both booked in March (B3 is October's)
    assert p["spend"] == Decimal("80.00")
    assert p["revenue_marketing"] == Decimal("130.00")
    assert p["revenue_finance"] == Decimal("130.00")
    assert p["roas_marketing"] == pytest.approx(130 / 80)
    assert (p["orders_claimed"], p["orders_matched"]) == (2, 2)
    assert p["match_rate"] == pytest.approx(1.0)
    # March 2025 as in tests/test_reconciliation.py: spend 150.00 (+87.5%), finance 270.00
    assert m.kpis["spend"] == Decimal("150.00")
    assert m.kpis["revenue_finance"] == Decimal("270.00")
    assert m.comparison()["coverage"] == "all"


def test_no_last_year_in_the_data_is_said_in_words(tmp_path: Path) -> None:
    from data.engine import open_source
    from models import make_model
    from views.common import card_html

    source = open_source(payments_root(tmp_path, last_year=False))
    m = make_model("payments", source, opening_view=True)
    opening = (m.start, m.end)
    m.param.update(compare=LAST_YEAR, **FEB)
    c = m.comparison()
    assert c["coverage"] == "none"  # the data starts on Jan 10, 2025
    assert c["caption"] == (
        "Feb 2025 (Feb 1 - Feb 28, 2025): no data for the same period last year "
        "(Feb 1 - Feb 28, 2024) to compare with"
    )
    card = card_html("gpv", m.kpis["gpv"], m.kpis_prev["gpv"], True, c)
    delta = re.search(r'class="delta"[^>]*>([^<]*)<', card)
    assert delta is not None and delta.group(1) == "no data for the same period last year"
    # the opening period is still chosen by the previous period, whatever is compared
    assert m.opening_period() == opening
    m.clear_filters()  # back to the opening period; the choice of comparison stays
    assert (m.start, m.end, m.compare) == (*opening, LAST_YEAR)


# ------------------------------------------------------------------ link and command line


def test_the_comparison_round_trips_through_a_link(tmp_path: Path) -> None:
    from app.urlstate import from_query, to_query
    from data.engine import open_source
    from models import make_model

    root = payments_root(tmp_path)
    write_tables(root, "influencer", influencer_tiny.tables())
    write_tables(root, "reconciliation", recon_tiny.tables())
    source = open_source(root)
    for domain in ("payments", "influencer", "reconciliation"):
        a = make_model(domain, source, opening_view=True)
        assert "compare" not in to_query(a)  # the default is not written
        a.compare = LAST_YEAR
        query = to_query(a)
        assert query == {"compare": [LAST_YEAR]}, domain
        b = make_model(domain, source, opening_view=True)
        asked = from_query(b, query)
        assert asked == {"values": {"compare": LAST_YEAR}, "problems": []}
        b.param.update(**asked["values"])
        assert (b.compare, b.kpis_prev, b.comparison()) == (a.compare, a.kpis_prev, a.comparison())
    bad = from_query(b, {"compare": ["last_decade"]})
    assert bad["values"] == {}
    assert bad["problems"] == ["link parameter compare=last_decade ignored: not a valid value"]


def test_the_compare_flag_equals_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import dumps, main
    from data.engine import open_source
    from models.payments import PaymentsModel

    root = payments_root(tmp_path)
    args = ["kpis", "--domain", "payments", "--data", str(root), "--start", "2025-02-01"]
    args += ["--end", "2025-02-28"]
    assert main([*args, "--compare", LAST_YEAR]) == 0
    out = json.loads(capsys.readouterr().out)
    model = PaymentsModel(open_source(root), **FEB, compare=LAST_YEAR)
    assert out["filters"] == {"compare": LAST_YEAR}
    assert out["kpis"] == json.loads(dumps(model.summary()["kpis"]))
    assert out["kpis"]["gpv_prev_period"] == 400.0  # T8, as worked out above
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["kpis"]["gpv_prev_period"] == 200.0  # T1
    with pytest.raises(SystemExit) as exc:
        main([*args, "--compare", "last_decade"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_page_has_the_choice_and_its_cards_follow_it(tmp_path: Path) -> None:
    """*Compare with* in each domain's sidebar; the cards' line changes with it even when the
    compared figures do not (payments opens on all its data: nothing before it, and no last year,
    so both comparisons give the same zero figures)."""
    import panel as pn
    from bokeh.document import Document
    from pyviz_comms import Comm

    from app.main import create_app
    from data.engine import open_source

    root = payments_root(tmp_path, last_year=False)
    write_tables(root, "influencer", influencer_tiny.tables())
    write_tables(root, "reconciliation", recon_tiny.tables())
    app = create_app(open_source(root))
    for page in ("payments", "influencer", "reconciliation"):
        app.tieout_nav.value = page
        app.main[0].get_root(Document(), Comm())
        view = app.tieout_pages[page][0]
        (choice,) = [w for w in view.filters.select(pn.widgets.Select) if w.name == "Compare with"]
        assert choice.options == {
            "Previous period": "previous_period",
            "Same period last year": LAST_YEAR,
        }
        assert "same period last year" not in view.cards.object
        choice.value = LAST_YEAR
        assert view.model.compare == LAST_YEAR
        assert "no data for the same period last year" in view.cards.object, page


# ------------------------------------------------------------------ labels name the comparison


def test_labels_of_the_compared_figures_name_the_comparison() -> None:
    from models.presentation import compared_name, label

    # Jul 1 - Sep 30, 2025 is a calendar quarter; Jan 4 - 31, 2025 is 28 days, not a month
    assert compared_name("previous_period", D(2025, 7, 1), D(2025, 9, 30)) == "previous quarter"
    assert compared_name("previous_period", D(2025, 1, 4), D(2025, 1, 31)) == "previous 28 days"
    assert compared_name("previous_period") == "previous period"  # no dates: no more to say
    assert compared_name(LAST_YEAR, D(2024, 2, 1), D(2024, 2, 28)) == "same period last year"
    with pytest.raises(ValueError, match="unknown comparison"):
        compared_name("last_decade")
    assert label("gpv_prev", "same period last year") == "GPV, same period last year"
    assert (
        label("approval_rate_prev", "previous quarter")
        == "Approval rate (per attempt), previous quarter"
    )
    assert label("fee_yield_bps_prev") == "Fee yield, previous period"
    assert label("gpv_prev_period", "same period last year") == "GPV, same period last year"
    assert label("gpv", "same period last year") == "GPV"  # a figure of the period itself


def _shown_text(viewable: Any) -> list[str]:
    """Every piece of text a view sends to the browser when drawn: titles, labels, legends,
    hovers, HTML, table column titles, chart data (a legend of grouped bars reads it)."""
    import numpy as np
    from bokeh.document import Document
    from pyviz_comms import Comm

    found: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list | tuple):
            for v in value:
                collect(v)
        elif isinstance(value, np.ndarray) and value.dtype == object:
            for v in value.tolist():
                collect(v)

    root = viewable.get_root(Document(), Comm())
    for model in root.references():
        for name, value in model.properties_with_values(include_defaults=False).items():
            if name not in ("code", "css", "stylesheets"):  # scripts and styles, not text
                collect(value)
    return found


def _page_text(view: Any) -> str:
    """The text of every tab of a domain page (each tab drawn; the sidebar, where *Compare
    with* offers "Previous period" as a choice, is not part of it)."""
    pieces: list[str] = []
    for i in range(len(view.tabs)):
        view.tabs.active = i
        pieces += _shown_text(view.tabs[i])
    return "\n".join(pieces)


def test_against_last_year_no_label_says_previous_period(tmp_path: Path) -> None:
    """With the same period last year chosen, no card, table title, chart label, legend or
    hover of any page, and no header of any domain's workbook, says "previous period"; the
    payments drivers name the comparison (their table titles and chart legend)."""
    import io

    import openpyxl

    from app.main import create_app
    from data.engine import open_source
    from models import make_model
    from models.export import workbook_bytes

    root = payments_root(tmp_path)
    influencer_root(tmp_path)
    recon_root(tmp_path)
    source = open_source(root)
    app = create_app(source)
    periods = {"payments": FEB, "influencer": MARCH, "reconciliation": MARCH}
    for page, period in periods.items():
        app.tieout_nav.value = page
        view = app.tieout_pages[page][0]
        view.model.param.update(**period)
        if page == "payments":  # Feb 2025 against the previous 28 days (Jan 4..31, 2025)
            text = _page_text(view)
            drivers = view.drivers_table
            assert drivers.titles["gpv_prev"] == "GPV, previous 28 days"
            assert "GPV, previous 28 days" in text and "Previous 28 days" in text  # the legend
        view.model.compare = LAST_YEAR
        text = _page_text(view)
        assert "previous period" not in text.lower(), page
        assert "same period last year" in text, page  # the cards' line names it
        if page == "payments":
            assert drivers.titles["gpv_prev"] == "GPV, same period last year"
            assert (
                drivers.titles["approval_rate_prev"]
                == "Approval rate (per attempt), same period last year"
            )
            assert "Same period last year" in text  # the drivers chart's legend
        model = make_model(page, source, compare=LAST_YEAR, **period)
        book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(model)))
        cells = [
            str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value
        ]
        assert not [c for c in cells if "previous period" in c.lower()], page
        assert not [c for c in cells if "previous_period" in c.lower()], page
        kpis = [tuple(c.value for c in row) for row in book["KPIs"].iter_rows()]
        assert ("KPI", "Value", "Same period last year") in kpis, page
