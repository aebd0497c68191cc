"""Read a domain folder and validate it against `data.schemas`, collecting every problem.

Nothing here writes to the user's files. The result of `load_domain` is either a set of clean,
typed frames (money as integer cents, text as categoricals where declared) or a report of every
problem found; a caller replaces what it has loaded only when the report has no errors.

Row numbers in messages are the ones a spreadsheet shows for a CSV file (the header is row 1, the
first data row is row 2); for Parquet files they count data rows from 1.
"""

from __future__ import annotations

import codecs
import gzip
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from data.schemas import Column, Table, tables_of

SUFFIXES = (".parquet", ".csv", ".csv.gz")
#: Largest decompressed size accepted for a `.csv.gz` file (a guard against gzip bombs).
MAX_UNCOMPRESSED_BYTES = int(os.environ.get("TIEOUT_MAX_UNCOMPRESSED_BYTES", 8 * 1024**3))
#: Memory that reading one CSV file takes, per byte of its text (measured: 5.7 for the demo's
#: transactions; pandas holds every cell as a Python string).
READ_BYTES_PER_TEXT_BYTE = 6
MEMORY_ENV = "TIEOUT_MEMORY_BUDGET"
MAX_ROWS_LISTED = 5
#: Longest text cell accepted: names and notes are short; a huge cell is a broken or hostile file.
MAX_TEXT_CHARS = 1000

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One kind of problem in one file and column, with the first rows where it occurs."""

    file: str
    column: str | None
    expected: str
    rows: tuple[int, ...] = ()
    count: int = 0
    value: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file + (f", column '{self.column}'" if self.column else "")
        if self.rows:
            listed = ", ".join(str(r) for r in self.rows)
            more = f" ({self.count} rows in all)" if self.count > len(self.rows) else ""
            where += f", row{'s' if len(self.rows) > 1 else ''} {listed}{more}"
        got = f": value {self.value!r}" if self.value is not None else ""
        return f"{self.severity.upper()} {where}{got}: expected {self.expected}"

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "file": self.file,
            "column": self.column,
            "rows": list(self.rows),
            "count": self.count,
            "value": self.value,
            "expected": self.expected,
        }


@dataclass
class Report:
    """Every problem found while loading one or more domains."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def extend(self, other: Report) -> None:
        self.problems.extend(other.problems)

    def text(self) -> str:
        if not self.problems:
            return "No problems found."
        head = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return "\n".join([head, *(str(p) for p in self.problems)])


class DataError(Exception):
    """Raised when input data cannot be used; carries the full report."""

    def __init__(self, report: Report):
        self.report = report
        super().__init__(report.text())


@dataclass
class DomainData:
    """The clean tables of one domain, the files they came from and the validation report."""

    domain: str
    root: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    report: Report = field(default_factory=Report)
    present: bool = True  # False when the domain folder does not exist

    @property
    def ok(self) -> bool:
        return self.present and self.report.ok


# --------------------------------------------------------------------------- reading files


def find_file(folder: Path, name: str) -> list[Path]:
    """The files in ``folder`` that hold table ``name`` (case-insensitive file names)."""
    if not folder.is_dir():
        return []
    wanted = {name.lower() + s for s in SUFFIXES}
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower() in wanted)


def open_binary(path: Path) -> BinaryIO:
    """Open a source file for reading: the one place user files are opened (never for writing)."""
    return open(path, "rb")


def _size_text(n: float) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def memory_budget() -> int:
    """Bytes that reading files may hold at once in this process: ``$TIEOUT_MEMORY_BUDGET`` (bytes,
    or a number with MB/GB/MiB/GiB), else half of the machine's memory (8 GiB when unknown)."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    if text:
        m = re.fullmatch(r"(?i)\s*([0-9.]+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*", text)
        if m:
            unit = (m.group(2) or "b").lower()
            scale = {"b": 1, "kb": 1e3, "kib": 1024, "mb": 1e6, "mib": 1024**2, "gb": 1e9}.get(
                unit, 1024**3
            )
            return int(float(m.group(1)) * scale)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):  # not POSIX (Windows)
        return 8 * 1024**3


class _Budget:
    """The process's reading budget: a read holds its estimate while it runs; reads that would
    go over wait for others to end (a read larger than the whole budget is refused before)."""

    def __init__(self) -> None:
        self._held = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, n: int) -> Iterator[None]:
        total = memory_budget()
        n = min(n, total)
        with self._cond:
            self._cond.wait_for(lambda: self._held == 0 or self._held + n <= total)
            self._held += n
        try:
            yield
        finally:
            with self._cond:
                self._held -= n
                self._cond.notify_all()


READ_BUDGET = _Budget()


def _first_bad_utf8(path: Path) -> tuple[int, str] | None:
    """(line number, bytes) of the first invalid UTF-8 sequence, or None if the file decodes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open_binary(path) as raw:
        fh = gzip.GzipFile(fileobj=raw) if path.name.lower().endswith(".gz") else raw
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk[: exc.start].count(b"\n"), chunk[exc.start : exc.end + 3].hex()
            line += chunk.count(b"\n")
    return None


