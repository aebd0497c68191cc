"""The same numbers whatever form the files come in (tests/data/real-world/, written by
tests/data/make_real_world.py): every case gives exactly the KPIs and tables of `clean`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data.checks import Settings
from data.engine import open_source
from data.validate import load_domain
from models import make_model

HERE = Path(__file__).parent / "data" / "real-world"
CASES = sorted(p.name for p in HERE.iterdir() if p.is_dir() and p.name != "clean")
DOMAINS = ("payments", "reconciliation")
#: What a user sets when the error asks (merchants' onboarding dates are all like 01/02/2025:
#: no value says which is the day, so the column is an error until the date order is given).
SETTINGS = {"european": Settings(dayfirst=True), "us_formatted": Settings(dayfirst=False)}


def _numbers(root: Path, domain: str) -> tuple[dict, list[pd.DataFrame]]:
    source = open_source(root, settings=SETTINGS.get(root.name))
    assert source.has(domain), source.status[domain].report.text()
    model = make_model(domain, source)
    return model.kpis, [t for _, t in sorted(model.output_tables().items())]


def test_corpus_is_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.data import make_real_world

    monkeypatch.setattr(make_real_world, "HERE", tmp_path)
    make_real_world.main()
    for path in tmp_path.rglob("*.*"):
        stored = HERE / path.relative_to(tmp_path)
        if path.suffix != ".xlsx":  # workbooks carry their creation time
            assert stored.read_bytes() == path.read_bytes(), stored


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_form_gives_the_numbers_of_the_clean_files(case: str, domain: str) -> None:
    kpis, tables = _numbers(HERE / "clean", domain)
    got_kpis, got_tables = _numbers(HERE / case, domain)
    assert got_kpis == kpis
    assert len(got_tables) == len(tables)
    for got, want in zip(got_tables, tables, strict=True):
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


@pytest.mark.parametrize(
    ("case", "form", "note"),
    [
        ("windows_excel", "CSV, UTF-8, comma-separated", None),  # ASCII: valid UTF-8
        ("unicode_text", "CSV, UTF-16, tab-separated", None),
        ("european", "CSV, UTF-8, semicolon-separated", "amount: decimal comma"),
        ("us_formatted", "CSV, UTF-8, comma-separated", "ts: month-first dates"),
        ("excel_workbook", "Excel workbook, sheet 'transactions'", None),
    ],
)
def test_the_report_says_how_each_file_was_read(case: str, form: str, note: str | None) -> None:
    data = load_domain(HERE / case, "payments", settings=SETTINGS.get(case))
    assert data.ok, data.report.text()
    assert data.forms["transactions"] == form
    if note:
        assert any(note in n for n in data.notes), data.notes


BAD = Path(__file__).parent / "data" / "bad"


def test_undecided_spellings_ask_for_the_setting_and_take_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from app import cli

    args = ["kpis", "--domain", "payments", "--data", str(BAD / "ambiguous_dates")]
    assert cli.main(args) == 2
    assert "--dayfirst" in capsys.readouterr().err
    assert cli.main([*args, "--dayfirst"]) == 0
    capsys.readouterr()
    # amounts like "3,200" and whole-number fees: the values cannot tell thousands from decimals
    args = ["kpis", "--domain", "payments", "--data", str(BAD / "ambiguous_decimal")]
    assert cli.main(args) == 2
    assert "--decimal" in capsys.readouterr().err
    assert cli.main([*args, "--decimal", ","]) == 0
    as_comma = json.loads(capsys.readouterr().out)["kpis"]["gpv"]
    assert cli.main([*args, "--decimal", "."]) == 0
    as_point = json.loads(capsys.readouterr().out)["kpis"]["gpv"]
    # approved T1 3,200 T3 6,200 T4 2,200 T5 1,200 T7 2,200 -> 15,000 or 15.000
    assert (as_point, as_comma) == (15000.0, 15.0)


def test_a_mapping_file_given_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from app import cli

    root = tmp_path / "data"
    shutil.copytree(HERE / "headers", root)
    mapping = tmp_path / "mine.toml"
    (root / "tieout.toml").rename(mapping)
    args = ["validate", "--data", str(root), "--domain", "payments"]
    assert cli.main(args) == 2
    assert "a column named 'amount'" in capsys.readouterr().out
    assert cli.main([*args, "--mapping", str(mapping)]) == 0


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_dates_no_value_decides_are_an_error_until_the_order_is_given(case: str) -> None:
    text = load_domain(HERE / case, "payments", settings=Settings()).report.text()
    assert "column 'onboard_date'" in text and "--dayfirst or --monthfirst" in text
