"""Declared low-cardinality text is stored as ENUM from the start (`data.validate._enum_first`)
and some marts' text columns as ENUM (`data.marts.MART_ENUMS`): the values are the typed text,
as when the engine rewrote the stored columns afterwards."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from data.engine import open_source
from tests import influencer_tiny
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS


def _columns(db: Path, table: str) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute(f"SELECT name, type FROM pragma_table_info('{table}')").fetchall())
    finally:
        con.close()


def test_text_columns_are_enum_of_their_trimmed_values(tmp_path: Path) -> None:
    # ' Retail' and 'Retail ' type as 'Retail': one value of the ENUM
    merchants = MERCHANTS.replace("M1,Alpha Shop,Retail", "M1,Alpha Shop, Retail").replace(
        "M3,Gamma Deli,Retail", "M3,Gamma Deli,Retail "
    )
    tx = TRANSACTIONS.replace(",online,approved,", ",online,APPROVED,", 1)
    root = write_tables(tmp_path / "d", "payments", {"merchants": merchants, "transactions": tx})
    source = open_source(root, cache_dir=tmp_path / "c")
    assert source.has("payments")
    types = _columns(source.db_path, "merchants")
    assert types["industry"] == "ENUM('Retail', 'Travel')"
    assert types["merchant_name"] == "VARCHAR"
    tx_types = _columns(source.db_path, "transactions")
    assert tx_types["status"] == "ENUM('approved', 'declined')"  # an enum's declared spelling
    assert tx_types["channel"] == "ENUM('mobile', 'online', 'pos')"
    be = source.backend()
    m = be.execute(be.table("merchants").order_by("merchant_id"))
    assert m["industry"].tolist() == ["Retail", "Travel", "Retail"]


def test_parquet_number_in_a_text_column_keeps_its_spelling(tmp_path: Path) -> None:
    # 0.0 and -0.0 are one number (one group) but two texts: both must be in the ENUM
    folder = tmp_path / "d" / "payments"
    write_tables(tmp_path / "d", "payments", {"transactions": TRANSACTIONS})
    frame = pa.table(
        {
            "merchant_id": ["M1", "M2", "M3"],
            "merchant_name": ["Alpha Shop", "Beta Air", "Gamma Deli"],
            "industry": pa.array([0.0, -0.0, 1.5], pa.float64()),
            "segment": ["SMB", "Enterprise", "SMB"],
            "region": ["EMEA", "NA", "EMEA"],
            "onboard_date": ["2025-01-01", "2025-01-01", "2025-02-01"],
            "account_manager": ["Ann", "Bob", "Ann"],
        }
    )
    pq.write_table(frame, folder / "merchants.parquet")
    source = open_source(tmp_path / "d", cache_dir=tmp_path / "c")
    assert source.has("payments"), source.status["payments"].problems
    be = source.backend()
    m = be.execute(be.table("merchants").order_by("merchant_id"))
    assert m["industry"].tolist() == ["0.0", "-0.0", "1.5"]
    assert _columns(source.db_path, "merchants")["industry"].startswith("ENUM(")


def test_credit_mart_text_is_enum_and_reads_as_text(tmp_path: Path) -> None:
    root = write_tables(tmp_path / "d", "influencer", influencer_tiny.tables())
    source = open_source(root, cache_dir=tmp_path / "c")
    assert source.has("influencer")
    types = _columns(source.db_path, "inf_credit")
    for column in ("model", "brand", "product", "platform", "category", "tier"):
        assert types[column].startswith("ENUM("), (column, types[column])
    assert types["credited"] == "VARCHAR"
    be = source.backend()
    credit = be.table("inf_credit")
    assert credit.schema()["tier"].is_string()
    linear = be.execute(credit.filter(credit.model == "linear").select("tier", "brand"))
    assert {type(v) for v in linear["tier"]} == {str}
    none = be.execute(credit.filter(credit.brand == "no such brand").count())
    assert none == 0
