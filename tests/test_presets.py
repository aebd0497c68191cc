"""Period presets and clearing filters: worked out by hand from the data's last day."""

from __future__ import annotations

import datetime as dt

import pytest

from models.base import PERIOD_PRESETS, preset_period

D = dt.date
FIRST = D(2025, 1, 1)


@pytest.mark.parametrize(
    ("name", "last", "expected"),
    [
        ("Last 7 days", D(2025, 5, 15), (D(2025, 5, 9), D(2025, 5, 15))),  # 15 - 6 = 9
        ("Last 30 days", D(2025, 5, 15), (D(2025, 4, 16), D(2025, 5, 15))),  # 15 May - 29 days
        ("Last 90 days", D(2025, 2, 1), (FIRST, D(2025, 2, 1))),  # would start in 2024: clipped
        ("Month to date", D(2025, 5, 15), (D(2025, 5, 1), D(2025, 5, 15))),
        ("Quarter to date", D(2025, 5, 15), (D(2025, 4, 1), D(2025, 5, 15))),  # Q2 from April
        ("Year to date", D(2025, 5, 15), (D(2025, 1, 1), D(2025, 5, 15))),
        ("Last full month", D(2025, 5, 15), (D(2025, 4, 1), D(2025, 4, 30))),
        ("Last full month", D(2025, 5, 31), (D(2025, 5, 1), D(2025, 5, 31))),  # May is complete
        ("Last full quarter", D(2025, 5, 15), (D(2025, 1, 1), D(2025, 3, 31))),
        ("Last full quarter", D(2025, 12, 31), (D(2025, 10, 1), D(2025, 12, 31))),
        ("All data", D(2025, 12, 31), (FIRST, D(2025, 12, 31))),
    ],
)
def test_presets_end_on_the_last_day_with_data(
    name: str, last: dt.date, expected: tuple[dt.date, dt.date]
) -> None:
    assert preset_period(name, FIRST, last) == expected


def test_every_preset_is_inside_the_data_and_unknown_ones_say_which_exist() -> None:
    for name in PERIOD_PRESETS:
        start, end = preset_period(name, D(2025, 3, 10), D(2025, 3, 20))
        assert D(2025, 3, 10) <= start <= end <= D(2025, 3, 20), name
    with pytest.raises(ValueError, match="one of Last 7 days"):
        preset_period("Last week-ish", FIRST, D(2025, 5, 1))


def test_clear_filters_is_one_change(tmp_path) -> None:
    from data.engine import open_source
    from models import make_model
    from tests.conftest import write_tables
    from tests.payments_tiny import MERCHANTS, TRANSACTIONS

    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    m = make_model("payments", open_source(root))
    full = dict(m.kpis)
    m.param.update(segments=["SMB"], start=D(2025, 2, 1))
    assert m.kpis != full
    before = m.computations
    m.clear_filters()
    assert m.computations == before + 1 and m.kpis == full
    m.use_preset("Last full month")  # data ends 2025-02-28: February is complete
    assert (m.start, m.end) == (D(2025, 2, 1), D(2025, 2, 28))


def test_filter_options_narrow_each_other(tmp_path) -> None:
    from data.engine import open_source
    from models import make_model
    from tests import influencer_tiny, recon_tiny
    from tests.conftest import write_tables

    root = write_tables(tmp_path, "influencer", influencer_tiny.tables())
    write_tables(root, "reconciliation", recon_tiny.tables())
    source = open_source(root)
    m = make_model("influencer", source)
    assert m.options_for("products") == ["Lipstick", "Mascara", "Phone"]
    m.brands = ["BrandA"]  # BrandA sells Lipstick (O1, O4) and Mascara (O2)
    assert m.options_for("products") == ["Lipstick", "Mascara"]
    m.products = ["Mascara"]  # ... and Mascara is BrandA's only: brands stay BrandA's plus chosen
    assert m.options_for("brands") == ["BrandA"]
    assert m.param.products.objects == ["Lipstick", "Mascara", "Phone"]  # validation unchanged
    r = make_model("reconciliation", source)
    r.channels = ["Social"]  # Social spend is CampB's only
    assert r.options_for("campaigns") == ["CampB"]


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        # Q4 2025 (92 days) has Jul 1..Sep 30 before it, inside the data
        (D(2025, 1, 1), D(2025, 12, 31), (D(2025, 10, 1), D(2025, 12, 31))),
        # data ends Nov 20: last full quarter Q3 (92 days) needs Apr 1..Jun 30: in the data
        (D(2025, 3, 1), D(2025, 11, 20), (D(2025, 7, 1), D(2025, 9, 30))),
        # from Aug 15 only: Q3 is cut, so October (31 days) against Aug 31..Sep 30
        (D(2025, 8, 15), D(2025, 11, 20), (D(2025, 10, 1), D(2025, 10, 31))),
        # six weeks of data: no full month with a month before it: all the data
        (D(2025, 1, 10), D(2025, 2, 28), (D(2025, 1, 10), D(2025, 2, 28))),
    ],
)
def test_the_opening_period_has_a_previous_period_in_the_data(first, last, expected) -> None:
    from types import SimpleNamespace

    from models.base import DomainModel

    stub = SimpleNamespace(_opening_view=True, data_start=first, data_end=last)
    assert DomainModel.opening_period(stub) == expected
    stub._opening_view = False  # the CLI: no dates means all the data
    assert DomainModel.opening_period(stub) == (first, last)


