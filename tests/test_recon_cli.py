"""`tieout recon status|export-log` (app/recon_cli.py) on the tiny dataset: the report by hand,
a sign-off whose numbers changed, the log exported with hostile notes neutralised."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.cli import dumps, main
from data import state
from data.engine import open_source
from data.state import open_store
from models.reconciliation import ReconciliationModel
from models.review_session import ReviewSession
from tests import recon_tiny
from tests.conftest import write_tables

MARCH = ["--start", "2025-03-01", "--end", "2025-03-31"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_tables(tmp_path / "data", "reconciliation", recon_tiny.tables())


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'review.sqlite'}"


def _status(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    rc = main(["recon", "status", "--data", str(root), "--state", _url(tmp_path), *MARCH,
               "--format", "json", *extra])  # fmt: skip
    assert rc == 0
    return json.loads(capsys.readouterr().out)


def test_status_by_hand(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = _status(root, tmp_path, capsys)
    assert r["exceptions"] == 6  # A2 A3 A4 A5 A6 F1
    assert r["by_status"] == {"open": 6}
    assert r["state"] == _url(tmp_path)
    aging = {a["age_bucket"]: (a["open_exceptions"], a["value_at_stake"]) for a in r["aging"]}
    # to 03-31: A6 (03-28) 3 days 60.00; A2 5.00, A3 30.00, A4 40.00, A5 20.00, F1 25.00
    assert aging["0-7"] == (1, 60.0)
    assert aging["8-30"] == (5, 120.0)
    r = _status(root, tmp_path, capsys, "--campaign", "CampB")
    assert r["filters"] == {"campaigns": ["CampB"]}
    # A3 and A4; A5's CampB claim alone is no duplicate, A7 was claimed in February
    assert r["exceptions"] == 2
    state.dispose_all()


def test_signoff_changed_and_export_log(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    march = {"start": dt.date(2025, 3, 1), "end": dt.date(2025, 3, 31)}
    m = ReconciliationModel(open_source(root), **march)
    s = ReviewSession(m, open_store(_url(tmp_path)), "ana", server=True)
    w = s.worklist()
    s.set_status(w[w["order_id"] == "A4"], "explained", note='=cmd|"/c calc"!A1 <b>x</b>')
    s.prepare()
    r = _status(root, tmp_path, capsys, "--fail-on-change")
    assert r["signoffs"][0]["changed"] is False
    fin = recon_tiny.FINANCE.replace("A2,2025-03-07,55.00", "A2,2025-03-07,57.00")
    write_tables(root, "reconciliation", recon_tiny.tables(revenue_finance=fin))
    rc = main(["recon", "status", "--data", str(root), "--state", _url(tmp_path), *MARCH,
               "--fail-on-change"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1
    assert "sign-off 1: 2025-03-01 to 2025-03-31, prepared (prepared by ana): CHANGED" in out
    assert "KPI revenue_finance: 270.00 -> 272.00" in out
    out_dir = tmp_path / "out"
    assert main(["recon", "export-log", "--data", str(root), "--state", _url(tmp_path),
                 "--out", str(out_dir)]) == 0  # fmt: skip
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "reconciliation_review_log.csv",
        "reconciliation_review_matches.csv",
        "reconciliation_signoff_1.csv",
        "reconciliation_signoffs.csv",
    ]
    log = (out_dir / "reconciliation_review_log.csv").read_text()
    assert "'=cmd" in log  # neutralised
    assert main(["recon", "export-log", "--data", str(root), "--state", _url(tmp_path),
                 "--out", str(out_dir), "--format", "xlsx"]) == 0  # fmt: skip
    wb = load_workbook(out_dir / "reconciliation_review.xlsx")
    assert wb.sheetnames == ["Review log", "Review matches", "Sign-offs", "Sign-off 1"]
    notes = [c.value for c in wb["Review log"]["H"]]
    assert '\'=cmd|"/c calc"!A1 <b>x</b>' in notes
    state.dispose_all()


def test_bad_state_url_is_a_usage_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["recon", "status", "--data", str(root), "--state", "nosuchdb://x"])
    assert rc == 2
    assert "review state" in capsys.readouterr().err


def test_serve_and_desktop_take_state(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import build_parser

    monkeypatch.delenv("TIEOUT_STATE", raising=False)
    a = build_parser().parse_args(["serve", "--state", "postgresql://u@db/review"])
    assert a.state == "postgresql://u@db/review"
    assert state.default_url() == "postgresql://u@db/review"  # every session of the process
    a = build_parser().parse_args(["desktop", "--state", "sqlite:////tmp/x.sqlite"])
    assert state.default_url() == "sqlite:////tmp/x.sqlite"


def test_kpis_and_export_count_confirmed_matches_as_the_page_does(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The tolerances under which A3 (30.00) and F1 (25.00, 8 days later) are suggested.
    march = {"start": dt.date(2025, 3, 1), "end": dt.date(2025, 3, 31)}
    tol = ["--abs-tol", "5", "--timing-days", "8"]
    kpis = ["kpis", "--domain", "reconciliation", "--data", str(root), *MARCH, *tol]
    assert main([*kpis, "--state", _url(tmp_path)]) == 0  # no state saved yet: as before
    before = json.loads(capsys.readouterr().out)["kpis"]
    m = ReconciliationModel(open_source(root), **march, abs_tol=5.0, timing_days=8)
    ReviewSession(m, open_store(_url(tmp_path)), "ana", server=False).decide(
        "A3", "F1", "confirmed"
    )
    assert main([*kpis, "--state", _url(tmp_path)]) == 0
    after = json.loads(capsys.readouterr().out)["kpis"]
    assert after["orders_matched"] == before["orders_matched"] + 1  # A3 confirmed with F1
    assert after == json.loads(dumps(m.summary()["kpis"]))  # the page's model, same pairs
    out = tmp_path / "out"
    assert main(["export", "--domain", "reconciliation", "--data", str(root), *MARCH, *tol,
                 "--state", _url(tmp_path), "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    bridge = (out / "reconciliation_bridge.csv").read_text()
    assert "matched_on_review,-5.00" in bridge  # F1 25.00 - A3 30.00
    state.dispose_all()
