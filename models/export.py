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
    """A value the workbook writes as what it is: numbers as numbers, text neutralised."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and pd.isna(value):
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


def _heading(key: str, compared: str | None = None) -> str:
    """A column's heading in a workbook: its label in words (`models.presentation.label`)."""
    return presentation.label(str(key), compared)


def _write_sheet(
    book: Any,
    ws: Any,
    df: pd.DataFrame,
    header: list[tuple[str, Any]] | None = None,
    compared: str | None = None,
) -> None:
    """``header`` rows (label, value) and a blank row, then ``df`` under its columns' labels in
    words (the compared period's figures named by ``compared``), known codes in words; each
    number column in the format of its kind, each column wide enough for its heading.

    The KPI sheet (a ``kpi`` column, `kpi_frame`) names each KPI in words and formats each row
    by its KPI's kind. Written by XlsxWriter (100k rows of nine columns in 11.5 s, 386 MB;
    openpyxl took 25.9 s, 536 MB in the same run)."""
    formats: dict[str, Any] = {}

    def fmt(kind: str) -> Any:
        if kind not in formats:
            formats[kind] = book.add_format({"num_format": EXCEL_FORMATS[kind]})
        return formats[kind]

    r = 0
    for label, value in header or []:
        _put(ws, r, 0, _cell(label), None)
        _put(ws, r, 1, _cell(value), None)
        r += 1
    if header:
        r += 1
    by_row = "kpi" in df.columns  # the KPI sheet: each row a KPI of its own kind
    headings = [_heading(c, compared) for c in df.columns]
    if by_row:
        headings = [
            "KPI" if c == "kpi" else (compared or "") if c == "previous_period" else h
            for c, h in zip(df.columns, headings, strict=True)
        ]
        headings = [h[:1].upper() + h[1:] for h in headings]
    for i, heading in enumerate(headings):  # headings are text, never a formula
        ws.write_string(r, i, str(_cell(heading)))
        ws.set_column(i, i, min(max(len(heading), 10) + 4, 60))
    if not header:
        ws.freeze_panes(1, 0)
    codes = [str(c) in presentation.CODE_COLUMNS for c in df.columns]
    kinds = [presentation.field(str(c)).kind for c in df.columns]
    cell_formats = [fmt(k) if k in EXCEL_FORMATS else None for k in kinds]
    at = df.columns.get_loc("kpi") if by_row else -1
    for n, row in enumerate(df.itertuples(index=False, name=None), start=r + 1):
        cells = [
            presentation.code_label(v) if code else v for v, code in zip(row, codes, strict=True)
        ]
        if by_row:  # the KPI named in words; its figures in the format of its kind
            kind = presentation.field(str(row[at])).kind
            cell_formats = [fmt(kind) if kind in EXCEL_FORMATS else None] * len(row)
            cells[at] = _heading(row[at], compared)
        for i, (value, f) in enumerate(zip(cells, cell_formats, strict=True)):
            _put(ws, n, i, _cell(value), f)


def _put(ws: Any, r: int, c: int, value: Any, fmt: Any) -> None:
    """One cell: numbers and dates as numbers in ``fmt``, text as text (never a formula)."""
    if value is None:
        return
    if isinstance(value, bool):
        ws.write_boolean(r, c, value)
    elif isinstance(value, int | float | Decimal):
        ws.write_number(r, c, float(value), fmt)
    elif isinstance(value, dt.date):
        ws.write_datetime(r, c, value, fmt)
    else:
        ws.write_string(r, c, str(value))


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


def _sheet_title(name: str) -> str:
    """A table's sheet named in words: ``Top merchants``, ``By segment`` (`breakdowns_segment`),
    ``Sign-off 3`` (`signoff_3`)."""
    signoff = re.fullmatch(r"signoff_(\d+)", name)
    if signoff:
        return f"Sign-off {signoff.group(1)}"
    for prefix, words in (("breakdowns_", "By"), ("shares_", "Share by")):
        if name.startswith(prefix):  # a breakdown by one dimension: "By segment"
            return f"{words} {presentation.label(name[len(prefix) :]).lower()}"
    titles = {"signoffs": "Sign-offs", "am_summary": "Account managers"}
    return titles.get(name) or presentation.label(name)


