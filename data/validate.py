"""Read a domain folder into the engine and validate it against `data.schemas`, collecting every
problem.

`load_domain` reads each table's file into a raw table of a DuckDB database (`data.intake`: no
table is ever held whole in pandas), judges it with Ibis expressions (`data.checks`), and returns
the report of every problem with the typed tables as Ibis expressions; the engine materialises
them when the report has no errors. Nothing here writes to the user's files.

Row numbers in messages are the ones a spreadsheet shows for a CSV or Excel file (the header is
row 1, the first data row is row 2); for Parquet files they count data rows from 1.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import duckdb
import ibis
import pandas as pd

from data import checks as _checks
from data import intake
from data.schemas import tables_of

SUFFIXES = intake.SUFFIXES
#: Largest decompressed size accepted for a `.csv.gz` file (a guard against gzip bombs).
MAX_UNCOMPRESSED_BYTES = int(os.environ.get("TIEOUT_MAX_UNCOMPRESSED_BYTES", 8 * 1024**3))
MEMORY_ENV = "TIEOUT_MEMORY_BUDGET"
DEFAULT_BUDGET = 2 * 1024**3
MAX_ROWS_LISTED = _checks.MAX_ROWS_LISTED
#: Longest text cell accepted: names and notes are short; a huge cell is a broken or hostile file.
MAX_TEXT_CHARS = _checks.MAX_TEXT_CHARS
Settings = _checks.Settings

Severity = Literal["error", "warning"]
log = logging.getLogger("tieout")


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

    def text(self) -> str:
        if not self.problems:
            return "No problems found."
        e, w = len(self.errors), len(self.warnings)
        head = f"{e:,} error{'' if e == 1 else 's'}, {w:,} warning{'' if w == 1 else 's'}"
        return "\n".join([head, *(str(p) for p in self.problems)])


@dataclass
class DomainData:
    """One domain read into the engine: its report, the files, how each was read, and (when the
    report has no errors) its typed tables as Ibis expressions over ``con``."""

    domain: str
    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    report: Report = field(default_factory=Report)
    present: bool = True  # False when the domain folder does not exist
    forms: dict[str, str] = field(default_factory=dict)  # table -> how its file was read
    notes: list[str] = field(default_factory=list)  # spellings decided per column
    typed: dict[str, Any] = field(default_factory=dict)  # table -> Ibis expression
    # table -> the engine table holding its typed columns (and the checks' flags), sorted
    stored: dict[str, str] = field(default_factory=dict)
    # table -> its columns already stored as their ENUM type (`enum_types`) when judged
    enums: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)  # table -> required columns
    unmatched: dict[str, list[str]] = field(default_factory=dict)  # table -> unused headers
    rows: dict[str, int] = field(default_factory=dict)
    con: Any = None

    @property
    def ok(self) -> bool:
        return self.present and self.report.ok

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The typed tables as pandas frames (tests and small data only: the engine never
        fetches them)."""
        if not self.ok:
            return {}
        be = ibis.duckdb.from_connection(self.con)
        return {
            name: be.execute(expr.order_by("_row").drop("_row"))
            for name, expr in self.typed.items()
        }


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
    """Bytes the engine may hold while reading and building (DuckDB's ``memory_limit``; past it
    work spills to a temporary folder in the cache): ``$TIEOUT_MEMORY_BUDGET`` (bytes, or a
    number with MB/GB/MiB/GiB), else 2 GiB or half of the machine's memory if that is less."""
    import re

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
        half = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):  # not POSIX (Windows)
        half = 4 * 1024**3
    # 2 GiB: a 10M-row ingest took 56 s and 2.3 GB peak with it, 58 s and 3.0 GB with 12 GiB
    return min(half, DEFAULT_BUDGET)


