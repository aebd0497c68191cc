"""What a person sees, on every page and tab at 1024x768 (the narrowest supported window):
no traceback or console error, nothing wider than the window, no raw machine number (four or
more decimals, scientific notation, NaN) and no code word of the app's own (``approval_rate``,
``do_not_honor``); and a link with several filters reproduces the view on each page."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from data import schemas
from models import presentation
from tests.browser.helpers import ARTIFACTS, CHROMIUM, browser_page, choose
from tests.browser.test_pages import serve_root
from tests.screens import OVERFLOW_JS, PAGES, SIDEBAR_JS, TITLES, each_view

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run does)"),
]

#: Text of the page, shadow roots included (Panel draws each component in its own).
TEXT_JS = """() => {
  // Each piece of text a person can see, one per line (table cells are separate pieces),
  // shadow roots included (Panel draws each component in its own); hidden elements skipped.
  const parts = [];
  const walk = (root) => {
    const it = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = it.nextNode(); n; n = it.nextNode()) {
      if (n.nodeType === Node.TEXT_NODE) {
        const el = n.parentElement;
        if (n.data.trim() && el && !['STYLE', 'SCRIPT'].includes(el.tagName)
            && el.getClientRects().length) parts.push(n.data.trim());
      } else if (n.shadowRoot) {
        walk(n.shadowRoot);
      }
    }
  };
  walk(document.body);
  return parts.join('\\n');
}"""
#: Records each value the page's "stale" dimming takes (`views.common.dim_while_busy`).
WATCH_DIMMING_JS = """() => {
  window.tieoutDims = [];
  new MutationObserver(() => window.tieoutDims.push(
      document.body.style.getPropertyValue('--tieout-stale'))
  ).observe(document.body, {attributes: true, attributeFilter: ['style']});
}"""
LONG_DECIMALS = re.compile(r"\d\.\d{4,}")
SCIENTIFIC = re.compile(r"\b\d(?:\.\d+)?e[+-]?\d+\b", re.IGNORECASE)
#: Words of the app's own vocabulary that must never show as they are spelled in code.
OWN_WORDS = {
    w
    for w in (
        *presentation.FIELDS,
        *presentation.CODES,
        *(c.name for t in schemas.TABLES for c in t.columns),
    )
    if presentation.is_snake_code(w)
}


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("face")
    root = tmp / "demo"
    subprocess.run(
        [sys.executable, "-m", "app.cli", "generate", "--out", str(root), "--rows", "20000"],
        check=True,
        capture_output=True,
    )
    yield from serve_root(root, tmp)


def problems_on_screen(text: str) -> list[str]:
    found = []
    for pattern, what in ((LONG_DECIMALS, "four or more decimals"), (SCIENTIFIC, "scientific")):
        found += [f"{what}: {m.group(0)}" for m in pattern.finditer(text)]
    found += ["NaN"] * ("NaN" in re.findall(r"\bNaN\b", text))
    words = set(re.findall(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", text))
    found += [f"code word: {w}" for w in sorted(words & OWN_WORDS)]
    return found


def test_problems_on_screen_finds_what_it_should() -> None:  # the checker can fail
    text = "GPV 1.653e+6 and 0.847634, rate NaN, approval_rate, do_not_honor; $1,234.56 84.8%"
    assert problems_on_screen(text) == [
        "four or more decimals: 0.847634",
        "scientific: 1.653e+6",
        "NaN",
        "code word: approval_rate",
        "code word: do_not_honor",
    ]


def test_every_page_and_tab_reads_as_made_for_people(demo_url: str) -> None:
    failures: list[str] = []
    with browser_page(viewport={"width": 1024, "height": 768}) as (page, seen):
        for name in PAGES:
            page.goto(f"{demo_url}?page={name}")
            page.wait_for_selector(f"text={TITLES[name]}", timeout=120_000)
            page.wait_for_timeout(1000)
            for tab in each_view(page, wait_ms=1200):  # each tab, and each tab inside one
                where = f"{name}/{tab or 'page'}"
                text = page.evaluate(TEXT_JS)
                if "Traceback" in text:
                    failures.append(f"{where}: a traceback")
                # The Data page names tables as their files are named (revenue_marketing.csv).
                found = problems_on_screen(text)
                if name == "data":
                    found = [p for p in found if not p.startswith("code word")]
                failures += [f"{where}: {p}" for p in found]
                inner, outer = page.evaluate(SIDEBAR_JS)
                if inner > outer + 1:  # a field cut off at the sidebar's edge
                    failures.append(f"{where}: sidebar content {inner} px in {outer} px")
                wide = page.evaluate(OVERFLOW_JS)
                if wide["scroll"] > wide["width"] or wide["items"]:
                    failures.append(f"{where}: wider than the window {wide}")
                    shot = f"face-{name}-{tab.replace(' / ', '-')}.png"
                    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        errors = list(seen.errors)
    assert errors == [] and failures == [], "\n".join([*errors, *failures])


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("page=payments&segment=SMB&region=EMEA&channel=online", ("SMB", "EMEA", "online")),
        ("page=influencer&platform=Instagram&tier=Micro", ("Instagram", "Micro")),
        ("page=reconciliation&channel=Search&abs_tol=0.5", ("Search",)),
        # explicit dates are kept exactly, whatever the opening period
        ("page=payments&start=2025-03-01&end=2025-03-31&segment=SMB", ("SMB", "Mar 1 - Mar 31")),
    ],
)
def test_a_link_with_several_filters_opens_that_view(
    demo_url: str, query: str, shown: tuple[str, ...]
) -> None:
    with browser_page(viewport={"width": 1440, "height": 900}) as (page, seen):
        page.goto(f"{demo_url}?{query}")
        page.wait_for_selector(".kpi-card", timeout=120_000)
        page.wait_for_timeout(1000)
        chips = page.locator(".choices__item--selectable").all_inner_texts()
        text = page.evaluate(TEXT_JS)
        assert "Traceback" not in text
        for value in shown:
            assert any(value in c for c in chips) or value in text, (value, chips)
        assert seen.errors == []


def wait_until(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_cards_name_the_comparison_and_dim_while_a_change_runs(demo_url: str) -> None:
    with browser_page(viewport={"width": 1440, "height": 900}) as (page, seen):
        page.goto(f"{demo_url}?page=payments")
        page.wait_for_selector(".kpi-card", timeout=120_000)
        page.wait_for_timeout(1000)
        text = page.evaluate(TEXT_JS)
        # The page opens on the last full quarter, compared with the quarter before it.
        assert re.search(
            r"Q4 \d{4} \(Oct 1 - Dec 31, \d{4}\) compared with the previous quarter", text
        )
        cards = page.locator(".kpi-card").all_inner_texts()
        assert cards and all("$0.00" not in c and "no data" not in c for c in cards), cards
        assert sum("vs previous quarter" in c for c in cards) >= len(cards) - 1, cards
        page.evaluate(WATCH_DIMMING_JS)
        before = page.locator(".kpi-card").first.inner_text()
        choose(page, 0, "SMB")
        wait_until(lambda: page.locator(".kpi-card").first.inner_text() != before)
        # dimmed, then shown again (waited for: a busy machine may undim a little later)
        wait_until(lambda: page.evaluate("() => window.tieoutDims")[-1:] == [""], 30)
        dims = page.evaluate("() => window.tieoutDims")
        assert "0.45" in dims and dims[-1] == "", dims
        # "All data" has nothing before it: the cards say so in words, never $0.00.
        page.get_by_text("Period presets", exact=True).click()
        page.get_by_text("All data", exact=True).click()
        wait_until(lambda: "no data for the previous" in page.evaluate(TEXT_JS))
        cards = page.locator(".kpi-card").all_inner_texts()
        assert all("$0.00" not in c for c in cards), cards
        assert seen.errors == []
