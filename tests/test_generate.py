"""Demo generator: deterministic bytes, declared columns, valid data, injected truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq

from data import domains, schemas
from data.generate import MARKER, generate
from data.validate import load_domain


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", rows=3000, seed=3)
    b = generate(tmp_path / "b", rows=3000, seed=3)
    c = generate(tmp_path / "c", rows=3000, seed=4)
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)
    assert (a / MARKER).exists()


def test_generated_data_is_valid_and_declared(tmp_path: Path) -> None:
    root = generate(tmp_path, rows=5000, seed=1)
    for domain in domains.NAMES:
        data = load_domain(root, domain)
        assert data.report.ok, data.report.text()
        for spec in schemas.tables_of(domain):
            if spec.name in data.tables:
                declared = [c.name for c in spec.columns]
                assert set(data.tables[spec.name].columns) <= set(declared)
    tx = load_domain(root, "payments").tables["transactions"]
    assert len(tx) == 5000
    # retries share an intent id; heavy tail: the top merchant processes far above the median
    assert tx["intent_id"].nunique() < len(tx)
    per_merchant = tx.loc[tx["status"] == "approved"].groupby("merchant_id")["amount"].sum()
    assert per_merchant.max() > 5 * per_merchant.median()
    infl = load_domain(root, "influencer").tables["influencers"]
    share = infl["platform"].value_counts(normalize=True)
    assert share["Instagram"] > share["YouTube"] > share.get("Twitter", 0)


def test_truth_is_written(tmp_path: Path) -> None:
    root = generate(tmp_path, rows=20_000, seed=2, domains=("reconciliation",))
    truth = pq.read_table(root / "reconciliation" / "_truth.parquet").to_pandas()
    assert set(truth["class"]) == {
        "matched",
        "amount_mismatch",
        "missing_in_finance",
        "refunded",
        "finance_only",
    }
    assert truth["flags"].str.contains("duplicate_claim").any()
    assert truth["flags"].str.contains("timing").any()


def test_csv_format(tmp_path: Path) -> None:
    root = generate(tmp_path, rows=2000, seed=1, fmt="csv", domains=("payments",))
    assert (root / "payments" / "transactions.csv").exists()
    assert load_domain(root, "payments").report.ok
