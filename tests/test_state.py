"""The review state store (data/state.py) on SQLite and on PostgreSQL (a throwaway cluster,
tests/pgcluster.py): schema created and migrated, edits with history, two sessions editing one
exception (optimistic check), state kept across a restart and a new ingest (reopened when the
amounts changed), confirmed suggestions and sign-offs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from data import state
from data.engine import open_source
from data.state import Edit, StaleEdit, open_store
from models import review
from models.reconciliation import ReconciliationModel
from tests import recon_tiny
from tests.conftest import write_tables
from tests.pgcluster import PgCluster

MARCH = {"start": dt.date(2025, 3, 1), "end": dt.date(2025, 3, 31)}
SCOPE = "/data/acme"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store's URL: a SQLite file, or a new database on the test cluster."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'review.sqlite'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        yield cluster.sqlalchemy_url(cluster.create_database("state"))
    state.dispose_all()


def edit(order_id: str, cls: str, expected: int, status: str, note: str = "") -> Edit:
    return Edit(
        order_id,
        cls,
        expected,
        status,
        owner="",
        note=note,
        amounts="claimed=3000;finance=",
        log=(("status", "open", status, note),),
    )


def test_schema_created_and_versioned(url: str) -> None:
    store = open_store(url)
    with store.engine.connect() as con:
        assert con.execute(sa.text("SELECT max(version) FROM schema_version")).scalar() == (
            state.SCHEMA_VERSION
        )
    assert state.migrate(store.engine) == state.SCHEMA_VERSION  # a second start: nothing to do
    assert store.items(SCOPE) == {}


def test_a_newer_schema_is_refused(url: str) -> None:
    store = open_store(url)
    with store.engine.begin() as con:
        con.execute(state.schema_version.insert().values(version=99, applied_at=state.now()))
    with pytest.raises(state.StateError, match="newer than this Tieout"):
        state.migrate(store.engine)


def test_edits_and_history(url: str) -> None:
    store = open_store(url)
    store.apply(SCOPE, [edit("A3", "missing_in_finance", 0, "investigating", "asked")], "ana")
    store.apply(SCOPE, [edit("A3", "missing_in_finance", 1, "resolved", "found it")], "ben")
    item = store.items(SCOPE)[("A3", "missing_in_finance")]
    assert (item["status"], item["version"], item["updated_by"]) == ("resolved", 2, "ben")
    h = store.history(SCOPE, "A3")
    assert [(r["who"], r["action"], r["new"], r["note"]) for r in h] == [
        ("ana", "status", "investigating", "asked"),
        ("ben", "status", "resolved", "found it"),
    ]
    assert h[0]["at"] <= h[1]["at"]
    assert store.items("/data/other") == {}  # another data folder's state is its own


def test_two_sessions_editing_one_exception(url: str) -> None:
    """Both load version 0; the first save wins, the second is refused with who and what, and
    nothing of it is written (not even the other rows of the same change)."""
    first, second = open_store(url), open_store(url)
    loaded = second.items(SCOPE)  # the second session loads before the first saves
    first.apply(SCOPE, [edit("A3", "missing_in_finance", 0, "investigating")], "ana")
    assert loaded == {}
    with pytest.raises(StaleEdit, match=r"A3 \(missing_in_finance\) was changed by ana"):
        second.apply(
            SCOPE,
            [
                edit("A2", "amount_mismatch", 0, "resolved"),
                edit("A3", "missing_in_finance", 0, "written_off", "lost"),
            ],
            "ben",
        )
    items = first.items(SCOPE)
    assert set(items) == {("A3", "missing_in_finance")}  # A2 not written either
    assert items[("A3", "missing_in_finance")]["status"] == "investigating"
    # reloaded, ben's change goes through against version 1
    second.apply(SCOPE, [edit("A3", "missing_in_finance", 1, "written_off", "lost")], "ben")
    assert first.items(SCOPE)[("A3", "missing_in_finance")]["status"] == "written_off"
    assert len(first.history(SCOPE)) == 2


def test_state_survives_a_restart_and_a_new_ingest(url: str, tmp_path: Path) -> None:
    """Resolved on the first files; after a restart and new files where A2's finance amount
    changed (55.00 -> 57.00), A2 is reopened with the reason, A4 (unchanged) stays resolved."""
    root = tmp_path / "data"
    write_tables(root, "reconciliation", recon_tiny.tables())
    m = ReconciliationModel(open_source(root), **MARCH)
    store = open_store(url)
    work = review.worklist(m.exceptions, store.items(SCOPE), m.end)
    chosen = work[work["order_id"].isin(["A2", "A4"])]
    store.apply(SCOPE, review.change_status(chosen, {}, "resolved", note="ok"), "ana")
    state.dispose_all()  # a restart: every connection closed

    fin = recon_tiny.FINANCE.replace("A2,2025-03-07,55.00", "A2,2025-03-07,57.00")
    write_tables(root, "reconciliation", recon_tiny.tables(revenue_finance=fin))
    m2 = ReconciliationModel(open_source(root), **MARCH)  # a new ingest of the changed files
    store2 = open_store(url)
    items = store2.items(SCOPE)
    assert {k: v["status"] for k, v in items.items()} == {
        ("A2", "amount_mismatch"): "resolved",
        ("A4", "refunded"): "resolved",
    }
    store2.apply(SCOPE, review.reopened(m2.exceptions, items), "tieout")
    items = store2.items(SCOPE)
    assert items[("A2", "amount_mismatch")]["status"] == "open"
    assert items[("A4", "refunded")]["status"] == "resolved"
    last = store2.history(SCOPE, "A2")[-1]
    assert last["action"] == "reopened"
    assert last["note"] == (
        "reopened: the amounts changed since it was resolved (finance 55.00 -> 57.00)"
    )


def test_confirmed_suggestion(url: str) -> None:
    store = open_store(url)
    claim = {"order_id": "A3", "claimed_revenue": 30.0, "finance_revenue": None}
    fin = {"order_id": "F1", "claimed_revenue": None, "finance_revenue": 25.0}
    edits = review.confirm_edits(claim, fin, {}, "equal amounts, 2 days apart")
    store.decide(SCOPE, "A3", "F1", "confirmed", "equal amounts, 2 days apart", "ana", 0, edits)
    assert review.confirmed_pairs(store.decisions(SCOPE)) == [("A3", "F1")]
    items = store.items(SCOPE)
    assert items[("A3", "missing_in_finance")]["status"] == "resolved"
    assert items[("F1", "finance_only")]["status"] == "resolved"
    assert "matched on review with F1" in store.history(SCOPE, "A3")[0]["note"]
    with pytest.raises(StaleEdit, match="decided by someone else"):
        store.decide(SCOPE, "A3", "F1", "rejected", "", "ben", 0, [])
    undo = review.unconfirm_edits("A3", "F1", store.items(SCOPE))
    store.decide(SCOPE, "A3", "F1", "undone", "", "ana", 1, undo)
    assert review.confirmed_pairs(store.decisions(SCOPE)) == []
    assert store.items(SCOPE)[("F1", "finance_only")]["status"] == "open"


def test_signoff(url: str) -> None:
    store = open_store(url)
    snap = {"period": {"start": "2025-03-01"}, "kpis": {"revenue_finance": "270.00"}}
    sid = store.prepare(SCOPE, "2025-03-01", "2025-03-31", snap, "ana")
    store.set_signoff(SCOPE, sid, 1, state="approved", reviewer="ben", approved_at=state.now())
    (row,) = store.signoffs(SCOPE)
    assert (row["state"], row["preparer"], row["reviewer"], row["version"]) == (
        "approved",
        "ana",
        "ben",
        2,
    )
    assert row["snapshot"] == snap
    with pytest.raises(StaleEdit):
        store.set_signoff(SCOPE, sid, 1, state="approved", reviewer="cy")


def test_hostile_notes_are_kept_as_text(url: str) -> None:
    store = open_store(url)
    note = '<img src=x onerror=alert(1)> =HYPERLINK("http://x") \'; DROP TABLE review_items; --'
    store.apply(SCOPE, [edit("<b>A3</b>", "missing_in_finance", 0, "explained", note)], "ana")
    assert store.items(SCOPE)[("<b>A3</b>", "missing_in_finance")]["note"] == note
    assert store.history(SCOPE)[0]["note"] == note


def test_default_location_is_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEOUT_HOME", str(tmp_path))
    monkeypatch.delenv(state.STATE_ENV, raising=False)
    assert state.default_url() == f"sqlite:///{tmp_path / 'data' / 'review.sqlite'}"
    store = open_store()
    assert (tmp_path / "data" / "review.sqlite").is_file()
    assert store.kind == "sqlite"
    monkeypatch.setenv(state.STATE_ENV, "postgresql://u@localhost/x")
    assert state.default_url() == "postgresql://u@localhost/x"
    state.dispose_all()


def test_a_store_that_cannot_be_opened_says_where() -> None:
    with pytest.raises(state.StateError, match="cannot open the review state at"):
        open_store("postgresql://nobody@127.0.0.1:1/none")
    state.dispose_all()


def test_worklist_of_an_empty_exception_table() -> None:
    empty = pd.DataFrame(columns=["order_id", "class", "flags"])
    assert list(review.worklist(empty, {}).columns) == review.WORKLIST_COLUMNS


def test_pgcluster_finds_its_binaries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests import pgcluster

    monkeypatch.setenv("TIEOUT_PG_BIN", str(tmp_path))  # no initdb there
    assert pgcluster.find_bin_dir() is None
    monkeypatch.delenv("TIEOUT_PG_BIN")
    for value, ci in (("1", True), ("true", True), ("", False), ("0", False)):
        monkeypatch.setenv("CI", value)
        assert pgcluster.in_ci() is ci


def test_pgcluster_gives_databases_of_their_own(pg_cluster: PgCluster) -> None:
    a, b = pg_cluster.create_database("x"), pg_cluster.create_database("x")
    assert a != b
    assert pg_cluster.dsn(a).startswith(f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/")
    assert pg_cluster.psql("SELECT 1", a).strip() == "1"
    assert pg_cluster.psql("SHOW listen_addresses").strip() == "127.0.0.1"


def test_concurrent_edits_never_lose_a_change(url: str) -> None:
    """Four threads, each with a store of its own, keep setting one exception's status against
    the version they read; every save that succeeds is in the history and the version counts
    exactly those saves (a lost update would leave fewer versions than successes)."""
    import threading

    stores = [open_store(url) for _ in range(4)]
    saved, refused = [0] * 4, [0] * 4

    def work(i: int) -> None:
        for n in range(15):
            item = stores[i].items(SCOPE).get(("A3", "missing_in_finance"))
            version = 0 if item is None else int(item["version"])
            status = ("investigating", "open")[n % 2] if version else "investigating"
            try:
                stores[i].apply(SCOPE, [edit("A3", "missing_in_finance", version, status)], f"u{i}")
                saved[i] += 1
            except StaleEdit:
                refused[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    item = stores[0].items(SCOPE)[("A3", "missing_in_finance")]
    assert item["version"] == sum(saved)
    assert len(stores[0].history(SCOPE)) == sum(saved)
    assert sum(saved) + sum(refused) == 60
