"""Shareable views: a model's state <-> URL query parameters (only non-defaults), and the app
applies a link's state to the page it opens."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.urlstate import from_query, to_query
from data.engine import open_source
from models import make_model
from tests import recon_tiny
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    return write_tables(root, "reconciliation", recon_tiny.tables())


def test_defaults_give_a_clean_url_and_changes_round_trip(root: Path) -> None:
    source = open_source(root)
    a = make_model("payments", source)
    assert to_query(a) == {}
    a.param.update(segments=["SMB", "Enterprise"], start=dt.date(2025, 2, 1))
    query = to_query(a)
    assert query == {"segment": ["SMB", "Enterprise"], "start": ["2025-02-01"]}
    b = make_model("payments", source)
    asked = from_query(b, query)
    assert asked["problems"] == []
    b.param.update(**asked["values"])
    assert (b.segments, b.start, b.end) == (["SMB", "Enterprise"], dt.date(2025, 2, 1), a.end)
    assert b.kpis == a.kpis


def test_settings_round_trip(root: Path) -> None:
    source = open_source(root)
    a = make_model("reconciliation", source)
    a.param.update(abs_tol=0.5, timing_days=7)
    query = to_query(a)
    assert query == {"abs_tol": ["0.5"], "timing_days": ["7"]}
    b = make_model("reconciliation", source)
    b.param.update(**from_query(b, query)["values"])
    assert (b.abs_tol, b.timing_days) == (0.5, 7)


def test_bad_link_values_are_skipped_with_a_message(root: Path) -> None:
    m = make_model("payments", open_source(root))
    asked = from_query(
        m,
        {
            "segment": ["SMB", "../../etc/passwd"],  # not an option found in the data
            "start": ["not-a-date"],
            "end": ["2025-02-15"],
            "page_size": ["9999"],  # not a parameter a link carries: ignored silently
        },
    )
    assert asked["values"] == {"end": dt.date(2025, 2, 15)}
    assert len(asked["problems"]) == 2
    assert any("segment" in p for p in asked["problems"])


def test_a_period_ending_before_it_starts_is_refused(root: Path) -> None:
    m = make_model("payments", open_source(root))
    asked = from_query(m, {"start": ["2025-02-20"], "end": ["2025-02-01"]})
    assert asked["values"] == {} and "ends before it starts" in asked["problems"][0]


def test_app_applies_the_link_to_the_page(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.main as main_mod

    query = {"page": ["reconciliation"], "campaign": ["CampB"], "abs_tol": ["0.5"]}
    monkeypatch.setattr(main_mod, "_session_query", lambda: query)
    template = main_mod.create_app(open_source(root))
    assert template.tieout_nav.value == "reconciliation"
    model = template.tieout_app.model("reconciliation")
    assert model.campaigns == ["CampB"] and model.abs_tol == 0.5


@pytest.mark.parametrize(
    ("page", "query", "expect"),
    [
        (
            "payments",
            {"segment": ["SMB"], "region": ["EMEA"], "channel": ["online"]},
            {"segments": ["SMB"], "regions": ["EMEA"], "channels": ["online"]},
        ),
        (
            "reconciliation",
            {"campaign": ["CampB"], "channel": ["Search"], "abs_tol": ["0.5"]},
            {"campaigns": ["CampB"], "abs_tol": 0.5},
        ),
    ],
)
def test_a_link_with_several_filters_reproduces_the_view(
    root: Path, monkeypatch: pytest.MonkeyPatch, page: str, query: dict, expect: dict
) -> None:
    """Several values set at once reach every watcher as one batch (a watcher taking one
    event crashed the payments page with a traceback)."""
    import app.main as main_mod

    monkeypatch.setattr(main_mod, "_session_query", lambda: {"page": [page], **query})
    template = main_mod.create_app(open_source(root))
    model = template.tieout_app.model(page)
    assert {k: getattr(model, k) for k in expect} == expect
    model.param.update(start=model.start, end=model.end)  # and a later batch of changes


def test_a_link_opens_its_tab(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.main as main_mod

    query = {"page": ["reconciliation"], "tab": ["roas-cac"]}
    monkeypatch.setattr(main_mod, "_session_query", lambda: query)
    template = main_mod.create_app(open_source(root))
    view = template.tieout_pages["reconciliation"][0]
    assert view.tabs[view.tabs.active].name == "ROAS & CAC"
    assert main_mod.tab_slug("ROAS & CAC") == "roas-cac"


def test_a_link_opens_the_reviews_own_tab(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.main as main_mod

    query = {"page": ["reconciliation"], "tab": ["review"], "subtab": ["aging"]}
    monkeypatch.setattr(main_mod, "_session_query", lambda: query)
    template = main_mod.create_app(open_source(root))
    view = template.tieout_pages["reconciliation"][0]
    assert view.tabs[view.tabs.active].name == "Review"
    inner = view.subtabs["Review"]
    assert inner[inner.active].name == "Aging"
    # a sub-tab that does not exist is ignored (the first stays open), as a tab is
    query["subtab"] = ["nowhere"]
    template = main_mod.create_app(open_source(root))
    assert template.tieout_pages["reconciliation"][0].subtabs["Review"].active == 0
