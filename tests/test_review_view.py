"""The Review tab (views/review.py) on the tiny dataset: select rows and set a status, confirm a
suggestion, sign off; a second session's change is refused with a clear message; hostile order
ids and notes stay text in the page and in the downloads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import holoviews as hv
import pytest
from bokeh.document import Document
from pyviz_comms import Comm

from data import state
from data.engine import open_source
from models import review as review_model
from models.export import to_csv_bytes
from models.reconciliation import ReconciliationModel
from tests import recon_tiny
from tests.conftest import write_tables
from views.common import number_formatter
from views.review import ReviewView, aging_text

MARCH = {"start": dt.date(2025, 3, 1), "end": dt.date(2025, 3, 31)}
EVIL = "<img src=x onerror=alert(1)>"
CLAIMS = recon_tiny.CLAIMS.rstrip() + f"\n{EVIL},2025-03-20,CampA,12.00\n"


@pytest.fixture
def view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReviewView]:
    monkeypatch.setenv("TIEOUT_MODE", "desktop")
    if "bokeh" not in hv.Store.renderers:
        hv.extension("bokeh", logo=False)
    write_tables(tmp_path, "reconciliation", recon_tiny.tables(revenue_marketing=CLAIMS))
    m = ReconciliationModel(open_source(tmp_path), **MARCH, abs_tol=5.0, timing_days=8)
    v = ReviewView(model=m, store_url=f"sqlite:///{tmp_path / 'review.sqlite'}")
    v.shown(True)
    v.__panel__().get_root(Document(), Comm())  # it renders
    # the sub-tabs are drawn when opened: each table drawn as a person opening them would
    for w in (v._work, v._sugg, v._matches, v._aging, v._signoffs, v._diff, v._log):
        w.get_root(Document(), Comm())
    yield v
    state.dispose_all()


def _rows(v: ReviewView, *ids: str) -> list[int]:
    return [i for i, o in enumerate(v._frame["order_id"]) if o in ids]


def test_set_status_on_selected_rows(view: ReviewView) -> None:
    # tolerance 5.00: A2 (5.00 apart) is matched; timing window 8 days: A6 (6) is on time
    assert set(view._work.value["order_id"]) == {"A3", "A4", "A5", "F1", EVIL}
    view._work.selection = _rows(view, "A4", EVIL)
    view._status.value = "investigating"
    view._owner.value = "ana"
    view._note.value = f"asked finance {EVIL}"
    view._apply()
    assert "Saved: 2 exceptions changed." in view._message.object
    w = view._frame.set_index("order_id")
    assert w.loc["A4", "status"] == "investigating" and w.loc[EVIL, "owner"] == "ana"
    assert w.loc[EVIL, "note"] == f"asked finance {EVIL}"
    # the table shows text as text (Tabulator's plaintext formatter escapes it)
    for col in ("order_id", "note", "owner", "status"):
        assert view._work.formatters[col] == {"type": "plaintext"}
    assert view._work.titles["status"] == "Status"
    assert "Investigating" in set(view._work.value["status"])  # the code in words
    # a rule: writing off needs a note
    view._work.selection = _rows(view, "A4")
    view._status.value = "written_off"
    view._apply()
    assert "a note is needed" in view._message.object


def test_a_change_from_another_session_is_refused_clearly(view: ReviewView, tmp_path: Path) -> None:
    other = ReviewView(model=view.model, store_url=f"sqlite:///{tmp_path / 'review.sqlite'}")
    other.shown(True)
    other.__panel__().get_root(Document(), Comm())
    view._work.selection = _rows(view, "A4")
    view._status.value = "resolved"
    view._apply()
    other._work.selection = _rows(other, "A4")  # loaded before the first saved
    other._status.value = "written_off"
    other._note.value = "gone"
    other._apply()
    assert "Not saved: A4 (refunded) was changed by" in other._message.object
    assert "reload and try again" in other._message.object
    assert other._frame.set_index("order_id").loc["A4", "status"] == "resolved"  # reloaded


def test_confirm_a_suggestion_in_the_page(view: ReviewView) -> None:
    sugg = view._sugg.tieout_frame
    assert list(zip(sugg["claim_id"], sugg["finance_id"], strict=True)) == [("A3", "F1")]
    assert "amounts $5.00 apart" in sugg["reason"].iloc[0]
    assert view._counts["sugg"].object == "1 suggestion"
    assert view._counts["signoffs"].object == "This data has not been signed off yet."
    view._sugg.selection = [0]
    view._decide(view._sugg, "confirmed")
    assert "Confirmed: A3 / F1." in view._message.object
    assert view.model.kpis["orders_missing_in_finance"] == 1  # the evil claim is still missing
    assert "matched_on_review" in list(view.model.bridge["step"])
    assert view._sugg.tieout_frame.empty
    view._matches.selection = [0]
    view._decide(view._matches, "undone")
    assert "Undone" in view._message.object
    assert view.model.kpis["orders_missing_in_finance"] == 2


def test_aging_and_signoff_in_the_page(view: ReviewView) -> None:
    money = number_formatter("money").format
    for widget, col in (
        (view._aging, "value_at_stake"),
        (view._work, "claimed_revenue"),
        (view._sugg, "finance_revenue"),
        (view._signoffs, "revenue_finance"),
    ):
        assert widget.formatters[col].format == money, col  # money as money, from the start
    totals = view.aging_totals.set_index("age_bucket")
    assert totals["open_exceptions"].sum() == 5  # A3 A4 A5 F1 and the evil claim
    # to 03-31: A3 24 days, A4 23, A5 22, F1 16, the evil claim (03-20) 11: all 8-30
    assert totals.loc["8-30", "open_exceptions"] == 5
    assert totals.loc["8-30", "value_at_stake"] == Decimal("127.00")  # 30 + 40 + 20 + 25 + 12
    # the chart's total in words: 5 open exceptions, $127.00 (the only bucket with any)
    assert aging_text(view.aging_totals).startswith(
        "**In all: 5 open exceptions, $127.00 at stake.**"
    )
    none = review_model.empty(review_model.AGING_COLUMNS)
    assert aging_text(review_model.aging_totals(none)) == ""  # nothing open: no line
    view._prepare()
    assert "Signed as preparer: 2025-03-01 to 2025-03-31." in view._message.object
    view._signoffs.selection = [0]
    view._compare()
    assert "the numbers are the same" in view._message.object
    assert view._diff_box.visible
    view._approve()  # the desktop: one person may prepare and approve
    assert "approved" in view._message.object
    assert list(view._signoffs.tieout_frame["state"]) == ["approved"]


def test_hostile_text_stays_inert_in_messages_and_downloads(view: ReviewView) -> None:
    view._work.selection = _rows(view, EVIL)
    view._status.value = "resolved"
    view._note.value = '=HYPERLINK("http://evil")'
    view._apply()
    view._work.selection = _rows(view, EVIL)
    view._status.value = "explained"  # resolved cannot become explained: refused, naming it
    view._note.value = "why"
    view._apply()
    assert "&lt;img src=x onerror=alert(1)&gt; (resolved cannot become explained)" in (
        view._message.object
    )
    assert EVIL not in view._message.object and EVIL not in view._notices.object
    csv = to_csv_bytes(view._frame).decode()
    assert "'=HYPERLINK" in csv  # neutralised for spreadsheets
    assert EVIL in set(view.session.log()["order_id"])  # kept as it is in the state


def test_the_domain_workbook_has_the_review_sheets(view: ReviewView) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    from models.export import workbook_bytes

    view._work.selection = _rows(view, EVIL)
    view._status.value = "investigating"
    view._note.value = "=1+1"
    view._apply()
    view._prepare()
    wb = load_workbook(BytesIO(workbook_bytes(view.model)))
    assert {"Review log", "Review matches", "Sign-offs", "Sign-off 1"} <= set(wb.sheetnames)
    notes = [c.value for c in wb["Review log"]["H"]]
    assert "'=1+1" in notes  # neutralised
    view._sugg.selection = [0]
    view._decide(view._sugg, "confirmed")
    wb = load_workbook(BytesIO(workbook_bytes(view.model)))
    header = {r[0].value: r[1].value for r in wb["KPIs"].iter_rows(max_col=2) if r[0].value}
    assert header["Confirmed matches (counted as matched)"] == 1
    assert view.model.summary()["confirmed_matches"] == [["A3", "F1"]]


def test_the_review_tab_on_the_reconciliation_page(tmp_path: Path) -> None:
    from app.main import create_app

    root = write_tables(tmp_path, "reconciliation", recon_tiny.tables())
    app = create_app(open_source(root))
    app.tieout_nav.value = "reconciliation"
    app.main[0].get_root(Document(), Comm())
    page = app.tieout_pages["reconciliation"][0]
    assert [t.name for t in page.tabs][-1] == "Review"
    assert page.review.session is not None  # the state of this test (conftest's TIEOUT_STATE)
    assert page.model._exceptions is None  # not worked out until a tab needs them
    page.tabs.active = len(page.tabs) - 1
    page.tabs[-1].get_root(Document(), Comm())
    assert set(page.review._frame["order_id"]) >= {"A3", "F1"}
    n = page.model.computations
    page.model.campaigns = ["CampB"]  # the open tab follows the filters
    assert page.model.computations == n + 1
    assert "F1" not in set(page.review._frame["order_id"])  # finance-only: no campaign
    state.dispose_all()


def test_the_banner_says_who_and_where_in_words(view: ReviewView, tmp_path: Path) -> None:
    from views.review import banner_text

    text = view._who.object
    assert "saved on this computer" in text and f"data folder “{tmp_path.name}”" in text
    for raw in ("sqlite", "review.sqlite", str(tmp_path), "://"):
        assert raw not in text
    team_engine = type("E", (), {"dialect": type("D", (), {"name": "postgresql"})()})()
    team = state.Store("postgresql+psycopg://u:secret@db.example/x", team_engine)  # type: ignore[arg-type]
    words = banner_text("anonymous (no sign-in)", True, team, "/srv/data/acme <b>")
    assert words == (
        "Reviewing without sign-in: changes are recorded as anonymous. Statuses, owners, notes "
        "and sign-offs are saved in the team database, for the data folder “acme <b>”."
    )


def test_history_signoffs_and_differences_in_words() -> None:
    import pandas as pd

    from views.review import differences_display, filters_in_words, log_display

    log = pd.DataFrame(
        [
            [
                "2025-03-20T14:05:09+00:00",
                "ana",
                "A4",
                "refunded",
                "amounts",
                "claimed=5000;finance=",
                "claimed=5000;finance=5550",
                "",
            ],
            ["t", "ana", "A4", "refunded", "status", "open", "written_off", "gone"],
        ],
        columns=["at", "who", "order_id", "class", "action", "old", "new", "note"],
    )
    shown = log_display(log)
    assert shown["at"].iloc[0] == "2025-03-20 14:05:09"
    assert list(shown["old"]) == ["claimed $50.00, finance none", "Open"]
    assert list(shown["new"]) == ["claimed $50.00, finance $55.50", "Written off"]
    assert filters_in_words('{"campaigns": [], "channels": ["Search"]}') == (
        "Campaigns: all; Channels: Search"
    )
    diff = pd.DataFrame(
        [
            ["KPI match_rate", "0.8476543", "0.85"],
            ["bridge matched_on_review", "", "-5.00"],
            ["tolerance abs_tol", "0.01", "5.0"],
            ["open exceptions new since signing", "", "A3 (missing_in_finance)"],
        ],
        columns=["item", "signed", "now"],
    )
    d = differences_display(diff)
    assert list(d["item"]) == [
        "KPI: Match rate",
        "Bridge step: Matched on review",
        "Setting: Amount tolerance ($)",
        "Open exceptions new since signing",
    ]
    assert d["signed"].iloc[0] == "84.8%" and d["now"].iloc[1] == "-$5.00"
    assert d["now"].iloc[3] == "A3 (Missing in finance)"


def test_worklist_shows_the_amounts_before_the_workflow(view: ReviewView) -> None:
    """At 1024 px the first columns are in view: the money, not the mostly empty notes; the
    empty choices say what they do; the suggestions name the bridge step as the bridge does."""
    import panel as pn

    from models import presentation
    from models.reconciliation import REVIEW_STEP

    shown = list(view._work.value.columns)
    assert shown[:5] == [
        "order_id",
        "class",
        "claimed_revenue",
        "finance_revenue",
        "value_at_stake",
    ]
    assert shown[5:9] == ["status", "owner", "note", "flags"]
    assert set(shown) == set(review_model.WORKLIST_COLUMNS) - {"version"}
    assert view._status.options["(leave as is)"] == ""
    assert view._owner.placeholder == "(leave as is)"
    step = presentation.code_label(REVIEW_STEP)  # the bridge's label of its step
    assert step == "Matched on review"
    texts = [p.object for p in view.tabs.select(pn.pane.Markdown) if isinstance(p.object, str)]
    assert any(f"bridge's step *{step}*" in t for t in texts)
