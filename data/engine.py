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

import datetime as dt
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pandas as pd
from ibis.backends.duckdb import Backend as _DuckDBBackend

from data import schemas
from data.validate import DomainData, Problem, Report, find_file, load_domain

ENGINE_VERSION = "10"  # bump when ingest or marts change, so caches rebuild
SORT_KEYS = {
    "transactions": "ts",
    "posts": "date",
    "tracking_data": "date",
    "funnel_events": "timestamp",
    "revenue_marketing": "date",
    "revenue_finance": "date",
    "marketing_spend": "date",
    "touchpoints": "timestamp",
}


class _SessionBackend(_DuckDBBackend):
    """An Ibis DuckDB backend over a cursor of a locked database.

    Ibis normally SETs the time zone and replacement scans on connect; those were applied once to
    the database before it was locked (see `_lock_down`), and a locked database refuses SET.
    """

    def _post_connect(self, extensions: Any = None) -> None:
        self._record_batch_readers_consumed = {}


class Prepared:
    """An Ibis query compiled once and run many times with new values, as a DuckDB prepared
    statement with named parameters.

    Compiling an Ibis expression takes 3-40 ms, and a filter change runs a dozen queries whose
    shape stays the same while dates, campaign lists and tolerances change: compiling dominated
    a change. ``build(**values)`` returns the expression; it is called once with sentinel values
    (dates in 1901.., numbers near 10^9, one-string lists) whose SQL spelling is then replaced by
    ``$name`` parameters. A value the builder transforms in Python (so its sentinel never reaches
    the SQL) is a programming error and raises at prepare time. A builder must use each value
    only as an Ibis literal: derived values (``min(a, b)``, ``end + 1 day``) are computed by the
    caller and passed as values of their own, or the sentinels would decide them once for all.

    Supported values: ``datetime.date``, ``int``, ``float`` and non-empty ``list[str]`` (keep
    ``None`` / empty lists / booleans out: they change the query's shape, so they belong in the
    caller's cache key).
    """

    def __init__(self, be: _DuckDBBackend, build: Callable[..., ibis.Expr], values: dict[str, Any]):
        sentinels: dict[str, Any] = {}
        spelling: dict[str, str] = {}
        for i, (name, value) in enumerate(sorted(values.items())):
            sentinels[name], spelling[name] = _sentinel(i, value)
        expr = build(**sentinels)
        sql = be.compile(expr.as_table())
        for name, text in spelling.items():
            pattern = rf"(?<![\w.']){re.escape(text)}(?![\w.'])"
            sql, found = re.subn(pattern, f"${name}", sql)
            if not found:
                raise ValueError(f"query parameter {name!r} does not reach the SQL unchanged")
        self.sql = sql
        self.schema = expr.as_table().schema()
        self.names = set(values)

    def run(self, be: _DuckDBBackend, **values: Any) -> pd.DataFrame:
        """Run with these values; the frame has the types ``be.execute`` would give."""
        from ibis.backends.duckdb.converter import DuckDBPandasData

        assert set(values) == self.names, (set(values), self.names)
        frame = be.con.execute(self.sql, values).df()
        return DuckDBPandasData.convert_table(frame, self.schema)


def _sentinel(i: int, value: Any) -> tuple[Any, str]:
    """A stand-in value for parameter number ``i`` and how Ibis spells it in DuckDB SQL."""
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
        return [f"zz_tieout_param_{i}"], f"['zz_tieout_param_{i}']"
    raise TypeError(f"unsupported query parameter value {value!r}")


