"""`make bench` part 4: payments at 10 million transactions on PostgreSQL and on Spark, beside
DuckDB in the same run (issue 17's figures at 10M).

Generates the payments domain (``BENCH_BATCH_ROWS``, default 10,000,000) unless
``BENCH_BATCH_DATA`` names a folder holding one, ingests it with DuckDB (cold), then

- PostgreSQL (a throwaway cluster on a loopback port, as `tests.benchmarks.engines`): publish
  (COPY of the typed tables and the marts built there), then the payments filter-change sequence of
  `tests.benchmarks.run` on both engines;
- Spark (a local session, ``--backend spark``): publish (the typed tables as Parquet, the marts
  computed and cached by Spark), then what ``tieout kpis`` does in batch: the model's KPIs over the
  whole year and over one quarter, timed, on Spark and on DuckDB.

Each engine's KPIs are compared with DuckDB's (money to the cent, ratios to 1e-9).
``BENCH_BATCH_ENGINES=postgres,spark`` (default both) chooses the engines.
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

from tests.benchmarks.engines import _close
from tests.benchmarks.run import model_latency, pct, save


def _kpis_equal(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The KPI names whose values differ."""
    return sorted(k for k, v in a.items() if not _close(v, b.get(k)))


def _batch(source: Any) -> dict[str, Any]:
    """What `tieout kpis` does: a model, then its KPIs for the whole data and for a quarter."""
    from models import make_model

    t0 = time.perf_counter()
    model = make_model("payments", source)
    whole = dict(model.kpis)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.param.update(start=dt.date(2025, 4, 1), end=dt.date(2025, 6, 30))
    quarter = dict(model.kpis)
    again = time.perf_counter() - t0
    model.close()
    return {"first_s": round(first, 2), "quarter_s": round(again, 2), "kpis": [whole, quarter]}


def _postgres(local: Any, folder: Path, cache: Path, repeats: int) -> dict[str, Any]:
    from data.engine import open_source
    from models import make_model
    from tests.pgcluster import find_bin_dir, start_cluster, stop_cluster

    bin_dir = find_bin_dir()
    if bin_dir is None:
        return {"skipped": "PostgreSQL server binaries not found (apt-get install postgresql)"}
    cluster = start_cluster(bin_dir, "batch")
    try:
        t0 = time.perf_counter()
        remote = open_source(folder, cache, backend=cluster.url)
        out: dict[str, Any] = {"publish_s": round(time.perf_counter() - t0, 1)}
        kpis = {}
        for name, source in (("duckdb", local), ("postgres", remote)):
            model = make_model("payments", source)
            lat = model_latency(model, repeats)
            out[f"{name}_median_ms"] = round(statistics.median(lat), 1)
            out[f"{name}_p95_ms"] = round(pct(lat, 0.95), 1)
            model.param.update(start=model.data_start, end=model.data_end)
            kpis[name] = dict(model.kpis)
            model.close()
        out["ratio_of_medians"] = round(out["postgres_median_ms"] / out["duckdb_median_ms"], 2)
        out["kpis_differing"] = _kpis_equal(kpis["duckdb"], kpis["postgres"])
        remote.close()
        return out
    finally:
        stop_cluster(cluster)


def _spark(local: Any, folder: Path, cache: Path) -> dict[str, Any]:
    from data.engine import open_source

    t0 = time.perf_counter()
    try:
        remote = open_source(folder, cache, backend="spark")
    except Exception as exc:  # no Java or no pyspark: say so in the report
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    out: dict[str, Any] = {"publish_s": round(time.perf_counter() - t0, 1)}
    duck, spark = _batch(local), _batch(remote)
    out |= {f"duckdb_{k}": v for k, v in duck.items() if k != "kpis"}
    out |= {f"spark_{k}": v for k, v in spark.items() if k != "kpis"}
    out["kpis_differing"] = sorted(
        {k for a, b in zip(duck["kpis"], spark["kpis"], strict=True) for k in _kpis_equal(a, b)}
    )
    return out


def main() -> None:
    from data.engine import open_source
    from data.generate import generate

    rows = int(os.environ.get("BENCH_BATCH_ROWS", 10_000_000))
    repeats = int(os.environ.get("BENCH_REPEATS", 12))
    engines = os.environ.get("BENCH_BATCH_ENGINES", "postgres,spark").split(",")
    with tempfile.TemporaryDirectory(prefix="tieout-bench-batch-") as tmp:
        given = os.environ.get("BENCH_BATCH_DATA")
        folder = Path(given) if given else Path(tmp) / "data"
        cache = Path(tmp) / "cache"
        report: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "load": _load()}
        if not given:
            t0 = time.perf_counter()
            generate(folder, rows=rows, domains=("payments",))
            report["generate_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        local = open_source(folder, cache, backend="")
        report["duckdb_ingest_s"] = round(time.perf_counter() - t0, 1)
        report["rows"] = local.status["payments"].rows.get("transactions")
        if "postgres" in engines:
            report["postgres"] = _postgres(local, folder, cache, repeats)
            print(json.dumps({"postgres": report["postgres"]}), flush=True)
        if "spark" in engines:
            report["spark"] = _spark(local, folder, cache)
            print(json.dumps({"spark": report["spark"]}), flush=True)
        report["load_after"] = _load()
    path = save(report, "batch")
    json.dump(report, sys.stdout, indent=1, default=str)
    print(f"\nsaved {path}")


def _load() -> str:
    """The machine's load averages (1, 5, 15 minutes), next to every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
