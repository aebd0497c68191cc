"""Spark as the engine for batch work (``--backend spark`` or ``spark://host:port``): `tieout kpis`
and `tieout export` computed by Spark with the same mart builders and models.

The files are read and validated as on DuckDB (the local build in the cache, with its report);
the typed tables go to Spark as Parquet written from Arrow batches, and each mart is computed once
by Spark and cached in its memory. Every query is compiled for Spark on every run (no prepared
statements): a filter change takes seconds, fit for a batch, not for clicking, so the pages
refuse this backend (serve on DuckDB or PostgreSQL).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data.domains import get, resolve
from data.engine import ServedElsewhere

log = logging.getLogger("tieout")

_LOCK = threading.Lock()
_SESSIONS: dict[str, Any] = {}


def is_spark(url: str | None) -> bool:
    return bool(url) and (url == "spark" or url.startswith(("spark://", "local")))


def _session(url: str) -> Any:
    """One Spark session per master for the process (a local one for ``spark``)."""
    from pyspark.sql import SparkSession

    master = "local[2]" if url == "spark" else url
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the local driver on loopback only
    with _LOCK:
        if master not in _SESSIONS:
            work = Path(tempfile.mkdtemp(prefix="tieout-spark-"))
            atexit.register(shutil.rmtree, work, True)
            _SESSIONS[master] = (
                SparkSession.builder.master(master)
                .appName("tieout")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.warehouse.dir", str(work / "warehouse"))
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate()
            )
            _SESSIONS[master].sparkContext.setLogLevel("ERROR")
        return _SESSIONS[master]


class SparkSource(ServedElsewhere):
    """A data folder computed by Spark: the local build's report and file state, Spark's
    tables and marts (one backend for the process's Spark session)."""

    def __init__(self, local: Any, url: str, be: Any):
        super().__init__(local, {"backend": url})
        self._be = be

    def backend(self) -> Any:
        return self._be

    def __repr__(self) -> str:
        return f"SparkSource({str(self.root)!r})"


def publish(local: Any, url: str, progress: Callable[[str], None] | None = None) -> SparkSource:
    """The local source's typed tables in Spark and its marts computed there (cached)."""
    import ibis

    try:
        import pyspark  # noqa: F401
    except ImportError:
        from data.postgres import BackendError

        raise BackendError("Spark support is not installed: pip install 'tieout[spark]'") from None
    say = progress or (lambda _msg: None)
    spark = _session(url)
    be = ibis.pyspark.connect(spark)
    folder = Path(tempfile.mkdtemp(prefix="tieout-spark-tables-"))
    atexit.register(shutil.rmtree, folder, True)
    _copy_tables(local, spark, folder, say)
    for domain, status in local.status.items():
        if not status.loaded:
            continue
        for name, expr in resolve(get(domain).marts)(be).items():
            say(f"building {domain} mart {name} on Spark")
            if callable(expr):
                expr = expr()
            frame = spark.sql(be.compile(expr)).cache()
            frame.count()  # computed now, once
            frame.createOrReplaceTempView(name)
    return SparkSource(local, url, be)


def _copy_tables(local: Any, spark: Any, folder: Path, say: Callable[[str], None]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from data.engine import stored_tables

    for domain, name, _types, batches in stored_tables(local):
        path = folder / f"{name}.parquet"
        writer = None
        for batch in batches:
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema)
            writer.write_table(pa.Table.from_batches([batch]))
        if writer is None:
            continue
        writer.close()
        say(f"copying {domain}/{name} to Spark")
        frame = spark.read.parquet(str(path)).cache()
        frame.count()
        frame.createOrReplaceTempView(name)