def _lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Apply Ibis's settings, then forbid file access and further configuration changes."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET python_enable_replacements = false")
    # Order matters: external access first, then the lock (PACKAGING.md).
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def default_cache_dir() -> Path:
    """``$TIEOUT_CACHE_DIR``, else the per-user cache folder."""
    if env := os.environ.get("TIEOUT_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "tieout"


def file_digest(path: Path) -> str:
    """blake2b (128-bit) of a file's bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _hash_files(paths: list[Path]) -> tuple[str, dict[str, str]]:
    """The cache key of a set of source files, and each file's own digest."""
    digests = {str(p): file_digest(p) for p in sorted(paths)}
    h = hashlib.blake2b(digest_size=16)
    h.update(ENGINE_VERSION.encode())
    for path in sorted(paths):
        h.update(f"{path.parent.name}/{path.name}:{digests[str(path)]}".encode())
    return h.hexdigest(), digests


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


def source_files(root: Path) -> dict[str, dict[str, Path]]:
    """Every file of every declared table under ``root``, by domain and table."""
    found: dict[str, dict[str, Path]] = {}
    for domain in schemas.DOMAINS:
        folder = root / domain
        if not folder.is_dir():
            continue
        found[domain] = {}
        for spec in schemas.tables_of(domain):
            files = find_file(folder, spec.name)
            if len(files) == 1:
                found[domain][spec.name] = files[0]
    return found


def _sql_frame(spec: schemas.Table, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Rename money columns to ``_cents`` and list the SELECT expressions that type the table."""
    renamed = {}
    exprs = []
    for name in frame.columns:
        try:
            col = spec.column(name)
        except KeyError:
            exprs.append(f'"{name}"')
            continue
        if col.kind == "money":
            renamed[name] = f"{name}_cents"
            exprs.append(f'CAST("{name}_cents" AS BIGINT) AS "{name}_cents"')
        elif col.kind == "date":
            exprs.append(f'CAST("{name}" AS DATE) AS "{name}"')
        elif col.kind == "int":
            exprs.append(f'CAST("{name}" AS BIGINT) AS "{name}"')
        else:
            exprs.append(f'"{name}"')
    return frame.rename(columns=renamed), exprs


def ingest_tables(con: duckdb.DuckDBPyConnection, data: DomainData) -> dict[str, int]:
    """Write one validated domain's tables into ``con``; return row counts."""
    counts = {}
    for spec in schemas.tables_of(data.domain):
        if spec.name not in data.tables:
            continue
        frame, exprs = _sql_frame(spec, data.tables[spec.name])
        # File order is kept as a column: rules like "ties: first row in file order" need it.
        frame = frame.assign(_row=range(len(frame)))
        order = SORT_KEYS.get(spec.name)
        order_by = f' ORDER BY "{order}", _row' if order in frame.columns else " ORDER BY _row"
        con.register("_incoming", frame)
        con.execute(
            f'CREATE OR REPLACE TABLE "{spec.name}" AS SELECT {", ".join(exprs)}, _row '
            f"FROM _incoming{order_by}"
        )
        con.unregister("_incoming")
        counts[spec.name] = len(frame)
    return counts


#: Mart builders by domain: ``fn(backend) -> {name: ibis expression}``, registered by data.marts.
MART_BUILDERS: dict[str, Callable[[_DuckDBBackend], dict[str, ibis.Table]]] = {}


@dataclass
class DomainStatus:
    """What the app knows about one domain of a source."""

    domain: str
    present: bool
    loaded: bool
    files: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)

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

    def close(self) -> None:
        self._con.close()

    def __repr__(self) -> str:
        return f"Source({str(self.root)!r})"


def build_database(
    root: Path, db_path: Path, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Validate every domain under ``root`` and ingest the valid ones into ``db_path``."""
    say = progress or (lambda _msg: None)
    meta: dict[str, Any] = {"root": str(root), "domains": {}, "timings": {}}
    tmp = db_path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute("SET preserve_insertion_order = true")
        for domain in schemas.DOMAINS:
            t0 = time.perf_counter()
            say(f"validating {domain}")
            data = load_domain(root, domain)
            meta["timings"][f"{domain}.validate_s"] = round(time.perf_counter() - t0, 3)
            status = DomainStatus(
                domain=domain,
                present=data.present,
                loaded=False,
                files={k: str(v) for k, v in data.files.items()},
                problems=[p.as_dict() for p in data.report.problems],
            )
            if data.ok:
                t1 = time.perf_counter()
                say(f"ingesting {domain}")
                status.rows = ingest_tables(con, data)
                del data
                builder = MART_BUILDERS.get(domain)
                if builder is not None:
                    say(f"building {domain} marts")
                    be = ibis.duckdb.from_connection(con)
                    for name, expr in builder(be).items():
                        be.create_table(name, expr, overwrite=True)
                status.loaded = True
                meta["timings"][f"{domain}.ingest_s"] = round(time.perf_counter() - t1, 3)
            meta["domains"][domain] = status.__dict__
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, db_path)
    return meta


_SOURCES: dict[str, Source] = {}
_SOURCES_LOCK = threading.Lock()


def open_source(
    root: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Source:
    """Open ``root``: reuse the cached database for these exact files, or validate and ingest.

    One `Source` per database per process is shared (read-only) by every caller.
    """
    import data.marts  # noqa: F401  (registers MART_BUILDERS)

    root = Path(root).resolve()
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    files = [p for tables in source_files(root).values() for p in tables.values()]
    key, digests = _hash_files(files)
    with _SOURCES_LOCK:
        if key in _SOURCES:
            return _SOURCES[key]
        cache.mkdir(parents=True, exist_ok=True)
        db_path = cache / f"{key}.duckdb"
        meta_path = cache / f"{key}.json"
        if db_path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            meta["cached"] = True
        else:
            t0 = time.perf_counter()
            meta = build_database(root, db_path, progress)
            meta["timings"]["total_s"] = round(time.perf_counter() - t0, 3)
            meta["key"] = key
            meta["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            meta_path.write_text(json.dumps(meta, indent=1, default=str))
            append_run(cache, meta, digests)
            meta["cached"] = False
        meta["cache_dir"] = str(cache)
        source = Source(root, db_path, meta)
        _SOURCES[key] = source
        return source


def clear_sources() -> None:
    """Close every open source (tests)."""
    with _SOURCES_LOCK:
        for s in _SOURCES.values():
            s.close()
        _SOURCES.clear()


def validate_root(
    root: str | os.PathLike[str], domains: list[str] | None = None
) -> dict[str, DomainData]:
    """Validate without ingesting (for `tieout validate`)."""
    return {d: load_domain(Path(root), d) for d in (domains or list(schemas.DOMAINS))}
