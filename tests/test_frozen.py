"""Build the PyInstaller bundle and run it as a user would (`make exe` does the same build).

Slow (about 1-2 minutes to build). Locally it may be skipped with TIEOUT_SKIP_FROZEN=1; in CI
(``CI`` set) it always runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.helpers import CHROMIUM, browser_page, check_domain_pages
from tests.launch import start, wait_exit

ROOT = Path(__file__).parents[1]
SKIP = os.environ.get("TIEOUT_SKIP_FROZEN") == "1" and not os.environ.get("CI")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(SKIP, reason="TIEOUT_SKIP_FROZEN=1 (never skipped in CI)"),
]


def test_frozen_bundle_serves_every_page_and_stops(tmp_path: Path) -> None:
    assert CHROMIUM, "Debian chromium is needed (.ci/run installs it)"
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "ERROR",
            "--distpath",
            str(dist),
            "--workpath",
            str(tmp_path / "work"),
            str(ROOT / "build" / "tieout.spec"),
        ],
        check=True,
        cwd=tmp_path,
        timeout=900,
    )
    exe = dist / "tieout" / ("tieout.exe" if os.name == "nt" else "tieout")
    assert exe.exists()
    # Served assets must be local: no CDN in the page.
    proc, url = start([str(exe), "--no-browser"], tmp_path / "home")
    try:
        with browser_page() as (page, seen):
            external: list[str] = []
            page.on(
                "request",
                lambda r: (
                    external.append(r.url)
                    if not r.url.startswith(
                        ("http://localhost", "ws://localhost", "data:", "blob:")
                    )
                    else None
                ),
            )
            check_domain_pages(page, url)
        assert seen.errors == [] and external == []
    finally:
        code = wait_exit(proc, 30)
    assert code == 0
    assert _processes_running(exe) == []


def _processes_running(exe: Path) -> list[str]:
    """Command lines of processes still running ``exe`` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(exe) in text:
            found.append(text)
    return found
