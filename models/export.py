"""Exports: CSV, XLSX and Parquet of the model's own tables (no Panel here).

Every exported number is the model's number: the UI, `tieout export` and the downloads all call
these functions on the same model outputs. Text cells are neutralised against spreadsheet formula
injection (OWASP CSV-injection guidance): a text cell starting with ``=``, ``+``, ``-``, ``@``,
tab, CR or LF gets a leading apostrophe. Numeric columns stay numbers (money stays exact Decimal
in XLSX and Parquet). Parquet, read by tools rather than spreadsheets, keeps text as it is.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from models import presentation

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")
FORMATS = ("csv", "xlsx", "parquet")


def neutralise(value: object) -> object:
    """Prefix ``'`` to a text value a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


def _is_text(s: pd.Series) -> bool:
    return (
        s.dtype == object
        or pd.api.types.is_string_dtype(s)
        or isinstance(s.dtype, pd.CategoricalDtype)
    )


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text columns are neutralised; numbers untouched."""
    out = df.copy()
    for col in out.columns:
        if _is_text(out[col]):
            out[col] = out[col].astype(object).map(neutralise)
    return out


def to_csv_bytes(df: pd.DataFrame | None) -> bytes:
    """UTF-8 CSV of ``df`` with text cells neutralised."""
    if df is None:
        df = pd.DataFrame()
    return safe_frame(df).to_csv(index=False).encode("utf-8")


def _sheet_name(name: str, used: set[str]) -> str:
    """An Excel-legal, unique sheet name (<= 31 chars, no []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
    candidate, n = base, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{base[: 31 - len(str(n)) - 1]}_{n}"
    used.add(candidate.lower())
    return candidate


def _cell(value: Any) -> Any:
    """A value openpyxl writes as what it is: numbers as numbers, text neutralised."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    if isinstance(value, list | tuple | set):
        value = ", ".join(map(str, value))
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, Decimal | dt.date):
        value = value.item()
    return neutralise(value)


#: Excel number formats by presentation kind (`models.presentation`): the cells stay numbers.
EXCEL_FORMATS = {
    "money": '"$"#,##0.00;-"$"#,##0.00',
    "count": "#,##0",
    "index": "#,##0",
    "percent": "0.0%",
    "points": "+0.0%;-0.0%",
    "pct": '0.0"%"',
    "bps": '#,##0.0" bps"',
    "multiple": '0.00"x"',
    "coef": "0.000",
    "date": "yyyy-mm-dd",
}


def _write_sheet(ws: Any, df: pd.DataFrame, header: list[tuple[str, Any]] | None = None) -> None:
    """``header`` rows (label, value) and a blank row, then ``df`` with its column names; each
    number column in the format of its kind, each column wide enough for its name."""
    from openpyxl.utils import get_column_letter

    for label, value in header or []:
        ws.append([_cell(label), _cell(value)])
    if header:
        ws.append([])
    ws.append([str(c) for c in df.columns])
    first = ws.max_row
    for row in df.itertuples(index=False, name=None):
        ws.append([_cell(v) for v in row])
    for cell in ws[first]:  # column names are text, never a formula
        cell.data_type = "s"
    by_row = "kpi" in df.columns  # the KPI sheet: each row a KPI of its own kind
    for i, name in enumerate(df.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(max(len(str(name)), 10) + 4, 60)
        fmt = EXCEL_FORMATS.get(presentation.field(str(name)).kind)
        for r in range(first + 1, ws.max_row + 1):
            cell = ws.cell(row=r, column=i)
            if by_row and name != "kpi":  # the value and the compared period's
                kpi = ws.cell(row=r, column=df.columns.get_loc("kpi") + 1).value
                fmt = EXCEL_FORMATS.get(presentation.field(str(kpi)).kind)
            if fmt and isinstance(cell.value, int | float | Decimal | dt.date):
                cell.number_format = fmt
    if not header:
        ws.freeze_panes = "A2"


def kpi_frame(summary: dict[str, Any], previous: dict[str, Any] | None = None) -> pd.DataFrame:
    """The KPI dict as rows: kpi, value, and its value over the compared period (``previous``,
    the model's ``kpis_prev``) in the column ``previous_period``, the key CSV and Parquet keep
    whatever is compared (the workbook names it in words: `kpi_sheet`)."""
    prev = previous or {}
    rows = [
        {"kpi": k, "value": v, "previous_period": prev.get(k)}
        for k, v in summary["kpis"].items()
        if not isinstance(v, list | dict)
    ]
    return pd.DataFrame(rows, columns=["kpi", "value", "previous_period"])


def to_xlsx_bytes(
    tables: dict[str, pd.DataFrame], header: list[tuple[str, Any]] | None = None
) -> bytes:
    """A workbook with one sheet per table; ``header`` rows (label, value) go first on the first
    sheet, above its table."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for i, (name, df) in enumerate(tables.items()):
        ws = wb.create_sheet(_sheet_name(name, used))
        frame = df if df is not None else pd.DataFrame()
        _write_sheet(ws, frame, header if i == 0 else None)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def table_xlsx_bytes(df: pd.DataFrame | None, name: str = "table") -> bytes:
    """One table as a one-sheet workbook."""
    return to_xlsx_bytes({name: df if df is not None else pd.DataFrame()})


def header_rows(model: Any) -> list[tuple[str, Any]]:
    """Domain, period, filters and settings: written above the KPIs of a workbook."""
    s = model.summary()
    rows: list[tuple[str, Any]] = [
        ("domain", s["domain"]),
        ("period start", s["period"]["start"]),
        ("period end", s["period"]["end"]),
    ]
    for key, value in model.filters().items():
        rows.append((f"filter {key}", ", ".join(map(str, value))))
    if not model.filters():
        rows.append(("filters", "none (everything)"))
    for key in model.SETTINGS:
        rows.append((f"setting {key}", getattr(model, key)))
    if getattr(model, "confirmed", None):  # the reconciliation review's confirmed pairs
        rows.append(("confirmed matches (counted as matched)", len(model.confirmed)))
    if getattr(model, "approximate", False):
        rows.append(("note", "APPROXIMATE: aggregate-only marketing data (no order ids)"))
    rows.append(("exported at", dt.datetime.now().isoformat(timespec="seconds")))
    return rows


def kpi_sheet(model: Any) -> pd.DataFrame:
    """The workbook's KPI table: `kpi_frame` with the compared period's column headed by what
    it is (``previous quarter``, ``same period last year``: `DomainModel.compared_name`)."""
    frame = kpi_frame(model.summary(), model.kpis_prev)
    return frame.rename(columns={"previous_period": model.compared_name()})


def workbook_bytes(model: Any) -> bytes:
    """The whole-domain workbook: a KPI sheet (filters and period on it), then every table, then
    any sheets the model adds (the reconciliation review's log and sign-offs)."""
    sheets = {"KPIs": kpi_sheet(model), **model.output_tables()}
    extra = getattr(model, "extra_sheets", None)
    sheets.update(extra() if extra is not None else {})
    return to_xlsx_bytes(sheets, header=header_rows(model))


def write_tables(model: Any, out: Path, fmt: str = "csv") -> list[Path]:
    """Write a domain's KPIs and every table behind its charts into ``out``; return the files."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out.mkdir(parents=True, exist_ok=True)
    domain = model.domain
    if fmt == "xlsx":
        path = out / f"{domain}.xlsx"
        path.write_bytes(workbook_bytes(model))
        return [path]
    tables = {"kpis": kpi_frame(model.summary(), model.kpis_prev), **model.output_tables()}
    written = []
    for name, df in tables.items():
        path = out / f"{domain}_{name}.{fmt}"
        if fmt == "csv":
            path.write_bytes(to_csv_bytes(df))
        else:
            _to_parquet(df, path)
        written.append(path)
    return written


def _to_parquet(df: pd.DataFrame, path: Path) -> None:
    """Parquet with exact money (Decimal -> decimal128); lists and mixed-type columns (the KPI
    table's value column) as text, so nothing is rounded."""
    frame = df.copy()
    for c in frame.columns:
        if frame[c].dtype != object:
            continue
        kinds = {type(v) for v in frame[c].dropna()}
        if kinds <= {str} or kinds <= {Decimal} or kinds <= {dt.date}:
            continue
        if kinds <= {Decimal, int}:
            frame[c] = frame[c].map(lambda v: None if v is None else Decimal(v))
            continue
        frame[c] = frame[c].map(
            lambda v: (
                None
                if v is None
                else (", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v))
            )
        )
    frame.to_parquet(path, index=False)
