"""PostgreSQL as the engine: the CLI on both engines, read-only sessions, credentials kept out of
argv and out of everything shown. (The hand-worked and property tests of the three models run on
both engines through the ``engine`` fixture of tests/conftest.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from app.cli import main
from data.engine import open_source
from data.postgres import BackendError, check_url, redact
from models.payments import PaymentsModel
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS
from tests.pgcluster import PgCluster


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
