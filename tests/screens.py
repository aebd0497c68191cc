"""`make screenshots`: every page and tab at 1440x900 and 1024x768, light and dark, saved to
``tests/artifacts/screens/`` for a person to look at; prints what overflows the window.

Usage: ``python -m tests.screens [--data FOLDER] [--pages payments,influencer,...]``.
A `tieout serve` on localhost is started for the run and stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.browser.helpers import ARTIFACTS, browser_page
from tests.browser.test_pages import serve_root

SCREENS = ARTIFACTS / "screens"
PAGES = ("payments", "influencer", "reconciliation", "data")
TITLES = {
    "payments": "Payments analytics",
    "influencer": "Influencer marketing ROI",
    "reconciliation": "Marketing vs finance reconciliation",
    "data": "Load other data",
}
SIZES = ((1440, 900), (1024, 768))
THEMES = ("default", "dark")

#: Elements wider than the window (or reaching past its right edge), named for a person.
OVERFLOW_JS = """() => {
  const w = window.innerWidth, out = [];
  const up = (el) => el.parentElement || (el.getRootNode() && el.getRootNode().host) || null;
  const clipped = (el) => {  // inside a table that scrolls in its own frame, which fits
    for (let p = up(el); p; p = up(p)) {
      if (p.classList && p.classList.contains('tabulator')
          && p.getBoundingClientRect().right <= w + 1) return true;
    }
    return false;
  };
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      const internal = el.classList && (el.classList.contains('bk-GlyphRenderer')
                                       || el.classList.contains('bk-Legend'));
      if (r.width > 0 && r.height > 0 && r.right > w + 2 && !internal
          && getComputedStyle(el).visibility !== 'hidden' && !clipped(el)) {
        out.push(`${el.tagName.toLowerCase()}.${[...el.classList].slice(0, 2).join('.')}`
                 + ` right=${Math.round(r.right)}`);
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return {scroll: document.documentElement.scrollWidth, width: w, items: out.slice(0, 8)};
}"""


#: How wide the sidebar's content is, and the sidebar.
SIDEBAR_JS = """() => {
  const s = document.querySelector('#sidebar');
  return [s.scrollWidth, s.clientWidth];
}"""


def _tabs(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".bk-tab").all_inner_texts() if t.strip()]


def each_view(page: Any, wait_ms: int = 1500) -> Iterator[str]:
    """Open each tab of the page in turn, and each tab inside a tab (the reconciliation's Review:
    Exceptions, Suggested matches, ...); yields the name of what is open: ``""`` for a page
    without tabs, ``"Review / Aging"`` for a tab inside a tab."""
    outer = _tabs(page)
    if not outer:
        yield ""
        return
    headers = page.locator(".bk-tab")
    for t, tab in enumerate(outer):
        headers.nth(t).click()
        page.wait_for_timeout(wait_ms)
        # a tab's own tabs: their headers follow the page's in the document
        subs = [x.strip() for x in headers.all_inner_texts()[len(outer) :]]
        if not subs:
            yield tab
            continue
        for k, sub in enumerate(subs):
            headers.nth(len(outer) + k).click()
            page.wait_for_timeout(wait_ms)
            yield f"{tab} / {sub}"


def slug(*parts: str) -> str:
    """``reconciliation-review-suggested_matches`` for a page and what is open on it."""
    words = "-".join(p for p in parts if p).lower().replace(" / ", "-")
    return words.replace(" ", "_").replace("&", "and")


def shoot(url: str, pages: tuple[str, ...]) -> list[str]:
    """Take the screenshots; return one line per view that is wider than its window."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    for old in SCREENS.glob("*.png"):  # a view renamed or gone leaves no stale image behind
        old.unlink()
    problems = []
    for theme in THEMES:
        for width, height in SIZES:
            with browser_page(viewport={"width": width, "height": height}) as (page, seen):
                for name in pages:
                    page.goto(f"{url}?page={name}&theme={theme}")
                    page.wait_for_selector(f"text={TITLES[name]}", timeout=120_000)
                    page.wait_for_timeout(1500)
                    for tab in each_view(page):
                        shot = SCREENS / f"{slug(name, tab)}-{width}-{theme}.png"
                        page.screenshot(path=str(shot), full_page=True)
                        wide = page.evaluate(OVERFLOW_JS)
                        if wide["scroll"] > wide["width"] or wide["items"]:
                            problems.append(f"{shot.name}: {wide}")
                        inner, outer = page.evaluate(SIDEBAR_JS)
                        if inner > outer + 1:  # a sidebar field cut off at its edge
                            problems.append(f"{shot.name}: sidebar content {inner} px in {outer}")
                if seen.errors:
                    problems.append(f"console errors at {width} {theme}: {seen.errors[:3]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("demo-data"))
    ap.add_argument("--pages", default=",".join(PAGES))
    a = ap.parse_args(argv)
    pages = tuple(p for p in a.pages.split(",") if p)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TIEOUT_CACHE_DIR", str(Path(tmp) / "cache"))
        server = serve_root(a.data.resolve(), Path(tmp))
        url = next(server)
        try:
            problems = shoot(url, pages)
        finally:
            server.close()
    sys.stdout.write(f"screenshots in {SCREENS}\n")
    for line in problems:
        sys.stdout.write(f"does not fit: {line}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
