"""The review state store: what people did with the reconciliation's exceptions.

Its own database, never the read-only analytics database: a SQLite file in the user's data
folder (``review.sqlite``, see `data.paths`) by default, or any SQLAlchemy URL (a team's
PostgreSQL: ``postgresql+psycopg://user@host/db``; a plain ``postgresql://`` URL is read with
psycopg 3) given with ``--state`` or ``$TIEOUT_STATE``. One implementation in SQLAlchemy Core
serves both.

The app creates the schema and migrates it (``schema_version`` holds the versions applied).
Every row of review state belongs to a *scope* (the data folder it is about), and is keyed by
what identifies an exception (order id and class), never by a row number or a file hash, so it
survives a new ingest. Edits are checked optimistically: each item and sign-off carries a
``version``; a change names the version it was made against, and if another session changed the
row since, nothing of the change is written and `StaleEdit` says who changed what. Every change
is in the history (who, when, what, old and new value).

No Panel here; the rules (which status may follow which, when an item reopens) are
`models.review`'s. This module stores and checks versions.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data.paths import user_dir

STATE_ENV = "TIEOUT_STATE"
STATE_FILE = "review.sqlite"
SCHEMA_VERSION = 1

meta = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    meta,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.String(40), nullable=False),
)
items = sa.Table(
    "review_items",
    meta,
    sa.Column("scope", sa.String(1000), primary_key=True),
    sa.Column("order_id", sa.String(500), primary_key=True),
    sa.Column("cls", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False, server_default=""),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("amounts", sa.String(200), nullable=False, server_default=""),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)
history = sa.Table(
    "review_history",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scope", sa.String(1000), nullable=False, index=True),
    sa.Column("order_id", sa.String(500), nullable=False),
    sa.Column("cls", sa.String(40), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("old", sa.Text, nullable=False, server_default=""),
    sa.Column("new", sa.Text, nullable=False, server_default=""),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
)
decisions = sa.Table(
    "match_decisions",
    meta,
    sa.Column("scope", sa.String(1000), primary_key=True),
    sa.Column("claim_id", sa.String(500), primary_key=True),
    sa.Column("finance_id", sa.String(500), primary_key=True),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)
signoffs = sa.Table(
    "signoffs",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scope", sa.String(1000), nullable=False, index=True),
    sa.Column("period_start", sa.String(10), nullable=False),
    sa.Column("period_end", sa.String(10), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("preparer", sa.String(200), nullable=False),
    sa.Column("prepared_at", sa.String(40), nullable=False),
    sa.Column("reviewer", sa.String(200), nullable=False, server_default=""),
    sa.Column("approved_at", sa.String(40), nullable=False, server_default=""),
    sa.Column("snapshot", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

#: Schema versions and what each adds; `open_store` applies those not yet in schema_version.
MIGRATIONS: dict[int, list[sa.Table]] = {1: [items, history, decisions, signoffs]}


class StaleEdit(Exception):
    """Another session changed what this edit was made against; nothing was written."""


class _Conflict(Exception):
    """Items not at their expected version (inside a transaction that is rolled back)."""

    def __init__(self, edits: list[Edit]):
        super().__init__()
        self.edits = edits


class StateError(Exception):
    """The state store cannot be opened or used; the message says what and where."""


def now() -> str:
    """The time of a change: UTC, ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def default_url() -> str:
    """``$TIEOUT_STATE``, else the team's PostgreSQL when that is the engine
    (``$TIEOUT_BACKEND``), else the SQLite file in the user's data folder."""
    if env := os.environ.get(STATE_ENV):
        return env
    backend = os.environ.get("TIEOUT_BACKEND", "")
    if backend.startswith(("postgresql://", "postgres://")):
        return backend
    return f"sqlite:///{user_dir('data') / STATE_FILE}"


