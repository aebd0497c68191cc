"""In-browser latency and load, measured with the Debian chromium through Playwright.

`make bench` runs ``latency``: on demo data, the time from a filter change in the page to the
updated KPI text (the change is made on the page's own widget model, as a click would; the clock
stops at the first animation frame after the KPI card text changed), per domain page. Each
change waits ``BENCH_SETTLE_MS`` (default 1,500 ms) after the previous one, as a person reading
the result would; ``BENCH_SETTLE_MS=0`` makes the changes back to back (each may then wait for
the previous change's charts).

`make load` runs ``load`` and ``sessions`` against one `tieout serve` process at 1M transactions:
20 concurrent browser sessions changing payments filters for 60 s (think time 0.5-1.5 s), then 300
sessions opened and closed, with the server's resident memory before and after. Loopback only;
bounded in count and time.

    python -m tests.benchmarks.browser latency --data demo-data
    python -m tests.benchmarks.browser load --data demo-data [--sessions 20 --seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
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
  widget.value = values;
  while (cards.text === before) {
    if (performance.now() - t0 > 30000) return -1;
    await new Promise(r => setTimeout(r, 2));
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
            if os.environ.get("BENCH_PAGES") and name not in os.environ["BENCH_PAGES"]:
                continue
            ctx, page, errors = await _open(browser, url, name)
            times = []
            for i in range(changes):
                await page.wait_for_timeout(settle_ms)  # a person looks before changing again
                ms = await page.evaluate(JS_CHANGE, [title, values[i % len(values)]])
                if ms is not None:
                    times.append(ms)
            await ctx.close()
            out[name] = {
                "changes": len(times),
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(pct(times, 0.95), 1),
                "timeouts": sum(1 for t in times if t < 0),
                "console_errors": len(errors),
            }
        await browser.close()
    return out


async def load(url: str, sessions: int, seconds: float) -> dict:
    from playwright.async_api import async_playwright

    title, values = FILTERS["payments"]
    times: list[float] = []
    failures: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        opened, page_loads = [], []
        for _ in range(sessions):  # users arrive one after another (ramp-up), then all work
            t0 = time.perf_counter()
            opened.append(await _open(browser, url, "payments"))
            page_loads.append((time.perf_counter() - t0) * 1000)
        stop = time.monotonic() + seconds
        rng = random.Random(7)

        async def user(page) -> None:
            i = rng.randrange(len(values))
            while time.monotonic() < stop:
                i += 1
                try:
                    ms = await page.evaluate(JS_CHANGE, [title, values[i % len(values)]])
                except Exception as exc:  # a failed change is an error of the run
                    failures.append(str(exc)[:200])
                    continue
                if ms is None:
                    continue
                if ms < 0:
                    failures.append("no KPI update within 30 s")
                else:
                    times.append(ms)
                await asyncio.sleep(rng.uniform(0.5, 1.5))

        await asyncio.gather(*(user(page) for _, page, _ in opened))
        console = sum(len(e) for _, _, e in opened)
        for ctx, _, _ in opened:
            await ctx.close()
        await browser.close()
    return {
        "sessions": sessions,
        "seconds": seconds,
        "changes": len(times),
        "p50_ms": round(pct(times, 0.5), 1),
        "p95_ms": round(pct(times, 0.95), 1),
        "max_ms": round(max(times), 1) if times else None,
        "errors": len(failures) + console,
        "page_load_median_ms": round(statistics.median(page_loads), 1),
        "error_samples": failures[:3],
    }


def open_close_sessions(url: str, pid: int, count: int) -> dict:
    """Open and close ``count`` sessions (bokeh client: a real server session each), then wait
    for the server to discard them and compare its resident memory with the memory after a
    warm-up of 20 sessions (the first sessions import the views and fill caches once)."""
    import panel.models  # noqa: F401  (registers Panel's bokeh models for the client)
    from bokeh.client import pull_session

    cold = rss_mb(pid)
    for _ in range(20):  # warm-up: the first sessions import the views and fill caches
        pull_session(url=url).close()
    time.sleep(75)
    before = rss_mb(pid)
    peak = before
    for _ in range(count):
        session = pull_session(url=url)
        session.close()
        peak = max(peak, rss_mb(pid))
    # `tieout serve` checks for unused sessions every 10 s and drops them after 60 s.
    time.sleep(75)
    after = rss_mb(pid)
    return {
        "sessions": count,
        "rss_cold_mb": round(cold, 1),
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_after_mb": round(after, 1),
        "growth_mb": round(after - before, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["latency", "load"])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--changes", type=int, default=30)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--open-close", type=int, default=300)
    a = ap.parse_args(argv)
    if CHROMIUM is None:
        print("chromium is not installed (apt-get install chromium)")
        return 2
    os.environ.setdefault("TIEOUT_CACHE_DIR", str(Path(tempfile.gettempdir()) / "tieout-bench"))
    proc, url = start_server(a.data.resolve())
    try:
        if a.what == "latency":
            settle = int(os.environ.get("BENCH_SETTLE_MS", "1500"))
            result = {"latency": asyncio.run(latency(url, a.changes, settle)), "settle_ms": settle}
        else:
            start_rss = rss_mb(proc.pid)
            result = {"load": asyncio.run(load(url, a.sessions, a.seconds))}
            result["load"]["rss_start_mb"] = round(start_rss, 1)
            result["open_close"] = open_close_sessions(url, proc.pid, a.open_close)
    finally:
        proc.terminate()
        proc.wait(15)
    result["data"] = str(a.data)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"browser-{a.what}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
