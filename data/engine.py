"""The query engine: Ibis over an embedded DuckDB database. The only module that imports duckdb.

`open_source(root)` validates a data root, ingests it once into a DuckDB file in a cache folder
keyed by a hash of the source files (a second start on unchanged files skips validation and
ingest), builds the per-domain marts, then reopens the database read-only and locked down: no file
access, configuration locked. `Source.backend()` hands each caller (each server session) its own
cursor wrapped in its own Ibis backend, since Ibis backends are not thread-safe.

Ingest conventions: money columns become BIGINT cents named ``<column>_cents``; date columns
DATE; declared low-cardinality text ENUM; fact tables sorted by date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import ibis
import pandas as pd
from filelock import FileLock
from ibis.backends.duckdb import Backend as _DuckDBBackend

from data import schemas
from data.domains import NAMES, get, resolve
from data.intake import watch
from data.paths import user_dir
from data.validate import (
    DomainData,
    Problem,
    Report,
    Settings,
    engine_connection,
    enum_types,
    find_file,
    load_domain,
    open_binary,
)

log = logging.getLogger("tieout")

#: The modules whose code decides what a cache entry holds: their digest is part of its key, so
#: a change to reading, checking, typing or a mart can never serve a stale cache.
BUILD_MODULES = (
    "data.domains",
    "data.schemas",
    "data.intake",
    "data.checks",
    "data.validate",
    "data.engine",
    "data.marts",
)


def code_digest() -> str:
    """blake2b of the source (or, in a frozen bundle without sources, the bytecode) of
    `BUILD_MODULES` and the DuckDB version."""
    import importlib.util
    import marshal

    h = hashlib.blake2b(digest_size=16)
    h.update(duckdb.__version__.encode())
    for name in BUILD_MODULES:
        spec = importlib.util.find_spec(name)
        loader = spec.loader if spec else None
        try:
            source = loader.get_source(name) if loader else None  # type: ignore[attr-defined]
        except Exception:  # a frozen bundle's importer may keep no sources
            source = None
        if source is not None:
            h.update(source.encode())
        elif loader is not None and hasattr(loader, "get_code"):
            h.update(marshal.dumps(loader.get_code(name)))
        else:  # pragma: no cover  (no way to read the module: never reuse a cache)
            h.update(os.urandom(16))
    return h.hexdigest()


class _SessionBackend(_DuckDBBackend):
    """An Ibis DuckDB backend over a cursor of a locked database.

    Ibis normally SETs the time zone and replacement scans on connect; those were applied once to
    the database before it was locked (see `_lock_down`), and a locked database refuses SET.
    """

    def _post_connect(self, extensions: Any = None) -> None:
        self._record_batch_readers_consumed = {}


class Prepared:
    """An Ibis query compiled once and run many times with new values, as a prepared statement
    with bound parameters (DuckDB's ``$name``, PostgreSQL's ``%(name)s`` through psycopg).

    Compiling an Ibis expression takes 3-40 ms, and a filter change runs a dozen queries whose
    shape stays the same while dates, campaign lists and tolerances change: compiling dominated
    a change. ``build(**values)`` returns the expression; it is called once with sentinel values
    (dates in 1901.., numbers near 10^9, one-string lists) whose SQL spelling is then replaced by
    parameters. A value the builder transforms in Python (so its sentinel never reaches the SQL)
    is a programming error and raises at prepare time. A builder must use each value only as an
    Ibis literal: derived values (``min(a, b)``, ``end + 1 day``) are computed by the caller and
    passed as values of their own, or the sentinels would decide them once for all. On any other
    backend (Spark) the expression is built and compiled on every run.

    Supported values: ``datetime.date``, ``int``, ``float`` and non-empty ``list[str]`` (keep
    ``None`` / empty lists / booleans out: they change the query's shape, so they belong in the
    caller's cache key).
    """

    #: How each backend spells a bound parameter, and a list literal of one string.
    DIALECTS: ClassVar[dict[str, tuple[str, str]]] = {
        "duckdb": ("${name}", "['{text}']"),
        "postgres": ("%({name})s", "ARRAY['{text}']"),
    }

    def __init__(self, be: Any, build: Callable[..., ibis.Expr], values: dict[str, Any]):
        self.names = set(values)
        self.dialect = be.name
        self.build = build
        self.sql: str | None = None
        if self.dialect not in self.DIALECTS:
            return
        placeholder, list_spelling = self.DIALECTS[self.dialect]
        sentinels: dict[str, Any] = {}
        spelling: dict[str, str] = {}
        for i, (name, value) in enumerate(sorted(values.items())):
            sentinels[name], spelling[name] = _sentinel(i, value, list_spelling)
        expr = build(**sentinels)
        sql = be.compile(expr.as_table())
        if self.dialect == "postgres":  # psycopg reads % as a placeholder: a literal one is %%
            sql = sql.replace("%", "%%")
        for name, text in spelling.items():
            pattern = rf"(?<![\w.']){re.escape(text)}(?![\w.'])"
            sql, found = re.subn(pattern, placeholder.format(name=name), sql)
            if not found:
                raise ValueError(f"query parameter {name!r} does not reach the SQL unchanged")
        self.sql = sql
        self.schema = expr.as_table().schema()

    def run(self, be: Any, **values: Any) -> pd.DataFrame:
        """Run with these values; the frame has the types ``be.execute`` would give."""
        assert set(values) == self.names, (set(values), self.names)
        if self.sql is None:
            return be.execute(self.build(**values))
        if self.dialect == "duckdb":
            from ibis.backends.duckdb.converter import DuckDBPandasData

            frame = be.con.execute(self.sql, values).df()
            return DuckDBPandasData.convert_table(frame, self.schema)
        from ibis.backends.postgres.converter import PostgresPandasData

        with be.con.cursor() as cur, be.con.transaction():
            rows = cur.execute(self.sql, values).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=self.schema.names, coerce_float=True)
        return PostgresPandasData.convert_table(frame, self.schema)

    def soon(self, be: Any, spare: Any, **values: Any) -> Soon:
        """`run`, started now on one of a server's spare connections (``spare``, a
        `data.postgres.SparePool`) while the caller goes on with its own queries; without one
        (DuckDB, Spark) run here and now, as `run`."""
        here = functools.partial(self.run, be, **values)
        if spare is None or self.sql is None or self.dialect != "postgres":
            return Soon(None, here)
        return Soon(spare.submit(functools.partial(self.run, **values)), here)


class Soon:
    """A query's frame to come (`Prepared.soon`). ``result()`` waits for it; a query that no
    spare connection has started by then (all busy with other sessions' queries) is taken back
    and run on the caller's own connection instead of waiting in their queue."""

    def __init__(self, future: Any, here: Callable[[], pd.DataFrame]):
        self._future = future
        self._here = here
        self._frame = here() if future is None else None

    def result(self) -> pd.DataFrame:
        if self._future is None:
            return self._frame
        if self._future.cancel():
            return self._here()
        return self._future.result()


def _sentinel(i: int, value: Any, list_spelling: str = "['{text}']") -> tuple[Any, str]:
    """A stand-in value for parameter number ``i`` and how Ibis spells it in SQL."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.date(1901 + i, 1 + i % 12, 1 + i % 28), (
            f"MAKE_DATE({1901 + i}, {1 + i % 12}, {1 + i % 28})"
        )
    if isinstance(value, bool):
        raise TypeError("a boolean changes a query's shape: make it part of the cache key")
    if isinstance(value, int):
        return 987_654_301 + i, str(987_654_301 + i)
    if isinstance(value, float):
        return 123_456_701.25 + i, repr(123_456_701.25 + i)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        text = f"zz_tieout_param_{i}"
        return [text], list_spelling.format(text=text)
    raise TypeError(f"unsupported query parameter value {value!r}")


def _lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Apply Ibis's settings, then forbid file access and further configuration changes."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET python_enable_replacements = false")
    # Order matters: external access first, then the lock (PACKAGING.md).
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def default_cache_dir() -> Path:
    """``$TIEOUT_CACHE_DIR``, else the per-user cache folder (`data.paths`)."""
    if env := os.environ.get("TIEOUT_CACHE_DIR"):
        return Path(env)
    return user_dir("cache")


def file_digest(path: Path) -> str:
    """blake2b (128-bit) of a file's bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open_binary(path) as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def file_stamp(path: Path) -> list[int]:
    """(size, mtime in ns) of a file, or (-1, -1) when it cannot be read: what changes when the
    file is written again."""
    try:
        st = path.stat()
    except OSError:
        return [-1, -1]
    return [st.st_size, st.st_mtime_ns]


def _hash_files(root: Path, paths: list[Path], extra: str = "") -> tuple[str, dict[str, str]]:
    """The cache key of a data root and the files considered in it, and each file's digest.

    The key covers the engine version, the folder itself and every file considered (its path
    inside the folder and its bytes): two folders never share an entry. A file that cannot be
    read gets a digest naming that (its domain then fails validation, the others load).
    """
    digests: dict[str, str] = {}
    for p in sorted(paths):
        try:
            digests[str(p)] = file_digest(p)
        except OSError as exc:
            digests[str(p)] = f"unreadable:{exc.__class__.__name__}:{file_stamp(p)}"
    h = hashlib.blake2b(digest_size=16)
    h.update(_CODE_DIGEST.encode())
    h.update(f"root:{root}\n{extra}\n".encode())
    for path in sorted(paths):
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        h.update(f"{rel.as_posix()}:{digests[str(path)]}\n".encode())
    return h.hexdigest(), digests


_CODE_DIGEST = code_digest()
RUN_LOG = "runs.jsonl"


def append_run(cache: Path, meta: dict[str, Any], digests: dict[str, str]) -> dict[str, Any]:
    """Append one ingest's summary to the run log (``<cache>/runs.jsonl``) and return it."""
    run = {
        "at": meta.get("built_at"),
        "root": meta["root"],
        "key": meta.get("key"),
        "files": [
            {"file": f, "blake2b": d, "bytes": Path(f).stat().st_size} for f, d in digests.items()
        ],
        "rows": {d: st["rows"] for d, st in meta["domains"].items() if st["rows"]},
        "loaded": [d for d, st in meta["domains"].items() if st["loaded"]],
        "errors": sum(
            1 for st in meta["domains"].values() for p in st["problems"] if p["severity"] == "error"
        ),
        "warnings": [
            f"{p['file']}: {p['expected']}"
            for st in meta["domains"].values()
            for p in st["problems"]
            if p["severity"] == "warning"
        ],
        "timings": meta["timings"],
    }
    with open(cache / RUN_LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(run, default=str) + "\n")
    return run


def read_runs(cache: Path | None = None, root: Path | None = None) -> list[dict[str, Any]]:
    """The run log, newest first (only runs of ``root`` if given); unreadable lines skipped."""
    path = (cache or default_cache_dir()) / RUN_LOG
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            run = json.loads(line)
        except ValueError:
            continue
        if root is None or run.get("root") == str(root):
            runs.append(run)
    return runs[::-1]


def considered_files(root: Path) -> dict[str, dict[str, list[Path]]]:
    """Every file that could hold a declared table under ``root`` (several when ambiguous)."""
    found: dict[str, dict[str, list[Path]]] = {}
    for domain in NAMES:
        folder = root / domain
        try:
            if not folder.is_dir():
                continue
            found[domain] = {}
            for spec in schemas.tables_of(domain):
                if files := find_file(folder, spec.name):
                    found[domain][spec.name] = files
        except OSError:  # an unreadable folder: its domain reports it when validated
            found[domain] = {}
    return found


def _all_files(root: Path) -> list[Path]:
    """Every file that decides what a root's database holds: the tables' files, and the
    folder's header mapping."""
    files = [p for t in considered_files(root).values() for files in t.values() for p in files]
    mapping = root / "tieout.toml"
    return [*files, mapping] if mapping.is_file() else files


def ingest_tables(
    con: duckdb.DuckDBPyConnection,
    data: DomainData,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Turn one validated domain's judged tables (typed, flagged and already sorted by
    `load_domain`) into its database tables in place, then drop its raw tables; return row
    counts. Nothing is copied: flags are dropped, columns renamed, and only ENUM columns
    rewritten (copying 10M rows again cost about 11 s).

    Money columns become BIGINT cents named ``<column>_cents``; declared low-cardinality text
    columns ENUM types; ``_row`` keeps file order (rules like "ties: first row in file order").
    """
    counts = {}
    for spec in schemas.tables_of(data.domain):
        expr = data.typed.get(spec.name)
        if expr is None:
            continue
        table, keep = f'"{spec.name}"', set(expr.columns)
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f'ALTER TABLE "{data.stored[spec.name]}" RENAME TO {table}')
        have = dict(
            con.execute(f"SELECT name, type FROM pragma_table_info('{spec.name}')").fetchall()
        )
        for name in have.keys() - keep:
            con.execute(f'ALTER TABLE {table} DROP COLUMN "{name}"')
        enums = enum_types(spec, list(expr.columns))
        done = set(data.enums.get(spec.name, ()))  # stored as their ENUM when judged
        with watch(con, progress, f"storing {spec.name}", data.rows.get(spec.name)):
            for name in expr.columns:
                kind = spec.column(name).kind if name in spec.names else "str"
                want = {"money": "BIGINT", "int": "BIGINT", "date": "DATE"}.get(kind)
                if name in done:
                    want = None
                elif name in enums:
                    want = f'"{enums[name]}"'
                    con.execute(f"DROP TYPE IF EXISTS {want}")
                    con.execute(
                        f'CREATE TYPE {want} AS ENUM (SELECT DISTINCT "{name}" FROM {table} '
                        f'WHERE "{name}" IS NOT NULL ORDER BY 1)'
                    )
                if want is not None and have[name] != want.strip('"'):
                    con.execute(f'ALTER TABLE {table} ALTER COLUMN "{name}" TYPE {want}')
                if kind == "money":
                    con.execute(f'ALTER TABLE {table} RENAME COLUMN "{name}" TO "{name}_cents"')
        counts[spec.name] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    drop_raw(con, data.domain)
    return counts


def _store_mart(con: duckdb.DuckDBPyConnection, be: Any, name: str, expr: ibis.Table) -> None:
    """Store mart ``name`` as Ibis creates a table from an expression (a table of the
    expression's schema, then its rows inserted), except that the text columns of
    `data.marts.MART_ENUMS` get ENUM types made first from the values they can hold, and that
    an intermediate step (``_name``, dropped once the marts are built) is a temporary table:
    never written to the database file."""
    from data.marts import MART_ENUMS

    step = name.startswith("_")
    con.execute(f'DROP TABLE IF EXISTS "{name}"')
    be.create_table(name, schema=expr.schema(), temp=step)
    tables = set(be.list_tables())
    for column, values in MART_ENUMS.get(name, {}).items():
        parts = []
        for source in values.columns:
            table, col = source.split(".")
            if table not in tables or col not in be.table(table).columns:
                break
            parts.append(f'SELECT CAST("{col}" AS VARCHAR) AS v FROM "{table}"')
        else:
            if values.listed:
                listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values.listed)
                parts.append(f"SELECT unnest([{listed}]) AS v")
            type_name = f"enum_{name}_{column}"
            con.execute(f'DROP TYPE IF EXISTS "{type_name}"')
            con.execute(
                f'CREATE TYPE "{type_name}" AS ENUM (SELECT DISTINCT v FROM '
                f"({' UNION ALL '.join(parts)}) WHERE v IS NOT NULL ORDER BY 1)"
            )
            con.execute(f'ALTER TABLE "{name}" ALTER COLUMN "{column}" TYPE "{type_name}"')
    columns = ", ".join(f'"{c}"' for c in expr.columns)
    con.execute(f'INSERT INTO "{name}" ({columns}) {be.compile(expr)}')


def drop_raw(con: duckdb.DuckDBPyConnection, domain: str) -> None:
    """Drop what was read and judged of a domain's files (tables, views over Parquet), and
    the ENUM types made for a judged table that is not kept."""
    for spec in schemas.tables_of(domain):
        judged = f"judged_{spec.name}"
        for name in (f"raw_{spec.name}", judged):
            kind = con.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
            ).fetchone()
            if kind:
                con.execute(f'DROP {"VIEW" if kind[0] == "VIEW" else "TABLE"} "{name}"')
                if name == judged:
                    for type_name in enum_types(spec, spec.names).values():
                        with contextlib.suppress(duckdb.Error):  # still used by a table
                            con.execute(f'DROP TYPE IF EXISTS "{type_name}"')


#: A domain's mart builder (named by its `data.domains` declaration) returns ``{name: mart}``:
#: an Ibis expression, or a function returning one, called once the marts before it are stored
#: (so a rollup of a mart reads the stored mart, not its whole computation again). A name
#: starting with ``_`` is an intermediate step, dropped once the domain's marts are built.
Mart = ibis.Table | Callable[[], ibis.Table]


@dataclass
class DomainStatus:
    """What the app knows about one domain of a source."""

    domain: str
    present: bool
    loaded: bool
    files: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    forms: dict[str, str] = field(default_factory=dict)  # table -> how its file was read
    notes: list[str] = field(default_factory=list)  # number and date spellings decided
    missing: dict[str, list[str]] = field(default_factory=dict)  # table -> required columns
    unmatched: dict[str, list[str]] = field(default_factory=dict)  # table -> unused headers

    @property
    def report(self) -> Report:
        return Report([Problem(**{**p, "rows": tuple(p["rows"])}) for p in self.problems])


class Source:
    """One ingested, read-only, locked-down database built from a data root."""

    def __init__(self, root: Path, db_path: Path, meta: dict[str, Any]):
        self.root = root
        self.db_path = db_path
        self.meta = meta
        self.status = {d: DomainStatus(**s) for d, s in meta["domains"].items()}
        self._con = duckdb.connect(str(db_path), read_only=True)
        _lock_down(self._con)
        self._lock = threading.Lock()

    def backend(self) -> _DuckDBBackend:
        """A fresh Ibis backend on its own cursor (one per session or thread)."""
        with self._lock:
            cursor = self._con.cursor()
        return _SessionBackend.from_connection(cursor)

    def has(self, domain: str) -> bool:
        return domain in self.status and self.status[domain].loaded

    def changed_files(self) -> list[str]:
        """The source files written, added or removed since this database was built (by size and
        modification time; cheap enough to ask every few seconds)."""
        then: dict[str, list[int]] = self.meta.get("stamps", {})
        now = {str(p): file_stamp(p) for p in _all_files(self.root)}
        return sorted(f for f in then.keys() | now.keys() if then.get(f) != now.get(f))

    def close(self) -> None:
        self._con.close()

    def __repr__(self) -> str:
        return f"Source({str(self.root)!r})"


class ServedElsewhere:
    """A data folder validated and ingested locally (``local``, a `Source`: its report, its
    files' state) whose queries another engine serves; subclasses give ``backend()``."""

    def __init__(self, local: Source, meta: dict[str, Any]):
        self.local = local
        self.root = local.root
        self.db_path = local.db_path
        self.status = local.status
        self.meta = {**local.meta, **meta}

    def has(self, domain: str) -> bool:
        return self.local.has(domain)

    def changed_files(self) -> list[str]:
        return self.local.changed_files()

    def close(self) -> None:
        """Nothing held here: each model closes its own connection."""


def described(source: Any) -> str | None:
    """Where a source's data comes from in words when it is not a folder of files
    (``PostgreSQL schema S on host:port/db``, `data.pgschema.SchemaSource`), else None: its
    ``root`` is then an internal id, never to be shown."""
    return getattr(source, "description", None)


def stored_tables(
    source: Source, batch_rows: int = 200_000
) -> Iterator[tuple[str, str, ibis.Schema, Iterator[Any]]]:
    """The typed input tables of a source's loaded domains, for another engine to take over:
    ``(domain, table, ibis schema, Arrow record batches)``, ENUM columns as plain text."""
    import pyarrow as pa

    def batches(reader: Any) -> Iterator[Any]:
        for batch in reader:
            arrays = [
                a.cast(pa.string()) if pa.types.is_dictionary(a.type) else a for a in batch.columns
            ]
            yield pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

    be = source.backend()
    try:
        present = set(be.list_tables())
        for domain, status in source.status.items():
            if not status.loaded:
                continue
            for spec in schemas.tables_of(domain):
                if spec.name in present:
                    schema = be.table(spec.name).schema()  # before the stream: one cursor
                    reader = be.con.execute(f'SELECT * FROM "{spec.name}"')
                    yield domain, spec.name, schema, batches(reader.to_arrow_reader(batch_rows))
    finally:
        be.disconnect()


class CacheError(Exception):
    """The cache folder cannot be used; the message says what and where."""


def build_database(
    root: Path,
    db_path: Path,
    progress: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Validate every domain under ``root`` and ingest the valid ones into ``db_path``.

    A domain whose ingest or marts fail is reported as that domain's error; the others load.
    """
    say = progress or (lambda _msg: None)
    meta: dict[str, Any] = {"root": str(root), "domains": {}, "timings": {}}
    spill = db_path.parent / f"{db_path.name}.tmp"  # this build's own (builds run at once)
    con = engine_connection(str(db_path), spill)
    try:
        for domain in NAMES:
            t0 = time.perf_counter()
            say(f"validating {domain}")
            data = load_domain(root, domain, con=con, settings=settings, progress=say)
            meta["timings"][f"{domain}.validate_s"] = round(time.perf_counter() - t0, 3)
            status = DomainStatus(
                domain=domain,
                present=data.present,
                loaded=False,
                files={k: str(v) for k, v in data.files.items()},
                problems=[p.as_dict() for p in data.report.problems],
                forms=data.forms,
                notes=data.notes,
                missing=data.missing,
                unmatched=data.unmatched,
            )
            if data.ok:
                t1 = time.perf_counter()
                try:
                    say(f"ingesting {domain}")
                    status.rows = ingest_tables(con, data, say)
                    del data
                    builder = resolve(get(domain).marts)
                    say(f"building {domain} marts")
                    be = ibis.duckdb.from_connection(con)
                    steps: list[str] = []
                    # A mart is stored in the order its expression sorts it (an ORDER BY keeps
                    # its order whatever this setting); one without is a set, stored by both
                    # threads at once instead of in the order its rows came (the 2.8M rows of
                    # inf_credit at 1M sales: 4.3 -> 2.6 s alone, 8.1 -> 3.5 s in an ingest).
                    # Reading files and typing them still keep file order (`engine_connection`).
                    con.execute("SET preserve_insertion_order = false")
                    try:
                        for name, expr in builder(be).items():
                            with watch(con, say, f"building {domain} mart {name}"):
                                if callable(expr):  # built from marts stored before it
                                    expr = expr()
                                _store_mart(con, be, name, expr)
                                if name.startswith("_"):
                                    steps.append(name)
                    finally:
                        con.execute("SET preserve_insertion_order = true")
                    for name in steps:  # intermediate steps are not kept
                        con.execute(f'DROP TABLE "{name}"')
                    status.loaded = True
                except (duckdb.Error, ibis.common.exceptions.IbisError, ValueError) as exc:
                    log.exception("loading %s from %s failed", domain, root)
                    problem = Problem(
                        domain,
                        None,
                        f"data the engine can load ({exc.__class__.__name__}: {str(exc)[:300]})",
                    )
                    status.problems.append(problem.as_dict())
                    status.rows = {}
                meta["timings"][f"{domain}.ingest_s"] = round(time.perf_counter() - t1, 3)
            if not status.loaded:  # what was read of a domain that did not load is not kept
                drop_raw(con, domain)
            meta["domains"][domain] = status.__dict__
        con.execute("CHECKPOINT")
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return meta


def _usable_cache(cache: Path) -> Path:
    """``cache``, created if missing; `CacheError` naming the folder when it cannot be written."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe = cache / f".probe-{os.getpid()}-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CacheError(
            f"the cache folder {cache} cannot be written ({exc.strerror or exc}); choose another "
            f"with TIEOUT_CACHE_DIR or make it writable"
        ) from None
    return cache


def _read_entry(db_path: Path, meta_path: Path, key: str) -> dict[str, Any] | None:
    """The metadata of a complete cache entry, or None when there is none; a damaged entry (meta
    unreadable, database missing, truncated or unopenable) is logged, removed and None returned."""
    if not meta_path.exists() and not db_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("key") != key or "domains" not in meta:
            raise ValueError("metadata incomplete")
        if db_path.stat().st_size != meta.get("db_bytes"):
            raise ValueError(
                f"database is {db_path.stat().st_size} bytes, built as {meta.get('db_bytes')}"
            )
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            for table in meta.get("tables", []):
                con.execute(f'SELECT count(*) FROM "{table}"').fetchall()
        finally:
            con.close()
        return meta
    except (OSError, ValueError, duckdb.Error) as exc:
        log.warning(
            "cache entry %s is damaged (%s: %s): discarding and rebuilding",
            db_path,
            exc.__class__.__name__,
            exc,
        )
        for path in (meta_path, db_path, db_path.with_suffix(".duckdb.wal")):
            path.unlink(missing_ok=True)
        return None


def _build_entry(
    root: Path,
    cache: Path,
    key: str,
    digests: dict[str, str],
    progress: Callable[[str], None] | None,
    settings: Settings,
) -> dict[str, Any]:
    """Build the entry ``key`` in a temporary name of its own, then move the database and then its
    metadata into place (the metadata is written last: an entry without it is incomplete)."""
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp_db = cache / f"{key}.{tag}.building"
    tmp_meta = cache / f"{key}.{tag}.json-building"
    try:
        t0 = time.perf_counter()
        stamps = {str(p): file_stamp(p) for p in _all_files(root)}
        meta = build_database(root, tmp_db, progress, settings)
        meta["timings"]["total_s"] = round(time.perf_counter() - t0, 3)
        meta["key"] = key
        meta["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        meta["stamps"] = stamps
        meta["db_bytes"] = tmp_db.stat().st_size
        con = duckdb.connect(str(tmp_db), read_only=True)
        try:
            meta["tables"] = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        finally:
            con.close()
        with open(tmp_meta, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(meta, indent=1, default=str))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_db, cache / f"{key}.duckdb")
        os.replace(tmp_meta, cache / f"{key}.json")
    finally:
        tmp_db.unlink(missing_ok=True)
        tmp_meta.unlink(missing_ok=True)
        Path(f"{tmp_db}.wal").unlink(missing_ok=True)
    append_run(cache, meta, digests)
    return meta


#: How long a process waits for another one building the same cache entry.
BUILD_WAIT_S = float(os.environ.get("TIEOUT_BUILD_WAIT_S", 3600))

#: The engine for every source of this process: a ``postgresql://`` URL, or unset for DuckDB.
BACKEND_ENV = "TIEOUT_BACKEND"
#: With a PostgreSQL backend: the schema whose raw tables are the data (`data.pgschema`).
SOURCE_SCHEMA_ENV = "TIEOUT_SOURCE_SCHEMA"
_SOURCES: dict[str, Source] = {}
_SOURCES_LOCK = threading.Lock()


def open_source(
    root: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    settings: Settings | None = None,
    backend: str | None = None,
    source_schema: str | None = None,
) -> Any:
    """Open ``root``: reuse the cached database for these exact files, or validate and ingest.

    One `Source` per database per process is shared (read-only) by every caller. Processes that
    start at once on the same files take turns through a lock file: one builds, the others wait
    and then use its result. A damaged entry is discarded and rebuilt.

    ``backend`` (default ``$TIEOUT_BACKEND``): a ``postgresql://`` URL serves the validated
    tables and their marts from that server (`data.postgres`); ``spark`` or ``spark://...``
    computes them in Spark, for batch use (`data.spark`); none means DuckDB.

    ``source_schema`` (default ``$TIEOUT_SOURCE_SCHEMA``), with a ``postgresql://`` backend:
    the raw tables of that schema are judged and built where they are (`data.pgschema`) and
    ``root`` is not read.
    """
    backend = backend if backend is not None else os.environ.get(BACKEND_ENV) or None
    if source_schema is None:
        source_schema = os.environ.get(SOURCE_SCHEMA_ENV) or None
    if source_schema:
        from data.pgschema import open_schema

        return open_schema(backend or "", source_schema, settings, progress)
    local = _open_local(root, cache_dir, progress, settings)
    if not backend:
        return local
    from data import postgres, spark

    if spark.is_spark(backend):
        return spark.publish(local, backend, progress)
    return postgres.publish(local, backend, progress)


def _open_local(
    root: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None,
    progress: Callable[[str], None] | None,
    settings: Settings | None,
) -> Source:

    root = Path(root).resolve()
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    settings = settings or Settings.from_env()
    key, digests = _hash_files(root, _all_files(root), settings.key())
    with _SOURCES_LOCK:
        if key in _SOURCES:
            return _SOURCES[key]
        _usable_cache(cache)
        db_path = cache / f"{key}.duckdb"
        meta_path = cache / f"{key}.json"
        lock = FileLock(str(cache / f"{key}.lock"))
        try:
            lock.acquire(timeout=0)
        except TimeoutError:
            if progress is not None:
                progress("waiting for another process that is loading the same files")
            lock.acquire(timeout=BUILD_WAIT_S)
        try:
            meta = _read_entry(db_path, meta_path, key)
            if meta is None:
                meta = _build_entry(root, cache, key, digests, progress, settings)
                meta["cached"] = False
            else:
                meta["cached"] = True
        finally:
            lock.release()
        meta["cache_dir"] = str(cache)
        source = Source(root, db_path, meta)
        _SOURCES[key] = source
        return source


def forget_source(root: str | os.PathLike[str]) -> None:
    """Close the sources of ``root`` and delete their cache entries (an upload nobody uses); a
    schema published from it on PostgreSQL is dropped (`data.postgres.discard`)."""
    root = Path(root).resolve()
    with _SOURCES_LOCK:
        for key, source in list(_SOURCES.items()):
            if source.root != root:
                continue
            source.close()
            del _SOURCES[key]
            for path in (
                source.db_path,
                source.db_path.with_suffix(".json"),
                source.db_path.with_suffix(".lock"),
            ):
                path.unlink(missing_ok=True)
    if postgres := sys.modules.get("data.postgres"):  # its schema on a server, if published
        postgres.discard(root)


def clear_sources() -> None:
    """Close every open source (tests)."""
    with _SOURCES_LOCK:
        for s in _SOURCES.values():
            s.close()
        _SOURCES.clear()
    if pgschema := sys.modules.get("data.pgschema"):  # tables of a database schema
        pgschema.forget_sources()
    if postgres := sys.modules.get("data.postgres"):  # the spare connections to servers
        postgres.close_pools()


def validate_root(
    root: str | os.PathLike[str],
    domains: list[str] | None = None,
    settings: Settings | None = None,
) -> dict[str, DomainData]:
    """Validate without ingesting (for `tieout validate`)."""
    return {d: load_domain(Path(root), d, settings=settings) for d in (domains or list(NAMES))}
