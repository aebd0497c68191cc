"""PostgreSQL as the engine: the CLI on both engines, read-only sessions, credentials kept out of
argv and out of everything shown. (The hand-worked and property tests of the three models run on
both engines through the ``engine`` fixture of tests/conftest.py.)"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import Future
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from app.cli import main
from data import postgres
from data.engine import Soon, clear_sources, forget_source, open_source
from data.postgres import BackendError, check_url, redact
from models.payments import PaymentsModel
from tests.conftest import write_tables
from tests.influencer_tiny import tables as influencer_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS
from tests.pgcluster import PgCluster
from tests.recon_tiny import tables as recon_tables


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )


def test_cli_gives_the_same_kpis_on_both_engines(
    root: Path, pg_cluster: PgCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["kpis", "--domain", "payments", "--data", str(root), "--tables"]
    assert main(args) == 0
    duck = json.loads(capsys.readouterr().out)
    assert main([*args, "--backend", pg_cluster.url]) == 0
    pg = json.loads(capsys.readouterr().out)
    assert pg == duck and duck["kpis"]["gpv"] == 1260.01  # the whole span, as in test_cli


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO transactions SELECT * FROM transactions LIMIT 1",
        "UPDATE merchants SET segment = 'X'",
        "DELETE FROM pay_daily",
        "CREATE TABLE evil (x int)",
        "DROP TABLE merchants",
    ],
)
def test_a_session_cannot_write(root: Path, pg_cluster: PgCluster, sql: str) -> None:
    model = PaymentsModel(open_source(root, backend=pg_cluster.url))
    con = model._be.con  # the session's own connection, as a model uses it
    with pytest.raises(psycopg.Error) as err:
        con.execute(sql)
    con.rollback()
    assert isinstance(
        err.value, psycopg.errors.ReadOnlySqlTransaction | psycopg.errors.InsufficientPrivilege
    )
    # the session still reads
    assert model.kpis["attempts"] > 0
    con.execute("RESET ROLE")  # even without its role the transaction stays read-only
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        con.execute("CREATE TABLE evil (x int)")
    con.rollback()
    model.close()


def test_a_password_on_the_command_line_is_refused(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://ann:s3cret@127.0.0.1:1/db"
    code = main(["kpis", "--domain", "payments", "--data", str(root), "--backend", url])
    err = capsys.readouterr().err
    assert code == 2 and "PGPASSWORD" in err and "s3cret" not in err
    with pytest.raises(BackendError):
        check_url("mysql://x@y/z", on_command_line=False)


def test_the_password_never_shows(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert redact("postgresql://ann:s3cret@db.example:5432/books") == (
        "postgresql://ann:***@db.example:5432/books"
    )
    assert redact("postgresql://ann@db.example/books") == "postgresql://ann@db.example/books"
    # From the environment a password is allowed; an unreachable server is an error that
    # names the server without it.
    monkeypatch.setenv("TIEOUT_BACKEND", "postgresql://ann:s3cret@127.0.0.1:1/books")
    with pytest.raises(BackendError) as err:
        open_source(root)
    assert "127.0.0.1" in str(err.value) and "s3cret" not in str(err.value)


def test_unchanged_files_reuse_the_schema_and_new_files_replace_it(
    root: Path, pg_cluster: PgCluster
) -> None:
    first = open_source(root, backend=pg_cluster.url)
    again = open_source(root, backend=pg_cluster.url)
    assert again.schema == first.schema
    before = pg_cluster.psql(f"SELECT key FROM {first.schema}._tieout_meta", pg_cluster.dbname)
    (root / "payments" / "transactions.csv").write_text(
        TRANSACTIONS.strip().rsplit("\n", 1)[0] + "\n", encoding="utf-8"
    )  # one row fewer
    newer = open_source(root, backend=pg_cluster.url)
    after = pg_cluster.psql(f"SELECT key FROM {first.schema}._tieout_meta", pg_cluster.dbname)
    assert newer.schema == first.schema and after != before
    schemas = pg_cluster.psql(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tieout_%' ORDER BY 1",
        pg_cluster.dbname,
    ).split()
    assert first.schema in schemas and f"{first.schema}__new" not in schemas
    assert f"{first.schema}__old" not in schemas
    m = PaymentsModel(newer)
    assert m.kpis["attempts"] == PaymentsModel(open_source(root)).kpis["attempts"]
    m.close()


def test_marts_have_their_days_indexed_and_sessions_plan_each_run(
    root: Path, pg_cluster: PgCluster
) -> None:
    source = open_source(root, backend=pg_cluster.url)
    indexed = pg_cluster.psql(
        f"SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = '{source.schema}'",
        pg_cluster.dbname,
    ).splitlines()
    tables = {line.split("|")[0] for line in indexed}
    # the marts a filter change reads by period; no input table, no dropped step
    assert {"pay_daily", "pay_merchant_daily", "pay_declines"} <= tables
    assert not tables & {"transactions", "merchants", "_pay_intents"}
    assert all("(day)" in line for line in indexed if line.startswith("pay_daily|"))
    model = PaymentsModel(source)
    con = model._be.con
    assert con.execute("SHOW jit").fetchone() == ("off",)
    assert con.execute("SHOW plan_cache_mode").fetchone() == ("force_custom_plan",)
    con.rollback()
    model.close()


def test_a_change_runs_its_queries_beside_the_sessions_own(
    root: Path, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = open_source(root, backend=pg_cluster.url)
    at_once = PaymentsModel(source)
    pool = source.spare
    assert pool is not None and pool._open  # the series and declines ran on spare connections
    spare = pool._open[0].con
    assert spare.execute("SELECT current_user").fetchone() == ("tieout_reader",)
    spare.rollback()
    monkeypatch.setattr(postgres, "SPARE_CONNECTIONS", 0)
    in_turn = PaymentsModel(source)  # one after another on the session's own connection
    assert source.spare is None
    for values in ({}, {"segments": ["SMB"]}, {"start": dt.date(2025, 2, 1)}):
        at_once.param.update(**values)
        in_turn.param.update(**values)
        assert at_once.kpis == in_turn.kpis
        for name, table in in_turn.output_tables().items():
            pd.testing.assert_frame_equal(at_once.output_tables()[name], table)
    at_once.close()
    in_turn.close()


def test_a_query_no_spare_connection_started_runs_on_the_sessions_own() -> None:
    waiting: Future[pd.DataFrame] = Future()  # queued behind other sessions' queries
    frame = pd.DataFrame({"x": [1]})
    assert Soon(waiting, lambda: frame).result() is frame and waiting.cancelled()
    started: Future[pd.DataFrame] = Future()
    started.set_running_or_notify_cancel()
    started.set_result(frame)
    assert Soon(started, lambda: pd.DataFrame()).result() is frame


def _schemas(pg_cluster: PgCluster) -> list[str]:
    sql = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tieout_%'"
    return pg_cluster.psql(sql, pg_cluster.dbname).split()


def test_a_discarded_upload_leaves_no_schema(tmp_path: Path, pg_cluster: PgCluster) -> None:
    tables = {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    root = write_tables(tmp_path / "upload", "payments", tables)
    source = open_source(root, backend=pg_cluster.url)
    model = PaymentsModel(source)
    assert model.kpis["attempts"] > 0 and source.schema in _schemas(pg_cluster)
    model.close()
    forget_source(root)  # what the Data page does with an upload nobody uses
    assert source.schema not in _schemas(pg_cluster)


def test_a_discarded_schema_still_read_is_dropped_at_the_next_publish(
    tmp_path: Path, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    root = write_tables(tmp_path / "upload", "payments", tables)
    source = open_source(root, backend=pg_cluster.url)
    monkeypatch.setattr(postgres, "DROP_WAIT_MS", 100)
    with psycopg.connect(pg_cluster.url) as reading:  # a transaction that read the schema
        reading.execute(f"SELECT count(*) FROM {source.schema}.merchants").fetchone()
        forget_source(root)
        assert source.schema in _schemas(pg_cluster)  # kept while it is read
        reading.rollback()
    other = write_tables(tmp_path / "next", "payments", tables)
    open_source(other, backend=pg_cluster.url)
    assert source.schema not in _schemas(pg_cluster)
    forget_source(other)


def test_review_state_lives_in_the_team_database(
    monkeypatch: pytest.MonkeyPatch, pg_cluster: PgCluster
) -> None:
    from data import state

    monkeypatch.delenv("TIEOUT_STATE")
    monkeypatch.setenv("TIEOUT_BACKEND", pg_cluster.url)
    assert state.default_url() == pg_cluster.url
    store = state.open_store()
    assert store.items("nowhere") == {}
    tables = pg_cluster.psql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", pg_cluster.dbname
    )
    assert "schema_version" in tables.split()
    state.dispose_all()


# ------------------------------------------------------------------ --source-schema (issue 17)
# Raw tables already in the database, judged by the same checks (data/checks.py) run by
# PostgreSQL and built there (data/pgschema.py); compared with the same tables as files.


def _load_raw(
    cluster: PgCluster,
    schema: str,
    tables: dict[str, str],
    types: dict[str, dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Each ``{table: csv text}`` as a table of ``schema``: text columns (empty cells NULL),
    except the ``types`` given per table and column; ``headers`` renames columns."""
    import csv
    import io

    types, headers = types or {}, headers or {}
    with psycopg.connect(cluster.url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.execute(f'CREATE SCHEMA "{schema}"')
        for name, text in tables.items():
            rows = list(csv.reader(io.StringIO(text.strip())))
            cols = [(headers.get(h, h), types.get(name, {}).get(h, "text")) for h in rows[0]]
            con.execute(
                f'CREATE TABLE "{schema}"."{name}" ('
                + ", ".join(f'"{c}" {t}' for c, t in cols)
                + ")"
            )
            with con.cursor() as cur, cur.copy(f'COPY "{schema}"."{name}" FROM STDIN') as copy:
                for row in rows[1:]:
                    copy.write_row([v if v != "" else None for v in row])


def _us(text: str) -> str:
    """The payments transactions as a US export: ``$1,000.00``, ``02/10/2025 12:00:00 PM``."""
    import csv
    import datetime as dt
    import io

    rows = list(csv.DictReader(io.StringIO(text.strip())))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for r in rows:
        r["amount"] = f"${float(r['amount']):,.2f}"
        r["fee"] = f"${float(r['fee']):,.2f}"
        r["ts"] = dt.datetime.fromisoformat(r["ts"]).strftime("%m/%d/%Y %I:%M:%S %p")
        w.writerow(r)
    return out.getvalue()


def _kpis(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["kpis", "--tables", *args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _payments_us() -> dict[str, str]:
    return {"merchants": MERCHANTS, "transactions": _us(TRANSACTIONS)}


SOURCE_CASES = {
    # text columns in US spelling and a "Txn ID" header: the same reading rules as files
    "payments_us": ("payments", _payments_us, {}, {"txn_id": "Txn ID"}),
    # typed columns (numeric money, a timestamp, a date), as a team's tables often are
    "payments_typed": (
        "payments",
        lambda: {"merchants": MERCHANTS, "transactions": TRANSACTIONS},
        {
            "transactions": {"amount": "numeric(12,2)", "fee": "numeric(12,2)", "ts": "timestamp"},
            "merchants": {"onboard_date": "date"},
        },
        {},
    ),
    "influencer": ("influencer", lambda: influencer_tables(), {}, {}),
    "reconciliation": ("reconciliation", lambda: recon_tables(), {}, {}),
}


@pytest.mark.parametrize("case", sorted(SOURCE_CASES))
def test_source_schema_gives_the_files_kpis(
    case: str, tmp_path: Path, pg_cluster: PgCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    domain, make, types, headers = SOURCE_CASES[case]
    tables = make()
    root = write_tables(tmp_path, domain, tables)
    duck = _kpis(capsys, "--domain", domain, "--data", str(root))
    schema = f"raw_{case}"
    _load_raw(pg_cluster, schema, tables, types, headers)
    pg = _kpis(capsys, "--domain", domain, "--backend", pg_cluster.url, "--source-schema", schema)
    assert pg == duck  # every KPI and table, money to the cent
    clear_sources()  # as another process would: the CLI's build is found on the server
    source = open_source(tmp_path / "unused", backend=pg_cluster.url, source_schema=schema)
    assert source.meta["cached"]  # reused: nothing changed
    assert source.has(domain) and not source.status[domain].problems
    assert [d for d, s in source.status.items() if s.present] == [domain]  # others absent
    assert source.status[domain].files  # each table named as "schema S, table T"
    assert all(
        f.startswith(f"schema {schema}, table ") for f in source.status[domain].files.values()
    )


BAD_CASES = ["bad_date", "dangling_reference", "duplicate_key", "wrong_type"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_bad_table_gets_the_bad_files_messages(case: str, pg_cluster: PgCluster) -> None:
    from tests.test_bad_input import BAD

    folder = BAD / case / "payments"
    tables = {p.stem: p.read_text(encoding="utf-8-sig") for p in sorted(folder.glob("*.csv"))}
    files = open_source(BAD / case).status["payments"]
    schema = f"bad_{case}"
    _load_raw(pg_cluster, schema, tables)
    got = open_source(BAD / case, backend=pg_cluster.url, source_schema=schema)
    status = got.status["payments"]
    assert not files.loaded and not status.loaded and files.problems

    def same(p: dict, label: str, offset: int) -> tuple:  # rows: a CSV counts its header
        return (label, p["column"], p["expected"], [r - offset for r in p["rows"]], p["value"])

    want = [same(p, p["file"].split("/")[-1].removesuffix(".csv"), 1) for p in files.problems]
    assert [same(p, p["file"].split("table ")[-1], 0) for p in status.problems] == want
    assert all(p["file"].startswith(f"schema {schema}, table ") for p in status.problems)


def test_a_source_schema_session_cannot_write_or_read_the_raw_tables(
    pg_cluster: PgCluster,
) -> None:
    _load_raw(pg_cluster, "raw_locked", {"merchants": MERCHANTS, "transactions": TRANSACTIONS})
    model = PaymentsModel(open_source("unused", backend=pg_cluster.url, source_schema="raw_locked"))
    con = model._be.con
    for sql in (
        "INSERT INTO transactions SELECT * FROM transactions LIMIT 1",
        "DELETE FROM pay_daily",
        "CREATE TABLE evil (x int)",
        'DELETE FROM "raw_locked"."transactions"',
        'SELECT * FROM "raw_locked"."transactions"',  # the reader sees Tieout's schema only
    ):
        with pytest.raises(psycopg.Error) as err:
            con.execute(sql)
        con.rollback()
        assert isinstance(
            err.value, psycopg.errors.ReadOnlySqlTransaction | psycopg.errors.InsufficientPrivilege
        ), sql
    assert model.kpis["attempts"] == 7
    model.close()


def test_changed_source_tables_are_built_again(pg_cluster: PgCluster) -> None:
    tables = {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    _load_raw(pg_cluster, "raw_changes", tables)
    first = open_source("unused", backend=pg_cluster.url, source_schema="raw_changes")
    assert not first.meta["cached"]
    clear_sources()  # another process, later: the build on the server is reused
    again = open_source("unused", backend=pg_cluster.url, source_schema="raw_changes")
    assert again.meta["cached"] and again.meta["key"] == first.meta["key"]
    pg_cluster.psql(
        "UPDATE raw_changes.transactions SET amount = '300.00' WHERE txn_id = 'T1'",
        pg_cluster.dbname,
    )
    newer = open_source("unused", backend=pg_cluster.url, source_schema="raw_changes")
    assert not newer.meta["cached"] and newer.schema == first.schema
    m = PaymentsModel(newer)
    assert m.kpis["gpv"] == Decimal("1360.01")  # 1260.01 with T1 at 300 instead of 200
    m.close()


def test_source_schema_usage_errors(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["kpis", "--domain", "payments", "--source-schema", "raw"]
    assert main(base) == 2 and "postgresql" in capsys.readouterr().err
    url = "postgresql://ann@127.0.0.1:1/db"
    assert main([*base, "--backend", url, "--data", str(root)]) == 2
    assert "give no --data" in capsys.readouterr().err
    assert main(["kpis", "--domain", "payments"]) == 2
    assert "--data is required" in capsys.readouterr().err


#: Spellings of dates and timestamps, good and bad: DuckDB casts them (TRY_CAST,
#: try_strptime), PostgreSQL reads them field by field (data.checks._parse_when).
WHEN_TEXTS = [
    *("2025-01-31", "2025-1-5", "2025-01-31 14:05", "2025-01-31T14:05:00", "2025-01-31 4:05:00"),
    *("2025-01-31 14:05:00.123456", "2025-01-31 14:05:00.1234567", "2025-01-31 14:05:00."),
    *("2025-01-31 14:05:00+02:00", "2025-01-31T14:05:00Z", "2025-01-31 14:05:00 UTC"),
    *("2025-01-31 14:05:00-0530", "2025-01-31 24:00:00", "2025-01-31 24:01:00", "2025-02-29"),
    *("2024-02-29", "2025-13-01", "2025-00-10", "2025-01-00", "2025-01-31 25:00:00"),
    *("2025-01-31 garbage", "2025-01-31 14", "2025-01-31 14:05:60", "20250-01-31", "2025-01"),
    *("1/5/2025", "01/05/25", "31.01.2025 14:05", "01/31/2025 02:05:00 PM", "01/31/2025 2:05 pm"),
    *("01/31/2025 02:05PM", "31-01-2025", "1/5/2025 14:05:00", "01/31/2025 13:05 PM"),
    *("12/01/2025 12:00 AM", "12/01/2025 12:30 PM", "31/01.2025", "31/02/2025", "29/02/2024"),
    *("29/02/1900", "29/02/2000", "31/01/2025 24:00", "31/01/2025T14:05", "31/01/2025 14:5"),
    *("31/01/2025  14:05", "31/01/2025 0:05 AM", "1/1/2025 1:05:07 am", "13/13/2025", "x", ""),
    *("01/05/68", "01/05/69", "31/12/99", "01/05/0025"),
]


@pytest.mark.parametrize("dayfirst", [True, False, None])
def test_dates_read_the_same_on_both_engines(dayfirst: bool | None, pg_cluster: PgCluster) -> None:
    import ibis
    import pandas as pd

    from data.checks import _parse_when, _text
    from data.postgres import _connect_kwargs

    frame = pd.DataFrame({"v": WHEN_TEXTS})
    got = {}
    for be in (ibis.duckdb.connect(), ibis.postgres.connect(**_connect_kwargs(pg_cluster.url))):
        t = be.create_table(f"when_texts_{dayfirst}", frame, overwrite=True)
        expr = t.select(t.v, w=_parse_when(_text(t.v), dayfirst, be.name)).order_by("v")
        got[be.name] = be.execute(expr).set_index("v")["w"]
        be.disconnect()
    assert got["postgres"].notna().sum() > 20
    pd.testing.assert_series_equal(got["postgres"], got["duckdb"], check_dtype=False)
    # two-digit years as %y reads them (00-68: 2000s, 69-99: 1900s); "25" was once year 25
    day_month = (1, 5) if dayfirst is not False else (5, 1)
    assert got["duckdb"]["01/05/25"] == pd.Timestamp(2025, day_month[1], day_month[0])
    assert got["duckdb"]["01/05/68"].year == 2068 and got["duckdb"]["01/05/69"].year == 1969
