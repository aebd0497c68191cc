"""Exports (CSV, XLSX, Parquet, the domain workbook, `tieout export`) carry the model's numbers,
and text that a spreadsheet would run as a formula comes out inert."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from app.cli import main
from data.engine import open_source
from models import make_model
from models.export import (
    _sheet_title,
    table_xlsx_bytes,
    to_csv_bytes,
    workbook_bytes,
    write_tables,
)
from models.presentation import is_snake_code, label
from tests.conftest import write_tables as write_csvs
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

# Merchant M1's name is a formula: every export must keep it as text.
HOSTILE = MERCHANTS.replace("Alpha Shop", '"=HYPERLINK(""http://evil.example"",""x"")"')


@pytest.fixture
def model(tmp_path: Path):
    root = write_csvs(
        tmp_path / "data", "payments", {"merchants": HOSTILE, "transactions": TRANSACTIONS}
    )
    return make_model("payments", open_source(root))


def test_workbook_kpi_sheet_first_with_period_filters_and_model_numbers(model) -> None:
    model.segments = ["SMB"]
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(model)))
    assert book.sheetnames[0] == "KPIs"
    rows = [tuple(c.value for c in r) for r in book["KPIs"].iter_rows()]
    header = {r[0]: r[1] for r in rows if r[0]}
    assert header["Domain"] == "Payments"
    assert header["Period start"] == "2025-01-10" and header["Period end"] == "2025-02-28"
    assert header["Filter: Segments"] == "SMB"
    # the compared column named in words: the previous period of Jan 10 - Feb 28 (22 + 28 days)
    assert header["Compare with"] == "Previous 50 days"
    kpis = {r[0]: r[1] for r in rows[rows.index(("KPI", "Value", "Previous 50 days")) + 1 :]}
    # SMB = M1 + M3; approved: T1 200.00 + T3 50.00 + T7 10.00 = 260.00; fees 6.00+1.50+0.40.
    assert kpis["GPV"] == pytest.approx(260.00) and kpis["Fee revenue"] == pytest.approx(7.90)
    assert kpis["GPV"] == float(model.kpis["gpv"])
    # One sheet per table behind the page, in the model's order, named in words.
    assert book.sheetnames[1:] == [_sheet_title(n)[:31] for n in model.output_tables()]
    assert {"Top merchants", "By segment", "Account managers"} <= set(book.sheetnames)
    # no word of the workbook is a code of the app's own (snake_case)
    cells = [c.value for ws in book for r in ws.iter_rows() for c in r if isinstance(c.value, str)]
    assert not [c for c in cells if is_snake_code(c)]


def test_formula_text_is_inert_and_numbers_stay_numbers(model) -> None:
    top = model.top_merchants
    assert top["merchant_name"].str.startswith("=").any()
    sheet = openpyxl.load_workbook(io.BytesIO(table_xlsx_bytes(top, "top"))).active
    cells = {c.value: c for r in sheet.iter_rows(min_row=2) for c in r}
    names = [v for v in cells if isinstance(v, str) and "HYPERLINK" in v]
    assert names == ['\'=HYPERLINK("http://evil.example","x")']
    assert cells[names[0]].data_type == "s"  # a string cell, not a formula
    assert [c.value for c in sheet[1]][:4] == ["Merchant ID", "Merchant", "Segment", "GPV"]
    gpvs = [r[3].value for r in sheet.iter_rows(min_row=2)]
    assert gpvs == [1000.01, 250.00, 10.00] and all(isinstance(v, int | float) for v in gpvs)
    csv = pd.read_csv(io.BytesIO(to_csv_bytes(top)))
    assert csv.loc[csv.merchant_id == "M1", "merchant_name"].item().startswith("'=")
    assert csv["gpv"].tolist() == [1000.01, 250.00, 10.00]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_tieout_export_writes_every_table(tmp_path: Path, model, fmt: str, capsys) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "export",
            "--domain",
            "payments",
            "--data",
            str(model._source.root),
            "--out",
            str(out),
            "--format",
            fmt,
            "--segment",
            "Enterprise",
        ]
    )
    assert code == 0
    files = sorted(p.name for p in out.iterdir())
    if fmt == "xlsx":
        assert files == ["payments.xlsx"]
        kpis = pd.read_excel(out / "payments.xlsx", sheet_name="KPIs", header=None)
        assert "Enterprise" in kpis[1].astype(str).tolist()
        return
    expected = {f"payments_{n}.{fmt}" for n in ["kpis", *model.output_tables()]}
    assert set(files) == expected
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    kpis = read(out / f"payments_kpis.{fmt}").set_index("kpi")["value"]
    # Enterprise = M2: T4 1000.00 + T5 0.01 approved.
    assert Decimal(str(kpis["gpv"])) == Decimal("1000.01")
    top = read(out / f"payments_top_merchants.{fmt}")
    assert top["merchant_id"].tolist() == ["M2"]


def test_the_compared_column_is_named_in_words_in_xlsx_and_kept_raw_in_csv(
    tmp_path: Path, model
) -> None:
    """Against the same period last year the workbook's KPI sheet heads the compared figures
    "same period last year"; CSV (and Parquet) keep the key ``previous_period``."""
    args = ["export", "--domain", "payments", "--data", str(model._source.root)]
    args += ["--compare", "same_period_last_year", "--start", "2025-02-01", "--end", "2025-02-28"]
    assert main([*args, "--out", str(tmp_path / "x"), "--format", "xlsx"]) == 0
    sheet = openpyxl.load_workbook(tmp_path / "x" / "payments.xlsx")["KPIs"]
    rows = [tuple(c.value for c in r) for r in sheet.iter_rows()]
    kpis = {r[0]: r for r in rows[rows.index(("KPI", "Value", "Same period last year")) + 1 :]}
    # Feb 2025: T3 50.00 + T4 1000.00 + T5 0.01 + T7 10.00; Feb 1..28, 2024 has no data: 0.00
    assert kpis["GPV"][1:] == (1060.01, 0)
    assert sheet.cell(row=rows.index(kpis["GPV"]) + 1, column=3).number_format == (
        '"$"#,##0.00;-"$"#,##0.00'  # the compared figure in the format of its KPI
    )
    assert main([*args, "--out", str(tmp_path / "c"), "--format", "csv"]) == 0
    csv = pd.read_csv(tmp_path / "c" / "payments_kpis.csv")
    assert csv.columns.tolist() == ["kpi", "value", "previous_period"]
    assert csv.set_index("kpi").loc["gpv", "previous_period"] == 0


def test_export_refuses_to_write_into_the_data_folder(model, capsys) -> None:
    root = model._source.root
    code = main(["export", "--domain", "payments", "--data", str(root), "--out", str(root / "x")])
    assert code == 2 and "inside the data folder" in capsys.readouterr().err
    assert not (root / "x").exists()


def test_write_tables_rejects_unknown_format(model, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        write_tables(model, tmp_path, "json")


def test_reconciliation_exports_carry_the_exceptions(tmp_path: Path) -> None:
    """The exceptions are worked out on first read; exports still write them (tiny dataset of
    tests/recon_tiny.py over its whole span: A2 mismatch, A3 missing, A4 refunded, A5 duplicate,
    A6 and A7 timing, F1 finance only)."""
    from tests import recon_tiny

    root = write_csvs(tmp_path / "data", "reconciliation", recon_tiny.tables())
    model = make_model("reconciliation", open_source(root))
    tables = model.output_tables()
    assert sorted(tables["exceptions"]["order_id"]) == ["A2", "A3", "A4", "A5", "A6", "A7", "F1"]
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(model)))
    assert "Exceptions" in book.sheetnames
    sheet = book["Exceptions"]
    ids = [c.value for c in next(sheet.iter_cols(min_col=1, max_col=1))]
    assert ids[0] == "Order ID"
    assert sorted(v for v in ids[1:] if v) == [
        "A2",
        "A3",
        "A4",
        "A5",
        "A6",
        "A7",
        "F1",
    ]


def test_workbook_numbers_carry_the_format_of_their_kind(model) -> None:
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(model)))
    kpis = book.worksheets[0]
    rows = {r[0].value: r for r in kpis.iter_rows() if r[0].value}
    assert rows["GPV"][1].number_format == '"$"#,##0.00;-"$"#,##0.00'
    assert rows["Approval rate (per attempt)"][1].number_format == "0.0%"
    assert rows["Fee yield"][1].number_format == '#,##0.0" bps"'
    assert isinstance(rows["GPV"][1].value, int | float)  # still a number, not text
    top = book["Top merchants"]
    header = [c.value for c in top[1]]
    share = top.cell(row=2, column=header.index(label("share")) + 1)
    assert share.number_format == "0.0%" and isinstance(share.value, float)
    assert top.column_dimensions["B"].width >= len("Merchant")
