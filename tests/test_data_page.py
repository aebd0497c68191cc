"""Data page: uploads are checked before anything is replaced; a bad upload leaves the data in
place; upload names cannot reach outside their folder; every ingest lands in the run log."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.loader import Job, load_folder
from app.main import create_app
from data.engine import open_source, read_runs
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS
from views.data_page import DataView, save_uploads, upload_name


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
    text = page.report.objects[0].object
    assert "payments: 1 error(s): not usable" in text
    report = page.report.objects[1].value
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
