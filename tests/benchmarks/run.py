"""`make bench`: generate + ingest time and peak RSS at 1M and 10M payments rows, and payments
filter-change latency (model on marts) beside a plain pandas implementation on raw rows.

Writes tests/benchmarks/results/bench-<timestamp>.json and prints a table.
Rows: ``BENCH_ROWS=1000000,10000000`` (default).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
FILTERS = [
    {},
    {"segments": ["SMB"]},
    {"channels": ["online"]},
    {"regions": ["EMEA"]},
    {"segments": ["Enterprise"], "channels": ["pos"]},
    {"industries": ["Retail", "Travel"]},
]
PANDAS_COLS = {
    "segments": "segment",
    "channels": "channel",
    "regions": "region",
    "industries": "industry",
}


def stage(name: str, rows: int, folder: Path, cache: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.stage", name, str(rows), str(folder), str(cache)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank); NaN for no values."""
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


def change(model, i: int) -> tuple[dict, dt.date, dt.date, dict]:
    """The ``i``-th filter change of the benchmark sequence: its filters, start, end, and the
    parameter update that applies them to a payments model."""
    periods = [
        (model.data_start, model.data_end),
        (dt.date(2025, 4, 1), dt.date(2025, 6, 30)),
        (dt.date(2025, 9, 1), dt.date(2025, 9, 30)),
    ]
    f = FILTERS[i % len(FILTERS)]
    start, end = periods[i % len(periods)]
    return f, start, end, {p: f.get(p, []) for p in PANDAS_COLS} | {"start": start, "end": end}


def model_latency(model, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` filter changes of the sequence on a payments model."""
    ms = []
    for i in range(repeats):
        update = change(model, i)[3]
        t0 = time.perf_counter()
        model.param.update(**update)
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def latency(rows: int, folder: Path, cache: Path, repeats: int) -> dict:
    from data.engine import open_source
    from models.payments import PaymentsModel
    from tests.benchmarks import pandas_payments

    model = PaymentsModel(open_source(folder, cache_dir=cache))
    model_ms, pandas_ms = model_latency(model, repeats), []
    raw = pandas_payments.load(str(folder))
    for i in range(max(3, repeats // 4)):
        f, start, end, update = change(model, i)
        t0 = time.perf_counter()
        expected = pandas_payments.kpis(raw, start, end, {PANDAS_COLS[k]: v for k, v in f.items()})
        pandas_ms.append((time.perf_counter() - t0) * 1000)
        # same numbers, or the comparison means nothing
        model.param.update(**update)
        assert expected["gpv_cents"] == round(float(model.kpis["gpv"]) * 100), (f, expected)
        assert expected["attempts"] == model.kpis["attempts"]
        assert expected["churn_risk"] == model.kpis["churn_risk_merchants"]
    med_m, med_p = statistics.median(model_ms), statistics.median(pandas_ms)
    return {
        "rows": rows,
        "model_median_ms": round(med_m, 1),
        "model_p95_ms": round(pct(model_ms, 0.95), 1),
        "pandas_median_ms": round(med_p, 1),
        "speedup": round(med_p / med_m, 1),
        "changes": len(model_ms),
    }


def save(report: dict, kind: str = "bench", path: Path | None = None) -> Path:
    """Write ``report`` to ``path``, or to a new results/<kind>-<timestamp>.json; return it."""
    RESULTS.mkdir(exist_ok=True)
    path = path or RESULTS / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    return path


def main() -> None:
    sizes = [int(x) for x in os.environ.get("BENCH_ROWS", "1000000,10000000").split(",")]
    report: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": os.cpu_count(),
        "stages": [],
        "latency": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            folder, cache = Path(tmp) / f"d{rows}", Path(tmp) / f"c{rows}"
            for name in ("generate", "ingest", "duckdb_floor"):
                r = stage(name, rows, folder, cache)
                report["stages"].append(r)
                print(
                    f"{name:>9} {rows:>11,} rows: {r['seconds']:7.1f} s, "
                    f"peak RSS {r['peak_rss_mb']:,} MB",
                    flush=True,
                )
            lat = latency(rows, folder, cache, repeats=40)
            report["latency"].append(lat)
            print(
                f"  payments filter change at {rows:,}: model median {lat['model_median_ms']} ms "
                f"(p95 {lat['model_p95_ms']} ms) vs pandas {lat['pandas_median_ms']} ms "
                f"-> {lat['speedup']}x",
                flush=True,
            )
    print(f"written {save(report)}")


if __name__ == "__main__":
    main()
