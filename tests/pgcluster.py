"""A throwaway PostgreSQL cluster for tests: `pg_cluster` (session scope) starts one, yields a
`PgCluster`, and stops it at the end of the session.

It uses Debian's server binaries (``/usr/lib/postgresql/<version>/bin``, the ``postgresql``
package; ``$TIEOUT_PG_BIN`` points elsewhere): ``initdb`` into a temporary folder, ``pg_ctl
start`` listening on 127.0.0.1 only, on a free port, with trust authentication (nothing but
this machine can reach it, and only while the tests run). As root (a CI container), the server
runs as the ``postgres`` OS user through ``runuser``, since initdb refuses root.

When PostgreSQL is not installed the fixture fails in CI (``CI`` set to anything but 0/empty)
and skips locally, naming the package to install. `PgCluster.create_database` gives a test, or a
module, a database of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT_S = 60
_ROOT_USER = "postgres"  # the OS user the server runs as when we are root


def in_ci() -> bool:
    return os.environ.get("CI", "") not in ("", "0", "false")


def find_bin_dir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: ``$TIEOUT_PG_BIN``, else Debian's newest
    version, else whatever ``pg_ctl`` is on PATH."""
    if env := os.environ.get("TIEOUT_PG_BIN"):
        return Path(env) if (Path(env) / "initdb").exists() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path and (Path(on_path).parent / "initdb").exists():
        return Path(on_path).parent
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """A running cluster: connect as ``user`` (no password) to 127.0.0.1:``port``."""

    host: str
    port: int
    user: str
    dbname: str
    folder: Path
    bin_dir: Path
    _as: list[str] = field(default_factory=list, repr=False)

    def dsn(self, dbname: str | None = None) -> str:
        """A libpq URL (``postgresql://user@host:port/db``), for psycopg, ibis or psql."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname or self.dbname}"

    @property
    def url(self) -> str:
        """The test database's libpq URL."""
        return self.dsn()

    def sqlalchemy_url(self, dbname: str | None = None) -> str:
        """The same database for SQLAlchemy with the psycopg 3 driver."""
        return self.dsn(dbname).replace("postgresql://", "postgresql+psycopg://", 1)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run ``sql`` with psql and return its output."""
        out = subprocess.run(
            [
                str(_psql_path(self.bin_dir)),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                dbname,
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name


def _psql_path(bin_dir: Path) -> Path:
    own = bin_dir / "psql"
    if own.exists():
        return own
    return Path(shutil.which("psql") or own)


def start_cluster(bin_dir: Path, dbname: str = "tieout_test") -> PgCluster:
    """initdb, start on a free port of 127.0.0.1 and create ``dbname``."""
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="tieout-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", _ROOT_USER, "--"]
        shutil.chown(folder, user=_ROOT_USER)
    data, sock, log = folder / "data", folder / "sock", folder / "server.log"
    run = [*as_user]
    subprocess.run([*run, "mkdir", "-p", str(sock)], check=True, capture_output=True)
    init = subprocess.run(
        [
            *run,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    port = free_port()
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = subprocess.run(
        [
            *run,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            opts,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    cluster = PgCluster("127.0.0.1", port, "postgres", dbname, folder, bin_dir, as_user)
    if started.returncode != 0:
        text = log.read_text(errors="replace") if log.exists() else started.stderr
        stop_cluster(cluster)
        raise RuntimeError(f"pg_ctl start failed: {text.strip()[-2000:]}")
    cluster.psql(f'CREATE DATABASE "{dbname}"')
    return cluster


def stop_cluster(cluster: PgCluster) -> None:
    """Stop the server (fast shutdown) and remove its folder."""
    data = cluster.folder / "data"
    if (data / "postmaster.pid").exists():
        pg_ctl = str(cluster.bin_dir / "pg_ctl")
        subprocess.run(
            [*cluster._as, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            text=True,
            check=False,
        )
    with contextlib.suppress(OSError):
        shutil.rmtree(cluster.folder)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A running throwaway PostgreSQL cluster for the whole session (see the module doc)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        msg = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    t0 = time.perf_counter()
    cluster = start_cluster(bin_dir)
    cluster.started_in_s = time.perf_counter() - t0  # type: ignore[attr-defined]
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