def engine_connection(
    path: str = ":memory:", temp_dir: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for reading and building, bounded by `memory_budget`."""
    con = duckdb.connect(path)
    con.execute(f"SET memory_limit = '{max(memory_budget() // 1024**2, 64)}MB'")
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = '{str(temp_dir).replace(chr(39), chr(39) * 2)}'")
    con.execute("SET preserve_insertion_order = true")
    return con


def _gzip_too_big(path: Path) -> bool:
    """Whether a gzip file expands past `MAX_UNCOMPRESSED_BYTES` (measured as it streams)."""
    total = 0
    with open_binary(path) as raw, gzip.GzipFile(fileobj=raw) as fh:
        while chunk := fh.read(1 << 22):
            total += len(chunk)
            if total > MAX_UNCOMPRESSED_BYTES:
                return True
    return False


def read_mappings(
    root: Path,
    mapping_file: Path | None = None,
    chosen: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Header mappings: ``tieout.toml`` in the data folder, the headers chosen on the Data page
    over it, then ``mapping_file`` (``--mapping``) over both."""
    out: dict[str, dict[str, str]] = {}
    layers = [root / intake.MAPPING_FILE, chosen or {}, mapping_file]
    for layer in layers:
        if isinstance(layer, dict):
            pairs_by_table = layer
        elif layer is not None and Path(layer).is_file():
            pairs_by_table = intake.read_mapping(Path(layer))
        else:
            continue
        for table, pairs in pairs_by_table.items():
            out.setdefault(table, {}).update(pairs)
    return out


# --------------------------------------------------------------------------- validation


def enum_types(spec: Any, columns: list[str]) -> dict[str, str]:
    """The typed columns of a table stored as ENUM (declared low-cardinality text, and enum
    columns) and the name of each one's type."""
    out = {}
    for name in columns:
        kind = spec.column(name).kind if name in spec.names else "str"
        if name in spec.categorical or kind == "enum":
            out[name] = f"enum_{spec.name}_{name}"
    return out


def _enum_first(
    be: Any,
    spec: Any,
    judged_name: str,
    enums: dict[str, str],
    raw: intake.RawTable,
    typed_of: Callable[..., _checks.Typed],
) -> dict[str, str]:
    """Create each ENUM type of ``enums`` from the distinct typed values of its column, in
    sorted order (as the engine did from the stored table); return those created.

    Only text columns (kinds ``str`` and ``enum``) are typed so; the engine types any other
    after ingest, as before. A typed text value depends on its raw cell alone, so the raw
    column's distinct cells are typed (``typed_of(table, columns=)``: the table's typing, over
    another table) instead of every row: typing each column again over its million rows cost
    more than the ENUM saved. A type still used by a table of an earlier load on this
    connection is left to the engine, which types that column after ingest as before."""
    con = be.con
    con.execute(f'DROP TABLE IF EXISTS "{judged_name}"')
    made = {}
    for name, type_name in enums.items():
        if name in spec.names and spec.column(name).kind not in ("str", "enum"):
            continue
        try:
            con.execute(f'DROP TYPE IF EXISTS "{type_name}"')
        except duckdb.Error:  # in use by a stored table: typed after ingest instead
            continue
        made[name] = type_name
    if not made:
        return made
    # every column's distinct cells in one scan (a row of one set has NULL in the others'
    # columns: NULL types as NULL, which no ENUM holds), as the text that typing reads (a
    # Parquet number column as text: 0.0 and -0.0 are one number but two texts)
    raws = list(dict.fromkeys(raw.columns[name] for name in made))
    sets = ", ".join(f'("{rc}")' for rc in raws)
    cells_name = f"cells_{judged_name}"
    text = ", ".join(f'CAST("{rc}" AS VARCHAR) AS "{rc}"' for rc in raws)
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{cells_name}" AS SELECT * FROM '
        f"(SELECT {text} FROM {raw.name}) GROUP BY GROUPING SETS ({sets})"
    )
    try:
        cells = be.sql(f'SELECT 0::BIGINT AS "_row", * FROM "{cells_name}"')
        for name, type_name in made.items():
            one = typed_of(cells, columns={name: raw.columns[name]})
            values = be.compile(one.table.select(name))
            con.execute(
                f'CREATE TYPE "{type_name}" AS ENUM (SELECT DISTINCT "{name}" FROM ({values}) '
                f'WHERE "{name}" IS NOT NULL ORDER BY 1)'
            )
    finally:
        con.execute(f'DROP TABLE "{cells_name}"')
    return made


