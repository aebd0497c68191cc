"""PostgreSQL as the query engine for a team (``--backend postgresql://...``).

The files of a data folder are read and validated exactly as on DuckDB (the local database in the
cache is built first, with every check and report). Its typed tables are then copied with COPY
into a schema of their own on the server, the same mart builders (`data.marts`, Ibis) build the
marts there, and the schema is switched in atomically: sessions never see a half-built one.

- **Schema**: ``tieout_<digest of the data folder>``; its ``_tieout_meta`` table holds the key of
  the files it was built from, so a restart on unchanged files reuses it. A rebuild goes to
  ``<schema>__new`` and replaces the old one by renaming both in one transaction.
- **Sessions are read-only**: each model's connection takes the role ``tieout_reader`` (SELECT
  on the Tieout schemas only), ``default_transaction_read_only = on`` and a
  ``statement_timeout``. The connection that loads is the URL's own login.
- **Credentials** come from libpq: the environment (``PGPASSWORD``), a password file
  (``~/.pgpass`` or ``PGPASSFILE``) or a service file (``PGSERVICE``). A password written in a
  ``--backend`` URL on the command line is refused (it would show in the process list), and
  `redact` removes it from everything shown or logged.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ibis

from data.domains import get, resolve
from data.engine import ServedElsewhere

log = logging.getLogger("tieout")

READER_ROLE = "tieout_reader"
META_TABLE = "_tieout_meta"
#: Longest a session's query may run on the server (ms): `TIEOUT_PG_STATEMENT_TIMEOUT_MS`.
STATEMENT_TIMEOUT_MS = int(os.environ.get("TIEOUT_PG_STATEMENT_TIMEOUT_MS", "60000"))
COPY_BATCH_ROWS = 200_000


def _own_digest() -> str:
    """blake2b of this module's source: part of a published schema's key, so a change to how
    the schema is built (its indexes) builds it again instead of reusing an older build."""
    try:
        return hashlib.blake2b(Path(__file__).read_bytes(), digest_size=8).hexdigest()
    except OSError:  # pragma: no cover  (a frozen bundle without sources)
        return ""


BUILD_DIGEST = _own_digest()


class BackendError(Exception):
    """The backend URL or server cannot be used; the message says what to do."""


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgresql", "postgres")


def redact(url: str) -> str:
    """``url`` without its password (``postgresql://ann:***@host/db``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=netloc[0].split(":")[0] + ":***@" + netloc[1]))


def check_url(url: str, on_command_line: bool) -> str:
    """A usable PostgreSQL URL, or a `BackendError` that says why not."""
    if not is_postgres(url):
        raise BackendError(f"--backend {redact(url)}: expected postgresql://user@host:port/db")
    if on_command_line and urlsplit(url).password is not None:
        raise BackendError(
            "--backend: a password on the command line shows in the process list; set "
            "PGPASSWORD, use a password file (~/.pgpass) or a service file (PGSERVICE) instead"
        )
    return url


def server_words(url: str) -> str:
    """Which database a URL names, for people: ``host:port/db`` (``service NAME`` for a
    service entry without a host). Built from the parts, so no password can show."""
    info = _connect_kwargs(url)
    db = str(info.get("database") or info.get("user") or "")
    if "host" not in info and "service" in info:
        return f"service {info['service']}" + (f", database {db}" if "database" in info else "")
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/{db}"


def _connect_kwargs(url: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    # Ibis names the database ``database``; the rest (host, port, user, password, service,
    # sslmode...) goes to psycopg as libpq parameters.
    if "dbname" in info:
        info["database"] = info.pop("dbname")
    return {k: v for k, v in info.items() if v is not None}


def schema_for(root: Path) -> str:
    """The schema of a data folder: stable across restarts and new files of that folder."""
    return "tieout_" + hashlib.blake2b(str(root).encode(), digest_size=6).hexdigest()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PgSource(ServedElsewhere):
    """A data folder served from PostgreSQL: the validation report and file state of the local
    build, the queries on the server."""

    def __init__(self, local: Any, url: str, schema: str):
        super().__init__(local, {"backend": redact(url), "schema": schema})
        self.url = url
        self.schema = schema

    @property
    def served_by(self) -> str:
        """Where the queries run, in words (the files are named by their folder)."""
        return f"PostgreSQL {server_words(self.url)}"

    def backend(self) -> Any:
        """A new read-only connection in the source's schema (one per session or thread)."""
        return reader_backend(self.url, self.schema)

    @property
    def spare(self) -> SparePool | None:
        """The connections that run a change's queries beside a session's own."""
        return spare_pool(self.url, self.schema)

    def __repr__(self) -> str:
        return f"PgSource({str(self.root)!r}, {redact(self.url)!r}, {self.schema!r})"


#: A session's settings beyond the role: no JIT (forced on, it made the 1M demo's payments
#: queries 2-10 times slower, 50-300 ms of compiling for small aggregates; the marts of larger
#: data cross ``jit_above_cost`` and would pay it), and a plan made for each run's values (a
#: prepared query's generic plan guesses one period's rows for every period: an index read of
#: every day for the whole span).
SESSION_SETTINGS = {"jit": "off", "plan_cache_mode": "force_custom_plan"}


def reader_backend(url: str, schema: str) -> Any:
    """A new Ibis backend on a read-only connection in ``schema``: the reader role,
    ``default_transaction_read_only``, the `STATEMENT_TIMEOUT_MS` and `SESSION_SETTINGS`."""
    be = ibis.postgres.connect(**_connect_kwargs(url), schema=schema)
    with be.con.cursor() as cur:
        cur.execute(f"SET ROLE {READER_ROLE}")
        cur.execute("SET default_transaction_read_only = on")
        cur.execute(f"SET statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")
        for name, value in SESSION_SETTINGS.items():
            cur.execute(f"SET {name} = {value}")
    be.con.commit()
    # A model dropped without close() (a test, a failed page) still releases its connection.
    weakref.finalize(be, be.con.close)
    return be


#: Connections per schema and process beside the sessions' own, for the queries of a filter
#: change that run at once (`SparePool`); 0 runs them one after another on the session's own.
SPARE_CONNECTIONS = int(os.environ.get("TIEOUT_PG_SPARE_CONNECTIONS", "2"))


class SparePool:
    """A few read-only connections to one schema, shared by the sessions of a process, that run
    a filter change's independent queries while the session runs its own (`submit`): the
    change then takes about as long as its longest query instead of the sum. Each connection
    is made as `reader_backend` makes a session's (role, read-only, timeout, settings), in a
    thread of its own, when first needed; one found broken is replaced at its next query."""

    def __init__(self, url: str, schema: str, size: int):
        from concurrent.futures import ThreadPoolExecutor

        self.url, self.schema = url, schema
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="tieout-pg")
        self._local = threading.local()
        self._open: list[Any] = []
        self._lock = threading.Lock()

    def submit(self, run: Callable[[Any], Any]) -> Any:
        """``run(backend)`` on a spare connection: a `concurrent.futures.Future` of its
        result (not yet started while every spare connection is busy)."""
        return self._executor.submit(self._call, run)

    def _call(self, run: Callable[[Any], Any]) -> Any:
        be = getattr(self._local, "be", None)
        if be is None or be.con.closed or be.con.broken:
            be = self._local.be = reader_backend(self.url, self.schema)
            with self._lock:
                self._open.append(be)
        return run(be)

    def close(self) -> None:
        """Wait for the queries running, drop those not started, close the connections."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for be in self._open:
                be.con.close()
            self._open.clear()


_POOLS: dict[tuple[str, str], SparePool] = {}
_POOLS_LOCK = threading.Lock()


def spare_pool(url: str, schema: str) -> SparePool | None:
    """The process's `SparePool` of ``schema`` (None with `SPARE_CONNECTIONS` 0)."""
    if SPARE_CONNECTIONS <= 0:
        return None
    with _POOLS_LOCK:
        pool = _POOLS.get((url, schema))
        if pool is None:
            pool = _POOLS[(url, schema)] = SparePool(url, schema, SPARE_CONNECTIONS)
        return pool


def close_pools(schema: str | None = None, url: str | None = None) -> None:
    """Close the spare connections of ``schema`` on ``url`` (of every schema when None:
    tests)."""
    with _POOLS_LOCK:
        found = [k for k in _POOLS if schema is None or k == (url, schema)]
        pools = [_POOLS.pop(k) for k in found]
    for pool in pools:
        pool.close()


_PUBLISH_LOCK = threading.Lock()
#: The schemas this process published, by data folder: ``{root: {(url, schema)}}``.
_PUBLISHED: dict[Path, set[tuple[str, str]]] = {}
#: Schemas of discarded folders not dropped yet (a session's transaction held them, or the
#: server was away): dropped at the next `discard` or `publish`.
_TO_DROP: set[tuple[str, str]] = set()
#: How long dropping a discarded schema waits for a session still reading it (ms).
DROP_WAIT_MS = 2000


def connect(url: str) -> Any:
    """An autocommit connection to ``url`` for loading and building, or a `BackendError` saying
    why not (the extra not installed, the server refusing; the password never shown)."""
    try:
        import psycopg
    except ImportError:
        raise BackendError(
            "PostgreSQL support is not installed: pip install 'tieout[postgres]'"
        ) from None
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise BackendError(f"cannot connect to {redact(url)}: {exc}".strip()) from None


def publish(local: Any, url: str, progress: Callable[[str], None] | None = None) -> PgSource:
    """The local source's tables on the server (copied and built unless already there)."""
    check_url(url, on_command_line=False)
    say = progress or (lambda _msg: None)
    schema = schema_for(local.root)
    key = f"{local.db_path.stem}-{BUILD_DIGEST}"
    with _PUBLISH_LOCK:
        _drop_discarded()
        _PUBLISHED.setdefault(Path(local.root), set()).add((url, schema))
        with connect(url) as con:
            if _built_key(con, schema) == key:
                return PgSource(local, url, schema)
            new = new_schema(con, schema)
            _copy_tables(local, con, new, say)
            _build_marts(local, url, new, say)
            con.execute(f"CREATE TABLE {_q(new)}.{META_TABLE} (key text)")
            con.execute(f"INSERT INTO {_q(new)}.{META_TABLE} VALUES (%s)", (key,))
            switch_in(con, schema)
    log.info("published %s to %s schema %s", local.root, redact(url), schema)
    return PgSource(local, url, schema)


def discard(root: Path) -> None:
    """Drop the schemas this process published from ``root``, a folder nobody uses any more
    (an upload discarded: `data.engine.forget_source`), and close their spare connections. A
    schema a session still reads (waited for up to `DROP_WAIT_MS`) or on a server away is
    dropped at the next discard or publish instead. Only for folders of this process's own:
    another process serving the same folder shares its schema."""
    with _PUBLISH_LOCK:
        _TO_DROP.update(_PUBLISHED.pop(Path(root), set()))
        _drop_discarded()


def _drop_discarded() -> None:
    """Drop the schemas in `_TO_DROP` (under `_PUBLISH_LOCK`); those that cannot be dropped
    yet stay there."""
    for url, schema in sorted(_TO_DROP):
        close_pools(schema, url)
        try:
            with connect(url) as con:
                con.execute(f"SET lock_timeout = {int(DROP_WAIT_MS)}")
                con.execute(f"DROP SCHEMA IF EXISTS {_q(schema)} CASCADE")
        except Exception as exc:  # held by a session, or the server away: next time
            log.warning("schema %s of a discarded folder kept for now: %s", schema, exc)
            continue
        _TO_DROP.discard((url, schema))
        log.info("dropped schema %s of a discarded folder on %s", schema, redact(url))


def new_schema(con: Any, schema: str) -> str:
    """An empty ``<schema>__new`` to build into (any left by a failed build dropped), the reader
    role made sure of; its name."""
    _ensure_reader(con)
    new = f"{schema}__new"
    con.execute(f"DROP SCHEMA IF EXISTS {_q(new)} CASCADE")
    con.execute(f"CREATE SCHEMA {_q(new)}")
    return new


def switch_in(con: Any, schema: str) -> None:
    """``<schema>__new`` made readable by the reader role and renamed to ``schema`` in one
    transaction (sessions see the old build or the new one, never a half); the old one dropped."""
    new, old = f"{schema}__new", f"{schema}__old"
    con.execute(f"GRANT USAGE ON SCHEMA {_q(new)} TO {READER_ROLE}")
    con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {_q(new)} TO {READER_ROLE}")
    with con.transaction():
        con.execute(f"DROP SCHEMA IF EXISTS {_q(old)} CASCADE")
        if _schema_exists(con, schema):
            con.execute(f"ALTER SCHEMA {_q(schema)} RENAME TO {_q(old)}")
        con.execute(f"ALTER SCHEMA {_q(new)} RENAME TO {_q(schema)}")
    con.execute(f"DROP SCHEMA IF EXISTS {_q(old)} CASCADE")


def _schema_exists(con: Any, schema: str) -> bool:
    row = con.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return row is not None


def _built_key(con: Any, schema: str) -> str | None:
    if not _schema_exists(con, schema):
        return None
    found = con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema, META_TABLE),
    ).fetchone()
    if found is None:
        return None
    row = con.execute(f"SELECT key FROM {_q(schema)}.{META_TABLE}").fetchone()
    return row[0] if row else None


