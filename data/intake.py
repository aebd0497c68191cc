"""Reading files as people have them into raw tables of a DuckDB database (no pandas, no judging).

DuckDB reads CSV, CSV.GZ and Parquet itself, streaming, within the connection's memory limit;
Excel workbooks are streamed row by row (openpyxl read-only) into the database in batches. Every
CSV or Excel cell arrives as text; judging it (`data.checks`) is a separate step, written as Ibis
expressions over the raw tables.

Forms accepted, decided per file and said in the report:
- encodings: UTF-8 with or without BOM, UTF-16 with BOM, and Windows-1252 when a file is not
  valid UTF-8 (read as Latin-1 by DuckDB, then the 27 characters where Windows-1252 differs are
  translated);
- delimiters: ``,`` ``;`` tab ``|``, chosen from the header line;
- headers: matched ignoring case, spaces, underscores and hyphens (``Txn ID`` = ``txn_id``), and
  through a mapping (`tieout.toml` in the data folder, or a file given on the command line) for
  names that cannot be guessed.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import os
import re
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pyarrow as pa

from data.schemas import Table

SUFFIXES = (".parquet", ".csv", ".csv.gz", ".xlsx")
DELIMITERS = (",", ";", "\t", "|")
MAPPING_FILE = "tieout.toml"
#: Bytes Windows-1252 leaves undefined (a file holding them is neither UTF-8 nor Windows-1252).
_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
XLSX_BATCH_ROWS = 50_000
#: Rows from which a Parquet file of fewer row groups than threads is copied first.
PARQUET_COPY_ROWS = 100_000


@contextmanager
def watch(
    con: duckdb.DuckDBPyConnection,
    say: Callable[[str], None] | None,
    what: str,
    rows: int | None = None,
) -> Iterator[None]:
    """While the block runs a query on ``con``, report its progress every half second:
    "<what>: 40% (about 6 s left)" (DuckDB's own progress of the running query), with the
    rate "1.2M rows/s" when the query goes through ``rows`` rows."""
    if say is None:
        yield
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    done = threading.Event()
    started = time.monotonic()

    def poll() -> None:
        while not done.wait(0.5):
            pct = con.query_progress()
            if pct <= 0:
                continue
            elapsed = time.monotonic() - started
            left = elapsed * (100 - pct) / pct
            rate = f", {rows * pct / 100 / elapsed / 1e6:.1f}M rows/s" if rows else ""
            say(f"{what}: {pct:.0f}% (about {left:.0f} s left{rate})")

    thread = threading.Thread(target=poll, name="tieout-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class ReadError(Exception):
    """A file that cannot be read in any supported form; the message says what was tried."""

    def __init__(self, expected: str, rows: tuple[int, ...] = (), value: str | None = None):
        super().__init__(expected)
        self.expected, self.rows, self.value = expected, rows, value


@dataclass
class Form:
    """How a file was read: shown in the report."""

    kind: str  # csv | parquet | xlsx
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

    def describe(self) -> str:
        if self.kind == "parquet":
            return "Parquet"
        if self.kind == "xlsx":
            return f"Excel workbook, sheet {self.sheet!r}"
        names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
        return f"CSV, {self.encoding}, {names.get(self.delimiter or ',', self.delimiter)}-separated"


@dataclass
class RawTable:
    """One file read into table ``name`` of the connection: canonical column -> raw column."""

    name: str
    label: str
    path: Path
    form: Form
    columns: dict[str, str] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    offset: int = 2  # the row number a spreadsheet shows for the first data row
    rows: int = 0
    typed: dict[str, str] = field(default_factory=dict)  # raw column -> DuckDB type
    row: str = "rowid"  # what numbers its rows in file order (from 0)


def canonical(header: str) -> str:
    """A header as a column name: case, spaces, underscores and hyphens ignored."""
    return re.sub(r"[\s_\-]+", "_", str(header).strip().lower()).strip("_")


def read_mapping(path: Path) -> dict[str, dict[str, str]]:
    """``{"domain.table": {"Header in file": "column"}}`` from a `tieout.toml` (read-only)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    out: dict[str, dict[str, str]] = {}
    for domain, tables in data.items():
        if not isinstance(tables, dict):
            continue
        for table, pairs in tables.items():
            if isinstance(pairs, dict):
                out[f"{domain}.{table}"] = {str(k): str(v) for k, v in pairs.items()}
    return out


def mapping_toml(chosen: dict[str, dict[str, str]]) -> str:
    """``{"domain.table": {header: column}}`` as a `tieout.toml` (the form `read_mapping` reads)."""
    import tomli_w

    nested: dict[str, dict[str, dict[str, str]]] = {}
    for key, pairs in sorted(chosen.items()):
        domain, _, table = key.partition(".")
        nested.setdefault(domain, {})[table] = dict(sorted(pairs.items()))
    return tomli_w.dumps(nested)


def save_user_mapping(chosen: dict[str, dict[str, str]]) -> Path:
    """Merge ``chosen`` into the user's saved header choices (`data.paths.user_mapping_file`,
    written atomically; never a data folder) and return the file."""
    from data.paths import user_mapping_file

    path = user_mapping_file()
    try:
        merged = read_mapping(path) if path.is_file() else {}
    except (OSError, ValueError):  # a damaged file is replaced by the new choices
        merged = {}
    for key, pairs in chosen.items():
        merged.setdefault(key, {}).update(pairs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(mapping_toml(merged), encoding="utf-8")
    os.replace(tmp, path)
    return path


def match_headers(
    headers: list[str], spec: Table, mapping: dict[str, str]
) -> tuple[dict[str, int], list[str]]:
    """Canonical column -> index of its header, and the headers matched to no column."""
    wanted = {c.name for c in spec.columns}
    by_map = {canonical(k): v for k, v in mapping.items()}
    found: dict[str, int] = {}
    unmatched = []
    for i, header in enumerate(headers):
        name = by_map.get(canonical(header)) or canonical(header)
        if name in wanted and name not in found:
            found[name] = i
        elif name not in found:
            unmatched.append(header)
            if spec.name == "anomalies" and name and name not in found:  # extra columns kept
                found[name] = i
    return found, unmatched


@contextmanager
def _open(path: Path, opener: Any) -> Iterator[BinaryIO]:
    """The file's bytes (decompressed for .gz), closed afterwards."""
    with opener(path) as raw:
        if path.name.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as fh:
                yield fh  # type: ignore[misc]
        else:
            yield raw


def sniff_encoding(path: Path, opener: Any) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with BOM), else Windows-1252; `ReadError` when the
    bytes are none of these (with the line and bytes of the first that fails)."""
    with _open(path, opener) as fh:
        head = fh.read(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    bom = head.startswith(b"\xef\xbb\xbf")
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, bad_cp1252 = 1, None
    utf8 = True
    with _open(path, opener) as fh:
        while chunk := fh.read(1 << 22):
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if not utf8:
                for i, b in enumerate(chunk):
                    if b in _CP1252_UNDEFINED:
                        bad_cp1252 = (line + chunk[:i].count(b"\n"), chunk[i : i + 4].hex())
                        break
                if bad_cp1252:
                    break
            line += chunk.count(b"\n")
    if utf8:
        return "UTF-8 with BOM" if bom else "UTF-8"
    if bad_cp1252:
        raise ReadError(
            "UTF-8, UTF-16 (with BOM) or Windows-1252 text (tried all three)",
            (bad_cp1252[0],),
            f"bytes 0x{bad_cp1252[1]}",
        )
    return "Windows-1252"


def _header_line(path: Path, opener: Any, encoding: str) -> tuple[str, int]:
    """The header line (the first that is not blank) and how many blank lines precede it."""
    codec = {"UTF-16": "utf-16", "Windows-1252": "cp1252"}.get(encoding, "utf-8-sig")
    with _open(path, opener) as fh:
        text = io.TextIOWrapper(fh, encoding=codec, newline="")
        for skipped in range(1000):
            line = text.readline()
            if line.strip() or not line:
                return line, skipped
    return "", 0


def sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: the candidate found most often outside quotes."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _transcoded(path: Path, opener: Any, temp_dir: Path | None) -> Path:
    """A UTF-8 copy of a Windows-1252 file in the engine's temporary folder (never beside it)."""
    folder = temp_dir or Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=".csv", dir=folder)
    with _open(path, opener) as fh, os.fdopen(fd, "wb") as out:
        decoder = codecs.getincrementaldecoder("cp1252")()
        while chunk := fh.read(1 << 22):
            out.write(decoder.decode(chunk).encode("utf-8"))
        out.write(decoder.decode(b"", final=True).encode("utf-8"))
    return Path(name)


