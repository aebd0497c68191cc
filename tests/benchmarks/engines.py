"""`make bench` part 3: the same models on DuckDB and on PostgreSQL, measured in the same run.

Generates the demo (``BENCH_ENGINE_ROWS`` payments rows, default 1,000,000; influencer and
reconciliation at a fifth of that), ingests it (DuckDB), publishes it to a throwaway PostgreSQL
cluster started for the run on a loopback port (COPY of the typed tables, marts built there),
then times the same filter changes of each domain's model on both engines and checks their KPIs
are equal. Needs the Debian ``postgresql`` package (server binaries only).
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
from typing import Any

from tests.benchmarks.run import pct


def _cases(model: Any) -> list[dict[str, Any]]:
    """Three views a person switches between: everything, a filter over one quarter, the
    quarter without the filter."""
    q = {"start": dt.date(2025, 4, 1), "end": dt.date(2025, 6, 30)}
    first = next(iter(model.FILTERS))
    value = model.param[first].objects[0]
    return [
        {"start": model.data_start, "end": model.data_end, first: []},
        {**q, first: [value]},
        {**q, first: []},
    ]


def _latency(model: Any, repeats: int) -> list[float]:
    cases = _cases(model)
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        model.param.update(**cases[i % len(cases)])
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    from data.engine import open_source
    from data.generate import generate
    from models import make_model
    from tests.pgcluster import find_bin_dir, start_cluster, stop_cluster

    rows = int(os.environ.get("BENCH_ENGINE_ROWS", 1_000_000))
    repeats = int(os.environ.get("BENCH_REPEATS", 12))
    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL server binaries not found (apt-get install postgresql)")
    work = Path(tempfile.mkdtemp(prefix="tieout-bench-engines-"))
    root, cache = work / "data", work / "cache"
    generate(root, rows=rows)
    t0 = time.perf_counter()
    local = open_source(root, cache, backend="")
    result: dict[str, Any] = {"payments_rows": rows, "duckdb_ingest_s": time.perf_counter() - t0}
    result["load_at_start"] = [round(v, 2) for v in os.getloadavg()]  # other work on the machine
    cluster = start_cluster(bin_dir, "bench")
    try:
        t0 = time.perf_counter()
        remote = open_source(root, cache, backend=cluster.url)
        result["postgres_publish_s"] = time.perf_counter() - t0
        copied = sum(sum(s.rows.values()) for s in local.status.values() if s.loaded)
        result["postgres_copy_rows"] = copied
        for domain in ("payments", "influencer", "reconciliation"):
            figures: dict[str, Any] = {}
            kpis = {}
            for name, source in (("duckdb", local), ("postgres", remote)):
                model = make_model(domain, source)
                lat = _latency(model, repeats)
                figures[name] = {
                    "median_ms": round(statistics.median(lat), 1),
                    "p95_ms": round(pct(lat, 0.95), 1),
                }
                model.param.update(start=model.data_start, end=model.data_end)
                kpis[name] = model.kpis
                model.close()
            same = {k for k, v in kpis["duckdb"].items() if _close(v, kpis["postgres"].get(k))}
            figures["kpis_equal"] = len(same) == len(kpis["duckdb"])
            figures["kpis_differing"] = sorted(set(kpis["duckdb"]) - same)
            result[domain] = figures
    finally:
        stop_cluster(cluster)
    result["load_at_end"] = [round(v, 2) for v in os.getloadavg()]
    result = {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"engines-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(result, indent=1, default=str)
    )
    json.dump(result, sys.stdout, indent=1, default=str)
    print()


def _close(a: Any, b: Any) -> bool:
    """Money and counts equal; ratios to 1e-9 (PostgreSQL and DuckDB sum floats in their own
    order)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


if __name__ == "__main__":
    main()
