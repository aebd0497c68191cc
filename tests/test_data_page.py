"""Data page: uploads are checked before anything is replaced; a bad upload leaves the data in
place; upload names cannot reach outside their folder; every ingest lands in the run log."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import panel as pn
import pytest

from app.main import create_app
from data.engine import open_source, read_runs
from data.loader import Job, load_folder
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS
from tests.pgcluster import PgCluster
from views.data_page import DataView, save_uploads, status_frame, upload_name


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("transactions.csv", "transactions.csv"),
        ("../../transactions.csv", "transactions.csv"),
        ("C:\\Users\\x\\Merchants.PARQUET", "merchants.parquet"),
        ("/etc/merchants.csv.gz", "merchants.csv.gz"),
    ],
)
def test_upload_names_lose_their_path_parts(name: str, stored: str) -> None:
    assert upload_name(name, "payments") == stored


@pytest.mark.parametrize(
    "name", ["evil.sh", "transactions.csv.exe", ".transactions.csv", "posts.csv", "a b.csv", ""]
)
def test_upload_names_that_are_not_tables_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="file name"):
        upload_name(name, "payments")


def test_uploads_are_written_only_inside_a_fresh_folder(tmp_path: Path) -> None:
    root = save_uploads("payments", {"../../merchants.csv": b"x"}, base=tmp_path)
    assert [p.relative_to(tmp_path).parts[1:] for p in tmp_path.rglob("*.csv")] == [
        ("payments", "merchants.csv")
    ]
    assert root.parent == tmp_path


def _page(tmp_path: Path):
    root = write_tables(
        tmp_path / "data", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    template = create_app(open_source(root))
    app = template.tieout_app
    return app, DataView(app=app)


def _load(page: DataView, root: Path, domains: list[str]) -> None:
    job = Job("load", load_folder, root)
    job.wait(60)
    assert job.error is None
    page.show_candidate(job.result, domains)


def test_a_bad_upload_leaves_the_current_data(tmp_path: Path) -> None:
    app, page = _page(tmp_path)
    before = app.model("payments").kpis
    source_before = app.sources["payments"]
    bad = TRANSACTIONS.replace("200.00,USD,online,approved", "lots,USD,online,approved")
    root = save_uploads(
        "payments",
        {"merchants.csv": MERCHANTS.encode(), "transactions.csv": bad.encode()},
        base=tmp_path / "uploads",
    )
    _load(page, root, ["payments"])
    text = page.report_text.object
    assert "payments: 1 error: not usable" in text
    report = page.problems_table.value
    assert {"transactions.csv"} <= {Path(f).name for f in report["file"]}
    assert "lots" in report["value"].tolist()
    assert not page.use_button.visible
    page.use_candidate()  # nothing to use: a no-op
    assert app.sources["payments"] is source_before
    assert app.model("payments").kpis == before


def test_a_good_upload_replaces_the_domain_after_confirmation(tmp_path: Path) -> None:
    app, page = _page(tmp_path)
    smaller = "\n".join(TRANSACTIONS.strip().splitlines()[:2])  # header + T1 only
    root = save_uploads(
        "payments",
        {"merchants.csv": MERCHANTS.encode(), "transactions.csv": smaller.encode()},
        base=tmp_path / "uploads",
    )
    _load(page, root, ["payments"])
    assert page.use_button.visible
    assert str(app.model("payments").kpis["gpv"]) == "1260.01"  # not replaced before confirming
    page.use_candidate()
    assert app.sources["payments"].root == root
    assert str(app.model("payments").kpis["gpv"]) == "200.00"  # T1 alone


def test_every_ingest_appends_to_the_run_log(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path / "data", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    source = open_source(root)
    runs = read_runs(root=root)
    assert len(runs) == 1
    run = runs[0]
    assert run["rows"] == {"payments": {"merchants": 3, "transactions": 7}}
    assert {Path(f["file"]).name for f in run["files"]} == {"merchants.csv", "transactions.csv"}
    assert all(len(f["blake2b"]) == 32 for f in run["files"])
    assert run["loaded"] == ["payments"] and run["errors"] == 0
    # Reopening the unchanged files reuses the ingest: no new run.
    from data.engine import clear_sources

    clear_sources()
    assert open_source(root).meta["cached"] and len(read_runs(root=root)) == 1
    assert source.meta["cache_dir"]


def test_job_reports_its_end_once_even_to_late_listeners() -> None:
    import threading

    gate = threading.Event()
    job = Job("t", lambda j: (gate.wait(10), j.report("half", 0.5), 42)[-1])
    calls: list[str] = []
    job.on_done(lambda: calls.append("early"))
    assert calls == [] and not job.done
    gate.set()
    assert job.wait(10) == 42
    job.on_done(lambda: calls.append("late"))  # already done: called at once
    assert calls == ["early", "late"] and job.fraction == 0.5 and job.error is None
    failing = Job("f", lambda j: 1 / 0)
    failing.wait(10)
    assert failing.error == "ZeroDivisionError: division by zero" and failing.result is None


# --------------------------------------------------------------------------- upload lifecycle


def _files(transactions: str = TRANSACTIONS) -> dict[str, bytes]:
    return {"merchants.csv": MERCHANTS.encode(), "transactions.csv": transactions.encode()}


def test_uploads_over_the_quota_are_refused_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = sum(len(b) for b in _files().values())
    monkeypatch.setenv("TIEOUT_UPLOAD_QUOTA", str(int(size * 1.5)))
    save_uploads("payments", _files(), base=tmp_path)
    with pytest.raises(ValueError, match="at most 0 MB of uploads at once"):
        save_uploads("payments", _files(), base=tmp_path)


def test_the_dropper_drops_an_upload_larger_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from views import data_page

    monkeypatch.setattr(data_page, "MAX_UPLOAD_BYTES", 10)
    dropper = data_page.UploadDropper(multiple=True)

    def piece(chunk: int, total: int, data: bytes) -> SimpleNamespace:
        info = {"name": "t.csv", "chunk": chunk, "total_chunks": total, "data": data}
        return SimpleNamespace(event_name="upload_event", data={**info, "type": "text/csv"})

    dropper._process_event(piece(1, 3, b"123456"))
    assert dropper.refused == ""
    dropper._process_event(piece(2, 3, b"789012"))  # 12 bytes: over the limit
    assert "at most" in dropper.refused and dropper._file_buffer == {}
    dropper._process_event(piece(1, 1, b"small"))  # a later, smaller upload goes through
    assert dropper.value == {"t.csv": "small"}


def _upload_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A session's Data page on the tiny payments data, uploads kept under ``tmp_path``."""
    from views import data_page

    monkeypatch.setattr(data_page, "upload_base", lambda: tmp_path / "uploads")
    app, page = _page(tmp_path)
    page.domain.value = "payments"
    return app, page


