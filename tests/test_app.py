"""The app renders for a session (no browser): get_root on a fresh Document."""

from __future__ import annotations

from pathlib import Path

from bokeh.document import Document
from pyviz_comms import Comm

from app.main import create_app
from data.engine import open_source
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
    cards = payments_view._layout[1][0][0]
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
    assert "not built yet" in app.tieout_pages["influencer"][0].object
