"""A server user uploads a domain larger than Bokeh's 20 MB websocket message limit: the files go
in 4 MB pieces (FileDropper), are checked, and replace the domain after confirmation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.helpers import ARTIFACTS, CHROMIUM, browser_page
from tests.browser.test_pages import serve_root
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run does)"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    root = write_tables(
        tmp_path / "data", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    os.environ.pop("TIEOUT_MODE", None)  # server mode: the Data page offers uploads
    yield from serve_root(root, tmp_path)


def _big_transactions(path: Path, target_bytes: int) -> int:
    """The tiny transactions repeated with new ids until the file passes ``target_bytes``."""
    header, *rows = TRANSACTIONS.strip().splitlines()
    out, n, size = [header], 0, len(header)
    while size < target_bytes:
        for row in rows:
            line = f"X{n}," + row.split(",", 1)[1]
            out.append(line)
            size += len(line) + 1
            n += 1
    path.write_text("\n".join(out) + "\n")
    return n


def test_an_upload_over_20_mb_is_checked_and_used(server: str, tmp_path: Path) -> None:
    files = tmp_path / "upload"
    files.mkdir()
    rows = _big_transactions(files / "transactions.csv", 25 * 1024**2)
    (files / "merchants.csv").write_text(MERCHANTS.strip() + "\n")
    assert (files / "transactions.csv").stat().st_size > 20 * 1024**2
    with browser_page() as (page, seen):
        page.goto(server)
        page.wait_for_selector("text=Payments analytics", timeout=60_000)
        page.get_by_text("Data", exact=True).click()
        page.wait_for_selector("text=Load other data", timeout=30_000)
        page.locator("select").first.select_option("payments")
        page.locator("input[type=file]").first.set_input_files(
            [str(files / "merchants.csv"), str(files / "transactions.csv")]
        )
        page.get_by_text("Upload complete").nth(1).wait_for(timeout=120_000)
        page.get_by_role("button", name="Check files").click()
        try:
            page.get_by_text(f"payments: ready, {rows + 3:,} rows").wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failed-upload.png"), full_page=True)
            raise
        page.get_by_role("button", name="Use this data for payments").click()
        page.get_by_text("Now using new data for payments").first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "upload-25mb.png"), full_page=True)
    assert seen.dialogs == []
    assert not [e for e in seen.errors if "filepond" not in e.lower()], seen.errors
