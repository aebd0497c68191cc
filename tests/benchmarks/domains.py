"""`make bench` part 2: influencer and reconciliation filter-change latency at scale, beside a
plain pandas implementation of the same KPIs computed from the raw tables in the same run.

Sizes: ``BENCH_TRACKING_ROWS`` (default 1,000,000 tracking rows) and ``BENCH_CLAIMS``
(default 1,000,000 claimed orders).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from tests.benchmarks.run import pct


def _timed(fn, repeats: int) -> list[float]:
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pandas_influencer(root: Path, brand: str | None, start: dt.date, end: dt.date) -> dict:
    """Revenue, payout (commission + post fees, no product filter) from the raw files."""
    f = root / "influencer"
    t = pd.read_parquet(f / "tracking_data.parquet")
    posts = pd.read_parquet(f / "posts.parquet")
    pay = pd.read_parquet(f / "payouts.parquet")
    t = t[(t["date"] >= start) & (t["date"] <= end)]
    posts = posts[(posts["date"] >= start) & (posts["date"] <= end)]
    if brand:
        t, posts = t[t["brand"] == brand], posts[posts["brand"] == brand]
    cents = (t["revenue"] * 100).round().astype("int64")
    terms = pay.drop_duplicates("influencer_id").set_index("influencer_id")
    infl = t["attribution_type"] == "Influenced"
    rate = (
        t["influencer_id"]
        .map(terms["rate"])
        .where(t["influencer_id"].map(terms["basis"]) == "Order", 0)
    )
    micro = (rate.fillna(0) * 1_000_000).round().astype("int64")
    commission = ((micro * cents + 500_000) // 1_000_000).where(infl, 0).sum()
    fee = posts["influencer_id"].map(terms["rate"].where(terms["basis"] == "Post", 0)).fillna(0)
    return {
        "revenue_total": int(cents.sum()),
        "revenue_influenced": int(cents[infl].sum()),
        "payout": int(commission + (fee * 100).round().sum()),
    }


def main() -> None:
    from data.engine import open_source
    from data.generate import generate
    from models.influencer import InfluencerModel
    from models.reconciliation import ReconciliationModel
    from tests import recon_reference

    tracking = int(os.environ.get("BENCH_TRACKING_ROWS", 1_000_000))
    claims = int(os.environ.get("BENCH_CLAIMS", 1_000_000))
    repeats = int(os.environ.get("BENCH_REPEATS", 12))
    work = Path(tempfile.mkdtemp(prefix="tieout-bench-"))
    root, cache = work / "data", work / "cache"
    t0 = time.perf_counter()
    generate(
        root,
        rows=1000,
        tracking_rows=tracking,
        claimed_orders=claims,
        domains=("influencer", "reconciliation"),
    )
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    src = open_source(root, cache)
    ingest_s = time.perf_counter() - t0
    result: dict = {
        "tracking_rows": tracking,
        "claims": claims,
        "generate_s": round(gen_s, 1),
        "ingest_s": round(ingest_s, 1),
        "timings": src.meta["timings"],
    }

    inf = InfluencerModel(src)
    brands = inf.param.brands.objects
    q2 = (dt.date(2025, 4, 1), dt.date(2025, 6, 30))
    cases = [
        ([], inf.data_start, inf.data_end),
        ([brands[0]], *q2),
        ([brands[1]], inf.data_start, inf.data_end),
    ]

    def inf_change(i: int) -> None:
        b, s, e = cases[i % len(cases)]
        inf.param.update(brands=b, start=s, end=e)

    def inf_pandas(i: int) -> None:
        b, s, e = cases[i % len(cases)]
        pandas_influencer(root, b[0] if b else None, s, e)

    lat = _timed(inf_change, repeats)
    lat_pd = _timed(inf_pandas, max(3, repeats // 3))
    inf.param.update(brands=[], start=inf.data_start, end=inf.data_end)
    check = pandas_influencer(root, None, inf.data_start, inf.data_end)
    assert int(inf.kpis["payout"] * 100) == check["payout"], "influencer payout differs from pandas"
    result["influencer"] = {
        "median_ms": statistics.median(lat),
        "p95_ms": pct(lat, 0.95),
        "max_ms": max(lat),
        "pandas_median_ms": statistics.median(lat_pd),
    }

    rec = ReconciliationModel(src)
    chans = rec.param.channels.objects
    rcases = [([], rec.data_start, rec.data_end), ([chans[0]], *q2), ([], *q2)]
    m = rec._channel_map
    chan0 = sorted(m.loc[m["channel"] == chans[0], "campaign"])

    def rec_change(i: int) -> None:
        c, s, e = rcases[i % len(rcases)]
        rec.param.update(channels=c, start=s, end=e)

    def rec_pandas(i: int) -> None:  # the same cases, from the raw files each time
        c, s, e = rcases[i % len(rcases)]
        recon_reference.reconcile(recon_reference.load(root), s, e, chan0 if c else None)

    lat = _timed(rec_change, repeats)
    lat_pd = _timed(rec_pandas, max(3, repeats // 3))
    rec.param.update(channels=[], start=rec.data_start, end=rec.data_end)
    ours = [int(v * 100) for v in rec.bridge["amount"]]
    ref = recon_reference.reconcile(recon_reference.load(root), rec.data_start, rec.data_end)
    assert ours == ref["bridge"], "bridge differs from pandas"
    result["reconciliation"] = {
        "median_ms": statistics.median(lat),
        "p95_ms": pct(lat, 0.95),
        "max_ms": max(lat),
        "pandas_median_ms": statistics.median(lat_pd),
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"domains-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(result, indent=1)
    )
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