def to_xlsx_bytes(
    tables: dict[str, pd.DataFrame],
    header: list[tuple[str, Any]] | None = None,
    compared: str | None = None,
) -> bytes:
    """A workbook with one sheet per table, named in words; ``header`` rows (label, value) go
    first on the first sheet, above its table; ``compared`` names the compared period in the
    headings of its figures (`DomainModel.compared_name`)."""
    import xlsxwriter

    buf = io.BytesIO()
    # in memory (no temporary files); an infinity as Excel's #NUM! (missing values, NaN among
    # them, are empty cells: `_cell`); a date-time's time zone dropped, as Excel has none
    options = {"in_memory": True, "nan_inf_to_errors": True, "remove_timezone": True}
    book = xlsxwriter.Workbook(buf, options)
    used: set[str] = set()
    for i, (name, df) in enumerate(tables.items()):
        ws = book.add_worksheet(_sheet_name(_sheet_title(name), used))
        frame = df if df is not None else pd.DataFrame()
        _write_sheet(book, ws, frame, header if i == 0 else None, compared)
    book.close()
    return buf.getvalue()


def table_xlsx_bytes(
    df: pd.DataFrame | None, name: str = "table", compared: str | None = None
) -> bytes:
    """One table as a one-sheet workbook (``compared``: as for `to_xlsx_bytes`)."""
    return to_xlsx_bytes({name: df if df is not None else pd.DataFrame()}, compared=compared)


def _words(value: Any) -> Any:
    """A setting's or filter's value as people read it: known codes in words, lists joined."""
    if isinstance(value, list | tuple):
        return ", ".join(str(presentation.code_label(v)) for v in value)
    return presentation.code_label(value)


def header_rows(model: Any) -> list[tuple[str, Any]]:
    """Domain, period, filters and settings in words: written above the KPIs of a workbook."""
    from data.domains import REGISTRY

    s = model.summary()
    rows: list[tuple[str, Any]] = [
        ("Domain", REGISTRY[s["domain"]].label if s["domain"] in REGISTRY else s["domain"]),
        ("Period start", s["period"]["start"]),
        ("Period end", s["period"]["end"]),
    ]
    for key, value in model.filters().items():
        rows.append((f"Filter: {presentation.label(key)}", _words(value)))
    if not model.filters():
        rows.append(("Filters", "none (everything)"))
    for key in model.SETTINGS:
        value = getattr(model, key)
        if key == "compare":  # as the KPI sheet heads it: "Previous quarter"
            value = model.compared_name()
            value = value[:1].upper() + value[1:]
        rows.append((presentation.label(key), _words(value)))
    if getattr(model, "confirmed", None):  # the reconciliation review's confirmed pairs
        rows.append(("Confirmed matches (counted as matched)", len(model.confirmed)))
    if getattr(model, "approximate", False):
        rows.append(("Note", "APPROXIMATE: aggregate-only marketing data (no order ids)"))
    rows.append(("Exported at", dt.datetime.now().isoformat(timespec="seconds")))
    return rows


def kpi_sheet(model: Any) -> pd.DataFrame:
    """The workbook's KPI table: `kpi_frame` (its compared column headed by what it is,
    ``Previous quarter``, ``Same period last year``, when written: `workbook_bytes`)."""
    return kpi_frame(model.summary(), model.kpis_prev)


def workbook_bytes(model: Any) -> bytes:
    """The whole-domain workbook for people: a KPI sheet (domain, period, filters and settings
    above it), then every table, then any sheets the model adds (the reconciliation review's log
    and sign-offs); sheets, headings, KPIs and known codes in words (`models.presentation`),
    numbers as numbers in the format of their kind. CSV and Parquet keep the keys."""
    sheets = {"KPIs": kpi_sheet(model), **model.output_tables()}
    extra = getattr(model, "extra_sheets", None)
    sheets.update(extra() if extra is not None else {})
    return to_xlsx_bytes(sheets, header=header_rows(model), compared=model.compared_name())


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
