"""Writes the hostile-input corpus in this folder: one data folder per failure class.

Run from the project root: ``python -m tests.data.bad.make_cases``. Each case is the tiny payments
dataset (tests/payments_tiny.py) with exactly one thing wrong; `cases.json` says what the app must
answer (an error naming file, column, row and value, or a clean load where text stays text).
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from tests.payments_tiny import MERCHANTS, TRANSACTIONS

HERE = Path(__file__).parent


def _column(text: str, index: int, fn) -> str:
    """``text`` (CSV without quotes) with column ``index`` of each data row replaced."""
    head, *rows = text.strip().splitlines()
    out = [head]
    for row in rows:
        cells = row.split(",")
        cells[index] = fn(cells[index])
        out.append(",".join(cells))
    return "\n".join(out) + "\n"


M = MERCHANTS.strip() + "\n"
T = TRANSACTIONS.strip() + "\n"

CASES: dict[str, dict] = {
    "missing_column": {
        "files": {"transactions.csv": T.replace(",fee,", ",charge,")},
        "expect": ["transactions.csv", "column 'fee'", "a column named 'fee'"],
    },
    "wrong_type": {
        "files": {"transactions.csv": T.replace("M2,1000.00", "M2,lots")},
        "expect": ["transactions.csv", "column 'amount', row 5", "value 'lots'", "an amount"],
    },
    "bad_date": {
        "files": {"transactions.csv": T.replace("2025-02-10 12:00:00", "2025-13-45 12:00:00")},
        "expect": ["transactions.csv", "column 'ts', row 5", "2025-13-45", "a timestamp"],
    },
    "negative_money": {
        "files": {"transactions.csv": T.replace("M2,1000.00", "M2,-1000.00")},
        "expect": ["transactions.csv", "column 'amount', row 5", "-1000.00", ">= 0"],
    },
    "duplicate_key": {
        "files": {"transactions.csv": T.replace("T4,", "T1,")},
        "expect": ["transactions.csv", "column 'txn_id', row 5", "value 'T1'", "unique key"],
    },
    "dangling_reference": {
        "files": {"transactions.csv": T.replace("M2,1000.00", "M9,1000.00")},
        "expect": ["transactions.csv", "column 'merchant_id', row 5", "value 'M9'", "merchants"],
    },
    "mixed_currency": {
        "files": {"transactions.csv": T.replace("M2,1000.00,USD", "M2,1000.00,EUR")},
        "expect": ["transactions.csv", "column 'currency', row 5", "value 'EUR'", "one currency"],
    },
    "empty_file": {
        "files": {"merchants.csv": ""},
        "expect": ["merchants.csv", "empty"],
    },
    "very_long_line": {
        "files": {"merchants.csv": M.replace("Beta Air", "B" * 200_000)},
        "expect": ["merchants.csv", "column 'merchant_name', row 3", "at most 1,000 characters"],
    },
    "not_text": {
        # 0x81 is neither UTF-8 here nor defined in Windows-1252: not text in any form tried
        "bytes": {"merchants.csv": M.replace("Gamma Deli", "Gamma D\x81li").encode("latin-1")},
        "expect": ["merchants.csv", "row 4", "0x81", "Windows-1252", "tried all three"],
    },
    "windows_1252": {
        "bytes": {
            "merchants.csv": M.replace("Gamma Deli", "Gamma D\xe9li \u20ac").encode("cp1252")
        },
        "loads": True,
        "text": ["Gamma D\xe9li \u20ac"],
    },
    "utf16_bom": {
        "bytes": {"merchants.csv": M.encode("utf-16")},
        "loads": True,
        "text": ["Gamma Deli"],
    },
    "decimal_comma_mixed": {
        "files": {"transactions.csv": T.replace("M2,1000.00", 'M2,"1000,00"')},
        "expect": ["transactions.csv", "column 'amount', row 5", "'1000,00'", "decimal comma"],
    },
    "ambiguous_decimal": {
        # every amount like 1,200: thousands or a decimal comma? the values cannot say
        # (fees as whole numbers, so no other column shows the separator either)
        "files": {
            "transactions.csv": _column(
                _column(T, 8, lambda v: str(int(float(v)))),
                3,
                lambda v: f'"{int(float(v)) % 9 + 1},200"',
            )
        },
        "expect": ["transactions.csv", "column 'amount'", "--decimal"],
    },
    "ambiguous_dates": {
        # 03/02/2025: 3 February or March 2? no value has a day over 12
        "files": {
            "transactions.csv": _column(
                T, 1, lambda v: f"{int(v[8:10]) % 12 + 1:02d}/{v[5:7]}/{v[:4]}{v[10:]}"
            )
        },
        "expect": ["transactions.csv", "column 'ts'", "--dayfirst"],
    },
    "utf8_bom": {
        "bytes": {"merchants.csv": b"\xef\xbb\xbf" + M.encode()},
        "loads": True,
    },
    "formula_values": {
        "files": {
            "merchants.csv": M.replace("Alpha Shop", '"=HYPERLINK(""http://evil.example"",""x"")"')
            .replace("Beta Air", "+cmd|' /C calc'!A0")
            .replace("Gamma Deli", "@SUM(1+1)")
        },
        "loads": True,
        "text": ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)"],
    },
    "html_names": {
        "files": {
            "merchants.csv": M.replace("Alpha Shop", "<script>alert('x')</script>").replace(
                "Beta Air", "<img src=x onerror=alert(1)>"
            )
        },
        "loads": True,
        "text": ["<script>alert('x')</script>", "<img src=x onerror=alert(1)>"],
    },
    "gzip_bomb": {
        # 64 MiB of spaces compress to about 64 KiB; the test lowers the limit below 64 MiB.
        "gzip": {"transactions.csv.gz": T.encode() + b" " * (64 * 1024 * 1024)},
        "remove": ["transactions.csv"],
        "expect": ["transactions.csv.gz", "gzip file that expands to at most"],
    },
}
#: Upload names with path parts: stored under their last part, or refused.
UPLOAD_NAMES = {
    "../../payments/transactions.csv": "transactions.csv",
    "..\\..\\Windows\\merchants.csv": "merchants.csv",
    "/etc/passwd": None,
    "transactions.csv/../../../x": None,
    "merchants.csv\x00.exe": None,
}


def main() -> None:
    for name, case in CASES.items():
        folder = HERE / name / "payments"
        shutil.rmtree(folder.parent, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "merchants.csv").write_text(M, encoding="utf-8")
        (folder / "transactions.csv").write_text(T, encoding="utf-8")
        for f in case.get("remove", []):
            (folder / f).unlink()
        for f, text in case.get("files", {}).items():
            (folder / f).write_text(text, encoding="utf-8")
        for f, data in case.get("bytes", {}).items():
            (folder / f).write_bytes(data)
        for f, data in case.get("gzip", {}).items():
            with gzip.GzipFile(folder / f, "wb", mtime=0) as fh:
                fh.write(data)
    expectations = {
        n: {k: v for k, v in c.items() if k in ("expect", "loads", "text")}
        for n, c in CASES.items()
    }
    (HERE / "cases.json").write_text(
        json.dumps({"cases": expectations, "upload_names": UPLOAD_NAMES}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
