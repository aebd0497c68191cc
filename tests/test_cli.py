"""The CLI: exit codes, the JSON shape of KPI_DEFINITIONS.md, CSV output, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )


def test_kpis_json_shape(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "kpis",
            "--domain",
            "payments",
            "--data",
            str(root),
            "--start",
            "2025-02-01",
            "--end",
            "2025-02-28",
            "--segment",
            "SMB",
            "--tables",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"domain", "period", "filters", "kpis", "tables"}
    assert out["period"] == {"start": "2025-02-01", "end": "2025-02-28"}
    assert out["filters"] == {"segments": ["SMB"], "compare": "previous_period"}
    assert out["kpis"]["gpv"] == 60.0 and out["kpis"]["attempts"] == 4
    assert out["tables"]["declines"][0].keys() == {"decline_reason", "channel", "count"}


def test_kpis_csv(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", "--domain", "payments", "--data", str(root), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "key,value"
    assert "gpv,1260.01" in lines  # whole span: 1060.01 + 200.00, two decimals


@pytest.mark.parametrize(
    "args",
    [
        ["kpis", "--domain", "payments", "--data", "/nonexistent"],
        ["kpis", "--domain", "payments", "--data", "{root}", "--segment", "Nope"],
        ["kpis", "--domain", "payments", "--data", "{root}", "--brand", "X"],
        ["kpis", "--domain", "payments", "--data", "{root}", "--start", "2025-13-01"],
        ["kpis", "--domain", "nope", "--data", "{root}"],
        ["kpis", "--domain", "influencer", "--data", "{root}"],
    ],
)
def test_bad_usage_exit_2(root: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) if "2025-13-01" in args or "nope" in args else _nullcontext():
        code = main([a.replace("{root}", str(root)) for a in args])
        assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_validate_exit_codes(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--data", str(root)]) == 0
    (root / "payments" / "merchants.csv").write_text(MERCHANTS.strip().replace("M3,", "M1,"))
    assert main(["validate", "--data", str(root)]) == 2
    out = capsys.readouterr().out
    assert "column 'merchant_id', row 4: value 'M1': expected a unique key" in out


def test_generate(tmp_path: Path) -> None:
    assert main(["generate", "--out", str(tmp_path / "g"), "--rows", "2000", "--quiet"]) == 0
    assert (tmp_path / "g" / "payments" / "transactions.parquet").exists()
    assert main(["generate", "--out", str(tmp_path / "g"), "--rows", "0"]) == 2


def test_every_filter_and_setting_is_a_flag_and_a_link_name() -> None:
    """One naming rule: a model's filters and settings are the CLI's flags and the URL's names."""
    from app.cli import build_parser
    from app.urlstate import url_names
    from data.domains import REGISTRY

    kpis = build_parser()._subparsers._group_actions[0].choices["kpis"]  # type: ignore[union-attr]
    flags = {s for a in kpis._actions for s in a.option_strings}
    for domain in REGISTRY.values():
        cls = domain.model_class()
        names = set(url_names(cls.__new__(cls)).values())  # only class attributes are read
        for name in [*cls.FILTERS.values(), *cls.SETTINGS]:
            assert "--" + name.replace("_", "-") in flags, (domain.name, name)
            assert name in names, (domain.name, name)


def _kpis(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["kpis", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_attribution_flag_equals_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--attribution linear` gives what the page's model gives with linear attribution, and
    differs from last touch on the tiny data (so the flag is not ignored)."""
    from data.engine import open_source
    from models.influencer import InfluencerModel
    from tests.influencer_tiny import tables

    root = write_tables(tmp_path, "influencer", tables())
    base = ["--domain", "influencer", "--data", str(root), "--tables"]
    linear = _kpis(capsys, *base, "--attribution", "linear")
    last = _kpis(capsys, *base)
    model = InfluencerModel(open_source(root), attribution="linear")
    from app.cli import dumps

    assert linear["filters"]["attribution"] == "linear"
    assert last["filters"]["attribution"] == "last_touch"
    assert linear["kpis"] == json.loads(dumps(model.summary()["kpis"]))
    assert linear["tables"] != last["tables"]


def test_anomaly_threshold_flag_equals_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import dumps
    from data.engine import open_source
    from models.reconciliation import ReconciliationModel
    from tests.recon_tiny import tables

    root = write_tables(tmp_path, "reconciliation", tables())
    out = _kpis(
        capsys, "--domain", "reconciliation", "--data", str(root), "--anomaly-threshold", "2.5"
    )
    model = ReconciliationModel(open_source(root), anomaly_threshold=2.5)
    assert out["filters"]["anomaly_threshold"] == 2.5
    assert out["kpis"] == json.loads(dumps(model.summary()["kpis"]))
    assert main(["kpis", "--domain", "payments", "--data", str(root), "--cogs", "0.5"]) == 2
    assert "does not apply to the payments domain" in capsys.readouterr().err
