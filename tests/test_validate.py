"""Every validation failure class is reported, all at once, with file, column, rows and value."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from data import validate
from data.validate import load_domain
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS


def problems(root: Path, domain: str = "payments") -> list[str]:
    data = load_domain(root, domain)
    assert not data.report.ok
    assert data.tables == {}  # nothing usable is handed on when there are errors
    return [str(p) for p in data.report.errors]


def test_clean_tiny_data_loads(tmp_path: Path) -> None:
    write_tables(tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS})
    data = load_domain(tmp_path, "payments")
    assert data.report.ok, data.report.text()
    assert data.tables["transactions"]["amount"].tolist()[:2] == [20000, 5000]  # cents


def test_every_problem_at_once(tmp_path: Path) -> None:
    bad = TRANSACTIONS.replace("T1,2025-01-10 10:00:00,M1,200.00", "T1,2025-13-10 10:00:00,M9,-5")
    bad = bad.replace("T4,", "T3,").replace(",pos,approved,", ",pos,maybe,", 1)
    write_tables(tmp_path, "payments", {"merchants": MERCHANTS, "transactions": bad})
    found = "\n".join(problems(tmp_path))
    # bad date (row 2 = first data row, as a spreadsheet shows it)
    assert "payments/transactions.csv, column 'ts', row 2: value '2025-13-10 10:00:00'" in found
    assert "column 'amount', row 2: value '-5': expected a value >= 0" in found
    assert "column 'merchant_id', row 2: value 'M9': expected an id present in merchants" in found
    assert "column 'txn_id', row 5: value 'T3': expected a unique key" in found
    assert "column 'status', row 5: value 'maybe': expected one of approved, declined" in found


def test_missing_file_and_column(tmp_path: Path) -> None:
    write_tables(tmp_path, "payments", {"merchants": MERCHANTS.replace(",region", ",area")})
    found = "\n".join(problems(tmp_path))
    assert "payments/merchants.csv, column 'region'" in found and "found:" in found
    assert "payments/transactions: expected a file transactions.csv" in found


def test_unparseable_number_and_money(tmp_path: Path) -> None:
    tx = TRANSACTIONS.replace("T2,2025-02-03 09:00:00,M1,50.00", "T2,2025-02-03 09:00:00,M1,5O.00")
    write_tables(tmp_path, "payments", {"merchants": MERCHANTS, "transactions": tx})
    assert any("column 'amount', row 3: value '5O.00'" in p for p in problems(tmp_path))
    # the report's first line counts in words: one error, no warning
    assert load_domain(tmp_path, "payments").report.text().splitlines()[0] == "1 error, 0 warnings"


def test_decline_reason_rule_and_mixed_currency(tmp_path: Path) -> None:
    tx = TRANSACTIONS.replace("declined,insufficient_funds", "declined,")
    tx = tx.replace("T7,2025-02-28 23:59:59,M3,10.00,USD", "T7,2025-02-28 23:59:59,M3,10.00,EUR")
    write_tables(tmp_path, "payments", {"merchants": MERCHANTS, "transactions": tx})
    found = "\n".join(problems(tmp_path))
    assert "column 'decline_reason', row 3" in found
    assert "column 'currency', row 8: value 'EUR': expected one currency (USD)" in found
    # fx conversion is not implemented: an fx_rates file must not make unconverted sums pass.
    fx = "date,currency,rate_to_reporting\n2025-02-28,EUR,1.1\n"
    write_tables(tmp_path, "payments", {"merchants": MERCHANTS, "transactions": tx, "fx_rates": fx})
    assert "fx_rates conversion is not supported yet" in "\n".join(problems(tmp_path))


def test_empty_table_and_empty_file(tmp_path: Path) -> None:
    header = MERCHANTS.strip().splitlines()[0]
    write_tables(tmp_path, "payments", {"merchants": header, "transactions": TRANSACTIONS})
    found = "\n".join(problems(tmp_path))
    assert "payments/merchants.csv: expected at least one data row" in found
    (tmp_path / "payments" / "merchants.csv").write_bytes(b"")
    assert any("file is empty" in p for p in problems(tmp_path))


def test_text_that_is_not_utf8_is_read_as_windows_1252_with_a_warning(tmp_path: Path) -> None:
    write_tables(tmp_path, "payments", {"transactions": TRANSACTIONS})
    text = MERCHANTS.strip().replace("Gamma Deli", "Gamma D\xe9li").encode("cp1252")
    (tmp_path / "payments" / "merchants.csv").write_bytes(text)
    data = load_domain(tmp_path, "payments")
    assert data.report.ok, data.report.text()
    assert "Gamma D\xe9li" in data.tables["merchants"]["merchant_name"].tolist()
    assert any("read as Windows-1252" in str(p) for p in data.report.warnings)
    # a byte Windows-1252 leaves undefined: not text in any form tried, line named
    (tmp_path / "payments" / "merchants.csv").write_bytes(text.replace(b"\xe9", b"\x81"))
    found = "\n".join(problems(tmp_path))
    assert "payments/merchants.csv, row 4: value 'bytes 0x81" in found and "UTF-8" in found


def test_bom_and_header_case_are_accepted(tmp_path: Path) -> None:
    write_tables(tmp_path, "payments", {"transactions": TRANSACTIONS})
    text = MERCHANTS.strip().replace("merchant_id,merchant_name", " Merchant_ID , MERCHANT_NAME")
    (tmp_path / "payments" / "merchants.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_domain(tmp_path, "payments").report.ok


def test_gzip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tables(tmp_path, "payments", {"merchants": MERCHANTS})
    monkeypatch.setattr(validate, "MAX_UNCOMPRESSED_BYTES", 10_000)
    with gzip.open(tmp_path / "payments" / "transactions.csv.gz", "wb") as fh:
        fh.write(TRANSACTIONS.strip().encode() + b"\n" + b" " * 1_000_000)
    assert any("gzip file that expands to at most" in p for p in problems(tmp_path))


def test_money_is_exact(tmp_path: Path) -> None:
    tx = TRANSACTIONS.replace("T5,2025-02-11 12:00:00,M2,0.01", "T5,2025-02-11 12:00:00,M2,0.1")
    tx = tx.replace("T4,2025-02-10 12:00:00,M2,1000.00", "T4,2025-02-10 12:00:00,M2,1000.005")
    write_tables(tmp_path, "payments", {"merchants": MERCHANTS, "transactions": tx})
    amounts = load_domain(tmp_path, "payments").tables["transactions"]["amount"].tolist()
    assert amounts[3:5] == [100001, 10]  # 1000.005 -> half away from zero; 0.1 -> 10 cents


def test_source_files_are_never_written(tmp_path: Path) -> None:
    from data.engine import open_source

    write_tables(tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS})
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()}
    open_source(tmp_path)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()}
    assert before == after


def test_schema_drives_the_data_contract() -> None:
    from data.schemas import markdown

    contract = (Path(__file__).parents[1] / "docs" / "data.md").read_text()
    assert markdown() in contract, "docs/data.md table is stale: python -m data.schemas"
