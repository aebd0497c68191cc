"""The desktop launcher run as a user would: `python -m app --no-browser`."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.browser.helpers import CHROMIUM, browser_page, check_domain_pages
from tests.launch import env_for, start, wait_exit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run does)"),
]


def test_desktop_first_launch_second_launch_and_exit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc, url = start([sys.executable, "-m", "app", "--no-browser"], home)
    try:
        with urllib.request.urlopen(url + "tieout-ping", timeout=5) as r:
            assert json.loads(r.read())["app"] == "tieout"
        # A second launch reuses the running instance: same URL, exits at once.
        again = subprocess.run(
            [sys.executable, "-m", "app", "--no-browser"],
            env=env_for(home),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 0 and again.stdout.strip() == url
        # First launch: demo data created in the per-user data folder, then every page works.
        with browser_page() as (page, seen):
            check_domain_pages(page, url)
        assert seen.errors == []
        assert (home / "data" / "demo-data" / ".tieout-demo").exists()
        assert (home / "log" / "tieout.log").read_text().count("serving") == 1
    finally:
        code = wait_exit(proc, 30)  # the last tab closed: the server stops by itself
    assert code == 0
    assert not (home / "config" / "instance.json").exists()


def test_the_last_data_folder_is_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data.settings import last_data_folder, load_prefs, save_prefs

    monkeypatch.setenv("TIEOUT_HOME", str(tmp_path / "home"))
    assert last_data_folder() is None and load_prefs() == {}
    folder = tmp_path / "books"
    folder.mkdir()
    save_prefs(last_data=str(folder))
    assert last_data_folder() == folder
    folder.rmdir()  # a folder that has gone away is not offered again
    assert last_data_folder() is None
    (tmp_path / "home" / "config" / "prefs.json").write_text("{not json")
    assert load_prefs() == {}
