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
