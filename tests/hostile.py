"""A hostile copy of the demo data: every free-text cell carries an HTML/JS injection payload.

`make_hostile_demo(out)` runs the demo generator into a temporary folder, then writes every table
as CSV under ``out`` with each value of every ``str`` column of `data.schemas` (ids and names
included) replaced by ``value + " " + payload``. The map is injective and the same in every table
and column, so references between tables (influencer_id, post_id, merchant_id, campaign,
order_id...) still hold. Enum columns keep their allowed values; numbers and dates are untouched.

Each distinct value gets its own serial number ``n``, used in its payload (``alert(n)``), so a
dialog or an injected element found in the browser says which value (and so which column) got
through: ``out/hostile_index.json`` maps ``n`` to the original value and the columns holding it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from data import domains, schemas

#: Payload templates, cycled over the distinct values; ``{n}`` is the value's serial number.
PAYLOADS = (
    "<img src=x onerror=alert({n})>",
    "<svg onload=alert({n})>",
    '"><script>alert({n})</script>',
    "<b onmouseover=alert({n})>b</b>",
    "javascript:alert({n})",
    "{{{{7*7}}}}#{n}",
    '<a href="javascript:alert({n})">x</a>',
)
INDEX = "hostile_index.json"
MAX_CELL = 1000


class Hostile:
    """The value -> hostile value map, built in a fixed order so it is the same on every run."""

    def __init__(self) -> None:
        self.out: dict[str, str] = {}
        self.serial: dict[str, int] = {}
        self.index: dict[int, dict[str, Any]] = {}

    def __call__(self, value: str, where: str) -> str:
        if value == "":
            return value  # an empty cell is a null: it stays one
        if value not in self.out:
            n = len(self.out) + 1
            payload = PAYLOADS[(n - 1) % len(PAYLOADS)].format(n=n)
            self.out[value], self.serial[value] = f"{value} {payload}", n
            self.index[n] = {"value": value, "hostile": self.out[value], "columns": []}
            assert len(self.out[value]) < MAX_CELL, value
        columns = self.index[self.serial[value]]["columns"]
        if where not in columns:
            columns.append(where)
        return self.out[value]


def make_hostile_demo(out: Path, rows: int = 3000) -> Path:
    """Write the hostile demo data under ``out`` (payments/, influencer/, reconciliation/ as CSV)
    and its ``hostile_index.json``; return ``out``."""
    from data.generate import generate

    out = Path(out)
    hostile = Hostile()
    with tempfile.TemporaryDirectory(prefix="tieout-hostile-") as tmp:
        src = generate(Path(tmp) / "demo", rows=rows, fmt="csv")
        frames: dict[tuple[str, str], pd.DataFrame] = {}
        columns: list[tuple[str, str, str]] = []
        for domain in domains.NAMES:
            for spec in schemas.tables_of(domain):
                path = src / domain / f"{spec.name}.csv"
                if not path.exists():  # an optional table the generator does not write
                    continue
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
                frames[domain, spec.name] = frame
                columns += [
                    (domain, spec.name, c.name)
                    for c in spec.columns
                    if c.kind == "str" and c.name in frame.columns
                ]
    # Labels first, ids last: the values shown in filters and charts get the small serials.
    columns.sort(key=lambda c: c[2].endswith("_id"))
    for domain, name, col in columns:
        frame = frames[domain, name]
        where = f"{domain}/{name}.{col}"
        mapping = {v: hostile(v, where) for v in sorted(set(frame[col]))}  # a fixed order
        frame[col] = frame[col].map(mapping)
    frames["influencer", "payouts"] = _payout_off(frames["influencer", "payouts"])
    for (domain, name), frame in frames.items():
        (out / domain).mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / domain / f"{name}.csv", index=False)
    assert len(set(hostile.out.values())) == len(hostile.out), "hostile map is not injective"
    (out / INDEX).write_text(json.dumps(hostile.index), encoding="utf-8")
    return out


def _payout_off(payouts: pd.DataFrame) -> pd.DataFrame:
    """The first payouts row reported $12.34 above what it was: the payout-warning banner
    (models.influencer `_payout_warnings`), with that influencer's hostile name, shows."""
    payouts = payouts.copy()
    payouts.loc[0, "total_payout"] = f"{float(payouts.loc[0, 'total_payout']) + 12.34:.2f}"
    return payouts


def describe(n: int, index: dict[str, Any]) -> str:
    """``alert(n)``'s value and the columns that hold it, from a loaded hostile index."""
    entry = index.get(str(n))
    if entry is None:
        return f"#{n} (not a data value)"
    return f"#{n} {entry['value']!r} in {', '.join(entry['columns'])}"


__all__ = ["INDEX", "PAYLOADS", "Hostile", "describe", "make_hostile_demo"]
