"""Raw tables that already live in PostgreSQL (``--backend postgresql://... --source-schema S``).

The tables of schema ``S`` named as the data contract names them (``transactions``,
``merchants``...; matched ignoring case, spaces, underscores and hyphens, like file names) are
judged by the same Ibis checks as files (`data.checks`: `typed_table`, `table_checks`,
`domain_checks`, `run_checks`), run by PostgreSQL; headers match as a file's do
(`data.intake.match_headers`, with ``--mapping``). Nothing is copied out of the database: the
typed tables are built by ``CREATE TABLE ... AS SELECT`` from the typed expressions, in a schema
of Tieout's own (``tieout_src_<digest of S>``), the marts there by the same builders
(`data.marts`), and the schema is switched in atomically, as `data.postgres.publish` does; the
sessions take the same read-only role.

- **Rows** in messages count from 1 in the table's physical order (``ctid``: the order rows
  were loaded, for a table that was loaded once and not updated since).
- **Rebuild**: the schema's ``_tieout_meta`` holds the key it was built from: the code that
  judges and builds (`data.engine.code_digest`), the reading choices and header mapping, each
  source table's name and column definitions, and its data stamp (row count and the sum of its
  rows' ``xmin``, so any insert, update or delete changes it). A start computes the stamp (one
  scan of each source table) and rebuilds only when the key changed.
- A domain none of whose tables is in ``S`` is absent; a domain whose tables have problems is
  reported and not loaded; one domain's failure never stops another.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis

from data import checks, intake
from data.domains import NAMES, get, resolve
from data.engine import _CODE_DIGEST, DomainStatus
from data.postgres import (
    BUILD_DIGEST,
    META_TABLE,
    BackendError,
    _connect_kwargs,
    _q,
    _schema_exists,
    connect,
    finish_mart,
    is_postgres,
    new_schema,
    reader_backend,
    redact,
    server_words,
    spare_pool,
    switch_in,
)
from data.schemas import Table, tables_of
from data.validate import Problem, Report, Settings

log = logging.getLogger("tieout")

#: How long a change check's answer is reused (the pages ask every few seconds per session).
CHANGE_CHECK_S = 5.0
#: Row numbers in messages count from 1 (no header row in a table).
ROW_OFFSET = 1


def target_schema(source_schema: str) -> str:
    """Where the typed tables and marts of ``source_schema`` are built."""
    return "tieout_src_" + hashlib.blake2b(source_schema.encode(), digest_size=6).hexdigest()


def describe(url: str, source_schema: str) -> str:
    """Where the data comes from, in words: ``PostgreSQL schema S on host:port/db`` (never a
    password; a URL libpq cannot read is left out, its error is reported where it is used)."""
    try:
        where = server_words(url)
    except Exception:
        return f"PostgreSQL schema {source_schema}"
    return f"PostgreSQL schema {source_schema} on {where}"


def label(schema: str, table: str) -> str:
    """How a problem names a table: ``schema S, table T``."""
    return f"schema {schema}, table {table}"


@dataclass
class SourceTable:
    """One table of the source schema that holds a declared table."""

    name: str  # as it is in the database
    columns: list[tuple[str, str]]  # (column name, PostgreSQL data type), in order
    rows: int = 0
    stamp: str = ""


class SchemaSource:
    """Raw tables of a PostgreSQL schema, judged and built into a Tieout schema there: the same
    interface as `data.engine.Source` (``status``, ``backend()``, ``has``, ``changed_files``)."""

    def __init__(self, url: str, source_schema: str, schema: str, meta: dict[str, Any]):
        self.url = url
        self.source_schema = source_schema
        self.schema = schema
        self.meta = meta
        self.status = {d: DomainStatus(**s) for d, s in meta["domains"].items()}
        info = _connect_kwargs(url)
        where = f"{info.get('host', 'local')}:{info.get('port', 5432)}"
        #: Not a folder: an internal id of the database and schema (what the review state is
        #: keyed on); pages show `description` instead.
        self.root = Path("/postgresql") / where / str(info.get("database", "")) / source_schema
        self.db_path = self.root
        #: Where the data comes from, in words, shown wherever a data folder would be.
        self.description = describe(url, source_schema)
        self._checked: tuple[float, list[str]] = (0.0, [])
        self._lock = threading.Lock()

    def backend(self) -> Any:
        """A new read-only connection in the built schema (one per session or thread)."""
        return reader_backend(self.url, self.schema)

    @property
    def spare(self) -> Any:
        """The connections that run a change's queries beside a session's own
        (`data.postgres.SparePool`)."""
        return spare_pool(self.url, self.schema)

    def has(self, domain: str) -> bool:
        return domain in self.status and self.status[domain].loaded

    def changed_files(self) -> list[str]:
        """The source tables written since the build, by PostgreSQL's statistics counters
        (inserts, updates, deletes; cheap, asked every few seconds, reused for
        `CHANGE_CHECK_S`): named ``schema S, table T``."""
        with self._lock:
            at, answer = self._checked
            if time.monotonic() - at < CHANGE_CHECK_S:
                return answer
            then: dict[str, str] = self.meta.get("counters", {})
            try:
                now = _counters(self.url, self.source_schema, list(then))
            except Exception:  # a server away for a moment is no change of data
                log.warning("checking %s for changes failed", self.source_schema, exc_info=True)
                now = then
            answer = sorted(label(self.source_schema, t) for t in then if now.get(t) != then[t])
            self._checked = (time.monotonic(), answer)
            return answer

    def close(self) -> None:
        """Nothing held here: each model closes its own connection."""

    def __repr__(self) -> str:
        return f"SchemaSource({redact(self.url)!r}, {self.source_schema!r}, {self.schema!r})"


def _counters(url: str, schema: str, tables: list[str]) -> dict[str, str]:
    """Each table's statistics counters (what changes, a moment later, when it is written)."""
    if not tables:
        return {}
    with connect(url) as con:
        rows = con.execute(
            "SELECT relname, concat_ws(':', n_tup_ins, n_tup_upd, n_tup_del) "
            "FROM pg_stat_user_tables WHERE schemaname = %s AND relname = ANY(%s)",
            (schema, tables),
        ).fetchall()
    return {r[0]: r[1] for r in rows}


