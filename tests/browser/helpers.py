"""Shared browser-test scaffolding: the Debian chromium through Playwright, console capture,
and the check that every domain page of a running app shows its title and KPI labels."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
#: Title and two KPI labels each domain page must show.
PAGES = {
    "Payments": ("Payments analytics", "GPV", "Approval rate"),
    "Influencer ROI": ("Influencer marketing ROI", "Net profit", "ROAS"),
    "Reconciliation": ("Marketing vs finance reconciliation", "Finance ROAS", "Match rate"),
}


@dataclass
class Captured:
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextmanager
def browser_page(**context: Any) -> Iterator[tuple[Any, Captured]]:
    """A fresh chromium page; console errors, page errors and dialogs are captured."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    seen = Captured()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(**{"viewport": {"width": 1400, "height": 1000}, **context})
            page = ctx.new_page()
            page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
            yield page, seen
        finally:
            browser.close()


def check_domain_pages(page: Any, url: str, timeout_ms: int = 120_000) -> None:
    """Open ``url`` and visit each domain page: its title and KPI labels must show, with no
    Python traceback in the page."""
    page.goto(url)
    for nav, (title, *labels) in PAGES.items():
        try:
            page.get_by_text(nav, exact=True).first.click(timeout=timeout_ms)
            page.wait_for_selector(f"text={title}", timeout=timeout_ms)
            for label in labels:
                page.get_by_text(label, exact=True).first.wait_for(timeout=30_000)
        except Exception:  # keep what the page showed, for whoever reads the failure
            page.screenshot(path=str(ARTIFACTS / f"failed-{nav.split()[0].lower()}.png"))
            raise
        assert "Traceback" not in page.content()


def choose(page: Any, box: int, value: str) -> None:
    """Pick ``value`` in the ``box``-th multi-choice filter of the sidebar, as a user types it."""
    page.locator(".choices").nth(box).click()
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def settled(page: Any, timeout_ms: int = 30_000) -> None:
    """Wait until a filter change's charts and tables have followed its cards: they stay dimmed
    until then (`views.common.dim_while_busy` sets ``--tieout-later`` on the body), and follow
    only once no change has come for a moment (`views.common.CHART_DELAY_MS`)."""
    page.wait_for_function(
        "() => document.body.style.getPropertyValue('--tieout-later') === ''", timeout=timeout_ms
    )


def open_domain(page: Any, url: str, nav: str, title: str, kpi: str, shot: str) -> None:
    """Open a domain page from the navigation and wait for its title and a KPI value."""
    page.goto(url)
    page.get_by_text(nav, exact=True).click()
    page.wait_for_selector(f"text={title}", timeout=60_000)
    page.wait_for_selector(f"text={kpi}", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
