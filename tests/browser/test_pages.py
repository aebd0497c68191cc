"""The domain pages in a real browser: Playwright driving the Debian chromium package.

Never `playwright install` (no network): the system chromium is launched by path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import influencer_tiny, recon_tiny
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
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


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_payments_page_in_browser(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            page.wait_for_selector("text=Payments analytics", timeout=60_000)
            # whole span: 1,060.01 in February + 200.00 in January
            page.wait_for_selector("text=$1,260.01", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "payments.png"), full_page=True)
            segment_box = page.locator(".choices").nth(0)
            segment_box.click()
            page.keyboard.type("Enterprise")
            page.keyboard.press("Enter")
            # Enterprise = M2 only: 1,000.00 + 0.01
            page.wait_for_selector("text=$1,000.01", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "payments-filtered.png"), full_page=True)
            assert "Traceback" not in page.content()
        finally:
            browser.close()
    assert errors == []


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_influencer_page_in_browser(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            page.get_by_text("Influencer ROI", exact=True).click()
            page.wait_for_selector("text=Influencer marketing ROI", timeout=60_000)
            # whole span: O1..O5 = 100 + 50 + 300 + 40 + 200
            page.wait_for_selector("text=$690.00", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "influencer.png"), full_page=True)
            brand_box = page.locator(".choices").nth(0)
            brand_box.click()
            page.keyboard.type("BrandB")
            page.keyboard.press("Enter")
            page.wait_for_selector("text=$500.00", timeout=30_000)  # O3 300 + O5 200
            for tab in ("Product & Brand", "Influencers"):
                page.get_by_text(tab, exact=True).click()
                page.wait_for_timeout(1500)
                name = tab.split()[0].lower()
                page.screenshot(path=str(ARTIFACTS / f"influencer-{name}.png"), full_page=True)
            assert "Traceback" not in page.content()
        finally:
            browser.close()
    assert errors == []


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_reconciliation_page_in_browser(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server)
            page.get_by_text("Reconciliation", exact=True).click()
            page.wait_for_selector("text=Marketing vs finance reconciliation", timeout=60_000)
            # whole span 2025-02-15..04-03: booked A1 100 + A2 55 + A5 20 + A6 60 + A7 70 + F1 25
            page.wait_for_selector("text=$330.00", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "reconciliation.png"), full_page=True)
            page.get_by_text("Daily variance", exact=True).click()
            page.wait_for_selector("text=pixel outage", timeout=30_000)
            # The anomaly note holds an <img onerror=...>: it shows as text and never runs.
            assert page.locator("img[src=x]").count() == 0
            page.get_by_text("Summary", exact=True).click()
            campaign_box = page.locator(".choices").nth(1)
            campaign_box.click()
            page.keyboard.type("CampB")
            page.keyboard.press("Enter")
            # CampB, claimed at any date: A5 20 + A7 70 booked
            page.wait_for_selector("text=$90.00", timeout=30_000)
            for tab in ("ROAS & CAC", "Funnel", "Daily variance", "Exceptions"):
                page.get_by_text(tab, exact=True).click()
                page.wait_for_timeout(1500)
                name = tab.split()[0].lower()
                page.screenshot(path=str(ARTIFACTS / f"reconciliation-{name}.png"), full_page=True)
            assert "Traceback" not in page.content()
        finally:
            browser.close()
    assert errors == [] and dialogs == []