def _normalise(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class Edit:
    """A change to one exception's review item, made against ``expected`` (0: no item yet)."""

    order_id: str
    cls: str
    expected: int
    status: str
    owner: str
    note: str
    amounts: str
    #: (action, old, new, note) rows written to the history with this change
    log: tuple[tuple[str, str, str, str], ...] = ()


@dataclass
class Store:
    """A review state database (SQLite or PostgreSQL)."""

    url: str
    engine: Engine
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def kind(self) -> str:
        return self.engine.dialect.name

    def where(self) -> str:
        """Where the state lives, in words (no password)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as con:
            yield con

    # -- reading ----------------------------------------------------------------------------
    def items(self, scope: str) -> dict[tuple[str, str], dict[str, Any]]:
        """Every review item of ``scope`` by (order_id, class)."""
        with self.engine.connect() as con:
            rows = con.execute(sa.select(items).where(items.c.scope == scope)).mappings().all()
        return {(r["order_id"], r["cls"]): dict(r) for r in rows}

    def history(self, scope: str, order_id: str | None = None) -> list[dict[str, Any]]:
        """The history of ``scope`` (of one order), oldest first."""
        q = sa.select(history).where(history.c.scope == scope)
        if order_id is not None:
            q = q.where(history.c.order_id == order_id)
        with self.engine.connect() as con:
            return [dict(r) for r in con.execute(q.order_by(history.c.id)).mappings()]

    def decisions(self, scope: str) -> list[dict[str, Any]]:
        """Confirmed and rejected suggestions of ``scope``."""
        q = sa.select(decisions).where(decisions.c.scope == scope)
        with self.engine.connect() as con:
            return [dict(r) for r in con.execute(q.order_by(decisions.c.at)).mappings()]

    def signoffs(self, scope: str) -> list[dict[str, Any]]:
        """Sign-offs of ``scope``, oldest first, each with its snapshot as a dict."""
        q = sa.select(signoffs).where(signoffs.c.scope == scope).order_by(signoffs.c.id)
        with self.engine.connect() as con:
            rows = [dict(r) for r in con.execute(q).mappings()]
        for r in rows:
            r["snapshot"] = json.loads(r["snapshot"])
        return rows

    # -- writing ------------------------------------------------------------------------------
    def apply(self, scope: str, edits: list[Edit], who: str) -> None:
        """Write ``edits`` in one transaction: all of them, or none if any item changed since
        its ``expected`` version (`StaleEdit`, naming who changed what)."""
        at = now()
        with self._lock:
            try:
                with self._tx() as con:
                    self._apply(con, scope, edits, who, at)
            except _Conflict as c:  # rolled back: say what changed, read afresh
                raise StaleEdit(self._stale_message(scope, c.edits)) from None
            except sa.exc.IntegrityError:  # an item inserted by another session meanwhile
                raise StaleEdit(self._stale_message(scope, edits)) from None

    def _apply(self, con: Connection, scope: str, edits: list[Edit], who: str, at: str) -> None:
        """Write ``edits`` on ``con``; raise `_Conflict` (the caller's transaction then rolls
        back) if any item is not at its expected version. No savepoints: SQLite's Python
        driver does not keep them inside its transactions."""
        stale = []
        for e in edits:
            values = dict(
                status=e.status,
                owner=e.owner,
                note=e.note,
                amounts=e.amounts,
                version=e.expected + 1,
                updated_at=at,
                updated_by=who,
            )
            key = (items.c.scope == scope, items.c.order_id == e.order_id, items.c.cls == e.cls)
            if e.expected == 0:
                if con.execute(sa.select(items.c.version).where(*key)).first() is not None:
                    stale.append(e)
                    continue
                con.execute(
                    items.insert().values(scope=scope, order_id=e.order_id, cls=e.cls, **values)
                )
            else:
                done = con.execute(
                    items.update().where(*key, items.c.version == e.expected).values(**values)
                )
                if done.rowcount != 1:
                    stale.append(e)
                    continue
            for action, old, new, note in e.log:
                con.execute(
                    history.insert().values(
                        scope=scope,
                        order_id=e.order_id,
                        cls=e.cls,
                        at=at,
                        who=who,
                        action=action,
                        old=old,
                        new=new,
                        note=note,
                    )
                )
        if stale:
            raise _Conflict(stale)

    def _stale_message(self, scope: str, stale: list[Edit]) -> str:
        parts = []
        with self.engine.connect() as con:
            for e in stale[:5]:
                row = (
                    con.execute(
                        sa.select(items).where(
                            items.c.scope == scope,
                            items.c.order_id == e.order_id,
                            items.c.cls == e.cls,
                        )
                    )
                    .mappings()
                    .first()
                )
                if row is None:
                    parts.append(f"{e.order_id} ({e.cls}) was removed")
                else:
                    parts.append(
                        f"{e.order_id} ({e.cls}) was changed by {row['updated_by']} at "
                        f"{row['updated_at']} (now {row['status']})"
                    )
        more = f" and {len(stale) - 5} more" if len(stale) > 5 else ""
        return (
            "Not saved: "
            + "; ".join(parts)
            + more
            + " since you loaded it. Nothing of this change was written; reload and try again."
        )

    def decide(
        self,
        scope: str,
        claim_id: str,
        finance_id: str,
        decision: str,
        reason: str,
        who: str,
        expected: int,
        edits: list[Edit],
    ) -> None:
        """Record a confirmed, rejected or undone suggestion (made against ``expected``: 0 when
        never decided) and the item ``edits`` that go with it, in one transaction."""
        at = now()
        taken = (
            f"Not saved: the suggestion {claim_id} / {finance_id} was decided by someone else "
            "since you loaded it. Nothing was written; reload and try again."
        )
        values = dict(decision=decision, reason=reason, who=who, at=at, version=expected + 1)
        key = (
            decisions.c.scope == scope,
            decisions.c.claim_id == claim_id,
            decisions.c.finance_id == finance_id,
        )
        with self._lock:
            try:
                with self._tx() as con:
                    if expected == 0:
                        if con.execute(sa.select(decisions.c.version).where(*key)).first():
                            raise StaleEdit(taken)
                        con.execute(
                            decisions.insert().values(
                                scope=scope, claim_id=claim_id, finance_id=finance_id, **values
                            )
                        )
                    else:
                        done = con.execute(
                            decisions.update()
                            .where(*key, decisions.c.version == expected)
                            .values(**values)
                        )
                        if done.rowcount != 1:
                            raise StaleEdit(taken)
                    self._apply(con, scope, edits, who, at)
            except _Conflict as c:
                raise StaleEdit(self._stale_message(scope, c.edits)) from None
            except sa.exc.IntegrityError:
                raise StaleEdit(taken) from None

    def prepare(self, scope: str, start: str, end: str, snapshot: dict[str, Any], who: str) -> int:
        """Store a prepared sign-off of [start, end] with its snapshot; return its id."""
        with self._lock, self._tx() as con:
            r = con.execute(
                signoffs.insert().values(
                    scope=scope,
                    period_start=start,
                    period_end=end,
                    state="prepared",
                    preparer=who,
                    prepared_at=now(),
                    snapshot=json.dumps(snapshot, sort_keys=True),
                    version=1,
                )
            )
            return int(r.inserted_primary_key[0])

    def set_signoff(self, scope: str, signoff_id: int, expected: int, **values: Any) -> None:
        """Change sign-off ``signoff_id`` made against version ``expected``."""
        with self._lock, self._tx() as con:
            done = con.execute(
                signoffs.update()
                .where(
                    signoffs.c.scope == scope,
                    signoffs.c.id == signoff_id,
                    signoffs.c.version == expected,
                )
                .values(**values, version=expected + 1)
            )
            if done.rowcount != 1:
                raise StaleEdit(
                    f"Not saved: sign-off {signoff_id} was changed by someone else since you "
                    "loaded it; reload and try again."
                )


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(url: str) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = sa.create_engine(url, connect_args={"timeout": 30})
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = sa.create_engine(url, pool_pre_ping=True)
            _ENGINES[url] = engine
        return engine


def _sqlite_pragmas(dbapi_con: Any, _record: Any) -> None:
    cur = dbapi_con.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def migrate(engine: Engine) -> int:
    """Create or bring the schema up to `SCHEMA_VERSION`; return the version found before."""
    with engine.begin() as con:
        schema_version.create(con, checkfirst=True)
        found = con.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
    if found > SCHEMA_VERSION:
        raise StateError(
            f"the review state at {engine.url.render_as_string(hide_password=True)} has schema "
            f"version {found}, newer than this Tieout ({SCHEMA_VERSION}): upgrade Tieout"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        try:
            with engine.begin() as con:
                done = con.execute(
                    sa.select(schema_version.c.version).where(schema_version.c.version == version)
                ).first()
                if done is not None:  # another process migrated meanwhile
                    continue
                for table in MIGRATIONS[version]:
                    table.create(con, checkfirst=True)
                con.execute(schema_version.insert().values(version=version, applied_at=now()))
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            # another process created the same tables or version at the same moment
            if not _has_version(engine, version):
                raise
    return found


def _has_version(engine: Engine, version: int) -> bool:
    with engine.connect() as con:
        q = sa.select(schema_version.c.version).where(schema_version.c.version == version)
        return con.execute(q).first() is not None


def open_store(url: str | None = None) -> Store:
    """The store at ``url`` (default: `default_url`), its schema created or migrated."""
    url = _normalise(url or default_url())
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) not in ("", ":memory:"):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                msg = f"cannot create the folder of the review state {path}: {exc}"
                raise StateError(msg) from None
    try:
        engine = _engine(url)
        migrate(engine)
    except sa.exc.ArgumentError as exc:
        raise StateError(f"not a database URL for the review state: {exc}") from None
    except sa.exc.OperationalError as exc:
        where = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise StateError(f"cannot open the review state at {where}: {exc.orig}") from None
    return Store(url, engine)


def dispose_all() -> None:
    """Close every pooled connection (tests; a process that ends)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


__all__ = [
    "STATE_ENV",
    "Edit",
    "StaleEdit",
    "StateError",
    "Store",
    "default_url",
    "dispose_all",
    "migrate",
    "open_store",
]