def _check(page: DataView, files: dict[str, str]) -> None:
    """Upload ``files`` and wait for the check to end, as the page's button does."""
    page.files.value = dict(files)
    page.check_upload()
    page._job.wait(60)
    page._finish(page._job)


def test_uploads_are_deleted_when_replaced_or_when_the_session_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, page = _upload_page(tmp_path, monkeypatch)
    seen: list[Path] = []
    for smaller in (1, 2):
        rows = "\n".join(TRANSACTIONS.strip().splitlines()[: smaller + 1])
        _check(page, {"merchants.csv": MERCHANTS, "transactions.csv": rows})
        seen.append(page.candidate.root)
    first, second = seen
    assert not first.exists()  # the first check was replaced by the second before being used
    assert second.exists() and app.uploads == [second]
    db = page.candidate.db_path
    assert db.exists()
    page.use_candidate()
    assert app.sources["payments"].root == second
    app.close()  # the session ends
    assert not second.exists() and not db.exists() and app.uploads == []


def test_upload_folders_of_ended_processes_are_removed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from views.data_page import clean_stale_uploads

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead = tmp_path / ended.stdout.decode().strip()
    live = tmp_path / str(os.getpid())
    for folder in (dead, live):
        (folder / "x" / "payments").mkdir(parents=True)
    assert clean_stale_uploads(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


def test_the_page_asks_how_to_read_what_the_values_do_not_decide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _app, page = _upload_page(tmp_path, monkeypatch)
    bad = Path(__file__).parent / "data" / "bad" / "ambiguous_dates" / "payments"
    files = {p.name: p.read_text() for p in bad.iterdir()}
    for order, usable in (("auto", False), ("dayfirst", True)):
        page.date_order.value = order
        _check(page, files)
        assert page.use_button.visible is usable
    # day first: 11/01/2025 is 11 January
    assert "payments: ready, 10 rows" in page.report_text.object


RENAMED = TRANSACTIONS.replace(",ts,", ",Created At,", 1).replace(",amount,", ",Amount (USD),", 1)
WANTED = {"payments": {"transactions": {"Amount (USD)": "amount", "Created At": "ts"}}}


def _pick_headers(page: DataView) -> None:
    selects = [select for _table, _column, select in page.column_picks]
    by_column = {s.label.split("'")[1]: s for s in selects}
    assert set(by_column) == {"amount", "ts"}
    for s in selects:  # the file's headers that matched no column, and "none"
        assert set(s.options.values()) == {"", "Amount (USD)", "Created At"}
    by_column["amount"].value, by_column["ts"].value = "Amount (USD)", "Created At"


def test_missing_columns_offer_the_files_headers_and_check_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tomllib

    monkeypatch.setenv("TIEOUT_HOME", str(tmp_path / "home"))
    app, page = _upload_page(tmp_path, monkeypatch)
    before = app.model("payments").kpis
    _check(page, {"merchants.csv": MERCHANTS, "transactions.csv": RENAMED})
    assert not page.use_button.visible
    _pick_headers(page)
    download = page.mapping_download
    assert tomllib.loads(download.callback().read().decode()) == WANTED
    page.apply_columns_button.clicks += 1  # "Use these headers and check again"
    page._job.wait(60)
    page._finish(page._job)
    assert page.use_button.visible, page.report_text.object
    root = page.candidate.root
    page.use_candidate()
    assert app.model("payments").kpis == before  # the same numbers as the clean files
    # a server keeps the choice for the session: nothing written to the data or the config
    assert not list(root.rglob("*.toml")) and not (tmp_path / "home").exists()


def test_on_the_desktop_header_choices_are_saved_for_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data.checks import Settings

    monkeypatch.setenv("TIEOUT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TIEOUT_MODE", "desktop")
    folder = write_tables(
        tmp_path / "mine", "payments", {"merchants": MERCHANTS, "transactions": RENAMED}
    )
    _app, page = _page(tmp_path)
    page.check_folder(str(folder))
    page._job.wait(60)
    page._finish(page._job)
    _pick_headers(page)
    page.apply_columns(page.column_picks)
    page._job.wait(60)
    page._finish(page._job)
    assert page.use_button.visible
    assert Settings.from_env().headers == {
        "payments.transactions": WANTED["payments"]["transactions"]
    }
    assert (tmp_path / "home" / "config" / "mapping.toml").is_file()
    assert sorted(p.name for p in (folder / "payments").iterdir()) == [
        "merchants.csv",
        "transactions.csv",
    ]


# ------------------------------------------------------------------ PostgreSQL (issue 17)
def _texts(viewable: Any) -> str:
    """Every text and HTML object shown under ``viewable`` (panes, alerts), joined."""
    return "\n".join(
        str(p.object) for p in viewable.select(pn.pane.PaneBase) if isinstance(p.object, str)
    )


@pytest.mark.parametrize("where", ["server", "desktop"])
def test_with_a_source_schema_the_page_names_it_and_loads_nothing_else(
    where: str, tmp_path: Path, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_postgres import _load_raw
    from views.review import banner_text

    monkeypatch.setenv("TIEOUT_HOME", str(tmp_path / "home"))
    if where == "desktop":
        monkeypatch.setenv("TIEOUT_MODE", "desktop")
    _load_raw(pg_cluster, "raw_page", {"merchants": MERCHANTS, "transactions": TRANSACTIONS})
    # a password in the URL (ignored by the test cluster's trust login) is never shown
    url = pg_cluster.url.replace("postgres@", "postgres:s3cret@", 1)
    monkeypatch.setenv("TIEOUT_BACKEND", url)
    monkeypatch.setenv("TIEOUT_SOURCE_SCHEMA", "raw_page")
    words = f"PostgreSQL schema raw_page on 127.0.0.1:{pg_cluster.port}/{pg_cluster.dbname}"
    template = create_app(open_source("unused"))
    app = template.tieout_app
    page = DataView(app=app)
    shown = "\n".join([_texts(page.__panel__()), _texts(pn.Column(*template.header))])
    assert f"Data in use: {words}" in shown and f"Data: {words}" in shown
    assert "/postgresql/" not in shown and "s3cret" not in shown
    files = status_frame(app.sources)
    assert files.loc[files["table"] == "transactions", "file"].tolist() == [
        "schema raw_page, table transactions"
    ]
    assert f"(no influencer table in {words})" in files["file"].tolist()
    # opening a folder or uploading: disabled, the reason in one line; refused if asked anyway
    assert page.load_note is not None and words in page.load_note.object
    assert "\n" not in page.load_note.object
    assert page.load_controls and all(w.disabled for w in page.load_controls)
    if where == "desktop":
        page.check_folder(str(tmp_path))
    else:
        page.files.value = {"transactions.csv": TRANSACTIONS.encode()}
        page.check_upload()
    assert page.candidate is None and page._job is None
    assert "Opening folders and uploading files are off" in page.report_text.object
    assert not page.column_picks and app.uploads == []
    # the other pages name the schema too, never the internal id
    app.show("influencer")
    assert app.built["influencer"][0].object == f"No table of the influencer domain in {words}."
    scope = str(app.sources["payments"].root)
    team = SimpleNamespace(kind="postgresql")
    banner = banner_text("ann", True, team, scope, words)  # type: ignore[arg-type]
    assert banner.endswith(f"for {words}.") and "/postgresql/" not in banner


def test_with_a_postgresql_backend_the_page_shows_the_users_files(
    tmp_path: Path, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEOUT_BACKEND", pg_cluster.url)
    app, page = _page(tmp_path)
    shown = _texts(page.__panel__())
    served = f"127.0.0.1:{pg_cluster.port}/{pg_cluster.dbname}"
    root = tmp_path / "data"
    assert f"Folders in use: <code>{root}</code> (queried on PostgreSQL {served})" in shown
    assert page.load_note is None and not any(w.disabled for w in page.load_controls)
    files = status_frame(app.sources)
    assert files.loc[files["table"] != "", "file"].tolist() == [
        "payments/merchants.csv",
        "payments/transactions.csv",
    ]
    # an upload is checked, published and shown by its file names too
    smaller = "\n".join(TRANSACTIONS.strip().splitlines()[:2])
    up = save_uploads(
        "payments",
        {"merchants.csv": MERCHANTS.encode(), "transactions.csv": smaller.encode()},
        base=tmp_path / "uploads",
    )
    _load(page, up, ["payments"])
    assert f"**Checked** `{up}`" in page.report_text.object
    assert type(page.candidate).__name__ == "PgSource"
    assert status_frame({"payments": page.candidate})["file"].tolist() == [
        "payments/merchants.csv",
        "payments/transactions.csv",
    ]
    page.use_candidate()
    assert str(app.model("payments").kpis["gpv"]) == "200.00"  # T1 alone, on PostgreSQL


def test_the_pages_checks_on_the_figures_show_on_the_data_page(tmp_path: Path) -> None:
    """The influencer payouts that differ from the payment terms (the warning on the page) are
    listed on the Data page too, beside the files' validation report (which has nothing)."""
    from tests import influencer_tiny

    tables = influencer_tiny.tables()
    tables["payouts"] = tables["payouts"].replace(
        "PO2,I2,Order,0.10,2,50.00", "PO2,I2,Order,0.10,2,55.00"
    )
    root = write_tables(tmp_path / "data", "influencer", tables)
    app = create_app(open_source(root)).tieout_app
    assert app.model("influencer") is None  # the page is not open: a model made for this
    shown = [getattr(o, "object", "") for o in DataView(app=app)._layout]
    text = "\n".join(str(o) for o in shown if isinstance(o, str))
    assert "no problems found" in text  # the files themselves are valid
    assert "Checks on the figures**: 1 warning," in text
    assert "Influencer ROI: The payout worked out from the payment terms differs" in text
    assert "I2 (Ben: $50.00 from the terms, $55.00 reported)" in text


def test_a_table_that_stops_early_is_a_check_on_the_data_page(tmp_path: Path) -> None:
    """The reconciliation's tables that do not cover the period alike (spend stops on Mar 2 in
    the tiny data, claims and bookings go on) are named on the Data page as on the page."""
    from tests import recon_tiny

    root = write_tables(tmp_path / "data", "reconciliation", recon_tiny.tables())
    app = create_app(open_source(root)).tieout_app
    shown = [getattr(o, "object", "") for o in DataView(app=app)._layout]
    text = "\n".join(str(o) for o in shown if isinstance(o, str))
    # the page is not open: over all the data (Feb 15 - Apr 3): spend ends on Mar 2, claims on
    # Mar 28; claims start on Feb 26, bookings on Mar 2 (spend on Feb 15): four checks
    assert "Checks on the figures**: 4 warnings, each shown on its page too" in text
    assert "- Reconciliation: Spend ends on Mar 2, 2025; marketing" in text
    assert "booked revenue starts on Mar 2, 2025" in text