@contextlib.contextmanager
def _compression(con: duckdb.DuckDBPyConnection, spec: Any) -> Iterator[None]:
    """While a table that only feeds the marts is stored (one without ``order_by``: no filter
    change reads it), its text is not dictionary-compressed: FSST alone (ids) wrote the 1M
    influencer sales 1.96 -> 1.70 s CPU and their 1.6M touches 1.0 -> 0.84 s, about 10% larger.
    The tables a filter change reads keep DuckDB's choice."""
    if spec.order_by is not None:
        yield
        return
    con.execute("SET disabled_compression_methods = 'dictionary'")
    try:
        yield
    finally:
        con.execute("RESET disabled_compression_methods")


def _typing_sql(
    be: Any, judged: _checks.Typed, order_by: str | None, name: str, enums: dict[str, str]
) -> str:
    """The statement storing a judged table as ``name``: its ENUM columns cast to their types,
    sorted by ``order_by`` then file order when it has that column. A table without a sort
    column keeps the order it was read in, file order (the connection preserves insertion
    order): no sort by ``_row``."""
    select = be.compile(judged.table)
    if enums:
        cast = ", ".join(f'CAST("{c}" AS "{t}") AS "{c}"' for c, t in enums.items())
        select = f"SELECT * REPLACE ({cast}) FROM ({select})"
    if order_by in judged.columns:
        select = f'SELECT * FROM ({select}) ORDER BY "{order_by}", "_row"'
    return f'CREATE OR REPLACE TABLE "{name}" AS {select}'


