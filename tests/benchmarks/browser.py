"""In-browser latency and load, measured with the Debian chromium through Playwright.

`make bench` runs ``latency``: on demo data, the time from a filter change in the page to the
updated KPI text (the change is made on the page's own widget model, as a click would; the clock
stops at the first animation frame after the KPI card text changed), per domain page. Each
change waits ``BENCH_SETTLE_MS`` (default 1,500 ms) after the previous one, as a person reading
the result would; ``BENCH_SETTLE_MS=0`` makes the changes back to back (each may then wait for
the previous change's charts).

`make load` is tests/benchmarks/load.py (simulated sessions, no browser).

    python -m tests.benchmarks.browser latency --data demo-data
    python -m tests.benchmarks.browser latency --data demo-data --pages influencer
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.run import pct
from tests.browser.helpers import ARGS, CHROMIUM

RESULTS = Path(__file__).parent / "results"

#: The filter each page changes, and values to cycle through.
FILTERS = {
    "payments": ("Segments", [["SMB"], ["Enterprise"], [], ["Mid-market"], ["SMB", "Enterprise"]]),
    "influencer": ("Platforms", [["Instagram"], ["Twitter"], [], ["YouTube"], []]),
    "reconciliation": ("Channels", [["Search"], ["Social"], [], ["Display"], []]),
}
KPI_TITLES = {
    "payments": "Payments analytics",
    "influencer": "Influencer marketing ROI",
    "reconciliation": "Marketing vs finance reconciliation",
}

JS_CHANGE = """
async ([title, values]) => {
  const doc = Bokeh.documents[0];
  const all = [...doc.all_models];
  const widget = all.find(m => m.title === title && Array.isArray(m.value));
  const cards = all.find(m => typeof m.text === 'string' && m.text.includes('kpi-card'));
  const same = JSON.stringify(widget.value) === JSON.stringify(values);
  if (same) return null;
  const before = cards.text;
  const t0 = performance.now();
  window.tieoutBenchT0 = t0;
  widget.value = values;
  while (cards.text === before) {
    if (performance.now() - t0 > 30000) return -1;
    await new Promise(r => setTimeout(r, 2));
  }
  await new Promise(r => requestAnimationFrame(() => r()));
  return performance.now() - t0;
}
"""

#: After a change's cards: the time from the change until its charts and tables have followed
#: too (the page's "later" dimming removed), polled up to ``limit`` ms after the change; null
#: when it did not settle by then.
JS_SETTLED = """
async (limit) => {
  const t0 = window.tieoutBenchT0;
  while (document.body.style.getPropertyValue('--tieout-later') !== '') {
    if (performance.now() - t0 > limit) return null;
    await new Promise(r => setTimeout(r, 5));
  }
  await new Promise(r => requestAnimationFrame(() => r()));
  return performance.now() - t0;
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def start_server(data: Path) -> tuple[subprocess.Popen, str]:
    """`tieout serve` on ``data`` (ingest reused from the user cache when unchanged)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--data", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "serving on" in line:
            break
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("localhost", port)) == 0:
                break
        time.sleep(0.1)
    return proc, f"http://localhost:{port}/"


def save(kind: str, result: dict) -> None:
    """Write ``result`` to results/<kind>-<time>.json and print it."""
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _open(browser, url: str, page_name: str):
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    query = "" if page_name == "payments" else f"?page={page_name}"
    await page.goto(url + query, timeout=120_000)
    await page.wait_for_selector(f"text={KPI_TITLES[page_name]}", timeout=120_000)
    await page.wait_for_timeout(300)
    return ctx, page, errors


async def latency(url: str, changes: int, settle_ms: int = 0) -> dict:
    from playwright.async_api import async_playwright

    out = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, (title, values) in FILTERS.items():
            pages = [p for p in os.environ.get("BENCH_PAGES", "").split(",") if p]
            if pages and name not in pages:
                continue
            ctx, page, errors = await _open(browser, url, name)
            times, settled = [], []
            pause = settle_ms
            for i in range(changes):
                await page.wait_for_timeout(pause)  # a person looks before changing again
                ms = await page.evaluate(JS_CHANGE, [title, values[i % len(values)]])
                pause = settle_ms
                if ms is None:
                    continue
                times.append(ms)
                if settle_ms:  # at a person's pace: when the whole page has followed
                    done = await page.evaluate(JS_SETTLED, ms + settle_ms)
                    settled.append(done if done is not None else ms + settle_ms)
                    pause = max(0.0, settle_ms - (settled[-1] - ms))
            await ctx.close()
            out[name] = {
                "changes": len(times),
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(pct(times, 0.95), 1),
                "timeouts": sum(1 for t in times if t < 0),
                # change to every chart and table followed (paced runs only)
                **(
                    {
                        "settled_median_ms": round(statistics.median(settled), 1),
                        "settled_p95_ms": round(pct(settled, 0.95), 1),
                    }
                    if settled
                    else {}
                ),
                "console_errors": len(errors),
            }
        await browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["latency"])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--changes", type=int, default=30)
    ap.add_argument(
        "--pages",
        default=os.environ.get("BENCH_PAGES", ""),
        help="only these pages, comma-separated (default: every page; also $BENCH_PAGES)",
    )
    a = ap.parse_args(argv)
    if a.pages:
        os.environ["BENCH_PAGES"] = a.pages
    if CHROMIUM is None:
        print("chromium is not installed (apt-get install chromium)")
        return 2
    os.environ.setdefault("TIEOUT_CACHE_DIR", str(Path(tempfile.gettempdir()) / "tieout-bench"))
    proc, url = start_server(a.data.resolve())
    try:
        settle = int(os.environ.get("BENCH_SETTLE_MS", "1500"))
        result = {"latency": asyncio.run(latency(url, a.changes, settle)), "settle_ms": settle}
    finally:
        proc.terminate()
        proc.wait(15)
    result["data"] = str(a.data)
    save(f"browser-{a.what}", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