def test_links_are_made_against_the_opening_view(tmp_path) -> None:
    from app.urlstate import from_query, to_query
    from data.engine import open_source
    from models import make_model
    from tests.conftest import write_tables
    from tests.payments_tiny import MERCHANTS, TRANSACTIONS

    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    source = open_source(root)
    m = make_model("payments", source, opening_view=True)
    # Data 2025-01-10..2025-02-28: February's 28 days before it start on Jan 4, before the data
    assert (m.start, m.end) == (D(2025, 1, 10), D(2025, 2, 28))
    assert m.comparison()["coverage"] == "none"
    assert to_query(m) == {}  # the opening view is the clean link
    m.use_preset("Last full month")
    assert m.comparison()["coverage"] == "part"  # Jan 4..31: the data starts on Jan 10
    assert to_query(m) == {"start": ["2025-02-01"]}
    other = make_model("payments", source, opening_view=True)
    other.param.update(**from_query(other, to_query(m))["values"])
    assert (other.start, other.end) == (D(2025, 2, 1), D(2025, 2, 28))
    m.segments = ["SMB"]
    m.clear_filters()  # back to the opening view
    assert (m.start, m.end, m.segments) == (D(2025, 1, 10), D(2025, 2, 28), [])


@pytest.mark.parametrize(
    ("period", "previous", "first", "coverage", "short", "caption"),
    [
        (  # Q4 (92 days) has Q3 (92 days) just before it
            (D(2025, 10, 1), D(2025, 12, 31)),
            (D(2025, 7, 1), D(2025, 9, 30)),
            D(2025, 1, 1),
            "all",
            "vs previous quarter",
            "Q4 2025 (Oct 1 - Dec 31, 2025) compared with the previous quarter, "
            "Q3 2025 (Jul 1 - Sep 30, 2025)",
        ),
        (  # November (30 days) against the 30 days before: Oct 2..31, not a month
            (D(2025, 11, 1), D(2025, 11, 30)),
            (D(2025, 10, 2), D(2025, 10, 31)),
            D(2025, 10, 15),
            "part",
            "vs previous 30 days (part in the data)",
            "Nov 2025 (Nov 1 - Nov 30, 2025) compared with the previous 30 days, "
            "Oct 2 - Oct 31, 2025 (the data starts on Oct 15, 2025)",
        ),
        (  # the whole year: nothing before it
            (D(2025, 1, 1), D(2025, 12, 31)),
            (D(2024, 1, 1), D(2024, 12, 31)),
            D(2025, 1, 1),
            "none",
            "vs previous year",
            "2025 (Jan 1 - Dec 31, 2025): no data for the previous year "
            "(2024 (Jan 1 - Dec 31, 2024)) to compare with",
        ),
    ],
)
def test_the_comparison_is_named(period, previous, first, coverage, short, caption) -> None:
    from models.presentation import comparison

    c = comparison(*period, *previous, first, D(2025, 12, 31))
    assert (c["coverage"], c["short"], c["caption"]) == (coverage, short, caption)
    if coverage == "none":
        assert c["missing"] == "no data for the previous year"