def read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    opener: Any,
    temp_dir: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> RawTable:
    encoding = sniff_encoding(path, opener)
    header, skipped = _header_line(path, opener, encoding)
    if not header.strip():
        raise ReadError("a header row and at least one data row (file is empty)")
    delim = sniff_delimiter(header)
    headers = next(csv.reader([header.rstrip("\r\n")], delimiter=delim))
    cols = {f"c{i}": "VARCHAR" for i in range(len(headers))}
    duck_enc = "utf-16" if encoding == "UTF-16" else "utf-8"
    source = path
    if encoding == "Windows-1252":  # DuckDB reads UTF-8/16 and Latin-1: transcode, streaming
        source = _transcoded(path, opener, temp_dir)
    columns = "{" + ", ".join(f"{_sql_str(k)}: 'VARCHAR'" for k in cols) + "}"
    sql = (
        f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_csv({_sql_str(str(source))}, "
        f"header = true, skip = {skipped}, auto_detect = false, columns = {columns}, "
        f"delim = {_sql_str(delim)}, "
        f"quote = '\"', escape = '\"', encoding = {_sql_str(duck_enc)}, "
        "strict_mode = true, null_padding = false, compression = 'auto')"
    )
    try:
        with watch(con, say, f"reading {path.name}"):
            con.execute(sql)
    except duckdb.Error as exc:
        message = str(exc).split("\n")
        line = next((m for m in message if "line" in m.lower()), message[0])
        raise ReadError(f"well-formed CSV ({line.strip()[:200]})") from None
    finally:
        if source != path:
            source.unlink(missing_ok=True)
    form = Form("csv", encoding=encoding, delimiter=delim)
    return RawTable(name, "", path, form, headers=headers, offset=2 + skipped)


def read_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    say: Callable[[str], None] | None = None,
) -> RawTable:
    """A view over the Parquet file (typed columns, its own row numbers): Parquet is read fast
    enough to be scanned by each check instead of copied first.

    DuckDB reads one row group of a file on one thread. A large file of fewer row groups than
    the connection has threads (a 1M-row file written as one group) is decoded once into a
    temporary table (in memory, spilling past the memory limit; never stored in the database),
    which every later pass then scans on all threads: the 1M sales of the influencer demo took
    6.0 s to type from the file, 1.0 s to copy and 1.7 s to type from the copy."""
    file = _sql_str(str(path))
    source = f"read_parquet({file}, file_row_number = true)"
    try:
        info = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        info = [r for r in info if r[0] != "file_row_number"]
        select = ", ".join(
            f'"{r[0].replace(chr(34), chr(34) * 2)}" AS c{i}' for i, r in enumerate(info)
        )
        groups, rows = con.execute(
            "SELECT count(*), coalesce(sum(n), 0) FROM (SELECT row_group_id, "
            f"any_value(row_group_num_rows) AS n FROM parquet_metadata({file}) GROUP BY 1)"
        ).fetchone()  # type: ignore[misc]
        threads = con.execute("SELECT current_setting('threads')").fetchone()
        kind = "VIEW"
        if groups < int(threads[0]) and rows >= PARQUET_COPY_ROWS:  # type: ignore[index]
            kind = "TEMP TABLE"
        with watch(con, say if kind != "VIEW" else None, f"reading {path.name}", rows):
            con.execute(
                f"CREATE OR REPLACE {kind} {name} AS SELECT file_row_number AS _rowid, {select} "
                f"FROM {source}"
            )
    except duckdb.Error as exc:
        raise ReadError(f"a readable Parquet file ({str(exc).splitlines()[0][:200]})") from None
    raw = RawTable(name, "", path, Form("parquet"), headers=[r[0] for r in info], offset=1)
    raw.typed = {f"c{i}": r[1] for i, r in enumerate(info)}
    raw.row = "_rowid"
    return raw


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def read_xlsx(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, table: str, opener: Any
) -> RawTable:
    """The sheet named after the table, else the first, streamed in batches of text cells."""
    import openpyxl

    try:
        with opener(path) as fh:
            book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            try:
                sheets = book.sheetnames
                sheet = next((s for s in sheets if canonical(s) == table), sheets[0])
                rows = book[sheet].iter_rows(values_only=True)
                headers = [_cell_text(h) or "" for h in next(rows, ())]
                while headers and not headers[-1]:
                    headers.pop()
                if not headers:
                    raise ReadError("a header row and at least one data row (sheet is empty)")
                width = len(headers)
                schema = pa.schema([(f"c{i}", pa.string()) for i in range(width)])
                con.execute(
                    f"CREATE OR REPLACE TABLE {name} ("
                    + ", ".join(f"c{i} VARCHAR" for i in range(width))
                    + ")"
                )
                batch: list[list[str | None]] = []

                def flush() -> None:
                    if batch:
                        arrays = [
                            pa.array([r[i] for r in batch], pa.string()) for i in range(width)
                        ]
                        con.register("_xlsx_batch", pa.Table.from_arrays(arrays, schema=schema))
                        con.execute(f"INSERT INTO {name} SELECT * FROM _xlsx_batch")
                        con.unregister("_xlsx_batch")
                        batch.clear()

                for row in rows:
                    cells = [_cell_text(v) for v in row[:width]]
                    if not any(c not in (None, "") for c in cells):
                        continue  # Excel's trailing empty rows
                    batch.append(cells + [None] * (width - len(cells)))
                    if len(batch) >= XLSX_BATCH_ROWS:
                        flush()
                flush()
            finally:
                book.close()
    except ReadError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise ReadError(f"a readable Excel workbook ({exc.__class__.__name__}: {exc})") from None
    return RawTable(name, "", path, Form("xlsx", sheet=sheet), headers=headers, offset=2)


def read_raw(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    label: str,
    spec: Table,
    mapping: dict[str, str],
    opener: Any,
    temp_dir: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> RawTable:
    """Read ``path`` into table ``raw_<table>`` and match its headers to ``spec``'s columns."""
    name = f"raw_{spec.name}"
    lower = path.name.lower()
    if lower.endswith(".parquet"):
        raw = read_parquet(con, path, name, say)
    elif lower.endswith(".xlsx"):
        raw = read_xlsx(con, path, name, spec.name, opener)
    else:
        raw = read_csv(con, path, name, opener, temp_dir, say)
    raw.label = label
    found, raw.unmatched = match_headers(raw.headers, spec, mapping)
    raw.columns = {col: f"c{i}" for col, i in found.items()}
    raw.rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # type: ignore[index]
    return raw