def _ensure_reader(con: Any) -> None:
    """The sessions' role: no login, SELECT on what it is granted; the loading login may take
    it (``SET ROLE``)."""
    exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).fetchone()
    if exists is None:
        con.execute(f"CREATE ROLE {READER_ROLE} NOLOGIN")
    con.execute(f"GRANT {READER_ROLE} TO CURRENT_USER")


def _copy_tables(local: Any, con: Any, schema: str, say: Callable[[str], None]) -> None:
    """Every input table of the loaded domains, from the local database, with COPY."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from data.engine import stored_tables

    csv = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for domain, name, types, batches in stored_tables(local, COPY_BATCH_ROWS):
        cols = ", ".join(f"{_q(n)} {_pg_type(t)}" for n, t in types.items())
        con.execute(f"CREATE TABLE {_q(schema)}.{_q(name)} ({cols})")
        names = ", ".join(_q(c) for c in types.names)
        done = 0
        copy_sql = f"COPY {_q(schema)}.{_q(name)} ({names}) FROM STDIN (FORMAT csv)"
        with con.cursor() as cur, cur.copy(copy_sql) as copy:
            for batch in batches:
                buf = io.BytesIO()
                pacsv.write_csv(pa.Table.from_batches([batch]), buf, csv)
                copy.write(buf.getvalue())
                done += batch.num_rows
                say(f"copying {domain}/{name} to PostgreSQL: {done:,} rows")
        con.execute(f"ANALYZE {_q(schema)}.{_q(name)}")


def _pg_type(typ: Any) -> str:
    """The PostgreSQL column type of an Ibis type (as the ingest stores them)."""
    if typ.is_string():
        return "text"
    if typ.is_boolean():
        return "boolean"
    if typ.is_date():
        return "date"
    if typ.is_timestamp():
        return "timestamptz" if typ.timezone else "timestamp"
    if typ.is_integer():
        return "bigint" if typ.nbytes >= 8 or typ.is_unsigned() else "integer"
    if typ.is_floating():
        return "double precision"
    if typ.is_decimal():
        return "numeric"
    raise BackendError(f"no PostgreSQL column type for {typ}")


def _build_marts(local: Any, url: str, schema: str, say: Callable[[str], None]) -> None:
    """The domain's marts, by the same Ibis builders as on DuckDB, in ``schema``."""
    be = ibis.postgres.connect(**_connect_kwargs(url), schema=schema)
    try:
        for domain, status in local.status.items():
            if not status.loaded:
                continue
            steps: list[str] = []
            for name, expr in resolve(get(domain).marts)(be).items():
                say(f"building {domain} mart {name} on PostgreSQL")
                if callable(expr):
                    expr = expr()
                be.create_table(name, expr, database=schema)
                for sql in finish_mart(schema, name, expr.schema()):
                    be.raw_sql(sql).close()
                be.con.commit()
                if name.startswith("_"):
                    steps.append(name)
            for name in steps:
                be.raw_sql(f"DROP TABLE {_q(schema)}.{_q(name)}").close()
                be.con.commit()
    finally:
        be.disconnect()


def finish_mart(schema: str, name: str, columns: Any) -> list[str]:
    """What follows a mart's CREATE TABLE on PostgreSQL (``columns``: its Ibis schema): a btree
    index on each date column, then ANALYZE. A filter change reads a period of the marts (a
    quarter and the one before, of two years of days): with the index the server reads those
    days instead of every row, and the marts are stored sorted by day, so they lie together.
    Intermediate steps (``_name``, dropped once the marts are built) get no index."""
    sql = []
    if not name.startswith("_"):
        for col, typ in columns.items():
            if typ.is_date() or typ.is_timestamp():
                sql.append(f"CREATE INDEX ON {_q(schema)}.{_q(name)} ({_q(col)})")
    return [*sql, f"ANALYZE {_q(schema)}.{_q(name)}"]
