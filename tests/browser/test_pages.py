"""The domain pages in a real browser: Playwright driving the Debian chromium package.

Never `playwright install` (no network): the system chromium is launched by path.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests import influencer_tiny, recon_tiny
from tests.browser.helpers import (
    ARTIFACTS,
    CHROMIUM,
    browser_page,
    choose,
    open_domain,
    settled,
)
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run does)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    root = write_tables(
        tmp_path / "data", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    write_tables(root, "influencer", influencer_tiny.tables())
    write_tables(root, "reconciliation", recon_tiny.tables())
    yield from serve_root(root, tmp_path)


def serve_root(root: Path, tmp_path: Path) -> Iterator[str]:
    """`tieout serve` on ``root`` in a subprocess (localhost, stopped afterwards)."""
    port = _free_port()
    env = dict(os.environ, TIEOUT_CACHE_DIR=str(tmp_path / "cache"))
    log = open(tmp_path / "server.log", "wb")  # closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--data", str(root), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("localhost", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://localhost:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
        log.close()


def test_payments_page_in_browser(server: str) -> None:
    with browser_page() as (page, seen):
        page.goto(server)
        page.wait_for_selector("text=Payments analytics", timeout=60_000)
        # whole span: 1,060.01 in February + 200.00 in January
        page.wait_for_selector("text=$1,260.01", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "payments.png"), full_page=True)
        choose(page, 0, "Enterprise")
        # Enterprise = M2 only: 1,000.00 + 0.01
        page.wait_for_selector("text=$1,000.01", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "payments-filtered.png"), full_page=True)
        assert "Traceback" not in page.content()
        # The filter is in the URL (only non-defaults); opening the link reproduces the view.
        page.wait_for_function("() => window.location.search.includes('segment=Enterprise')")
        link = page.url
        assert "start=" not in link and "end=" not in link
        page.goto("about:blank")
        page.goto(link)
        page.wait_for_selector("text=$1,000.01", timeout=60_000)
        # The top-merchant table exports what it shows, with the model's numbers.
        page.get_by_text("Concentration", exact=True).click()
        with page.expect_download() as dl:
            page.get_by_text("Top merchants (CSV)", exact=True).click()
        exported = pd.read_csv(io.BytesIO(Path(dl.value.path()).read_bytes()))
        assert exported[["merchant_id", "gpv"]].values.tolist() == [["M2", 1000.01]]
        with page.expect_download() as dl:
            page.get_by_text("Top merchants (Excel)", exact=True).click()
        book = pd.read_excel(io.BytesIO(Path(dl.value.path()).read_bytes()))
        # the workbook is for people: headings in words (CSV keeps the keys)
        assert book[["Merchant ID", "GPV"]].values.tolist() == [["M2", 1000.01]]
    assert seen.errors == [] and seen.dialogs == []


def test_tables_sort_and_filter_in_browser(server: str) -> None:
    with browser_page() as (page, seen):
        page.goto(server + "?page=reconciliation")
        page.wait_for_selector("text=Marketing vs finance reconciliation", timeout=60_000)
        page.get_by_text("Exceptions", exact=True).click()
        table = page.locator(".tabulator").last
        table.wait_for(timeout=30_000)

        def orders() -> list[str]:
            cells = table.locator('.tabulator-row .tabulator-cell[tabulator-field="order_id"]')
            return cells.all_inner_texts()

        def until(check: Callable[[list[str]], bool]) -> list[str]:
            for _ in range(50):  # the table sorts on the server (remote pagination)
                if check(now := orders()):
                    return now
                page.wait_for_timeout(200)
            return orders()

        before = until(lambda o: len(o) == 7)  # filled once the tab is open
        assert before[:2] == ["A2", "F1"]  # by class, then order_id
        header = table.locator(".tabulator-col-title", has_text="Order ID")
        header.click()
        assert until(lambda o: o[-1] == "F1") == sorted(before)
        header.click()
        assert until(lambda o: o[0] == "F1") == sorted(before, reverse=True)
        box = table.locator(".tabulator-header-filter input").first
        box.click()
        page.keyboard.type("A3")
        page.keyboard.press("Enter")
        page.wait_for_timeout(1000)
        rows = table.locator(".tabulator-row")
        assert rows.count() == 1 and "A3" in rows.first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "reconciliation-sorted.png"), full_page=True)
    assert seen.errors == [] and seen.dialogs == []


def _model(tmp_path: Path, domain: str, tables: dict[str, str], **params: object):
    """The same tiny data's model, in this process: what the page's exports must equal."""
    from data.engine import open_source
    from models import make_model

    model = make_model(domain, open_source(write_tables(tmp_path / "same", domain, tables)))
    model.param.update(**params)
    return model


def _download(page, label: str) -> pd.DataFrame:
    with page.expect_download() as dl:
        page.get_by_text(label, exact=True).click()
    return pd.read_csv(io.BytesIO(Path(dl.value.path()).read_bytes()))


def _chart_fingerprint(page) -> str:
    """The data of every chart on the page (Bokeh column data sources), to see a chart change."""
    return page.evaluate(
        """() => JSON.stringify([...Bokeh.documents[0].all_models]
            .filter(m => m.type === 'ColumnDataSource')
            .map(m => Object.values(m.data).map(c => Array.from(c).join(',')).join('|'))
            .sort())"""
    )


def test_influencer_page_in_browser(server: str, tmp_path: Path) -> None:
    with browser_page() as (page, seen):
        # whole span: O1..O5 = 100 + 50 + 300 + 40 + 200
        open_domain(
            page, server, "Influencer ROI", "Influencer marketing ROI", "$690.00", "influencer.png"
        )
        charts = _chart_fingerprint(page)
        choose(page, 0, "BrandB")
        page.wait_for_selector("text=$500.00", timeout=30_000)  # O3 300 + O5 200
        settled(page)
        assert _chart_fingerprint(page) != charts  # the charts changed with the cards
        for tab in ("Product & Brand", "Influencers"):
            page.get_by_text(tab, exact=True).click()
            page.wait_for_timeout(1500)
            name = tab.split()[0].lower()
            page.screenshot(path=str(ARTIFACTS / f"influencer-{name}.png"), full_page=True)
        assert "Traceback" not in page.content()
        exported = _download(page, "Influencers (CSV)")
    model = _model(tmp_path, "influencer", influencer_tiny.tables(), brands=["BrandB"])
    expected = model.by_influencer
    assert sorted(exported["influencer_id"]) == sorted(expected["influencer_id"])
    got = dict(zip(exported["influencer_id"], exported["revenue"], strict=True))
    for iid, revenue in zip(expected["influencer_id"], expected["revenue"], strict=True):
        assert got[iid] == pytest.approx(float(revenue), abs=0.001)
    assert seen.errors == [] and seen.dialogs == []


def test_reconciliation_page_in_browser(server: str, tmp_path: Path) -> None:
    with browser_page() as (page, seen):
        # whole span 2025-02-15..04-03: booked A1 100 + A2 55 + A5 20 + A6 60 + A7 70 + F1 25
        title = "Marketing vs finance reconciliation"
        open_domain(page, server, "Reconciliation", title, "$330.00", "reconciliation.png")
        page.get_by_text("Daily variance", exact=True).click()
        page.wait_for_selector("text=pixel outage", timeout=30_000)
        # The anomaly note holds an <img onerror=...>: it shows as text and never runs.
        assert page.locator("img[src=x]").count() == 0
        page.get_by_text("Summary", exact=True).click()
        choose(page, 1, "CampB")
        # CampB, claimed at any date: A5 20 + A7 70 booked
        page.wait_for_selector("text=$90.00", timeout=30_000)
        settled(page)
        for tab in ("ROAS & CAC", "Funnel", "Daily variance", "Exceptions"):
            page.get_by_text(tab, exact=True).click()
            page.wait_for_timeout(1500)
            name = tab.split()[0].lower()
            page.screenshot(path=str(ARTIFACTS / f"reconciliation-{name}.png"), full_page=True)
        assert "Traceback" not in page.content()
        exported = _download(page, "Exceptions (CSV)")
    model = _model(tmp_path, "reconciliation", recon_tiny.tables(), campaigns=["CampB"])
    expected = model.exceptions
    assert exported["order_id"].tolist() == expected["order_id"].tolist()
    assert exported["class"].tolist() == expected["class"].tolist()
    for col in ("claimed_revenue", "claims_total", "finance_revenue"):
        want = [None if pd.isna(v) else float(v) for v in expected[col]]
        got = [None if pd.isna(v) else float(v) for v in exported[col]]
        assert got == want
    assert seen.errors == [] and seen.dialogs == []


def test_hostile_names_show_as_text_and_never_run(tmp_path: Path) -> None:
    root = Path(__file__).parents[1] / "data" / "bad" / "html_names"
    for url in serve_root(root, tmp_path):
        with browser_page() as (page, seen):
            page.goto(url)
            page.wait_for_selector("text=Payments analytics", timeout=60_000)
            page.get_by_text("Concentration", exact=True).click()
            page.get_by_text("<script>alert('x')</script>", exact=True).wait_for(timeout=30_000)
            page.get_by_text("<img src=x onerror=alert(1)>", exact=True).wait_for(timeout=30_000)
            page.get_by_text("Churn", exact=True).click()
            page.wait_for_timeout(1000)
            assert page.locator("img[src=x]").count() == 0
            assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") > 0
            assert "<script>alert" not in page.evaluate(
                "() => [...document.scripts].map(s => s.textContent).join('')"
            )
            page.screenshot(path=str(ARTIFACTS / "hostile-names.png"), full_page=True)
        assert seen.dialogs == [] and seen.errors == []


def test_clicking_a_declines_cell_drills_into_it(server: str) -> None:
    with browser_page() as (page, seen):
        page.goto(server)
        page.wait_for_selector("text=Payments analytics", timeout=60_000)
        page.get_by_text("Declines", exact=True).click()
        page.wait_for_timeout(1500)
        box = page.locator("canvas:visible").first.bounding_box()
        # Channels sorted (mobile, online) left to right, reasons (do_not_honor, then
        # insufficient_funds) bottom to top: the lower-left cell is do_not_honor x mobile,
        # which is T6 alone (M3, 200.00).
        page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6)
        text = page.locator("text=declines in the period").first
        text.wait_for(timeout=30_000)
        assert "Do not honor x mobile: 1 declines" in text.inner_text()
        page.get_by_text("Gamma Deli", exact=True).first.wait_for(timeout=10_000)
        page.get_by_text("T6", exact=True).first.wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "payments-declines-drill.png"), full_page=True)
    assert seen.errors == [] and seen.dialogs == []
