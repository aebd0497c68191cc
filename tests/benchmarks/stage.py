"""One benchmark stage in its own process, so its peak RSS is its own. Prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def duckdb_floor(folder: Path, cache: Path) -> None:
    """The least a DuckDB ingest of the payments files does, written by hand: read the Parquet
    files, money to cents, sorted by time, five validation queries. The floor our ingest (which
    also types every cell, reports problems by row, and builds the marts) is compared with."""
    import duckdb

    cache.mkdir(parents=True, exist_ok=True)
    db = cache / "floor.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    tx = f"read_parquet('{folder / 'payments' / 'transactions.parquet'}')"
    mx = f"read_parquet('{folder / 'payments' / 'merchants.parquet'}')"
    con.execute(f"CREATE TABLE merchants AS SELECT * FROM {mx}")
    con.execute(
        "CREATE TABLE transactions AS SELECT * EXCLUDE (amount, fee), "
        "CAST(round(amount * 100) AS BIGINT) AS amount_cents, "
        f"CAST(round(fee * 100) AS BIGINT) AS fee_cents FROM {tx} ORDER BY ts"
    )
    for sql in (
        "SELECT count(*) - count(DISTINCT txn_id) FROM transactions",
        "SELECT count(*) FROM transactions WHERE amount_cents < 0 OR fee_cents < 0",
        "SELECT count(*) FROM transactions t ANTI JOIN merchants m USING (merchant_id)",
        "SELECT count(*) FROM transactions WHERE status NOT IN ('approved', 'declined')",
        "SELECT count(*) FROM transactions WHERE status = 'declined' AND decline_reason IS NULL",
    ):
        con.execute(sql).fetchall()
    con.close()


def main() -> None:
    stage, rows, folder, cache = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    t0 = time.perf_counter()
    if stage == "generate":
        from data.generate import generate

        generate(folder, rows=rows, domains=("payments",))
    elif stage == "ingest":
        from data.engine import open_source

        open_source(folder, cache_dir=cache)
    elif stage == "duckdb_floor":
        duckdb_floor(folder, Path(cache))
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "stage": stage,
                "rows": rows,
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


if __name__ == "__main__":
    main()
