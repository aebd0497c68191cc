"""`make load`: many simulated users against `tieout serve`, loopback only, bounded in time.

1. ``--sessions`` (20) simulated users on the payments page change its Segments filter for
   ``--seconds`` (60), each waiting ``--think`` seconds (uniform, default 0.5-1.5) after seeing
   a result before changing again. A simulated user is a Bokeh protocol client
   (`bokeh.client.pull_session`), the same websocket messages a browser sends and receives: it
   announces the page as shown (``DocumentReady``, as BokehJS does), sets the filter widget's
   value, and times until the KPI cards' text arrives changed. No browser renders the charts, so
   the machine's cores serve the users instead of drawing 20 pages (`make bench` measures the
   browser itself). Each user runs in its own process.
2. ``--open-close`` (300) sessions opened and closed one after another, after a warm-up of
   ``--warm-up`` (``WARM_UP``, 60; 0 for none) sessions opened and closed the same way; the
   server's resident memory is compared before and after (closed sessions are discarded 60 s
   after their last use, so about a minute's worth of opened sessions is alive at once: memory
   grows until that many have been alive together once and then stays, see "Server memory
   across sessions" in docs/benchmarks.md). ``--sessions 0`` runs this part alone.

``--procs`` (2: one per core of the reference machine) separate `tieout serve` processes share
the users round robin, as the README's nginx setup shares them (sticky per user); memory is that
of the first process.

    python -m tests.benchmarks.load --data demo-data [--procs 2 --sessions 20 --seconds 60]
    python -m tests.benchmarks.load --data demo-data --procs 1 --sessions 0 --open-close 50 \
        [--warm-up 0]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.browser import FILTERS, rss_mb, save, start_server
from tests.benchmarks.run import pct

TIMEOUT_S = 30.0
WARM_UP = 60


def _open(url: str) -> Any:
    """A server session seen as a browser sees it once the page is shown."""
    import panel.models  # noqa: F401  (registers Panel's bokeh models for the client)
    from bokeh.client import pull_session
    from bokeh.events import DocumentReady

    session = pull_session(url=url)
    session.document.callbacks.send_event(DocumentReady())
    session.force_roundtrip()
    return session


def _wait_for(session: Any, done: Any, timeout: float) -> bool:
    """Run the session's connection until ``done()`` (checked after each message) or timeout."""
    conn = session._connection  # the client API has no public "run until"; see bokeh.client
    stop = conn._loop.call_later(timeout, conn._loop.stop)
    conn._loop_until(done)
    conn._loop.remove_timeout(stop)
    return bool(done())


def user(
    url: str,
    seconds: float,
    think: tuple[float, float],
    seed: int,
    values: list[list[str]] | None = None,
    changes: int | None = None,
) -> dict[str, Any]:
    """One simulated user: change the payments filter until ``seconds`` have passed (or, given
    ``changes``, once that many changes have been made, whichever comes first)."""
    title, choices = FILTERS["payments"]
    values = values or choices
    rng = random.Random(seed)
    errors: list[str] = []
    times: list[float] = []
    try:
        session = _open(url)
    except Exception as exc:  # a session that cannot open is an error of the run
        return {"times": [], "errors": [f"open: {exc}"[:200]]}
    models = list(session.document.models)
    widget = next(m for m in models if getattr(m, "title", None) == title)
    cards = next(m for m in models if "kpi-card" in str(getattr(m, "text", "")))
    stop = time.monotonic() + seconds
    i = rng.randrange(len(values))
    while time.monotonic() < stop and (changes is None or len(times) + len(errors) < changes):
        i += 1
        value = values[i % len(values)]
        if value == list(widget.value):
            continue
        before = cards.text
        t0 = time.perf_counter()
        widget.value = value
        changed = _wait_for(session, lambda b=before: cards.text != b, TIMEOUT_S)
        if changed:
            times.append((time.perf_counter() - t0) * 1000)
        else:
            errors.append(f"no KPI update within {TIMEOUT_S:.0f} s")
        time.sleep(rng.uniform(*think))
    session.close()
    return {"times": times, "errors": errors}


def load(
    urls: list[str], sessions: int, seconds: float, think: tuple[float, float]
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with ctx.Pool(sessions) as pool:
        runs = [
            pool.apply_async(user, (urls[k % len(urls)], seconds, think, k))
            for k in range(sessions)
        ]
        results = [r.get(timeout=seconds + 180) for r in runs]
    times = [t for r in results for t in r["times"]]
    errors = [e for r in results for e in r["errors"]]
    return {
        "sessions": sessions,
        "seconds": seconds,
        "think_s": list(think),
        "changes": len(times),
        "p50_ms": round(pct(times, 0.5), 1),
        "p95_ms": round(pct(times, 0.95), 1),
        "max_ms": round(max(times), 1) if times else None,
        "errors": len(errors),
        "error_samples": errors[:3],
    }


def open_close(url: str, pid: int, count: int, warm_up: int = WARM_UP) -> dict[str, Any]:
    """Open and close ``count`` sessions, then wait for the server to discard them and compare
    its resident memory with the memory after a warm-up of ``warm_up`` sessions (none: compared
    with the memory of the fresh server)."""
    cold = rss_mb(pid)
    for _ in range(warm_up):
        _open(url).close()
    if warm_up:
        time.sleep(75)  # `tieout serve` drops sessions unused for 60 s, checking every 10 s
    before = peak = rss_mb(pid)
    t0 = time.perf_counter()
    for _ in range(count):
        _open(url).close()
        peak = max(peak, rss_mb(pid))
    seconds = time.perf_counter() - t0
    time.sleep(75)
    after = rss_mb(pid)
    return {
        "sessions": count,
        "warm_up_sessions": warm_up,
        "open_close_s": round(seconds, 1),
        "rss_cold_mb": round(cold, 1),
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_after_mb": round(after, 1),
        "growth_mb": round(after - before, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--think", type=float, nargs=2, default=(0.5, 1.5))
    ap.add_argument("--open-close", type=int, default=300)
    ap.add_argument("--warm-up", type=int, default=WARM_UP)
    a = ap.parse_args(argv)
    os.environ.setdefault("TIEOUT_CACHE_DIR", str(Path(tempfile.gettempdir()) / "tieout-bench"))
    servers = [start_server(a.data.resolve()) for _ in range(a.procs)]
    try:
        pid = servers[0][0].pid
        result: dict[str, Any] = {"procs": a.procs, "rss_start_mb": round(rss_mb(pid), 1)}
        if a.sessions:
            result["load"] = load([url for _, url in servers], a.sessions, a.seconds, a.think)
        if a.open_close:
            result["open_close"] = open_close(servers[0][1], pid, a.open_close, a.warm_up)
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(15)
    result["data"] = str(a.data)
    save("load", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
