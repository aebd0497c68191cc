"""Writes tests/data/real-world/: the tiny payments and reconciliation datasets as finance tools
export them. Every case must give exactly the KPIs of `clean` (tests/test_real_world.py).

Run from the project root: ``python -m tests.data.make_real_world``.

- ``clean``: UTF-8 CSV, ISO dates, plain amounts (the reference).
- ``windows_excel``: Windows-1252 with CRLF line ends (Excel on Windows, "CSV").
- ``unicode_text``: UTF-16 with BOM, tab-separated (Excel's "Unicode text").
- ``european``: ``;``-separated, decimal comma with ``.`` thousands, day-first dates
  (``10.01.2025 10:00``).
- ``us_formatted``: ``$1,234.50`` amounts, month-first dates with 12-hour times.
- ``excel_workbook``: ``.xlsx`` workbooks with real date cells.
- ``headers``: header spellings (``Txn ID``, ``Merchant-Name``) plus names mapped in
  ``tieout.toml`` (``Amount (USD)``, ``Created At``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections.abc import Callable
from pathlib import Path

from data.schemas import tables_of
from tests import recon_tiny
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

HERE = Path(__file__).parent / "real-world"
SOURCES = {
    "payments": {
        # an accented name, so encodings matter
        "merchants": MERCHANTS.replace("Gamma Deli", "Gamma Délicatessen"),
        "transactions": TRANSACTIONS,
    },
    "reconciliation": recon_tiny.tables(),
}
#: Cell -> cell by column kind, per case.
Fmt = dict[str, Callable[[str], str]]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.strip())))


def _money_eu(v: str) -> str:
    whole, _, frac = f"{float(v):,.2f}".partition(".")
    return whole.replace(",", ".") + "," + frac


def _money_us(v: str) -> str:
    return f"${float(v):,.2f}"


def _ts(v: str) -> dt.datetime:
    return dt.datetime.fromisoformat(v)


FORMS: dict[str, Fmt] = {
    "european": {
        "money": _money_eu,
        "date": lambda v: _ts(v).strftime("%d.%m.%Y"),
        "timestamp": lambda v: _ts(v).strftime("%d.%m.%Y %H:%M:%S"),
    },
    "us_formatted": {
        "money": _money_us,
        "date": lambda v: _ts(v).strftime("%m/%d/%Y"),
        "timestamp": lambda v: _ts(v).strftime("%m/%d/%Y %I:%M:%S %p"),
    },
}
HEADERS = {"txn_id": "Txn ID", "merchant_name": "Merchant-Name", "order_id": "Order ID"}
MAPPED = {
    "payments.transactions": {"Amount (USD)": "amount", "Created At": "ts"},
    "reconciliation.revenue_finance": {"Booked Revenue": "revenue"},
}


def _convert(domain: str, table: str, rows: list[list[str]], fmt: Fmt) -> list[list[str]]:
    spec = next(t for t in tables_of(domain) if t.name == table)
    kinds = [spec.column(h).kind if h in spec.names else "str" for h in rows[0]]
    return [rows[0]] + [
        [fmt[k](v) if v and k in fmt else v for v, k in zip(row, kinds, strict=True)]
        for row in rows[1:]
    ]


def _write_csv(
    path: Path, rows: list[list[str]], encoding: str, delimiter: str, newline: str
) -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _write_xlsx(path: Path, domain: str, table: str, rows: list[list[str]]) -> None:
    import openpyxl

    spec = next(t for t in tables_of(domain) if t.name == table)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = table
    sheet.append(rows[0])
    kinds = [spec.column(h).kind if h in spec.names else "str" for h in rows[0]]
    for row in rows[1:]:
        cells: list[object] = []
        for v, k in zip(row, kinds, strict=True):
            if not v:
                cells.append(None)
            elif k == "timestamp":
                cells.append(_ts(v))
            elif k == "date":
                cells.append(_ts(v).date())
            elif k in ("money", "float"):
                cells.append(float(v))
            elif k == "int":
                cells.append(int(v))
            else:
                cells.append(v)
        sheet.append(cells)
    book.save(path)


def main() -> None:
    shutil.rmtree(HERE, ignore_errors=True)
    for case in (
        "clean",
        "windows_excel",
        "unicode_text",
        "european",
        "us_formatted",
        "excel_workbook",
        "headers",
    ):
        for domain, tables in SOURCES.items():
            folder = HERE / case / domain
            folder.mkdir(parents=True)
            for table, text in tables.items():
                rows = _rows(text)
                path = folder / f"{table}.csv"
                if case == "clean":
                    _write_csv(path, rows, "utf-8", ",", "\n")
                elif case == "windows_excel":
                    _write_csv(path, rows, "cp1252", ",", "\r\n")
                elif case == "unicode_text":
                    _write_csv(path, rows, "utf-16", "\t", "\r\n")
                elif case in FORMS:
                    delim = ";" if case == "european" else ","
                    _write_csv(
                        path, _convert(domain, table, rows, FORMS[case]), "utf-8", delim, "\n"
                    )
                elif case == "excel_workbook":
                    _write_xlsx(folder / f"{table}.xlsx", domain, table, rows)
                else:
                    mapped = {v: k for k, v in MAPPED.get(f"{domain}.{table}", {}).items()}
                    rows[0] = [mapped.get(h) or HEADERS.get(h, h) for h in rows[0]]
                    _write_csv(path, rows, "utf-8", ",", "\n")
        if case == "headers":
            lines = []
            for table, pairs in MAPPED.items():
                lines.append(f"[{table}]")
                lines += [f'"{k}" = "{v}"' for k, v in pairs.items()]
            (HERE / case / "tieout.toml").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