def _gzip_size(path: Path, limit: int) -> int:
    """The expanded size of a gzip file, counted as it streams; stops past ``limit``."""
    total = 0
    with open_binary(path) as raw, gzip.GzipFile(fileobj=raw) as fh:
        while chunk := fh.read(1 << 22):
            total += len(chunk)
            if total > limit:
                break
    return total


def _text_size(path: Path, limit: int) -> int:
    """Bytes of data that reading ``path`` turns into cells (expanded size of a gzip file, the
    uncompressed size Parquet records for its columns)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return _gzip_size(path, limit)
    if name.endswith(".parquet"):
        meta = pq.ParquetFile(path).metadata
        return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return path.stat().st_size


def read_table_file(path: Path, label: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one CSV/CSV.GZ/Parquet file, text cells as strings; headers normalised.

    A file whose reading would take more memory than the budget (`memory_budget`) is refused
    before it is read, naming its size and the setting; a gzip file is measured as it streams.
    """
    budget = memory_budget()
    gz = path.name.lower().endswith(".gz")
    try:
        limit = budget // READ_BYTES_PER_TEXT_BYTE
        size = _text_size(path, min(limit, MAX_UNCOMPRESSED_BYTES))
        if gz and size > MAX_UNCOMPRESSED_BYTES:
            return None, [
                Problem(
                    label,
                    None,
                    f"a gzip file that expands to at most {_size_text(MAX_UNCOMPRESSED_BYTES)}",
                )
            ]
        if size > limit:
            what = "expands to" if gz else "holds"
            return None, [
                Problem(
                    label,
                    None,
                    f"a file this machine can read: it {what} more than {_size_text(size)} of "
                    f"data, which needs about {_size_text(size * READ_BYTES_PER_TEXT_BYTE)} of "
                    f"memory, over the reading budget of {_size_text(budget)} (set "
                    f"{MEMORY_ENV} to change it, or split the file)",
                )
            ]
        with READ_BUDGET.hold(size * READ_BYTES_PER_TEXT_BYTE), open_binary(path) as fh:
            if path.name.lower().endswith(".parquet"):
                frame = pq.read_table(fh).to_pandas()
            else:
                frame = pd.read_csv(
                    fh,
                    dtype=str,
                    keep_default_na=False,
                    na_values=[],
                    encoding="utf-8-sig",
                    skipinitialspace=False,
                    compression="gzip" if gz else None,
                )
    except UnicodeDecodeError:
        bad = _first_bad_utf8(path)
        rows = (bad[0],) if bad else ()
        value = f"bytes 0x{bad[1]}" if bad else None
        return None, [Problem(label, None, "UTF-8 text", rows, len(rows), value)]
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        return None, [Problem(label, None, f"a readable file ({exc.__class__.__name__}: {exc})")]
    except pd.errors.EmptyDataError:
        return None, [
            Problem(label, None, "a header row and at least one data row (file is empty)")
        ]
    except (pd.errors.ParserError, ValueError) as exc:
        return None, [Problem(label, None, f"well-formed CSV ({str(exc).strip()[:200]})")]
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame, []


# --------------------------------------------------------------------------- parsing columns


def _blank(series: pd.Series) -> np.ndarray:
    """True where a cell is missing or only white space."""
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        s = series.astype("string")
        return (s.isna() | (s.str.strip() == "")).to_numpy(dtype=bool, na_value=True)
    return series.isna().to_numpy()


#: Money text is accepted in two spellings only: a decimal point and no grouping (1234.56), or
#: ',' between groups of three digits before an optional decimal point (1,234.56).
_MONEY_PLAIN = r"^-?(?:\d+(?:\.\d*)?|\.\d+)$"
_MONEY_GROUPED = r"^-?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"
#: What a decimal comma looks like (21,19 / 12,5 / 1.234,56): never read as money.
_DECIMAL_COMMA = r"^-?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$"
MONEY_EXPECTED = "an amount like 1234.56 or 1,234.56 (decimal point; ',' only between thousands)"


