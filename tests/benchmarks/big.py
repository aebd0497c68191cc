"""`make bench-100m`: the payments domain at 100 million transactions (not part of `make bench`).

Reports cold ingest (validate + load + marts via `data.engine.open_source`) time, peak RSS and
where the time goes stage by stage; the database size on disk; payments filter-change latency on
that database (the sequence of `run.latency`, without the pandas comparison, which cannot hold
100M rows); and, beside it, the plain-DuckDB floor (`stage.duckdb_floor`).

Each step runs in its own process (peak RSS is its own). Data, cache and floor database live in a
temporary folder removed at the end; the report is written to
tests/benchmarks/results/big-<timestamp>.json after every step.

``BENCH_BIG_ROWS=100000000`` (default) sets the size; ``BENCH_BIG_FLOOR=0`` skips the floor.
At 100M rows the temporary folder peaks near 15 GB (files 1.7 GB, database 3 GB, DuckDB's
spill up to 10 GB under the default memory limit); the floor's database comes after the ingest's
is deleted. Expect 15-25 minutes on 2 cores.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.benchmarks.run import model_latency, pct, save, stage

CHANGES = 40
GB = 1024**3


def _mb(n: float) -> int:
    return round(n / 1024**2)


def _size(path: Path) -> int:
    """Bytes of the files under ``path`` (0 if gone; files vanishing meanwhile are skipped)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _io_written() -> int:
    """Bytes this process has caused to be written to storage (Linux; 0 elsewhere)."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return 0
    m = re.search(r"^write_bytes: (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def ingest(folder: Path, cache: Path) -> dict:
    """Cold `open_source` of ``folder`` with a progress callback that times each stage it names
    ("typing ...", "storing ...", "building payments mart ..."): wall and CPU seconds, bytes
    written and peak RSS so far at the end of each. A thread samples the cache folder's size
    (database plus DuckDB's spill folder) every half second."""
    from data.engine import open_source
    from data.validate import memory_budget

    t0 = time.perf_counter()
    lock = threading.Lock()
    marks: list[tuple[str, float, float, int, float]] = []

    def mark(label: str) -> None:
        u = resource.getrusage(resource.RUSAGE_SELF)
        now = time.perf_counter() - t0
        marks.append((label, now, u.ru_utime + u.ru_stime, _io_written(), u.ru_maxrss / 1024))
        print(f"{now:8.1f} s  {label}", file=sys.stderr, flush=True)

    def progress(msg: str) -> None:
        m = re.match(r"(.*?): \d+% \(", msg)  # "<what>: 40% (about 6 s left)"
        label = m.group(1) if m else msg
        with lock:
            if not marks or marks[-1][0] != label:
                mark(label)

    peak = {"cache": 0, "spill": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak["cache"] = max(peak["cache"], _size(cache))
            spill = sum(_size(p) for p in cache.glob("*.tmp"))
            peak["spill"] = max(peak["spill"], spill)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with lock:
        mark("start")
    source = open_source(folder, cache_dir=cache, progress=progress)
    with lock:
        mark("end")
    done.set()
    sampler.join()
    stages = [
        {
            "stage": a[0],
            "seconds": round(b[1] - a[1], 1),
            "cpu_s": round(b[2] - a[2], 1),
            "written_mb": _mb(b[3] - a[3]),
            "peak_rss_mb_so_far": round(b[4]),
        }
        for a, b in itertools.pairwise(marks)
    ]
    u = resource.getrusage(resource.RUSAGE_SELF)
    db = source.db_path
    status = source.meta["domains"]["payments"]
    return {
        "seconds": round(marks[-1][1], 1),
        "cpu_s": round(u.ru_utime + u.ru_stime, 1),
        "peak_rss_mb": round(u.ru_maxrss / 1024),
        "memory_budget_mb": _mb(memory_budget()),
        "loaded": status["loaded"],
        "problems": [str(q.get("expected"))[:400] for q in status["problems"][:3]],
        "table_rows": status.get("rows"),
        "db_mb": _mb(db.stat().st_size),
        "peak_cache_mb": _mb(peak["cache"]),
        "peak_spill_mb": _mb(peak["spill"]),
        "written_mb": _mb(marks[-1][3] - marks[0][3]),
        "timings": source.meta["timings"],
        "stages": stages,
    }


def latency(folder: Path, cache: Path, repeats: int) -> dict:
    """Open the database the ingest built, then ``repeats`` filter changes of the payments model."""
    from data.engine import open_source
    from models.payments import PaymentsModel

    t0 = time.perf_counter()
    source = open_source(folder, cache_dir=cache)
    assert source.meta["cached"], "the latency step must reuse the ingest's database"
    t1 = time.perf_counter()
    model = PaymentsModel(source)
    t2 = time.perf_counter()
    ms = model_latency(model, repeats)
    be = source.backend()
    marts = {t: int(be.table(t).count().execute()) for t in be.list_tables() if t[:4] == "pay_"}
    return {
        "mart_rows": marts,
        "open_s": round(t1 - t0, 2),
        "model_init_s": round(t2 - t1, 2),
        "changes": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(pct(ms, 0.95), 1),
        "max_ms": round(max(ms), 1),
        "all_ms": [round(x, 1) for x in ms],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def child(step: str, folder: Path, cache: Path) -> dict:
    """Run ``step`` (ingest | latency) of this module in its own process; its stage lines go
    to stderr as they happen, its result is the last line of stdout."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.big", step, str(folder), str(cache)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import duckdb

    rows = int(os.environ.get("BENCH_BIG_ROWS", "100000000"))
    floor = os.environ.get("BENCH_BIG_FLOOR", "1") != "0"
    report: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": os.cpu_count(),
        "ram_mb": _mb(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "duckdb": duckdb.__version__,
        "rows": rows,
    }
    path = None
    with tempfile.TemporaryDirectory(prefix="tieout-big-") as tmp:
        folder, cache = Path(tmp) / "data", Path(tmp) / "cache"
        print(f"{rows:,} payments rows in {tmp} ({shutil.disk_usage(tmp).free / GB:.0f} GB free)")

        gen = stage("generate", rows, folder, cache)
        report["generate"] = gen | {"files_mb": _mb(_size(folder))}
        path = save(report, "big", path)
        print(
            f"generate: {gen['seconds']:.1f} s, peak RSS {gen['peak_rss_mb']:,} MB, "
            f"files {report['generate']['files_mb']:,} MB",
            flush=True,
        )

        ing = report["ingest"] = child("ingest", folder, cache)
        path = save(report, "big", path)
        print(
            f"ingest: {ing['seconds']:.1f} s ({ing['cpu_s']:.0f} CPU s), peak RSS "
            f"{ing['peak_rss_mb']:,} MB (memory limit {ing['memory_budget_mb']:,} MB), "
            f"database {ing['db_mb']:,} MB, spill peak {ing['peak_spill_mb']:,} MB",
            flush=True,
        )
        for s in ing["stages"]:
            print(
                f"  {s['seconds']:7.1f} s  {s['cpu_s']:7.1f} CPU s  {s['written_mb']:7,} MB "
                f"written  {s['peak_rss_mb_so_far']:6,} MB RSS  {s['stage']}"
            )

        if not ing["loaded"]:  # e.g. a mart out of memory: the payments domain did not load
            report["latency"] = {"skipped": "payments did not load"}
            print(f"payments did not load: {ing['problems']}", flush=True)
        else:
            lat = report["latency"] = child("latency", folder, cache)
            print(
                f"filter change at {rows:,}: median {lat['median_ms']} ms, p95 {lat['p95_ms']} "
                f"ms over {lat['changes']} (open {lat['open_s']} s, model {lat['model_init_s']} "
                f"s, peak RSS {lat['peak_rss_mb']:,} MB)",
                flush=True,
            )
        path = save(report, "big", path)

        shutil.rmtree(cache, ignore_errors=True)  # the floor's database in its place
        free = shutil.disk_usage(tmp).free
        if not floor:
            report["duckdb_floor"] = {"skipped": "BENCH_BIG_FLOOR=0"}
        elif free < ing["db_mb"] * 1024**2 * 2 + 10 * GB:
            report["duckdb_floor"] = {"skipped": f"{free / GB:.0f} GB free disk"}
        else:
            floor_dir = Path(tmp) / "floor"
            limit = duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchone()
            fl = stage("duckdb_floor", rows, folder, floor_dir)
            fl |= {"db_mb": _mb(_size(floor_dir)), "memory_limit": limit[0]}
            report["duckdb_floor"] = fl
            shutil.rmtree(floor_dir, ignore_errors=True)
            print(
                f"duckdb floor: {fl['seconds']:.1f} s, peak RSS {fl['peak_rss_mb']:,} MB "
                f"(DuckDB's default memory limit {fl['memory_limit']}), "
                f"database {fl['db_mb']:,} MB",
                flush=True,
            )
        path = save(report, "big", path)
    print(f"written {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        step, folder, cache = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
        result = ingest(folder, cache) if step == "ingest" else latency(folder, cache, CHANGES)
        print(json.dumps(result))
    else:
        main()
