"""Exports: CSV bytes with text cells neutralised against spreadsheet formula injection.

OWASP CSV-injection guidance: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab, CR or
LF gets a leading apostrophe. Numeric columns stay numbers.
"""

from __future__ import annotations

import pandas as pd

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(value: object) -> object:
    """Prefix ``'`` to a text value a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text columns are neutralised; numbers untouched."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if (
            s.dtype == object
            or pd.api.types.is_string_dtype(s)
            or isinstance(s.dtype, pd.CategoricalDtype)
        ):
            out[col] = s.astype(object).map(neutralise)
    return out


def to_csv_bytes(df: pd.DataFrame | None) -> bytes:
    """UTF-8 CSV of ``df`` with text cells neutralised."""
    if df is None:
        df = pd.DataFrame()
    return safe_frame(df).to_csv(index=False).encode("utf-8")