def _money_cents(series: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    """Currency units -> integer cents, exactly for text; half away from zero past 2 decimals.

    Returns (cents, mask of cells that are not money, what was expected). Text is money only in
    one unambiguous spelling (`MONEY_EXPECTED`); when a column holds values that look like a
    decimal comma, none of its comma values is read (1,234 could then be 1.234), and the
    expectation says so.
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype("float64")
        cents = np.round(values.to_numpy() * 100.0)
        bad = ~np.isfinite(cents) & ~np.isnan(values.to_numpy())
        out = pd.Series(cents, index=series.index)
        out[~np.isfinite(cents)] = np.nan
        return out.astype("Int64"), bad, "a finite amount"
    raw = series.astype("string").str.strip()
    plain = raw.str.match(_MONEY_PLAIN).fillna(False)
    grouped = raw.str.match(_MONEY_GROUPED).fillna(False)
    comma = raw.str.match(_DECIMAL_COMMA).fillna(False) & ~grouped
    expected = MONEY_EXPECTED
    if comma.any():
        example = str(raw[comma].iloc[0])
        expected += (
            f"; this column looks like it uses a decimal comma (e.g. {example!r}): write "
            f"{example.replace('.', '').replace(',', '.')!r} instead"
        )
        grouped = grouped & False
    text = raw.where(plain | grouped).str.replace(",", "", regex=False)
    parts = text.str.extract(r"^(-?)(\d*)(?:\.(\d*))?$")
    ok = parts[1].notna() & ((parts[1].str.len() > 0) | (parts[2].fillna("").str.len() > 0))
    whole = pd.to_numeric(parts[1].where(parts[1].str.len() > 0, "0"), errors="coerce")
    frac = parts[2].fillna("").str.ljust(3, "0").str.slice(0, 3)
    frac_num = pd.to_numeric(frac.where(frac.str.len() > 0, "000"), errors="coerce")
    # Three decimals are kept to round the third away from zero: 1.005 -> 101 cents.
    thousandths = whole.astype("Int64") * 1000 + frac_num.astype("Int64")
    cents = (thousandths + 5) // 10
    sign = parts[0].map({"-": -1}).fillna(1).astype("Int64")
    cents = (cents * sign).where(ok)
    blank = _blank(series)
    return cents.astype("Int64"), (~ok.fillna(False).to_numpy(dtype=bool)) & ~blank, expected


def _number(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype("float64")
        infinite = np.isinf(values.to_numpy())
        return values.where(~infinite), infinite
    text = series.astype("string").str.strip()
    parsed = pd.to_numeric(text, errors="coerce").astype("float64")
    infinite = np.isinf(parsed.to_numpy())  # "inf", "1e999": not a count or a rate
    return parsed.where(~infinite), ((parsed.isna().to_numpy() | infinite) & ~_blank(series))


def _datetime(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
    else:
        text = series.astype("string").str.strip()
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)  # keep wall-clock time: a sale belongs to its day
    parsed = parsed.astype("datetime64[us]")
    return parsed, (parsed.isna().to_numpy() & ~_blank(series))


def _text(series: pd.Series) -> pd.Series:
    s = series.astype("string").str.strip()
    return s.where(s != "", pd.NA)


def parse_column(col: Column, series: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    """Parse one column: (typed values, mask of unparseable cells, what was expected)."""
    if col.kind == "money":
        return _money_cents(series)
    if col.kind in ("int", "float"):
        values, bad = _number(series)
        if col.kind == "int":
            frac = values.notna().to_numpy() & (np.mod(values.fillna(0).to_numpy(), 1) != 0)
            bad = bad | frac
            values = values.where(~frac).round().astype("Int64")
            return values, bad, "a whole number"
        return values, bad, "a number"
    if col.kind == "date":
        values, bad = _datetime(series)
        return values.dt.normalize(), bad, "a date like 2025-01-31"
    if col.kind == "timestamp":
        values, bad = _datetime(series)
        return values, bad, "a timestamp like 2025-01-31 14:05:00"
    text = _text(series)
    too_long = text.str.len().gt(MAX_TEXT_CHARS).to_numpy(dtype=bool, na_value=False)
    if too_long.any():
        return text.where(~too_long), too_long, f"text of at most {MAX_TEXT_CHARS:,} characters"
    if col.kind == "enum":
        canon = {a.lower(): a for a in col.allowed}
        mapped = text.str.lower().map(canon)
        bad = (mapped.isna() & text.notna()).to_numpy(dtype=bool)
        return mapped.astype("string"), bad, "one of " + ", ".join(col.allowed)
    return text, np.zeros(len(series), dtype=bool), "text"


# --------------------------------------------------------------------------- validation


def _problem(
    label: str,
    column: str | None,
    expected: str,
    mask: np.ndarray,
    raw: pd.Series | None,
    row_offset: int,
    severity: Severity = "error",
) -> Problem | None:
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return None
    first = idx[:MAX_ROWS_LISTED]
    value = None
    if raw is not None:
        v = raw.iloc[int(first[0])]
        value = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)[:80]
    rows = tuple(int(i) + row_offset for i in first)
    return Problem(label, column, expected, rows, len(idx), value, severity)


def validate_table(
    spec: Table, frame: pd.DataFrame, label: str, row_offset: int
) -> tuple[pd.DataFrame, list[Problem]]:
    """Check one table's columns and keys; return its typed frame and every problem."""
    problems: list[Problem] = []
    out: dict[str, pd.Series] = {}
    if len(frame) == 0:
        problems.append(Problem(label, None, "at least one data row (table is empty)"))
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    for name in missing:
        found = ", ".join(frame.columns[:20])
        problems.append(Problem(label, name, f"a column named '{name}' (found: {found})"))
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        raw = frame[col.name]
        values, bad, expected = parse_column(col, raw)
        p = _problem(label, col.name, expected, bad, raw, row_offset)
        if p:
            problems.append(p)
        empty = values.isna().to_numpy() & ~bad
        if not col.nullable:
            p = _problem(
                label, col.name, f"a value ({expected}); the cell is empty", empty, raw, row_offset
            )
            if p:
                problems.append(p)
        if col.min is not None or col.max is not None:
            num = values.astype("float64") / (100.0 if col.kind == "money" else 1.0)
            low = (
                num.lt(col.min).to_numpy(dtype=bool, na_value=False)
                if col.min is not None
                else np.zeros(len(num), bool)
            )
            high = (
                num.gt(col.max).to_numpy(dtype=bool, na_value=False)
                if col.max is not None
                else np.zeros(len(num), bool)
            )
            bounds = " and ".join(
                s
                for s in (
                    f">= {col.min:g}" if col.min is not None else "",
                    f"<= {col.max:g}" if col.max is not None else "",
                )
                if s
            )
            p = _problem(label, col.name, f"a value {bounds}", low | high, raw, row_offset)
            if p:
                problems.append(p)
        out[col.name] = values
    # Extra columns (e.g. in anomalies) are kept as text.
    for name in frame.columns:
        if name not in out and spec.name == "anomalies":
            out[name] = _text(frame[name])
    typed = pd.DataFrame(out, index=frame.index)
    key = [k for k in spec.key if k in typed.columns]
    if key and len(key) == len(spec.key):
        present = typed[key].notna().all(axis=1).to_numpy()
        dup = typed[key].duplicated(keep="first").to_numpy() & present
        raw_key = frame[key[0]] if len(key) == 1 else frame[key].astype(str).agg(" / ".join, axis=1)
        p = _problem(
            label,
            ", ".join(key),
            "a unique key (this value repeats an earlier row)",
            dup,
            raw_key,
            row_offset,
        )
        if p:
            problems.append(p)
    return typed, problems


def _domain_rules(
    data: DomainData, labels: dict[str, str], offsets: dict[str, int]
) -> list[Problem]:
    """Rules that span columns or tables."""
    t = data.tables
    problems: list[Problem] = []

    def add(
        table: str,
        column: str | None,
        expected: str,
        mask: np.ndarray,
        raw: pd.Series | None,
        severity: Severity = "error",
    ) -> None:
        p = _problem(labels[table], column, expected, mask, raw, offsets[table], severity)
        if p:
            problems.append(p)

    # References to keys of other tables.
    for spec in tables_of(data.domain):
        if spec.name not in t:
            continue
        for col in spec.columns:
            if not col.ref or col.name not in t[spec.name].columns:
                continue
            target_table, target_col = col.ref.split(".")
            if target_table not in t or target_col not in t[target_table].columns:
                continue
            values = t[spec.name][col.name]
            known = set(t[target_table][target_col].dropna().astype(str))
            dangling = values.notna().to_numpy() & ~values.astype(str).isin(known).to_numpy()
            add(
                spec.name,
                col.name,
                f"an id present in {target_table}.{target_col}",
                dangling,
                values,
            )

    if data.domain == "payments" and "transactions" in t:
        tx = t["transactions"]
        if {"status", "decline_reason"} <= set(tx.columns):
            declined = (tx["status"] == "declined").to_numpy(dtype=bool, na_value=False)
            has_reason = tx["decline_reason"].notna().to_numpy()
            add(
                "transactions",
                "decline_reason",
                "a decline reason on every declined row",
                declined & ~has_reason,
                tx["decline_reason"],
            )
            add(
                "transactions",
                "decline_reason",
                "an empty decline reason on approved rows",
                ~declined & has_reason & tx["status"].notna().to_numpy(),
                tx["decline_reason"],
            )
        if "currency" in tx.columns:
            currencies = tx["currency"].dropna().unique()
            # fx conversion is not implemented yet: summing unconverted amounts would be wrong,
            # so mixed currencies are refused even with fx_rates (README, open notes).
            if len(currencies) > 1:
                main = tx["currency"].mode().iloc[0]
                other = tx["currency"].notna().to_numpy() & (tx["currency"] != main).to_numpy(
                    dtype=bool, na_value=False
                )
                add(
                    "transactions",
                    "currency",
                    f"one currency ({main}); fx_rates conversion is not supported yet, so "
                    "convert the amounts before loading",
                    other,
                    tx["currency"],
                )

    def has(table: str, *cols: str) -> bool:
        return table in t and set(cols) <= set(t[table].columns)

    if data.domain == "reconciliation" and has("marketing_spend", "campaign", "channel"):
        sp = t["marketing_spend"]
        channels = sp.groupby("campaign", observed=True)["channel"].nunique()
        multi = set(channels[channels > 1].index)
        add(
            "marketing_spend",
            "channel",
            "one channel per campaign",
            sp["campaign"].isin(multi).to_numpy(dtype=bool, na_value=False),
            sp["campaign"],
        )
    if data.domain == "influencer":
        if has("tracking_data", "attribution_type", "influencer_id"):
            tr = t["tracking_data"]
            infl = (tr["attribution_type"] == "Influenced").to_numpy(dtype=bool, na_value=False)
            add(
                "tracking_data",
                "influencer_id",
                "an influencer_id on every Influenced sale",
                infl & tr["influencer_id"].isna().to_numpy(),
                tr["influencer_id"],
            )
        if has("payouts", "basis", "rate"):
            po = t["payouts"]
            order = (po["basis"] == "Order").to_numpy(dtype=bool, na_value=False)
            add(
                "payouts",
                "rate",
                "a commission fraction between 0 and 1 for basis Order",
                order & (po["rate"] > 1).to_numpy(dtype=bool, na_value=False),
                po["rate"],
            )
    return problems


def _categorise(spec: Table, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in spec.categorical:
        if name in out.columns:
            out[name] = out[name].astype("category")
    return out


def load_domain(root: str | os.PathLike[str], domain: str) -> DomainData:
    """Read and validate every table of ``domain`` under ``root/domain``.

    Returns a `DomainData` whose ``report`` lists every problem; its ``tables`` are filled only
    when there are no errors. Files are opened read-only and never written.
    """
    root = Path(root)
    folder = root / domain
    data = DomainData(domain=domain, root=root)
    if not folder.is_dir():
        data.present = False
        return data
    labels: dict[str, str] = {}
    offsets: dict[str, int] = {}
    for spec in tables_of(domain):
        found = find_file(folder, spec.name)
        label = f"{domain}/{spec.name}"
        if not found:
            if spec.required:
                data.report.problems.append(
                    Problem(
                        label,
                        None,
                        f"a file {spec.name}.csv, {spec.name}.csv.gz or "
                        f"{spec.name}.parquet in {folder}",
                    )
                )
            continue
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            data.report.problems.append(
                Problem(label, None, f"one file for the table, found {names}")
            )
            continue
        path = found[0]
        label = f"{domain}/{path.name}"
        labels[spec.name] = label
        offsets[spec.name] = 1 if path.name.lower().endswith(".parquet") else 2
        frame, problems = read_table_file(path, label)
        data.report.problems.extend(problems)
        if frame is None:
            continue
        typed, problems = validate_table(spec, frame, label, offsets[spec.name])
        data.report.problems.extend(problems)
        data.tables[spec.name] = typed
        data.files[spec.name] = path
    data.report.problems.extend(_domain_rules(data, labels, offsets))
    if data.report.ok:
        data.tables = {
            name: _categorise(spec, data.tables[name])
            for spec in tables_of(domain)
            if (name := spec.name) in data.tables
        }
    else:
        data.tables = {}
    return data


def load_all(root: str | os.PathLike[str], domains: Iterable[str]) -> dict[str, DomainData]:
    """`load_domain` for each domain."""
    return {d: load_domain(root, d) for d in domains}
