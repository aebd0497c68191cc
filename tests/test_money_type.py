"""One money type in every output table: exact two-place Decimal, as in the KPI dict (the page
turns it into floats for display only; exports write the exact values)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from data.domains import REGISTRY
from data.engine import open_source
from models import presentation
from tests import influencer_tiny, payments_tiny, recon_tiny
from tests.conftest import write_tables

TINY = {
    "payments": {"merchants": payments_tiny.MERCHANTS, "transactions": payments_tiny.TRANSACTIONS},
    "influencer": influencer_tiny.tables(),
    "reconciliation": recon_tiny.tables(),
}


@pytest.mark.parametrize("domain", sorted(REGISTRY))
def test_every_money_column_holds_decimals(domain: str, tmp_path: Path) -> None:
    root = write_tables(tmp_path, domain, TINY[domain])
    model = REGISTRY[domain].model_class()(open_source(root))
    checked = 0
    for name, frame in model.output_tables().items():
        for col in frame.columns:
            if presentation.field(col).kind != "money":
                continue
            values = [v for v in frame[col] if v is not None and v == v]
            wrong = [
                v for v in values if not isinstance(v, Decimal) or v != v.quantize(Decimal("0.01"))
            ]
            assert not wrong, f"{domain} {name}.{col}: {wrong[:3]}"
            checked += len(values)
    assert checked > 0, f"no money values checked in the {domain} tables"