def load_domain(
    root: str | os.PathLike[str],
    domain: str,
    con: duckdb.DuckDBPyConnection | None = None,
    settings: Settings | None = None,
    mapping_file: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> DomainData:
    """Read and validate every table of ``domain`` under ``root/domain`` into ``con`` (a new
    in-memory database if not given).

    Returns a `DomainData` whose ``report`` lists every problem; its ``typed`` tables are set only
    when there are no errors. Files are opened read-only and never written.
    """
    root = Path(root)
    folder = root / domain
    data = DomainData(domain=domain, root=root)
    try:
        present = folder.is_dir()
    except OSError:
        present = False
    if not present:
        data.present = False
        return data
    settings = settings or Settings.from_env()
    con = con if con is not None else engine_connection()
    data.con = con
    be = ibis.duckdb.from_connection(con)
    try:
        given = mapping_file or (Path(settings.mapping) if settings.mapping else None)
        mappings = read_mappings(root, given, settings.headers)
    except (OSError, ValueError) as exc:
        mappings = {}
        data.report.problems.append(
            Problem(f"{domain}/{intake.MAPPING_FILE}", None, f"a readable TOML mapping ({exc})")
        )
    say = progress or (lambda _m: None)
    setting = con.execute("SELECT current_setting('temp_directory')").fetchone()
    temp_dir = Path(setting[0]) if setting and setting[0] and setting[0] != ".tmp" else None
    typed: dict[str, Any] = {}
    read: dict[str, Any] = {}
    offsets: dict[str, int] = {}
    labels: dict[str, str] = {}
    specs = tables_of(domain)
    for i, spec in enumerate(specs, start=1):
        try:
            found = find_file(folder, spec.name)
        except OSError as exc:
            data.report.problems.append(
                Problem(f"{domain}/", None, f"a readable folder ({exc.__class__.__name__}: {exc})")
            )
            break
        label = f"{domain}/{spec.name}"
        if not found:
            if spec.required:
                data.report.problems.append(
                    Problem(
                        label,
                        None,
                        f"a file {spec.name}.csv, {spec.name}.csv.gz, {spec.name}.parquet "
                        f"or {spec.name}.xlsx in {folder}",
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
        say(f"reading {domain} file {i} of {len(specs)}: {path.name}")
        try:
            if path.name.lower().endswith(".gz") and _gzip_too_big(path):
                raise intake.ReadError(
                    f"a gzip file that expands to at most {_size_text(MAX_UNCOMPRESSED_BYTES)}"
                )
            raw = intake.read_raw(
                con,
                path,
                label,
                spec,
                mappings.get(f"{domain}.{spec.name}", {}),
                open_binary,
                temp_dir,
                progress,
            )
        except intake.ReadError as exc:
            data.report.problems.append(
                Problem(label, None, exc.expected, exc.rows, len(exc.rows), exc.value)
            )
            continue
        except (gzip.BadGzipFile, EOFError, OSError) as exc:
            data.report.problems.append(
                Problem(label, None, f"a readable file ({exc.__class__.__name__}: {exc})")
            )
            continue
        data.files[spec.name] = path
        data.forms[spec.name] = raw.form.describe()
        if raw.form.encoding == "Windows-1252":
            data.report.problems.append(
                Problem(
                    label,
                    None,
                    "UTF-8 text; the file is not valid UTF-8 and was read as Windows-1252 "
                    "(check accented names)",
                    severity="warning",
                )
            )
        labels[spec.name], offsets[spec.name] = label, raw.offset
        data.rows[spec.name] = raw.rows
        if raw.rows == 0:
            data.report.problems.append(
                Problem(label, None, "at least one data row (table is empty)")
            )
        missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
        if missing:  # what the Data page offers to choose from
            data.missing[spec.name] = missing
            data.unmatched[spec.name] = list(raw.unmatched)
        for name in missing:
            found_names = ", ".join(raw.headers[:20])
            data.report.problems.append(
                Problem(
                    label,
                    name,
                    f"a column named '{name}' (found: {found_names}; map another header to it "
                    f"in {intake.MAPPING_FILE})",
                )
            )
        rest = f"* EXCLUDE ({raw.row})" if raw.row != "rowid" else "*"
        rt = be.sql(f'SELECT {raw.row} AS "_row", {rest} FROM {raw.name}')
        read[spec.name] = (raw, rt, _checks.spellings(be, rt, spec, raw.columns, raw.typed))
    for spec in specs:
        if spec.name not in read:
            continue
        raw, rt, shown = read[spec.name]
        label = labels[spec.name]
        say(f"checking {label} ({raw.rows:,} rows)")
        typed_of = functools.partial(
            _checks.typed_table,
            be,
            spec=spec,
            types=raw.typed,
            settings=settings,
            label=label,
            shown=shown,
        )
        judged = typed_of(rt, columns=raw.columns)
        # Every cell typed and flagged once, into a table the checks then scan as plain columns
        # (the parse expressions are most of the cost; evaluating them in each check was 3x).
        # Stored in the order the database keeps (sort key, then file order), so that when the
        # data is valid this very table becomes the domain's table (`data.engine.ingest_tables`).
        judged_name = f"judged_{spec.name}"
        enums = _enum_first(be, spec, judged_name, enum_types(spec, judged.columns), raw, typed_of)
        # Low-cardinality text is written as its ENUM at once: written as text and then
        # rewritten by the engine, it was most of typing its table (`_enum_first`).
        with intake.watch(con, progress, f"typing {label}", raw.rows), _compression(con, spec):
            try:
                con.execute(_typing_sql(be, judged, spec.order_by, judged_name, enums))
            except duckdb.ConversionException:  # a value its ENUM lacks: never expected
                log.warning("typing %s with ENUM columns failed: typed as text", label)
                for type_name in enums.values():
                    con.execute(f'DROP TYPE IF EXISTS "{type_name}"')
                enums = {}
                con.execute(_typing_sql(be, judged, spec.order_by, judged_name, enums))
        data.enums[spec.name] = list(enums)
        data.stored[spec.name] = judged_name
        judged.table = be.table(judged_name)
        data.notes += [f"{label}: {n}" for n in judged.notes]
        found_checks = _checks.table_checks(be, spec, judged, raw.rows, list(raw.columns))
        data.report.problems.extend(
            _checks.run_checks(be, judged.table, found_checks, label, raw.offset, judged)
        )
        typed[spec.name] = judged.table.select("_row", *(judged.table[c] for c in judged.columns))
    say(f"checking rules across the {domain} tables")
    for table, table_checks in _checks.domain_checks(be, domain, typed).items():
        data.report.problems.extend(
            _checks.run_checks(be, typed[table], table_checks, labels[table], offsets[table])
        )
    if data.report.ok:
        data.typed = typed
    return data
