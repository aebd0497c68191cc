"""Engine smoke test (so a dependency bump that breaks Ibis fails loudly), lockdown, cache."""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
import pytest

from data.engine import _lock_down, _SessionBackend, open_source
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS


def test_ibis_duckdb_round_trip(tmp_path: Path) -> None:
    be = ibis.duckdb.connect(str(tmp_path / "smoke.duckdb"))
    t = be.create_table("t", ibis.memtable({"g": [1, 1, 2], "v": [10, 20, 30]}))
    assert "t" in be.list_tables()
    grouped = be.execute(t.group_by("g").agg(s=t.v.sum()).order_by("g"))
    assert grouped["s"].tolist() == [30, 30]
    cached = t.filter(t.v > 10).cache()
    assert be.execute(cached.count()) == 2
    assert be.to_pyarrow(t).num_rows == 3
    be.drop_table("t")
    assert "t" not in be.list_tables()


def test_locked_source_refuses_files_and_settings(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path / "d", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    source = open_source(root)
    be = source.backend()
    assert be.execute(be.table("transactions").count()) == 7
    con = be.con
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "SET enable_external_access = true",
        f"ATTACH '{tmp_path / 'x.db'}'",
        "CREATE TABLE z AS SELECT 1",
        "COPY transactions TO '/tmp/leak.csv'",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(sql)


def test_second_open_reuses_cache(tmp_path: Path) -> None:
    from data.engine import clear_sources

    root = write_tables(
        tmp_path / "d", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    first = open_source(root)
    assert first.meta["cached"] is False
    clear_sources()
    second = open_source(root)
    assert second.meta["cached"] is True and second.db_path == first.db_path
    # a changed file gives a new database
    clear_sources()
    (root / "payments" / "merchants.csv").write_text(MERCHANTS.strip().replace("Alpha", "Alfa"))
    third = open_source(root)
    assert third.db_path != first.db_path


def test_session_backends_are_independent(tmp_path: Path) -> None:
    con = duckdb.connect()
    _lock_down(con)
    a, b = (
        _SessionBackend.from_connection(con.cursor()),
        _SessionBackend.from_connection(con.cursor()),
    )
    assert a.con is not b.con
    assert a.execute(ibis.literal(1) + 1) == 2


def test_invalid_domain_does_not_block_others(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path / "d", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    write_tables(root, "reconciliation", {"marketing_spend": "date,campaign\n2025-01-01,x"})
    source = open_source(root)
    assert source.has("payments")
    assert not source.has("reconciliation") and source.status["reconciliation"].problems
    assert not source.status["influencer"].present


def test_progress_reports_stages_in_order_with_rate(tmp_path: Path) -> None:
    from data.intake import watch

    seen: list[str] = []
    tables = {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    root = write_tables(tmp_path / "d", "payments", tables)
    open_source(root, cache_dir=tmp_path / "c", progress=seen.append)
    stages = [m.split(":")[0] for m in seen]
    order = [
        "validating payments",
        "reading payments file 2 of 3",
        "checking payments/transactions.csv (7 rows)",
        "checking rules across the payments tables",
        "ingesting payments",
        "building payments marts",
    ]
    assert all(s in stages for s in order), stages
    assert [stages.index(s) for s in order] == sorted(stages.index(s) for s in order)

    class HalfDone:  # a query at 50% after about 0.5 s: 1,000 of 2,000 rows, about 2,000 rows/s
        def execute(self, sql: str) -> None:
            pass

        def query_progress(self) -> float:
            return 50.0

    said: list[str] = []
    with watch(HalfDone(), said.append, "typing x", rows=2_000_000):  # type: ignore[arg-type]
        import time

        time.sleep(0.7)
    assert said and said[0].startswith("typing x: 50% (about 1 s left, ")
    rate = float(said[0].split(", ")[1].split("M rows/s")[0])
    assert 1.0 < rate < 2.2  # 1M rows done in 0.5-0.7 s