_SOURCES: dict[str, SchemaSource] = {}
_OPEN_LOCK = threading.Lock()


def forget_sources() -> None:
    """Forget the sources opened so far (tests; a later open checks the server again)."""
    with _OPEN_LOCK:
        _SOURCES.clear()


def open_schema(
    url: str,
    source_schema: str,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> SchemaSource:
    """Judge the raw tables of ``source_schema`` and build their typed tables and marts on the
    server, unless a build of these exact tables is already there (see the module doc)."""
    if not is_postgres(url):
        raise BackendError(
            f"--source-schema {source_schema}: needs --backend postgresql://user@host:port/db "
            "(the database that holds the schema)"
        )
    settings = settings or Settings.from_env()
    say = progress or (lambda _msg: None)
    schema = target_schema(source_schema)
    with _OPEN_LOCK:
        with connect(url) as con:
            if not _schema_exists(con, source_schema):
                raise BackendError(
                    f"--source-schema {source_schema}: no such schema in {redact(url)}"
                )
            found = _source_tables(con, source_schema)
            mappings = _mappings(settings)
            say(f"reading the tables of schema {source_schema}")
            for tables in found.values():
                for t in tables:
                    _stamp(con, source_schema, t)
            key = _key(source_schema, found, settings, mappings)
            if key in _SOURCES:
                return _SOURCES[key]
            # one build at a time for this schema, across processes
            con.execute("SELECT pg_advisory_lock(hashtext(%s))", (schema,))
            try:
                meta = _built_meta(con, schema, key)
                if meta is None:
                    meta = _build(
                        con, url, source_schema, schema, key, found, settings, mappings, say
                    )
                    meta["cached"] = False
                else:
                    meta["cached"] = True
            finally:
                con.execute("SELECT pg_advisory_unlock(hashtext(%s))", (schema,))
    source = SchemaSource(url, source_schema, schema, meta)
    _SOURCES[key] = source
    return source


def _source_tables(con: Any, schema: str) -> dict[str, list[SourceTable]]:
    """Declared table name -> the tables of ``schema`` holding it (several when ambiguous)."""
    rows = con.execute(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = %s AND t.table_type IN ('BASE TABLE', 'VIEW') "
        "ORDER BY c.table_name, c.ordinal_position",
        (schema,),
    ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, typ in rows:
        columns.setdefault(table, []).append((column, typ))
    wanted = {spec.name for domain in NAMES for spec in tables_of(domain)}
    found: dict[str, list[SourceTable]] = {}
    for table, cols in sorted(columns.items()):
        name = intake.canonical(table)
        if name in wanted:
            found.setdefault(name, []).append(SourceTable(table, cols))
    return found


def _stamp(con: Any, schema: str, table: SourceTable) -> None:
    """Row count and what changes with any insert, update or delete (one scan)."""
    row = con.execute(
        f"SELECT count(*), coalesce(sum(xmin::text::bigint), 0) FROM {_q(schema)}.{_q(table.name)}"
    ).fetchone()
    table.rows = int(row[0])
    table.stamp = f"{row[0]}:{row[1]}"


def _mappings(settings: Settings) -> dict[str, dict[str, str]]:
    """Header mappings: the headers chosen on the Data page, then ``--mapping`` over them."""
    out: dict[str, dict[str, str]] = {}
    layers: list[dict[str, dict[str, str]]] = [settings.headers or {}]
    if settings.mapping:
        try:
            layers.append(intake.read_mapping(Path(settings.mapping)))
        except (OSError, ValueError) as exc:
            raise BackendError(
                f"--mapping {settings.mapping}: a readable TOML file ({exc})"
            ) from None
    for layer in layers:
        for table, pairs in layer.items():
            out.setdefault(table, {}).update(pairs)
    return out


def _key(
    source_schema: str,
    found: dict[str, list[SourceTable]],
    settings: Settings,
    mappings: dict[str, dict[str, str]],
) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(_CODE_DIGEST.encode())
    h.update(Path(__file__).read_bytes())
    h.update(BUILD_DIGEST.encode())  # how data.postgres builds (the marts' indexes)
    h.update(f"schema:{source_schema}\n{settings.key()}\n".encode())
    h.update(json.dumps(mappings, sort_keys=True).encode())
    for name, tables in sorted(found.items()):
        for t in tables:
            h.update(f"{name}={t.name}:{t.columns}:{t.stamp}\n".encode())
    return h.hexdigest()


def _built_meta(con: Any, schema: str, key: str) -> dict[str, Any] | None:
    if not _schema_exists(con, schema):
        return None
    found = con.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "AND column_name = 'meta'",
        (schema, META_TABLE),
    ).fetchone()
    if found is None:
        return None
    row = con.execute(f"SELECT key, meta FROM {_q(schema)}.{META_TABLE}").fetchone()
    if row is None or row[0] != key:
        return None
    try:
        return dict(json.loads(row[1]))
    except (TypeError, ValueError):
        return None


def _duck_type(pg_type: str) -> str:
    """A PostgreSQL column type as `data.checks` reads column types (DuckDB's names): text
    (and anything else read as text) is VARCHAR; numbers, dates and timestamps are used as
    they are, as a Parquet file's typed columns."""
    t = pg_type.lower()
    if t in ("smallint", "integer", "bigint"):
        return "BIGINT"
    if t in ("numeric", "decimal"):
        return "DECIMAL"
    if t in ("real", "double precision"):
        return "DOUBLE"
    if t == "date":
        return "DATE"
    if t.startswith("timestamp"):
        return "TIMESTAMP"
    return "VARCHAR"


def _build(
    con: Any,
    url: str,
    source_schema: str,
    schema: str,
    key: str,
    found: dict[str, list[SourceTable]],
    settings: Settings,
    mappings: dict[str, dict[str, str]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Judge and build every domain into ``<schema>__new``, then switch it in."""
    t0 = time.perf_counter()
    new = new_schema(con, schema)
    meta: dict[str, Any] = {
        "root": f"{redact(url)} schema {source_schema}",
        "backend": redact(url),
        "schema": schema,
        "source_schema": source_schema,
        "domains": {},
        "timings": {},
        "code": _CODE_DIGEST,
    }
    be = ibis.postgres.connect(**_connect_kwargs(url), schema=new)
    try:
        for domain in NAMES:
            t1 = time.perf_counter()
            status = _domain(be, source_schema, new, domain, found, settings, mappings, say)
            meta["domains"][domain] = status
            meta["timings"][f"{domain}.build_s"] = round(time.perf_counter() - t1, 3)
    finally:
        be.disconnect()
    tables = [t.name for ts in found.values() for t in ts]
    meta["counters"] = _counters(url, source_schema, tables)
    meta["timings"]["total_s"] = round(time.perf_counter() - t0, 3)
    meta["key"] = key
    meta["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    con.execute(f"CREATE TABLE {_q(new)}.{META_TABLE} (key text, meta text)")
    con.execute(
        f"INSERT INTO {_q(new)}.{META_TABLE} VALUES (%s, %s)", (key, json.dumps(meta, default=str))
    )
    switch_in(con, schema)
    log.info("built schema %s of %s from %s", schema, source_schema, redact(url))
    return meta


def _domain(
    be: Any,
    source_schema: str,
    new: str,
    domain: str,
    found: dict[str, list[SourceTable]],
    settings: Settings,
    mappings: dict[str, dict[str, str]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """One domain judged and, when valid, built: its `data.engine.DomainStatus` as a dict. Any
    failure is that domain's error; the others go on."""
    specs = tables_of(domain)
    status = DomainStatus(domain=domain, present=any(s.name in found for s in specs), loaded=False)
    if not status.present:
        return status.__dict__
    report = Report()
    judged: list[str] = []
    try:
        typed = _judge(
            be, source_schema, new, domain, found, settings, mappings, report, status, judged, say
        )
        if report.ok:
            for spec in specs:
                if spec.name in typed:
                    _store(be, new, spec, typed[spec.name])
            _marts(be, new, domain, say)
            status.loaded = True
    except Exception as exc:  # the engine refused something: this domain's error only
        log.exception("building %s from schema %s failed", domain, source_schema)
        report.problems.append(
            Problem(
                domain,
                None,
                f"data the engine can load ({exc.__class__.__name__}: {str(exc)[:300]})",
            )
        )
        with _ignored():
            be.con.rollback()
        for spec in specs:
            with _ignored():
                _run(be, f"DROP TABLE IF EXISTS {_q(new)}.{_q(spec.name)}")
    finally:
        for name in judged:
            with _ignored():
                _run(be, f"DROP TABLE IF EXISTS {_q(new)}.{_q(name)}")
    status.problems = [p.as_dict() for p in report.problems]
    if not status.loaded:
        status.rows = {}
    return status.__dict__


class _ignored:
    """Clean-up that may fail after an error (the error already says what happened)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return True


def _run(be: Any, sql: str) -> None:
    be.raw_sql(sql).close()
    be.con.commit()


def _judge(
    be: Any,
    source_schema: str,
    new: str,
    domain: str,
    found: dict[str, list[SourceTable]],
    settings: Settings,
    mappings: dict[str, dict[str, str]],
    report: Report,
    status: Any,
    judged: list[str],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """`data.validate.load_domain` for tables of a schema: every problem into ``report``, the
    typed tables (``_row`` and the columns) as Ibis expressions."""
    read: dict[str, tuple[Table, SourceTable, Any, dict[str, str], dict[str, str], Any]] = {}
    for spec in tables_of(domain):
        tables = found.get(spec.name, [])
        where = label(source_schema, spec.name)
        if not tables:
            if spec.required:
                report.problems.append(
                    Problem(where, None, f"a table {spec.name} in schema {source_schema}")
                )
            continue
        if len(tables) > 1:
            names = ", ".join(t.name for t in tables)
            report.problems.append(
                Problem(where, None, f"one table for {spec.name}, found {names}")
            )
            continue
        table = tables[0]
        where = label(source_schema, table.name)
        headers = [c for c, _ in table.columns]
        matched, unmatched = intake.match_headers(
            headers, spec, mappings.get(f"{domain}.{spec.name}", {})
        )
        columns = {col: f"c{i}" for col, i in matched.items()}
        types = {f"c{i}": _duck_type(table.columns[i][1]) for i in matched.values()}
        status.files[spec.name] = where
        status.forms[spec.name] = (
            "PostgreSQL table (" + ", ".join(f"{c} {t}" for c, t in table.columns[:20]) + ")"
        )
        status.rows[spec.name] = table.rows
        if table.rows == 0:
            report.problems.append(Problem(where, None, "at least one data row (table is empty)"))
        missing = [c.name for c in spec.columns if c.required and c.name not in columns]
        if missing:
            status.missing[spec.name] = missing
            status.unmatched[spec.name] = list(unmatched)
        for name in missing:
            found_names = ", ".join(headers[:20])
            report.problems.append(
                Problem(
                    where,
                    name,
                    f"a column named '{name}' (found: {found_names}; map another header to it "
                    f"in {intake.MAPPING_FILE} given with --mapping)",
                )
            )
        select = ", ".join(f"{_q(headers[i])} AS c{i}" for i in matched.values())
        raw = be.sql(
            f'SELECT (row_number() OVER (ORDER BY ctid) - 1)::bigint AS "_row"'
            f"{', ' if select else ''}{select} FROM {_q(source_schema)}.{_q(table.name)}"
        )
        say(f"reading {where}")
        shown = checks.spellings(be, raw, spec, columns, types)
        read[spec.name] = (spec, table, raw, columns, types, shown)
    typed: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for name, (spec, table, raw, columns, types, shown) in read.items():
        where = labels[name] = label(source_schema, table.name)
        say(f"checking {where} ({table.rows:,} rows)")
        result = checks.typed_table(be, raw, spec, columns, types, settings, where, shown)
        # typed and flagged once into a table the checks scan (as `load_domain` does)
        stored = f"judged_{name}"
        judged.append(stored)
        _run(be, f"CREATE TABLE {_q(new)}.{_q(stored)} AS {be.compile(result.table)}")
        result.table = be.table(stored, database=new)
        status.notes += [f"{where}: {n}" for n in result.notes]
        found_checks = checks.table_checks(be, spec, result, table.rows, list(columns))
        report.problems.extend(
            checks.run_checks(be, result.table, found_checks, where, ROW_OFFSET, result)
        )
        typed[name] = result.table.select("_row", *(result.table[c] for c in result.columns))
    say(f"checking rules across the {domain} tables")
    for name, table_checks in checks.domain_checks(be, domain, typed).items():
        report.problems.extend(
            checks.run_checks(be, typed[name], table_checks, labels[name], ROW_OFFSET)
        )
    return typed


def _store(be: Any, new: str, spec: Table, typed: Any) -> None:
    """The domain's table as the ingest stores it: money as ``<column>_cents``, sorted by the
    table's date column, then ``_row``."""
    cols = ['"_row"']
    for name in typed.columns:
        if name == "_row":
            continue
        kind = spec.column(name).kind if name in spec.names else "str"
        out = f"{name}_cents" if kind == "money" else name
        cols.append(f"{_q(name)} AS {_q(out)}")
    order = [spec.order_by] if spec.order_by in typed.columns else []
    order_sql = ", ".join(_q(c) for c in [*order, "_row"])
    _run(
        be,
        f"CREATE TABLE {_q(new)}.{_q(spec.name)} AS SELECT {', '.join(cols)} "
        f"FROM {_q(new)}.{_q('judged_' + spec.name)} ORDER BY {order_sql}",
    )
    _run(be, f"ANALYZE {_q(new)}.{_q(spec.name)}")


def _marts(be: Any, new: str, domain: str, say: Callable[[str], None]) -> None:
    """The domain's marts by the same builders as every engine (`data.marts`)."""
    steps: list[str] = []
    for name, expr in resolve(get(domain).marts)(be).items():
        say(f"building {domain} mart {name} on PostgreSQL")
        if callable(expr):
            expr = expr()
        be.create_table(name, expr, database=new)
        for sql in finish_mart(new, name, expr.schema()):
            _run(be, sql)
        if name.startswith("_"):
            steps.append(name)
    for name in steps:
        _run(be, f"DROP TABLE {_q(new)}.{_q(name)}")
