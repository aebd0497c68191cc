"""The hostile-input corpus (tests/data/bad/, one folder per failure class; see make_cases.py):
every case ends in a clear error naming file, column, row and value, or loads with its text kept
as text; nothing loaded before is lost; the files are never modified."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import openpyxl
import pytest

import data.validate as validate
from app.main import create_app
from data.engine import open_source
from data.loader import Job, load_folder
from data.validate import load_domain
from models import make_model
from models.export import workbook_bytes
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS
from views.data_page import DataView, save_uploads, upload_name

BAD = Path(__file__).parent / "data" / "bad"
SPEC = json.loads((BAD / "cases.json").read_text())
CASES = SPEC["cases"]
ERRORS = sorted(n for n, c in CASES.items() if "expect" in c)
LOADS = sorted(n for n, c in CASES.items() if c.get("loads"))


@pytest.fixture(autouse=True)
def _small_gzip_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "MAX_UNCOMPRESSED_BYTES", 16 * 1024 * 1024)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def test_corpus_covers_every_failure_class() -> None:
    assert set(CASES) == {p.name for p in BAD.iterdir() if (p / "payments").is_dir()}
    assert len(ERRORS) >= 12 and {"html_names", "formula_values", "utf8_bom"} <= set(LOADS)


@pytest.mark.parametrize("case", ERRORS)
def test_each_bad_file_gets_a_clear_error(case: str) -> None:
    before = _digests(BAD / case)
    found = load_domain(BAD / case, "payments")
    assert not found.ok
    text = found.report.text()
    for fragment in CASES[case]["expect"]:
        assert fragment in text, f"{case}: {fragment!r} not in\n{text}"
    assert _digests(BAD / case) == before  # never modified


@pytest.mark.parametrize("case", LOADS)
def test_hostile_text_loads_as_plain_text(case: str, tmp_path: Path) -> None:
    found = load_domain(BAD / case, "payments")
    assert found.ok, found.report.text()
    names = found.tables["merchants"]["merchant_name"].tolist()
    for text in CASES[case].get("text", []):
        assert text in names


def test_formula_values_are_inert_in_every_export() -> None:
    model = make_model("payments", open_source(BAD / "formula_values"))
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(model)))
    cells = [c for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    risky = [c for c in cells if c.value.lstrip("'").startswith(("=", "+", "@"))]
    assert risky, "the hostile names reach the workbook"
    assert all(c.value.startswith("'") and c.data_type == "s" for c in risky)


@pytest.mark.parametrize("case", ERRORS)
def test_a_bad_upload_keeps_what_was_loaded(case: str, tmp_path: Path) -> None:
    root = write_tables(
        tmp_path / "good", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    app = create_app(open_source(root)).tieout_app
    source, kpis = app.sources["payments"], dict(app.model("payments").kpis)
    page = DataView(app=app)
    files = {p.name: p.read_bytes() for p in (BAD / case / "payments").iterdir()}
    upload = save_uploads("payments", files, base=tmp_path / "uploads")
    job = Job("load", load_folder, upload)
    job.wait(60)
    assert job.error is None
    page.show_candidate(job.result, ["payments"])
    assert "not usable" in page.report_text.object
    assert not page.use_button.visible
    page.use_candidate()
    assert app.sources["payments"] is source and app.model("payments").kpis == kpis


@pytest.mark.parametrize(("name", "stored"), sorted(SPEC["upload_names"].items()))
def test_upload_names_with_path_parts(name: str, stored: str | None) -> None:
    if stored is None:
        with pytest.raises(ValueError, match="file name"):
            upload_name(name, "payments")
    else:
        assert upload_name(name, "payments") == stored
