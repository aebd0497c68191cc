"""Spark as a batch engine: the payments and reconciliation KPIs (what issue 17 asks of the Spark
test) computed by Spark (a local session) from the tiny datasets equal DuckDB's, through
`tieout kpis --backend spark`. One Spark session for the module (it takes about half a minute to
start and cache the tables). The influencer domain builds on Spark by the same mart builders but
is not run here: every table and mart is a Spark job, and the suite is kept under 20 minutes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from app.cli import main
from tests import payments_tiny, recon_tiny
from tests.conftest import write_tables
from tests.pgcluster import in_ci

# py4j, Spark's bridge to the JVM, leaves its sockets to the garbage collector.
pytestmark = [
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("java") is None or not _has_pyspark():
        if in_ci():
            pytest.fail("Spark tests need Java 17 and pyspark (.ci/run installs both)")
        pytest.skip(
            "Java or pyspark missing (apt-get install openjdk-17-jre-headless; "
            "pip install -e '.[spark]')"
        )
    root = tmp_path_factory.mktemp("spark")
    write_tables(
        root,
        "payments",
        {"merchants": payments_tiny.MERCHANTS, "transactions": payments_tiny.TRANSACTIONS},
    )
    write_tables(root, "reconciliation", recon_tiny.tables())
    return root


def _has_pyspark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize(
    ("domain", "period"),
    [
        ("payments", ["--start", "2025-02-01", "--end", "2025-02-28", "--segment", "SMB"]),
        ("reconciliation", ["--start", "2025-03-01", "--end", "2025-03-31"]),
    ],
)
def test_spark_kpis_equal_duckdb(
    root: Path, domain: str, period: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["kpis", "--domain", domain, "--data", str(root), *period]
    assert main(args) == 0
    duck = json.loads(capsys.readouterr().out)
    try:
        assert main([*args, "--backend", "spark"]) == 0
    finally:
        os.environ.pop("TIEOUT_BACKEND", None)  # the CLI sets it for the process
    spark = json.loads(capsys.readouterr().out)
    assert spark == duck
    assert any(v not in (0, None) for v in duck["kpis"].values())  # not an empty comparison


def test_pages_refuse_spark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--backend", "spark", "--data", "."]) == 2
    assert "batch" in capsys.readouterr().err
